// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_skbuff`: skbs, alone and built around page-pool buffers.

use super::{data_align, Checksum, DropReason, HashType, SkBuff, SHARED_INFO_SIZE};
use crate::{
    bindings,
    kunit::Test,
    kunit_expect, kunit_expect_eq, kunit_test_suite,
    net::{
        netdev::TestDevice,
        page_pool::{PagePool, Params},
    },
    page::PAGE_SIZE,
    prelude::*,
};

fn alloc_layout(test: &Test) -> Result {
    let skb = SkBuff::alloc(256)?;
    kunit_expect_eq!(test, skb.len(), 0);
    kunit_expect!(test, skb.is_empty());
    // `NET_SKB_PAD` is at least 32.
    kunit_expect!(test, skb.headroom() >= 32, "{}", skb.headroom());
    kunit_expect!(test, skb.tailroom() >= 256, "{}", skb.tailroom());
    kunit_expect_eq!(test, skb.nr_frags(), 0);
    kunit_expect!(test, !skb.is_pp_recycle());
    skb.consume();
    Ok(())
}

fn alloc_failure(test: &Test) -> Result {
    // Far more than kmalloc can ever provide: the allocation fails, quietly, and cleanly.
    kunit_expect_eq!(test, SkBuff::alloc((1 << 30) - 1).err(), Some(ENOMEM));
    kunit_expect_eq!(test, SkBuff::alloc(u32::MAX).err(), Some(EINVAL));
    // Allocation still works afterwards.
    let skb = SkBuff::alloc(1500)?;
    kunit_expect!(test, skb.tailroom() >= 1500);
    Ok(())
}

fn put_push_pull_bounds(test: &Test) -> Result {
    let mut skb = SkBuff::alloc(64)?;
    skb.reserve(8)?;
    let tail = skb.tailroom();
    let head = skb.headroom();
    // Past the ends is an error, and changes nothing.
    kunit_expect_eq!(test, skb.put(tail + 1).err(), Some(EINVAL));
    kunit_expect_eq!(test, skb.push(head + 1).err(), Some(EINVAL));
    kunit_expect_eq!(test, skb.pull(1).err(), Some(EINVAL));
    kunit_expect_eq!(test, skb.len(), 0);

    skb.put(6)?.copy_from_slice(b"packet");
    skb.push(2)?.copy_from_slice(b"<<");
    kunit_expect_eq!(test, skb.data(), b"<<packet");
    kunit_expect_eq!(test, skb.headroom(), head - 2);
    kunit_expect_eq!(test, skb.tailroom(), tail - 6);
    kunit_expect_eq!(test, skb.reserve(1), Err(EINVAL));
    kunit_expect_eq!(test, skb.pull(2)?, b"packet");
    kunit_expect_eq!(test, skb.pull(7).err(), Some(EINVAL));
    skb.data_mut()[0] = b'P';
    kunit_expect_eq!(test, skb.data(), b"Packet");
    kunit_expect_eq!(test, skb.len(), 6);

    // Filling the tailroom exactly is fine.
    let rest = skb.tailroom();
    kunit_expect_eq!(test, skb.put(rest)?.len(), rest as usize);
    kunit_expect_eq!(test, skb.tailroom(), 0);
    Ok(())
}

fn build_around_pool_page(test: &Test) -> Result {
    let mut pool = PagePool::new(&Params::new(64))?;
    let mut page = pool.alloc_page()?;
    page.as_mut_slice()[256..256 + 64].fill(0x77);
    let skb = SkBuff::build(page, 256, 64).map_err(|e| e.error)?;
    kunit_expect_eq!(test, skb.len(), 64);
    kunit_expect_eq!(test, skb.headlen(), 64);
    kunit_expect_eq!(test, skb.headroom(), 256);
    kunit_expect!(test, skb.data().iter().all(|&b| b == 0x77));
    kunit_expect!(test, skb.is_pp_recycle());
    // The tailroom is what is left before the shared info.
    kunit_expect_eq!(
        test,
        skb.tailroom() as usize,
        PAGE_SIZE - SHARED_INFO_SIZE - 256 - 64
    );
    kunit_expect_eq!(test, pool.stats().outstanding(), 1);

    let ring = pool.stats().recycle_ring;
    drop(skb);
    // Freeing the skb returned its head page to the pool.
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    kunit_expect_eq!(test, pool.stats().recycle_ring, ring + 1);
    Ok(())
}

fn build_rejects_small_buffer(test: &Test) -> Result {
    let mut pool = PagePool::new(&Params::new(64))?;
    let page = pool.alloc_page()?;
    let too_long = (PAGE_SIZE - SHARED_INFO_SIZE) as u32;
    let err = match SkBuff::build(page, 64, too_long) {
        Ok(_) => {
            kunit_expect!(test, false, "an skb was built over the shared info");
            return Ok(());
        }
        Err(e) => e,
    };
    kunit_expect_eq!(test, err.error, EINVAL);
    // The buffer came back, still counted as out, and returns on drop.
    kunit_expect_eq!(test, pool.stats().outstanding(), 1);
    drop(err);
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);

    // The largest packet that fits is accepted.
    let page = pool.alloc_page()?;
    let max = (PAGE_SIZE - SHARED_INFO_SIZE - 64) as u32;
    kunit_expect_eq!(
        test,
        data_align(64 + max as usize) + SHARED_INFO_SIZE,
        PAGE_SIZE
    );
    let skb = SkBuff::build(page, 64, max).map_err(|e| e.error)?;
    kunit_expect_eq!(test, skb.len(), max);
    Ok(())
}

fn rx_frags(test: &Test) -> Result {
    let mut pool = PagePool::new(&Params::new(256))?;
    let head = pool.alloc_page()?;
    let mut skb = SkBuff::build(head, 128, 128).map_err(|e| e.error)?;
    for i in 0..3u8 {
        let mut frag = pool.alloc_page()?;
        frag.as_mut_slice()[..1000].fill(i);
        skb.add_rx_frag(frag, 0, 1000, PAGE_SIZE as u32)
            .map_err(|e| e.error)?;
    }
    kunit_expect_eq!(test, skb.len(), 128 + 3000);
    kunit_expect_eq!(test, skb.headlen(), 128);
    kunit_expect_eq!(test, skb.nr_frags(), 3);
    kunit_expect_eq!(test, skb.tailroom(), 0);
    // Pulling into the fragments is refused.
    kunit_expect_eq!(test, skb.pull(129).err(), Some(EINVAL));
    kunit_expect_eq!(test, pool.stats().outstanding(), 4);

    // A range outside the buffer is refused and the buffer comes back.
    let frag = pool.alloc_page()?;
    let err = skb.add_rx_frag(frag, PAGE_SIZE as u32 - 10, 20, PAGE_SIZE as u32);
    kunit_expect_eq!(test, err.as_ref().err().map(|e| e.error), Some(EINVAL));
    drop(err);
    let frag = pool.alloc_page()?;
    let err = skb.add_rx_frag(frag, 0, 2000, 1000);
    kunit_expect_eq!(test, err.as_ref().err().map(|e| e.error), Some(EINVAL));
    drop(err);
    kunit_expect_eq!(test, pool.stats().outstanding(), 4);
    // No more linear data can be appended once there are fragments.
    kunit_expect_eq!(test, skb.put(0).err(), Some(EINVAL));

    drop(skb);
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    Ok(())
}

fn frag_slots_run_out(test: &Test) -> Result {
    let mut pool = PagePool::new(&Params::new(64))?;
    let mut skb = SkBuff::alloc(64)?;
    for _ in 0..bindings::MAX_SKB_FRAGS {
        let frag = pool.alloc_page()?;
        skb.add_rx_frag(frag, 0, 100, PAGE_SIZE as u32)
            .map_err(|e| e.error)?;
    }
    kunit_expect_eq!(test, skb.nr_frags(), bindings::MAX_SKB_FRAGS);
    kunit_expect_eq!(test, skb.len(), 100 * bindings::MAX_SKB_FRAGS);
    let frag = pool.alloc_page()?;
    let err = skb.add_rx_frag(frag, 0, 100, PAGE_SIZE as u32);
    kunit_expect_eq!(test, err.as_ref().err().map(|e| e.error), Some(ENOSPC));
    drop(err);
    // A normal skb head marked for recycling is still freed normally.
    kunit_expect!(test, skb.is_pp_recycle());
    skb.drop_reason(DropReason::FullRing);
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    Ok(())
}

fn metadata(test: &Test) -> Result {
    let mut skb = SkBuff::alloc(64)?;
    kunit_expect_eq!(test, skb.checksum(), Checksum::None);
    kunit_expect_eq!(test, skb.hash(), 0);
    kunit_expect_eq!(test, skb.vlan_tag(), None);
    kunit_expect_eq!(test, skb.rx_queue(), None);

    skb.set_protocol(0x0008u16.to_be());
    kunit_expect_eq!(test, skb.protocol(), 0x0008u16.to_be());

    skb.set_checksum(Checksum::Unnecessary { level: 1 });
    kunit_expect_eq!(test, skb.checksum(), Checksum::Unnecessary { level: 1 });
    skb.set_checksum(Checksum::Unnecessary { level: 9 });
    kunit_expect_eq!(test, skb.checksum(), Checksum::Unnecessary { level: 3 });
    skb.set_checksum(Checksum::Complete(0xbeef));
    kunit_expect_eq!(test, skb.checksum(), Checksum::Complete(0xbeef));
    skb.set_checksum(Checksum::None);
    kunit_expect_eq!(test, skb.checksum(), Checksum::None);

    skb.set_hash(0x1234_5678, HashType::L4);
    kunit_expect_eq!(test, skb.hash(), 0x1234_5678);
    skb.set_vlan_tag(0x8100u16.to_be(), 42);
    kunit_expect_eq!(test, skb.vlan_tag(), Some(42));
    skb.record_rx_queue(3);
    kunit_expect_eq!(test, skb.rx_queue(), Some(3));
    skb.drop_reason(DropReason::PktTooSmall);
    Ok(())
}

fn ethernet_header(test: &Test) -> Result {
    let dev = TestDevice::new()?;
    let mut skb = SkBuff::alloc(128)?;
    let frame = skb.put(60)?;
    frame[..6].fill(0xff);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    frame[14] = 0x45;
    // SAFETY: The skbs of this case are dropped before `dev`, declared first.
    let proto = unsafe { skb.eth_type_trans(dev.get()) }?;
    kunit_expect_eq!(test, proto, 0x0800u16.to_be());
    kunit_expect_eq!(test, skb.protocol(), 0x0800u16.to_be());
    // The header was pulled: the data starts at the IP header.
    kunit_expect_eq!(test, skb.len(), 60 - 14);
    kunit_expect_eq!(test, skb.data()[0], 0x45);

    // Too short for a header: refused, nothing pulled.
    let mut runt = SkBuff::alloc(64)?;
    runt.put(10)?;
    // SAFETY: As above.
    let res = unsafe { runt.eth_type_trans(dev.get()) };
    kunit_expect_eq!(test, res, Err(EINVAL));
    kunit_expect_eq!(test, runt.len(), 10);
    Ok(())
}

fn release_paths(test: &Test) -> Result {
    let mut pool = PagePool::new(&Params::new(64))?;
    let reasons = [
        DropReason::NotSpecified,
        DropReason::PktTooSmall,
        DropReason::PktTooBig,
        DropReason::Xdp,
        DropReason::DevReady,
        DropReason::FullRing,
        DropReason::NoMem,
        DropReason::DevHdr,
    ];
    for r in reasons {
        let skb = SkBuff::build(pool.alloc_page()?, 64, 64).map_err(|e| e.error)?;
        skb.drop_reason(r);
    }
    let skb = SkBuff::build(pool.alloc_page()?, 64, 64).map_err(|e| e.error)?;
    skb.consume();
    let skb = SkBuff::build(pool.alloc_page()?, 64, 64).map_err(|e| e.error)?;
    drop(skb);
    // Every path returned its page.
    kunit_expect_eq!(test, pool.stats().outstanding(), 0);
    kunit_expect_eq!(test, pool.stats().recycle_ring, reasons.len() as u64 + 2);
    Ok(())
}

kunit_test_suite!(
    rust_net_skbuff,
    [
        alloc_layout,
        alloc_failure,
        put_push_pull_bounds,
        build_around_pool_page,
        build_rejects_small_buffer,
        rx_frags,
        frag_slots_run_out,
        metadata,
        ethernet_header,
        release_paths,
    ]
);
