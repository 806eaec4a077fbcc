// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rust_net_xdp`: real BPF programs on page-pool buffers.
//!
//! The programs are built in the kernel from instruction arrays and JIT-compiled (or
//! interpreted) by `bpf_prog_select_runtime()`, the way `lib/test_bpf.c` does; helper calls are
//! resolved through the XDP verifier ops, as the verifier would. A driver with native XDP gets
//! programs and redirected frames through its `ndo_bpf` and `ndo_xdp_xmit`.

use super::{
    Action, Features, FrameBulk, Prog, ProgRef, ProgSlot, RunContext, RxqInfo, XdpBuff, XdpFrame,
    XmitFrames,
};
use crate::{
    bindings, c_str,
    kunit::Test,
    kunit_expect, kunit_expect_eq, kunit_test_suite,
    net::{
        netdev::{
            tests::{close, open},
            Device, ExtAck, NetDevice, Operations, Rtnl, TestDevice, TxResult, TxSkb, Unregistered,
            Xmit,
        },
        page_pool::{PagePool, Params},
    },
    prelude::*,
    sync::rcu,
};
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed},
};

/// `BPF_ALU64 | BPF_MOV | BPF_K`: `dst = imm`.
const MOV_K: u8 = 0xb7;
/// `BPF_ALU64 | BPF_MOV | BPF_X`: `dst = src`.
const MOV_X: u8 = 0xbf;
/// `BPF_JMP | BPF_CALL`: call the helper at `__bpf_call_base + imm`.
const CALL: u8 = 0x85;
/// `BPF_JMP | BPF_EXIT`: return `r0`.
const EXIT: u8 = 0x95;

/// Encodes one instruction as `struct bpf_insn` lays it out (little-endian x86).
const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    (code as u64)
        | (((dst | (src << 4)) as u64) << 8)
        | ((off as u16 as u64) << 16)
        | ((imm as u32 as u64) << 32)
}

/// Returns the call immediate of XDP helper `func`, as the verifier's fixup computes it.
fn helper(func: bindings::bpf_func_id) -> Result<i32> {
    // SAFETY: `xdp_verifier_ops` is a constant table; `get_func_proto` only looks `func` up
    // (the program argument is not used for these helpers).
    let proto = unsafe {
        let get = bindings::xdp_verifier_ops.get_func_proto.ok_or(EINVAL)?;
        get(func, core::ptr::null())
    };
    if proto.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: A non-null proto is a static `bpf_func_proto`.
    let f = unsafe { (*proto).func }.ok_or(EINVAL)?;
    let delta = f as usize as i64 - bindings::__bpf_call_base as *const () as usize as i64;
    i32::try_from(delta).map_err(|_| EINVAL)
}

/// Builds an XDP program from `insns`.
fn load(insns: &[u64]) -> Result<Prog> {
    let size = core::mem::size_of::<bindings::bpf_prog>() + core::mem::size_of_val(insns);
    // SAFETY: FFI call; the size covers the program and its instructions.
    let fp = unsafe { bindings::bpf_prog_alloc(size as u32, 0) };
    let fp = NonNull::new(fp).ok_or(ENOMEM)?;
    let off = core::mem::offset_of!(bindings::bpf_prog, __bindgen_anon_1);
    // SAFETY: `fp` is a new program with room for `insns` after the header; the instruction
    // array (a flexible array member) starts at `off`.
    unsafe {
        let dst = fp.as_ptr().cast::<u8>().add(off).cast::<u64>();
        core::ptr::copy_nonoverlapping(insns.as_ptr(), dst, insns.len());
        (*fp.as_ptr()).len = insns.len() as u32;
        // `bpf_prog_alloc()` leaves the count at 0; `bpf_prog_load()` sets it to 1.
        (*(*fp.as_ptr()).aux).refcnt.counter = 1;
        (*fp.as_ptr()).type_ = bindings::bpf_prog_type_BPF_PROG_TYPE_XDP;
    }
    let mut err = 0;
    // SAFETY: `fp` is a complete program; the call returns it (maybe moved) with `err` set.
    let fp = unsafe { bindings::bpf_prog_select_runtime(fp.as_ptr(), &mut err) };
    if err != 0 {
        // SAFETY: The program was never published; free it on failure.
        unsafe { bindings::bpf_prog_free(fp) };
        return Err(Error::from_errno(err));
    }
    // SAFETY: `bpf_prog_alloc()` created the program with one reference, which we own.
    Ok(unsafe { Prog::from_raw(NonNull::new(fp).ok_or(ENOMEM)?) })
}

/// A program returning `act`.
pub(crate) fn returning(act: u32) -> Result<Prog> {
    load(&[insn(MOV_K, 0, 0, 0, act as i32), insn(EXIT, 0, 0, 0, 0)])
}

/// What every case needs: a device, a pool and the queue's XDP registration.
struct Rig {
    pool: PagePool,
    rxq: Pin<KBox<RxqInfo>>,
    _dev: TestDevice,
}

impl Rig {
    fn new() -> Result<Self> {
        let dev = TestDevice::new()?;
        let pool = PagePool::new(&Params::new(256))?;
        // SAFETY: The device outlives the registration: `Rig` drops it last, after the queue
        // and every buffer of a case.
        let init = unsafe { RxqInfo::new(dev.get(), 0, 0, &pool) };
        let rxq = KBox::pin_init(init, GFP_KERNEL)?;
        Ok(Self {
            pool,
            rxq,
            _dev: dev,
        })
    }

    /// A buffer with `len` bytes of `fill` after the standard XDP headroom.
    fn buff(&mut self, len: u32, fill: u8) -> Result<XdpBuff<'_>> {
        let mut page = self.pool.alloc_page()?;
        let start = super::PACKET_HEADROOM as usize;
        page.as_mut_slice()[start..start + len as usize].fill(fill);
        XdpBuff::new(page, &self.rxq, super::PACKET_HEADROOM, len).map_err(|e| e.error)
    }
}

fn every_action(test: &Test) -> Result {
    let mut rig = Rig::new()?;
    let cases = [
        (bindings::xdp_action_XDP_ABORTED, Action::Aborted),
        (bindings::xdp_action_XDP_DROP, Action::Drop),
        (bindings::xdp_action_XDP_PASS, Action::Pass),
        (bindings::xdp_action_XDP_TX, Action::Tx),
        (bindings::xdp_action_XDP_REDIRECT, Action::Redirect),
        // Not a verdict: warned about and treated as aborted.
        (77, Action::Aborted),
    ];
    for (raw, want) in cases {
        let prog = returning(raw)?;
        let mut buff = rig.buff(100, 0x11)?;
        let got = RunContext::with(|ctx| buff.run(ctx, ProgRef::new(&prog)))?;
        kunit_expect_eq!(test, got, want);
        // The program did not touch the window.
        kunit_expect_eq!(test, buff.headroom(), super::PACKET_HEADROOM);
        kunit_expect_eq!(test, buff.len(), 100);
        kunit_expect!(test, buff.meta().is_empty());
        let (page, _, _) = buff.into_page();
        page.recycle(&mut rig.pool);
    }
    kunit_expect_eq!(test, rig.pool.stats().outstanding(), 0);
    Ok(())
}

/// The run context enables bottom halves again on its way out, which is not allowed with
/// interrupts off: there it refuses rather than call its closure.
fn run_context_needs_irqs_on(test: &Test) -> Result {
    let mut called = false;
    // SAFETY: Balanced below; nothing in between sleeps.
    unsafe { bindings::local_irq_disable() };
    let res = RunContext::with(|_| called = true);
    // SAFETY: Balances the call above.
    unsafe { bindings::local_irq_enable() };
    kunit_expect_eq!(test, res.err(), Some(EINVAL));
    kunit_expect!(test, !called);
    RunContext::with(|_| called = true)?;
    kunit_expect!(test, called);
    Ok(())
}

fn adjust_head_and_tail(test: &Test) -> Result {
    let head = helper(bindings::bpf_func_id_BPF_FUNC_xdp_adjust_head)?;
    let tail = helper(bindings::bpf_func_id_BPF_FUNC_xdp_adjust_tail)?;
    let prog = load(&[
        insn(MOV_X, 6, 1, 0, 0),
        insn(MOV_K, 2, 0, 0, 14),
        insn(CALL, 0, 0, 0, head),
        insn(MOV_X, 1, 6, 0, 0),
        insn(MOV_K, 2, 0, 0, -4),
        insn(CALL, 0, 0, 0, tail),
        insn(MOV_K, 0, 0, 0, bindings::xdp_action_XDP_PASS as i32),
        insn(EXIT, 0, 0, 0, 0),
    ])?;
    let mut rig = Rig::new()?;
    let mut buff = rig.buff(100, 0)?;
    for (i, b) in buff.data_mut().iter_mut().enumerate() {
        *b = i as u8;
    }
    let act = RunContext::with(|ctx| buff.run(ctx, ProgRef::new(&prog)))?;
    kunit_expect_eq!(test, act, Action::Pass);
    // 14 bytes pulled off the front, 4 trimmed off the end.
    kunit_expect_eq!(test, buff.headroom(), super::PACKET_HEADROOM + 14);
    kunit_expect_eq!(test, buff.len(), 100 - 14 - 4);
    kunit_expect_eq!(test, buff.data()[0], 14);
    kunit_expect_eq!(test, buff.data()[81], 95);
    let (page, headroom, len) = buff.into_page();
    kunit_expect_eq!(test, (headroom, len), (super::PACKET_HEADROOM + 14, 82));
    drop(page);
    kunit_expect_eq!(test, rig.pool.stats().outstanding(), 0);
    Ok(())
}

fn prog_slot_rcu(test: &Test) -> Result {
    let slot = ProgSlot::new();
    kunit_expect!(test, !slot.is_attached());
    let a = returning(bindings::xdp_action_XDP_PASS)?;
    let b = returning(bindings::xdp_action_XDP_DROP)?;
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    kunit_expect!(test, slot.replace(Some(a)).is_none());
    {
        let guard = rcu::read_lock();
        let seen = slot.get(&guard).map(|p| p.as_ptr());
        kunit_expect_eq!(test, seen, Some(pa));
        // Replacing while a reader holds the old program: it stays valid until the reader
        // is done, and the reference comes back to the writer.
        let old = slot.replace(Some(b));
        kunit_expect_eq!(test, old.as_ref().map(|p| p.as_ptr()), Some(pa));
        kunit_expect_eq!(test, slot.get(&guard).map(|p| p.as_ptr()), Some(pb));
        // The old program is put after the read-side section (the last put may sleep).
        drop(guard);
        drop(old);
    }
    let mut rig = Rig::new()?;
    let mut buff = rig.buff(64, 0)?;
    let guard = rcu::read_lock();
    let prog = slot.get(&guard).ok_or(EINVAL)?;
    let act = RunContext::with(|ctx| buff.run(ctx, prog))?;
    drop(guard);
    kunit_expect_eq!(test, act, Action::Drop);
    kunit_expect!(test, slot.replace(None).is_some());
    kunit_expect!(test, !slot.is_attached());
    Ok(())
}

fn frames_return_to_pool(test: &Test) -> Result {
    let mut rig = Rig::new()?;
    let buff = rig.buff(200, 0x42)?;
    let frame = buff.into_frame().map_err(|e| e.error)?;
    kunit_expect_eq!(test, frame.len(), 200);
    kunit_expect!(test, frame.data().iter().all(|&b| b == 0x42));
    let ring = rig.pool.stats().recycle_ring;
    drop(frame);
    kunit_expect_eq!(test, rig.pool.stats().recycle_ring, ring + 1);

    // Without headroom for the frame header the buffer comes back.
    let page = rig.pool.alloc_page()?;
    let buff = XdpBuff::new(page, &rig.rxq, 0, 64).map_err(|e| e.error)?;
    let err = buff.into_frame().err().ok_or(EINVAL)?;
    kunit_expect_eq!(test, err.error, ENOSPC);
    drop(err);

    // Bulk return, under RCU.
    let mut frames = KVec::new();
    for _ in 0..20 {
        let buff = rig.buff(60, 1)?;
        frames.push(buff.into_frame().map_err(|e| e.error)?, GFP_KERNEL)?;
    }
    kunit_expect_eq!(test, rig.pool.stats().outstanding(), 20);
    {
        let guard = rcu::read_lock();
        let mut bulk = FrameBulk::new(&guard);
        for f in frames {
            bulk.push(f);
        }
    }
    kunit_expect_eq!(test, rig.pool.stats().outstanding(), 0);
    Ok(())
}

fn redirect_failures_give_buffer_back(test: &Test) -> Result {
    let redirect = helper(bindings::bpf_func_id_BPF_FUNC_redirect)?;
    // Redirect to an interface index no device has.
    let to_nowhere = load(&[
        insn(MOV_K, 1, 0, 0, 0x7fff_0000),
        insn(MOV_K, 2, 0, 0, 0),
        insn(CALL, 0, 0, 0, redirect),
        insn(EXIT, 0, 0, 0, 0),
    ])?;
    // Claims a redirect without choosing a target.
    let no_target = returning(bindings::xdp_action_XDP_REDIRECT)?;
    let mut rig = Rig::new()?;
    for prog in [&to_nowhere, &no_target] {
        let mut buff = rig.buff(64, 0)?;
        let res = RunContext::with(|ctx| {
            let act = buff.run(ctx, ProgRef::new(prog));
            (act, buff.redirect(ctx, ProgRef::new(prog)))
        })?;
        kunit_expect_eq!(test, res.0, Action::Redirect);
        match res.1 {
            Ok(()) => {
                kunit_expect!(test, false, "redirect to nowhere succeeded");
            }
            Err(e) => {
                kunit_expect!(test, e.error.to_errno() < 0);
                e.page.recycle(&mut rig.pool);
            }
        }
    }
    kunit_expect_eq!(test, rig.pool.stats().outstanding(), 0);
    Ok(())
}

fn buff_bounds(test: &Test) -> Result {
    let mut rig = Rig::new()?;
    let page = rig.pool.alloc_page()?;
    let too_long = page.len() as u32;
    let err = XdpBuff::new(page, &rig.rxq, 0, too_long)
        .err()
        .ok_or(EINVAL)?;
    kunit_expect_eq!(test, err.error, EINVAL);
    err.page.recycle(&mut rig.pool);
    kunit_expect_eq!(test, rig.pool.stats().outstanding(), 0);

    // A buffer of another pool would be returned to the wrong pool: refused.
    let mut other = PagePool::new(&Params::new(64))?;
    let page = other.alloc_page()?;
    let err = XdpBuff::new(page, &rig.rxq, 256, 64).err().ok_or(EINVAL)?;
    kunit_expect_eq!(test, err.error, EINVAL);
    kunit_expect_eq!(test, err.page.pool_ptr(), other.as_ptr());
    drop(err);
    kunit_expect_eq!(test, other.stats().outstanding(), 0);
    Ok(())
}

/// A driver with native XDP: a program slot, and a transmit ring of `room` frames.
struct XdpDrv;

struct XdpData {
    prog: ProgSlot,
    refuse: AtomicBool,
    room: AtomicU32,
    taken: AtomicU32,
    flushes: AtomicU32,
}

#[vtable]
impl Operations for XdpDrv {
    type Data = XdpData;

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }

    fn xdp_setup_prog(
        dev: &NetDevice<Self>,
        _rtnl: &Rtnl,
        prog: Option<Prog>,
        extack: &ExtAck<'_>,
    ) -> Result {
        if dev.data().refuse.load(Relaxed) {
            extack.set_msg(REFUSED);
            return Err(EBUSY);
        }
        dev.data().prog.replace(prog);
        Ok(())
    }

    fn xdp_xmit(dev: &NetDevice<Self>, frames: &mut XmitFrames<'_>, flush: bool) {
        let d = dev.data();
        for frame in frames.by_ref().take(d.room.load(Relaxed) as usize) {
            d.taken.fetch_add(1, Relaxed);
            // Sent at once, in this pretend device.
            drop(frame);
        }
        if flush {
            d.flushes.fetch_add(1, Relaxed);
        }
    }
}

/// A driver with native XDP but no `ndo_xdp_xmit`.
struct NoXmit;

#[vtable]
impl Operations for NoXmit {
    type Data = ();

    fn start_xmit(_dev: &NetDevice<Self>, skb: TxSkb, _xmit: &Xmit<'_>) -> TxResult {
        drop(skb);
        TxResult::Ok
    }
}

/// Returns the reference count of `prog`.
fn refcnt(prog: &Prog) -> i64 {
    // SAFETY: The program is valid; the count is only read.
    unsafe { (*(*prog.as_ptr()).aux).refcnt.counter }
}

/// What the test driver says when it refuses a program.
const REFUSED: &CStr = c_str!("refused by the test driver");

/// Calls `ndo_bpf` with `command` and `prog` as `dev_xdp_install()` does: with a reference
/// moved to the driver, put again if the driver fails.
fn ndo_bpf(dev: &Device, command: bindings::bpf_netdev_command, prog: Option<&Prog>) -> i32 {
    ndo_bpf_ack(dev, command, prog).0
}

/// Calls `ndo_bpf` as [`ndo_bpf`] does, with an extended acknowledgment; returns the result
/// and the message the driver set.
fn ndo_bpf_ack(
    dev: &Device,
    command: bindings::bpf_netdev_command,
    prog: Option<&Prog>,
) -> (i32, *const crate::ffi::c_char) {
    let raw = prog.map_or(core::ptr::null_mut(), |p| p.as_ptr());
    // SAFETY: All-zeroes is a valid `netlink_ext_ack` and `netdev_bpf`; the program and
    // acknowledgment members are set for the command.
    let mut ack: bindings::netlink_ext_ack = unsafe { core::mem::zeroed() };
    // SAFETY: As above.
    let mut bpf: bindings::netdev_bpf = unsafe { core::mem::zeroed() };
    bpf.command = command;
    bpf.__bindgen_anon_1.__bindgen_anon_1.prog = raw;
    bpf.__bindgen_anon_1.__bindgen_anon_1.extack = &mut ack;
    let _rtnl = Rtnl::lock();
    // SAFETY: The device is valid with a table that has `ndo_bpf`; RTNL is held; the
    // reference taken for the driver is put back if it fails, as the core does.
    unsafe {
        let Some(f) = (*(*dev.as_ptr()).netdev_ops).ndo_bpf else {
            return (EINVAL.to_errno(), core::ptr::null());
        };
        if !raw.is_null() {
            bindings::bpf_prog_inc(raw);
        }
        let ret = f(dev.as_ptr(), &mut bpf);
        if ret != 0 && !raw.is_null() {
            bindings::bpf_prog_put(raw);
        }
        (ret, ack._msg)
    }
}

fn device_xdp_ops(test: &Test) -> Result {
    let mut dev = Unregistered::<XdpDrv>::new(
        1,
        1,
        XdpData {
            prog: ProgSlot::default(),
            refuse: AtomicBool::new(false),
            room: AtomicU32::new(2),
            taken: AtomicU32::new(0),
            flushes: AtomicU32::new(0),
        },
    )?;
    let all = Features::BASIC | Features::REDIRECT | Features::NDO_XMIT;
    dev.set_xdp_features(all);
    kunit_expect_eq!(test, dev.xdp_features(), all);
    kunit_expect!(test, dev.xdp_features().contains(Features::REDIRECT));
    kunit_expect!(test, !dev.xdp_features().contains(Features::RX_SG));
    kunit_expect_eq!(test, Features::from_raw(u32::MAX).as_raw() & !0x7f, 0);
    // Without `xdp_xmit`, a device may not claim to transmit redirected frames.
    let mut min = Unregistered::<NoXmit>::new(1, 1, ())?;
    min.set_xdp_features(all);
    kunit_expect_eq!(
        test,
        min.xdp_features(),
        Features::BASIC | Features::REDIRECT
    );
    dev.set_random_mac_address();
    let dev = dev.register()?;
    {
        let rtnl = Rtnl::lock();
        dev.set_xdp_features(&rtnl, Features::BASIC);
    }
    kunit_expect_eq!(test, dev.xdp_features(), Features::BASIC);

    // Attach: the driver holds one reference more than the test.
    let prog = returning(bindings::xdp_action_XDP_PASS)?;
    let refs = refcnt(&prog);
    let setup = bindings::bpf_netdev_command_XDP_SETUP_PROG;
    kunit_expect_eq!(test, ndo_bpf(&dev, setup, Some(&prog)), 0);
    kunit_expect_eq!(test, refcnt(&prog), refs + 1);
    kunit_expect!(test, dev.data().prog.is_attached());

    // A driver that refuses keeps its program; nothing leaks.
    let other = returning(bindings::xdp_action_XDP_DROP)?;
    let other_refs = refcnt(&other);
    dev.data().refuse.store(true, Relaxed);
    let (ret, msg) = ndo_bpf_ack(&dev, setup, Some(&other));
    kunit_expect_eq!(test, ret, EBUSY.to_errno());
    // What it said reaches the request's acknowledgment.
    kunit_expect!(test, msg == REFUSED.as_char_ptr());
    kunit_expect_eq!(test, refcnt(&other), other_refs);
    kunit_expect_eq!(test, refcnt(&prog), refs + 1);
    dev.data().refuse.store(false, Relaxed);

    // Offload is not supported; detaching drops the driver's reference.
    let hw = bindings::bpf_netdev_command_XDP_SETUP_PROG_HW;
    kunit_expect_eq!(test, ndo_bpf(&dev, hw, Some(&other)), EOPNOTSUPP.to_errno());
    kunit_expect_eq!(test, refcnt(&other), other_refs);
    kunit_expect_eq!(test, ndo_bpf(&dev, setup, None), 0);
    kunit_expect!(test, !dev.data().prog.is_attached());
    kunit_expect_eq!(test, refcnt(&prog), refs);

    // Redirected frames: the driver takes what fits, the core frees the rest.
    let mut rig = Rig::new()?;
    let mut raw = [core::ptr::null_mut(); 3];
    for r in raw.iter_mut() {
        *r = rig
            .buff(64, 7)?
            .into_frame()
            .map_err(|e| e.error)?
            .into_raw()
            .as_ptr();
    }
    // SAFETY: The table of `XdpDrv` has `ndo_xdp_xmit`; the frames are valid and given up.
    let sent = unsafe {
        let f = (*(*dev.as_ptr()).netdev_ops).ndo_xdp_xmit.ok_or(EINVAL)?;
        bindings::local_bh_disable();
        let sent = f(dev.as_ptr(), 3, raw.as_mut_ptr(), bindings::XDP_XMIT_FLUSH);
        bindings::local_bh_enable();
        sent
    };
    kunit_expect_eq!(test, sent, 2);
    kunit_expect_eq!(test, dev.data().taken.load(Relaxed), 2);
    kunit_expect_eq!(test, dev.data().flushes.load(Relaxed), 1);
    kunit_expect_eq!(test, rig.pool.stats().outstanding(), 1);
    for r in &raw[2..] {
        // SAFETY: The frames not taken are still ours, as the core's after the call.
        drop(unsafe { XdpFrame::from_raw(NonNull::new(*r).ok_or(EINVAL)?) });
    }
    kunit_expect_eq!(test, rig.pool.stats().outstanding(), 0);
    Ok(())
}

/// A run context set up inside one it did not install (as in a C driver's NAPI poll, which
/// `net_rx_action()` does not flush) still flushes what it redirected before it returns.
fn nested_run_context_flushes(test: &Test) -> Result {
    let mut dev = Unregistered::<XdpDrv>::new(
        1,
        1,
        XdpData {
            prog: ProgSlot::default(),
            refuse: AtomicBool::new(false),
            room: AtomicU32::new(4),
            taken: AtomicU32::new(0),
            flushes: AtomicU32::new(0),
        },
    )?;
    dev.set_xdp_features(Features::BASIC | Features::REDIRECT | Features::NDO_XMIT);
    dev.set_random_mac_address();
    let dev = dev.register()?;
    // Redirected frames only go to a device that is up.
    open(&dev)?;
    let redirect = helper(bindings::bpf_func_id_BPF_FUNC_redirect)?;
    let prog = load(&[
        insn(MOV_K, 1, 0, 0, dev.ifindex()),
        insn(MOV_K, 2, 0, 0, 0),
        insn(CALL, 0, 0, 0, redirect),
        insn(EXIT, 0, 0, 0, 0),
    ])?;
    let mut rig = Rig::new()?;
    let mut buff = rig.buff(64, 3)?;
    // SAFETY: All-zeroes is the state `bpf_net_ctx_set()` expects of a new context.
    let mut outer: bindings::bpf_net_context = unsafe { core::mem::zeroed() };
    // SAFETY: Task context with interrupts on; `outer` outlives its installation, undone
    // below with bottom halves still off.
    let installed = unsafe {
        bindings::local_bh_disable();
        bindings::bpf_net_ctx_set(&mut outer)
    };
    let res = RunContext::with(|ctx| {
        let act = buff.run(ctx, ProgRef::new(&prog));
        (act, buff.redirect(ctx, ProgRef::new(&prog)).is_ok())
    });
    let taken = dev.data().taken.load(Relaxed);
    // SAFETY: The outer context is installed and bottom halves are off; what the run context
    // left queued is flushed before the context goes away.
    unsafe {
        bindings::xdp_do_flush();
        bindings::bpf_net_ctx_clear(installed);
        bindings::local_bh_enable();
    }
    kunit_expect_eq!(test, installed, core::ptr::addr_of_mut!(outer));
    kunit_expect_eq!(test, res, Ok((Action::Redirect, true)));
    kunit_expect_eq!(test, taken, 1);
    kunit_expect_eq!(test, dev.data().flushes.load(Relaxed), 1);
    kunit_expect_eq!(test, rig.pool.stats().outstanding(), 0);
    close(&dev);
    Ok(())
}

kunit_test_suite!(
    rust_net_xdp,
    [
        every_action,
        run_context_needs_irqs_on,
        adjust_head_and_tail,
        prog_slot_rcu,
        frames_return_to_pool,
        redirect_failures_give_buffer_back,
        buff_bounds,
        device_xdp_ops,
        nested_run_context_flushes,
    ]
);
