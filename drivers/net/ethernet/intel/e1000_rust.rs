// SPDX-License-Identifier: GPL-2.0

//! Intel 82540EM Gigabit Ethernet controller (as QEMU's `-device e1000` emulates it), on the
//! Rust networking core's queue engines.
//!
//! The driver only speaks the hardware: its registers, its receive and transmit descriptors,
//! its EEPROM and its interrupt causes. Page pools, XDP, skbs, GRO, BQL and the counters come
//! from [`kernel::net::rx`] and [`kernel::net::tx`].
//!
//! Register and descriptor layouts are from Intel's "PCI/PCI-X Family of Gigabit Ethernet
//! Controllers Software Developer's Manual" (8254x).

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use kernel::{
    c_str, delay,
    device::Device as DmaDevice,
    devres::Devres,
    dma::CoherentAllocation,
    irq::{self, IrqReturn},
    net::{
        dim::{Dim, Moderate, Moderation},
        ethtool::{self, coalesce, Coalesce, DrvInfo, RingParam},
        napi::{self, CleanContext, Napi, Poll, PollContext},
        netdev::{
            self, Features as NetdevFeatures, LinkStats64, MacAddress, NetDevice, Operations,
            QueueStatsRx, QueueStatsTx, Registration, Rtnl, RxMode, TxResult, TxSkb, Unregistered,
            Xmit, ETH_MIN_MTU,
        },
        rx,
        skbuff::Checksum,
        tx,
        xdp::{Features, Prog, XmitFrames},
    },
    new_spinlock, pci,
    prelude::*,
    sync::{Arc, SpinLock},
    types::ARef,
};

/// Bytes of register space in BAR 0.
const BAR_SIZE: usize = 0x20000;

/// The device's registers.
type Regs = pci::Bar<BAR_SIZE>;

/// The device: its registers, and the receive control register, which the rings and the
/// receive filter share (`set_rx_mode` is not serialized with `open` and `stop`).
///
/// Once the device is unbound its registers are gone: reads return all ones, as from a
/// removed device, and writes go nowhere.
#[pin_data]
struct Hw {
    regs: Devres<Regs>,
    /// What RCTL holds; written under this lock only.
    #[pin]
    rctl: SpinLock<u32>,
    /// What the multicast table holds, to restore after a reset; written under this lock only.
    #[pin]
    mta: SpinLock<[u32; MTA_LEN]>,
    /// Whether received checksums are reported (`NETIF_F_RXCSUM`).
    rx_csum: AtomicBool,
    /// The sums of the device's drop counters, which clear when read.
    #[pin]
    drops: SpinLock<Drops>,
    /// The interrupt throttling interval (ITR): `ethtool -C rx-usecs`, or what the adaptive
    /// moderation picked last. Written with the register under this lock only, so that the
    /// register ends up with the value stored last (the moderation's work item, the control
    /// path and the reset path write it).
    #[pin]
    itr: SpinLock<u32>,
}

/// Frames the device dropped before they reached the ring, by its statistics registers.
#[derive(Clone, Copy, Default)]
struct Drops {
    /// No free descriptor (MPC).
    missed: u64,
    /// Longer (ROC) or shorter (RUC) than the receiver takes.
    length: u64,
    /// A bad frame check sequence (CRCERRS).
    crc: u64,
}

impl Drops {
    /// Their names in `ethtool -S`, in the order of [`Drops::values`].
    const NAMES: [&'static str; 3] = ["rx_missed", "rx_length_errors", "rx_crc_errors"];

    /// Their values, in the order of [`Drops::NAMES`].
    fn values(&self) -> [u64; 3] {
        [self.missed, self.length, self.crc]
    }

    /// All of them.
    fn all(&self) -> u64 {
        self.missed + self.length + self.crc
    }
}

impl Hw {
    #[inline(always)]
    fn read32(&self, offset: usize) -> u32 {
        self.regs.try_access().map_or(!0, |r| r.read32(offset))
    }

    #[inline(always)]
    fn write32(&self, value: u32, offset: usize) {
        if let Some(r) = self.regs.try_access() {
            r.write32(value, offset);
        }
    }

    fn try_write32(&self, value: u32, offset: usize) -> Result {
        self.regs
            .try_access_with(|r| r.try_write32(value, offset))?
    }

    /// Waits until the writes before reached the device.
    fn flush(&self) {
        if let Some(r) = self.regs.try_access() {
            r.flush(STATUS);
        }
    }

    /// Turns receive checksum verification on or off.
    fn set_rx_csum(&self, on: bool) {
        self.rx_csum.store(on, Ordering::Relaxed);
        self.write32(if on { RXCSUM_IPOFL | RXCSUM_TUOFL } else { 0 }, RXCSUM);
    }

    /// Returns the drop counters, adding what the device counted since the last call.
    fn drops(&self) -> Drops {
        // Statistics may be read from softirqs too.
        napi::bh_off(|| {
            let mut d = self.drops.lock();
            // Once unbound, the registers are gone and so are the counts since the last call;
            // a device that disappeared unannounced reads all ones.
            if let Some(r) = self.regs.try_access().filter(|r| r.read32(STATUS) != !0) {
                d.missed += u64::from(r.read32(MPC));
                d.length += u64::from(r.read32(ROC)) + u64::from(r.read32(RUC));
                d.crc += u64::from(r.read32(CRCERRS));
            }
            *d
        })
    }

    /// Sets the multicast table to `mta`, or back to what it held with `None` (after a reset).
    fn write_mta(&self, mta: Option<&[u32; MTA_LEN]>) {
        napi::bh_off(|| {
            let mut cur = self.mta.lock();
            if let Some(mta) = mta {
                *cur = *mta;
            }
            for (i, bits) in cur.iter().enumerate() {
                // In range, so it fails only once the device is gone.
                let _ = self.try_write32(*bits, MTA + 4 * i);
            }
        });
    }

    /// Sets the interrupt throttling interval.
    fn set_itr(&self, itr: u32) {
        let mut cur = self.itr.lock();
        *cur = itr;
        self.write32(itr, ITR);
    }

    /// Writes the interrupt throttling interval again (a reset cleared it).
    fn write_itr(&self) {
        let cur = self.itr.lock();
        self.write32(*cur, ITR);
    }

    /// Returns the interrupt throttling interval.
    fn itr(&self) -> u32 {
        *self.itr.lock()
    }

    /// Changes RCTL to `f` of its value.
    fn update_rctl(&self, f: impl FnOnce(u32) -> u32) {
        napi::bh_off(|| {
            let mut rctl = self.rctl.lock();
            *rctl = f(*rctl);
            self.write32(*rctl, RCTL);
        });
    }
}

// Registers (offsets in BAR 0).
const CTRL: usize = 0x0000;
const STATUS: usize = 0x0008;
const EERD: usize = 0x0014;
const VET: usize = 0x0038;
const ICR: usize = 0x00c0;
const ITR: usize = 0x00c4;
const IMS: usize = 0x00d0;
const IMC: usize = 0x00d8;
const RCTL: usize = 0x0100;
const TCTL: usize = 0x0400;
const TIPG: usize = 0x0410;
const RDBAL: usize = 0x2800;
const RDBAH: usize = 0x2804;
const RDLEN: usize = 0x2808;
const RDH: usize = 0x2810;
const RDT: usize = 0x2818;
const TDBAL: usize = 0x3800;
const TDBAH: usize = 0x3804;
const TDLEN: usize = 0x3808;
const TDH: usize = 0x3810;
const TDT: usize = 0x3818;
const CRCERRS: usize = 0x4000;
const MPC: usize = 0x4010;
const RUC: usize = 0x40a4;
const ROC: usize = 0x40ac;
const RXCSUM: usize = 0x5000;
const MTA: usize = 0x5200;
/// Registers in the multicast table.
const MTA_LEN: usize = 128;
const RAL0: usize = 0x5400;
const RAH0: usize = 0x5404;

// CTRL bits.
const CTRL_ASDE: u32 = 1 << 5;
const CTRL_SLU: u32 = 1 << 6;
const CTRL_RST: u32 = 1 << 26;
/// VLAN mode: 802.1Q tags stripped from received frames, and inserted where a transmit
/// descriptor asks for it.
const CTRL_VME: u32 = 1 << 30;

/// The EtherType of 802.1Q tags, which VET tells the device.
const VET_8021Q: u32 = 0x8100;

// STATUS bits.
const STATUS_LU: u32 = 1 << 1;

// EERD bits.
const EERD_START: u32 = 1 << 0;
const EERD_DONE: u32 = 1 << 4;

// Interrupt causes (ICR, IMS, IMC).
const INT_TXDW: u32 = 1 << 0;
const INT_LSC: u32 = 1 << 2;
const INT_RXDMT0: u32 = 1 << 4;
const INT_RXO: u32 = 1 << 6;
const INT_RXT0: u32 = 1 << 7;
/// The causes the driver serves.
const INT_ENABLED: u32 = INT_TXDW | INT_LSC | INT_RXDMT0 | INT_RXO | INT_RXT0;
/// The causes the NAPI poll serves.
const INT_POLL: u32 = INT_TXDW | INT_RXDMT0 | INT_RXO | INT_RXT0;

// RCTL bits: enable, broadcasts, 2048-byte buffers (BSIZE 0), strip the CRC.
const RCTL_EN: u32 = 1 << 1;
const RCTL_UPE: u32 = 1 << 3;
const RCTL_MPE: u32 = 1 << 4;
const RCTL_LPE: u32 = 1 << 5;
const RCTL_BAM: u32 = 1 << 15;
const RCTL_SECRC: u32 = 1 << 26;

// RXCSUM bits: verify IP, and TCP and UDP, checksums.
const RXCSUM_IPOFL: u32 = 1 << 8;
const RXCSUM_TUOFL: u32 = 1 << 9;

// TCTL bits: enable, pad short packets, collision threshold and distance (full duplex).
const TCTL_EN: u32 = 1 << 1;
const TCTL_PSP: u32 = 1 << 3;
const TCTL_CT: u32 = 0x10 << 4;
const TCTL_COLD: u32 = 0x40 << 12;

/// Inter-packet gap for copper: IPGT 10, IPGR1 8, IPGR2 6.
const TIPG_COPPER: u32 = 10 | (8 << 10) | (6 << 20);

/// Interrupt throttling: the least interval between interrupts, in units of 256 ns. At first
/// 250 (64 us, about 15000 interrupts per second: the adaptive moderation's profile
/// [`ITR_PROFILE`]), until the moderation finds what the traffic needs.
const ITR_DEFAULT: u32 = 250;
/// The adaptive moderation's first profile: 64 us.
const ITR_PROFILE: u8 = 2;
/// The largest interval ITR holds.
const ITR_MAX: u32 = 0xffff;

// Descriptor status and command bits.
const DESC_DD: u64 = 1 << 32;
const RX_EOP: u64 = 1 << 33;
/// Receive status: checksums not checked, TCP or UDP checksum checked.
const RX_IXSM: u64 = 1 << 34;
const RX_TCPCS: u64 = 1 << 37;
/// Receive status: the device stripped an 802.1Q tag, whose TCI is in the special field.
const RX_VP: u64 = 1 << 35;
const SPECIAL_SHIFT: u32 = 48;
/// Receive errors: CRC, symbol, sequence, carrier extension, data.
const RX_ERRORS: u64 = (0x01 | 0x02 | 0x04 | 0x10 | 0x80) << 40;
/// Receive errors: TCP or UDP checksum, IP checksum.
const RX_CSUM_ERRORS: u64 = (0x20 | 0x40) << 40;
const TX_CMD_EOP: u64 = 1 << 24;
const TX_CMD_IFCS: u64 = 1 << 25;
const TX_CMD_RS: u64 = 1 << 27;
/// Insert an 802.1Q tag with the TCI in the special field.
const TX_CMD_VLE: u64 = 1 << 30;
/// Extended descriptor (a context or a data descriptor, not a legacy one).
const TX_CMD_DEXT: u64 = 1 << 29;
/// Segment the packet (TCP segmentation offload), in a context and in its data descriptors.
const TX_CMD_TSE: u64 = 1 << 26;
/// Context descriptor: the packet is TCP, and IPv4.
const TX_CTX_TCP: u64 = 1 << 24;
const TX_CTX_IP: u64 = 1 << 25;
/// Insert the IPv4 header checksum the context descriptor describes.
const TX_POPTS_IXSM: u64 = 1 << 40;
/// Where a TCP header's checksum lies, from its start.
const TCP_CSUM_OFFSET: u64 = 16;
/// Descriptor type: data (a context descriptor's is 0).
const TX_DTYP_DATA: u64 = 1 << 20;
/// Insert the TCP or UDP checksum the context descriptor describes.
const TX_POPTS_TXSM: u64 = 1 << 41;
/// The most bytes from the start of a packet to the end of a checksum the device inserts (the
/// context descriptor's offsets are bytes).
const TX_CSUM_LIMIT: u32 = 256;

/// Descriptors per ring at first (`ethtool -G` changes them), in multiples of 8: a ring's length
/// is a multiple of 128 bytes.
const RING_DEFAULT: u32 = 256;
/// The most descriptors per ring (the 8254x's, as the C driver has them): allocated at probe.
const RING_MAX: u32 = 4096;
/// The fewest: the transmit engine stops the queue short of room for its largest packet (a
/// context descriptor, 64 KiB in 4 KiB pieces over the head and every fragment, and a sentinel)
/// and wakes it at twice that, which must be less than the ring.
const RING_MIN: u32 = 80;

/// The most bytes of one transmit descriptor (what Intel's drivers use for the 8254x).
const TX_DESC_LIMIT: u32 = 4096;
/// The most segments of TSO payload per transmit descriptor: the 8254x checks its transmit
/// FIFO's room for four segments per buffer.
const TX_GSO_DESC_SEGMENTS: u32 = 4;

/// Bytes the device writes into one receive buffer (RCTL.BSIZE 2048).
const RX_BUF_LEN: u32 = 2048;

/// Statistics for `ethtool -S`: the engines', then the device's drop counters.
const STATS: usize = rx::Stats::NAMES.len() + tx::Stats::NAMES.len() + Drops::NAMES.len();

/// Received frames up to this long are copied out of their buffer (a page), so that a socket is
/// charged for their size, not the page's.
const RX_COPYBREAK: u32 = 256;

/// The longest frame the receiver takes with long packets enabled (RCTL.LPE), FCS included, and
/// the MTU that allows. Longer frames span several buffers.
const MAX_FRAME: u32 = 16128;
const MAX_MTU: u32 = MAX_FRAME - 14 - 4;

/// The largest MTU whose frames the receiver takes with long packets disabled (1522 bytes with a
/// VLAN tag and the FCS).
const STD_MTU: u32 = 1500;

/// Returns `rctl` with long packets enabled if frames of MTU `mtu` need them, else disabled.
fn rctl_lpe(rctl: u32, mtu: u32) -> u32 {
    if mtu > STD_MTU {
        rctl | RCTL_LPE
    } else {
        rctl & !RCTL_LPE
    }
}

/// A descriptor: the buffer's address, then the length, command and status word.
type RawDesc = [u64; 2];

/// The registers of a descriptor ring.
struct RingRegs {
    base_lo: usize,
    base_hi: usize,
    len: usize,
    head: usize,
    tail: usize,
}

const RX_REGS: RingRegs = RingRegs {
    base_lo: RDBAL,
    base_hi: RDBAH,
    len: RDLEN,
    head: RDH,
    tail: RDT,
};

const TX_REGS: RingRegs = RingRegs {
    base_lo: TDBAL,
    base_hi: TDBAH,
    len: TDLEN,
    head: TDH,
    tail: TDT,
};

/// Descriptors of a ring, allocated at probe: the device's binding owns them (they are freed at
/// unbind at the latest), and they are used from one `open` to the next `stop`.
type Descs = Arc<CoherentAllocation<RawDesc>>;

/// Tells the device where a descriptor ring is, with nothing posted on it.
fn program_ring(regs: &Hw, r: &RingRegs, descs: &Descs, size: u32) -> Result {
    for i in 0..size as usize {
        descs.write(i, [0, 0])?;
    }
    let addr = descs.dma_handle();
    regs.try_write32(addr as u32, r.base_lo)?;
    regs.try_write32((addr >> 32) as u32, r.base_hi)?;
    regs.try_write32(size * core::mem::size_of::<RawDesc>() as u32, r.len)?;
    regs.try_write32(0, r.head)?;
    regs.try_write32(0, r.tail)
}

/// The receive ring.
struct RxRing {
    regs: Arc<Hw>,
    descs: Descs,
}

impl rx::Ring for RxRing {
    fn post(&mut self, index: u32, addr: u64, _len: u32) {
        let _ = self.descs.write(index as usize, [addr.to_le(), 0]);
    }

    fn completed(&mut self, index: u32) -> Option<rx::Completion> {
        let [_, w] = self
            .descs
            .read_completed(index as usize, |d| u64::from_le(d[1]) & DESC_DD != 0)
            .ok()??;
        let w = u64::from_le(w);
        let mut c = rx::Completion::new((w & 0xffff) as u32);
        c.eop = w & RX_EOP != 0;
        c.error = w & RX_ERRORS != 0;
        if self.regs.rx_csum.load(Ordering::Relaxed)
            && w & (RX_IXSM | RX_TCPCS | RX_CSUM_ERRORS) == RX_TCPCS
        {
            c.csum = Checksum::Unnecessary { level: 0 };
        }
        if w & RX_VP != 0 {
            c.vlan = Some((w >> SPECIAL_SHIFT) as u16);
        }
        Some(c)
    }

    fn doorbell(&mut self, tail: u32) {
        self.regs.write32(tail, RDT);
    }

    fn quiesce(&mut self) {
        self.regs.update_rctl(|rctl| rctl & !RCTL_EN);
        self.regs.flush();
        // The receiver finishes the frame it is writing.
        delay::msleep(10);
    }
}

/// The transmit ring.
struct TxRing {
    regs: Arc<Hw>,
    descs: Descs,
    /// What the data descriptors of the packet being written add for its offloads: extended
    /// descriptors that insert checksums, and segment the packet (0 for legacy ones), and the
    /// VLAN tag to insert.
    ext: u64,
}

impl tx::Ring for TxRing {
    fn write(&mut self, index: u32, desc: &tx::Desc) {
        if desc.first {
            let ext = TX_CMD_DEXT | TX_DTYP_DATA | TX_POPTS_TXSM;
            self.ext = match (desc.offload.gso, desc.offload.csum) {
                (Some(g), _) if g.kind == tx::GsoKind::Tcp4 => ext | TX_CMD_TSE | TX_POPTS_IXSM,
                (Some(_), _) => ext | TX_CMD_TSE,
                (None, Some(_)) => ext,
                (None, None) => 0,
            };
            if let Some(tci) = desc.offload.vlan {
                self.ext |= TX_CMD_VLE | u64::from(tci) << SPECIAL_SHIFT;
            }
        }
        let w = u64::from(desc.len) | TX_CMD_IFCS | self.ext;
        // The device reports the packet done on its last descriptor only.
        let w = if desc.last {
            w | TX_CMD_EOP | TX_CMD_RS
        } else {
            w
        };
        let _ = self
            .descs
            .write(index as usize, [desc.addr.to_le(), w.to_le()]);
    }

    fn context(&mut self, offload: &tx::Offload) -> bool {
        offload.csum.is_some() || offload.gso.is_some()
    }

    fn write_context(&mut self, index: u32, offload: &tx::Offload) {
        // The low word: IPCSS, IPCSO, IPCSE (bytes 0-3), TUCSS, TUCSO, TUCSE (bytes 4-7); a
        // checksum's sum runs from its start (CSS) to its end (CSE, 0: the packet's end), and
        // the result goes at its offset (CSO). The high word: PAYLEN (bits 0-19), TUCMD (24-31),
        // HDRLEN (40-47), MSS (48-63).
        let (lo, hi) = match (offload.gso, offload.csum) {
            (Some(g), _) => {
                // The engine rewrote the headers (`tso_headers`): the device fills in each
                // segment's lengths and checksums.
                let (ip, l4) = (u64::from(g.network), u64::from(g.transport));
                let (ip_sum, ip_cmd) = if g.kind == tx::GsoKind::Tcp4 {
                    // The IPv4 header checksum, at byte 10, over the header.
                    ((ip + 10) << 8 | (l4 - 1) << 16, TX_CTX_IP)
                } else {
                    (0, 0)
                };
                (
                    ip | ip_sum | l4 << 32 | (l4 + TCP_CSUM_OFFSET) << 40,
                    u64::from(g.payload_len)
                        | TX_CMD_DEXT
                        | TX_CMD_TSE
                        | TX_CTX_TCP
                        | ip_cmd
                        | u64::from(g.header_len) << 40
                        | u64::from(g.mss) << 48,
                )
            }
            (None, Some(c)) => {
                let start = u64::from(c.start);
                (
                    start << 32 | (start + u64::from(c.offset)) << 40,
                    TX_CMD_DEXT,
                )
            }
            // Not asked for (`context` said no): an empty context.
            (None, None) => (0, TX_CMD_DEXT),
        };
        let _ = self.descs.write(index as usize, [lo.to_le(), hi.to_le()]);
    }

    fn completed(&mut self, index: u32) -> bool {
        self.descs
            .read(index as usize)
            .is_ok_and(|d| u64::from_le(d[1]) & DESC_DD != 0)
    }

    fn doorbell(&mut self, tail: u32) {
        self.regs.write32(tail, TDT);
    }

    fn quiesce(&mut self) {
        self.regs.write32(self.regs.read32(TCTL) & !TCTL_EN, TCTL);
        self.regs.flush();
        delay::msleep(10);
    }
}

/// The one channel: its NAPI instance polls both rings.
#[pin_data]
struct Chan {
    #[pin]
    rx: rx::Shared,
    #[pin]
    txq: tx::Queue<TxRing>,
    regs: Arc<Hw>,
    dma: ARef<DmaDevice>,
    /// The interrupt interval the traffic needs, sampled once per interrupt.
    #[pin]
    dim: Dim<Itr>,
}

/// Where the adaptive moderation's steps go: the interrupt throttling register.
struct Itr(Arc<Hw>);

impl Itr {
    /// The ITR value of an interval of `usecs` microseconds (units of 256 ns).
    fn of_usecs(usecs: u32) -> Option<u32> {
        u32::try_from(u64::from(usecs) * 1000 / 256)
            .ok()
            .filter(|&itr| itr <= ITR_MAX)
    }

    /// The interval of an ITR value, in microseconds.
    fn usecs(itr: u32) -> u32 {
        (itr * 256).div_ceil(1000)
    }
}

impl Moderate for Itr {
    fn moderate(&self, m: Moderation) {
        let itr = Self::of_usecs(m.usecs.into()).unwrap_or(ITR_DEFAULT);
        self.0.set_itr(itr);
    }
}

impl rx::HasShared for Chan {
    fn rx_shared(&self) -> &rx::Shared {
        &self.rx
    }
}

impl Poll for Chan {
    type State = rx::Queue<RxRing>;

    fn poll(&self, queue: Pin<&mut rx::Queue<RxRing>>, ctx: &mut PollContext<'_>) -> u32 {
        self.txq.complete(ctx);
        queue.poll(Some(&self.txq), ctx)
    }

    fn poll_tx(&self, _queue: Pin<&mut rx::Queue<RxRing>>, ctx: &CleanContext<'_>) {
        self.txq.complete(ctx);
    }

    fn rearm(&self) {
        self.dim.sample(|| {
            let s = self.rx.stats();
            (s.packets, s.bytes)
        });
        self.regs.write32(INT_ENABLED, IMS);
    }
}

/// The private data of a net device.
#[pin_data]
struct Priv {
    #[pin]
    napi: Napi<Chan>,
    pdev: ARef<pci::Device>,
    /// The rings' memory, for `RING_MAX` descriptors each, and the descriptors in use.
    rx_descs: Descs,
    tx_descs: Descs,
    rx_size: AtomicU32,
    tx_size: AtomicU32,
    /// Resets the device when the watchdog finds the transmit queue stuck.
    #[pin]
    reset: netdev::Reset<E1000>,
}

impl Priv {
    fn regs(&self) -> &Hw {
        &self.napi.data().regs
    }
}

struct E1000;

impl E1000 {
    /// Updates the carrier from the link state.
    fn link(dev: &NetDevice<Self>) {
        if link_up(dev.data().regs()) {
            dev.carrier_on();
        } else {
            dev.carrier_off();
        }
    }

    /// Starts both rings; on failure, nothing is left started.
    fn start_rings(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let p = dev.data();
        let napi = &p.napi;
        let ch = napi.data();
        let regs = &ch.regs;

        let (rx_size, tx_size) = (
            p.rx_size.load(Ordering::Relaxed),
            p.tx_size.load(Ordering::Relaxed),
        );
        let descs = p.tx_descs.clone();
        program_ring(regs, &TX_REGS, &descs, tx_size)?;
        let ring = TxRing {
            regs: regs.clone(),
            descs,
            ext: 0,
        };
        let config = tx::Config::new(tx_size, 0, &ch.dma)
            .context()
            .csum_limit(TX_CSUM_LIMIT)
            .tso_headers()
            .desc_limit(TX_DESC_LIMIT)
            // The 8254x's TSO errata: descriptors are reported done early without a sentinel.
            .gso_desc_segments(TX_GSO_DESC_SEGMENTS)
            .sentinel();
        // The transmitter first: starting the queue wakes the stack's.
        regs.write32(TIPG_COPPER, TIPG);
        regs.write32(TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD, TCTL);
        ch.txq.start(dev, rtnl, ring, &config)?;

        let descs = p.rx_descs.clone();
        let started = program_ring(regs, &RX_REGS, &descs, rx_size).and_then(|()| {
            let ring = RxRing {
                regs: regs.clone(),
                descs,
            };
            let config = rx::Config::new(rx_size, 0)
                .dma(&ch.dma)
                .buf_len(RX_BUF_LEN)
                .copybreak(RX_COPYBREAK)
                .xdp_tx();
            napi.with_state(rtnl, |q| q.start(napi, rtnl, ring, &config))?
        });
        if let Err(e) = started {
            ch.txq.stop(rtnl)?;
            return Err(e);
        }
        regs.set_rx_csum(dev.features().contains(NetdevFeatures::RXCSUM));
        // The address filter bits are set_rx_mode()'s, which the core calls after open.
        let mtu = dev.mtu();
        regs.update_rctl(|rctl| rctl_lpe(rctl, mtu) | RCTL_EN | RCTL_BAM | RCTL_SECRC);
        Ok(())
    }

    /// Stops the rings of the device, which is up, and has `start` start them again, as `stop`
    /// and `open` do, around the poll and the interrupt, which stay requested. Packets sent
    /// meanwhile wait in the qdisc: the transmit engine stops the core's queue.
    fn restart(dev: &NetDevice<Self>, rtnl: &Rtnl, start: impl FnOnce() -> Result) -> Result {
        let p = dev.data();
        p.napi.disable(rtnl);
        p.regs().write32(!0, IMC);
        p.regs().flush();
        let res = Self::stop_rings(dev, rtnl).and_then(|()| start());
        p.napi.enable(rtnl)?;
        p.regs().write32(INT_ENABLED, IMS);
        Self::link(dev);
        res
    }

    /// Stops both rings: transmit first, as its `XDP_TX` frames use the receive pool.
    fn stop_rings(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let napi = &dev.data().napi;
        napi.data().txq.stop(rtnl)?;
        napi.with_state(rtnl, |q| q.stop(rtnl).map(drop))?
    }
}

#[vtable]
impl Operations for E1000 {
    type Data = Priv;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let p = dev.data();
        Self::start_rings(dev, rtnl)?;
        let res = p
            .napi
            .enable(rtnl)
            .and_then(|()| dev.request_irq(rtnl, p.pdev.irq(), irq::Flags::SHARED));
        if let Err(e) = res {
            p.napi.disable(rtnl);
            Self::stop_rings(dev, rtnl)?;
            return Err(e);
        }
        p.regs().write_itr();
        p.regs().write32(INT_ENABLED, IMS);
        Self::link(dev);
        Ok(())
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let p = dev.data();
        // The poll first: it unmasks the interrupt when it is done.
        p.napi.disable(rtnl);
        p.regs().write32(!0, IMC);
        p.regs().flush();
        dev.carrier_off();
        Self::stop_rings(dev, rtnl)
    }

    fn set_rx_mode(dev: &NetDevice<Self>, mode: &RxMode<'_>) {
        let p = dev.data();
        let regs = p.regs();
        let filter = if mode.promisc() {
            RCTL_UPE | RCTL_MPE
        } else if mode.allmulti() {
            RCTL_MPE
        } else {
            0
        };
        // The multicast table: with RCTL.MO 0, bits 47:36 of an address select its bit.
        let mut mta = [0u32; MTA_LEN];
        for addr in mode.mc_addrs() {
            let hash = ((u16::from(addr[4]) >> 4) | (u16::from(addr[5]) << 4)) & 0xfff;
            mta[usize::from(hash >> 5)] |= 1 << (hash & 0x1f);
        }
        regs.write_mta(Some(&mta));
        regs.update_rctl(|rctl| rctl & !(RCTL_UPE | RCTL_MPE) | filter);
    }

    fn interrupt(dev: &NetDevice<Self>) -> IrqReturn {
        let p = dev.data();
        // Reading the causes acknowledges them.
        let icr = p.regs().read32(ICR);
        if icr & INT_ENABLED == 0 {
            return IrqReturn::None;
        }
        // Acknowledged only, while the device is brought up or down.
        if !dev.is_running() {
            return IrqReturn::Handled;
        }
        if icr & INT_LSC != 0 {
            Self::link(dev);
        }
        if icr & INT_POLL != 0 {
            // Masked until the poll is done with the rings.
            p.regs().write32(!0, IMC);
            p.napi.schedule();
        }
        IrqReturn::Handled
    }

    fn tx_timeout(dev: &NetDevice<Self>, _queue: u32) {
        let p = dev.data();
        // Logged and counted by the engine; the device is reset in process context.
        if p.napi.data().txq.timeout(dev).is_some() {
            let _ = p.reset.schedule(dev);
        }
    }

    fn reset(dev: &NetDevice<Self>, rtnl: &Rtnl) {
        // The whole device is reset, as a hung one needs, and set up again as it was: the rings
        // start afresh, and what the reset cleared (the receive address, which it reloads
        // from the EEPROM, the multicast table, the VLAN mode, the interrupt interval) is
        // written back. The receive filter's RCTL bits come back with the rings.
        let res = Self::restart(dev, rtnl, || {
            let p = dev.data();
            let regs = p.regs();
            // What the drop counters hold is added first: the reset clears them.
            regs.drops();
            reset(regs);
            configure(regs, &dev.mac_address(), dev.features());
            regs.write_mta(None);
            regs.write_itr();
            Self::start_rings(dev, rtnl)
        });
        if let Err(e) = res {
            pr_err!("reset failed: {:?}\n", e);
        }
    }

    fn start_xmit(dev: &NetDevice<Self>, skb: TxSkb, xmit: &Xmit<'_>) -> TxResult {
        dev.data().napi.data().txq.xmit(skb, xmit)
    }

    fn get_stats64(dev: &NetDevice<Self>, stats: &mut LinkStats64) {
        let ch = dev.data().get_ref().napi.data();
        ch.rx.stats().add_to(stats);
        ch.txq.stats().add_to(stats);
        let hw = ch.regs.drops();
        stats.rx_errors += hw.length + hw.crc;
        stats.rx_length_errors = hw.length;
        stats.rx_crc_errors = hw.crc;
        stats.rx_missed_errors = hw.missed;
    }

    fn xdp_setup_prog(
        dev: &NetDevice<Self>,
        _rtnl: &Rtnl,
        prog: Option<Prog>,
        extack: &kernel::net::netdev::ExtAck<'_>,
    ) -> Result {
        drop(dev.data().napi.data().rx.set_prog(dev, prog, extack)?);
        Ok(())
    }

    fn xdp_xmit(dev: &NetDevice<Self>, frames: &mut XmitFrames<'_>, flush: bool) {
        dev.data().napi.data().txq.xdp_xmit(frames, flush);
    }

    fn set_features(dev: &NetDevice<Self>, _rtnl: &Rtnl, features: NetdevFeatures) -> Result {
        let on = features.contains(NetdevFeatures::RXCSUM);
        let p = dev.data();
        let regs = p.regs();
        if dev.is_running() {
            regs.set_rx_csum(on);
        } else {
            regs.rx_csum.store(on, Ordering::Relaxed);
        }
        set_vlan_mode(regs, features);
        Ok(())
    }

    fn change_mtu(dev: &NetDevice<Self>, _rtnl: &Rtnl, mtu: u32) -> Result {
        let ch = dev.data().get_ref().napi.data();
        ch.rx.check_mtu(mtu)?;
        // While down, the next start sets it.
        if dev.is_running() {
            ch.regs.update_rctl(|rctl| rctl_lpe(rctl, mtu));
        }
        Ok(())
    }

    fn set_mac_address(dev: &NetDevice<Self>, _rtnl: &Rtnl, mac: &MacAddress) -> Result {
        write_mac(dev.data().regs(), mac);
        Ok(())
    }

    fn queue_stats_rx(dev: &NetDevice<Self>, _queue: u32, stats: &mut QueueStatsRx) {
        let ch = dev.data().get_ref().napi.data();
        ch.rx.queue_stats(stats);
        // The one queue sees all the device's drops.
        let hw = ch.regs.drops();
        stats.hw_drops += hw.all();
        stats.hw_drop_overruns = hw.missed;
    }

    fn queue_stats_tx(dev: &NetDevice<Self>, _queue: u32, stats: &mut QueueStatsTx) {
        dev.data().napi.data().txq.queue_stats(stats);
    }

    fn base_stats(_dev: &NetDevice<Self>, rx: &mut QueueStatsRx, tx: &mut QueueStatsTx) {
        // The one queue pair counts everything: nothing besides it.
        rx::base_stats(rx);
        rx.hw_drop_overruns = 0;
        tx::base_stats(tx);
    }
}

#[vtable]
impl ethtool::Operations for E1000 {
    const STAT_NAMES: &'static [&'static str] =
        &ethtool::concat_names::<STATS>(&[&rx::Stats::NAMES, &tx::Stats::NAMES, &Drops::NAMES]);

    // One interrupt serves both rings: its interval is the receive one.
    const SUPPORTED_COALESCE: u32 = coalesce::RX_USECS | coalesce::USE_ADAPTIVE_RX;

    fn get_coalesce(dev: &NetDevice<Self>, c: &mut Coalesce) -> Result {
        let p = dev.data();
        c.rx_coalesce_usecs = Itr::usecs(p.regs().itr());
        c.use_adaptive_rx_coalesce = p.napi.data().dim.is_enabled().into();
        Ok(())
    }

    /// Sets the least interval between interrupts: adaptive (`adaptive-rx on`, the default), or
    /// `rx-usecs` microseconds, 0 for none. With `adaptive-rx on` the interval is the
    /// moderation's: a request that changes `rx-usecs` too is refused.
    fn set_coalesce(dev: &NetDevice<Self>, rtnl: &Rtnl, c: &Coalesce) -> Result {
        let p = dev.data();
        let dim = &p.napi.data().dim;
        if c.use_adaptive_rx_coalesce != 0 {
            if c.rx_coalesce_usecs != Itr::usecs(p.regs().itr()) {
                return Err(EINVAL);
            }
            dim.set_enabled(true, rtnl);
            return Ok(());
        }
        let itr = Itr::of_usecs(c.rx_coalesce_usecs).ok_or(EINVAL)?;
        // No step of the moderation comes after this.
        dim.set_enabled(false, rtnl);
        p.regs().set_itr(itr);
        Ok(())
    }

    fn get_drvinfo(_dev: &NetDevice<Self>, info: &mut DrvInfo<'_>) {
        info.set_driver("e1000_rust");
    }

    fn get_link(dev: &NetDevice<Self>) -> bool {
        link_up(dev.data().regs())
    }

    fn get_ringparam(dev: &NetDevice<Self>, ring: &mut RingParam) {
        let p = dev.data();
        ring.rx_max_pending = RING_MAX;
        ring.tx_max_pending = RING_MAX;
        ring.rx_pending = p.rx_size.load(Ordering::Relaxed);
        ring.tx_pending = p.tx_size.load(Ordering::Relaxed);
    }

    fn set_ringparam(dev: &NetDevice<Self>, rtnl: &Rtnl, ring: &RingParam) -> Result {
        // Rounded up to a multiple of 8, as the C driver does.
        let size = |n: u32| match n.next_multiple_of(8) {
            n if (RING_MIN..=RING_MAX).contains(&n) => Ok(n),
            _ => Err(EINVAL),
        };
        let new = (size(ring.rx_pending)?, size(ring.tx_pending)?);
        let p = dev.data();
        let set = |(rx, tx): (u32, u32)| {
            p.rx_size.store(rx, Ordering::Relaxed);
            p.tx_size.store(tx, Ordering::Relaxed);
        };
        let old = (
            p.rx_size.load(Ordering::Relaxed),
            p.tx_size.load(Ordering::Relaxed),
        );
        if !dev.is_running() || new == old {
            set(new);
            return Ok(());
        }
        Self::restart(dev, rtnl, || {
            set(new);
            Self::start_rings(dev, rtnl).or_else(|e| {
                // Back to the sizes that worked.
                set(old);
                Self::start_rings(dev, rtnl).and(Err(e))
            })
        })
    }

    fn get_stats(dev: &NetDevice<Self>, values: &mut [u64]) {
        let ch = dev.data().get_ref().napi.data();
        ethtool::copy_values(
            values,
            &[
                &ch.rx.stats().values(),
                &ch.txq.stats().values(),
                &ch.regs.drops().values(),
            ],
        );
    }
}

/// Reads word `addr` of the EEPROM through the EERD register.
fn eeprom_read(regs: &Hw, addr: u8) -> Result<u16> {
    regs.write32(EERD_START | (u32::from(addr) << 8), EERD);
    for _ in 0..1000 {
        let v = regs.read32(EERD);
        if v & EERD_DONE != 0 {
            return Ok((v >> 16) as u16);
        }
        delay::udelay(5);
    }
    Err(ETIMEDOUT)
}

/// Reads the MAC address from the EEPROM, whose first 64 words sum to 0xbaba.
fn read_mac(regs: &Hw) -> Result<MacAddress> {
    let mut words = [0u16; 64];
    for (i, w) in words.iter_mut().enumerate() {
        *w = eeprom_read(regs, i as u8)?;
    }
    let sum = words.iter().fold(0u16, |s, &w| s.wrapping_add(w));
    if sum != 0xbaba {
        pr_err!("EEPROM checksum 0x{:04x}, not 0xbaba\n", sum);
        return Err(EIO);
    }
    let mut mac = [0u8; 6];
    for (i, w) in words[..3].iter().enumerate() {
        mac[2 * i..2 * i + 2].copy_from_slice(&w.to_le_bytes());
    }
    Ok(mac)
}

/// Writes `mac` into the first receive address registers, marked valid.
fn write_mac(regs: &Hw, mac: &MacAddress) {
    regs.write32(u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]), RAL0);
    regs.write32(
        u32::from(u16::from_le_bytes([mac[4], mac[5]])) | (1 << 31),
        RAH0,
    );
}

/// Sets up a device after its reset: its receive address `mac`, and the VLAN mode for
/// `features`.
fn configure(regs: &Hw, mac: &MacAddress, features: NetdevFeatures) {
    write_mac(regs, mac);
    regs.write32(VET_8021Q, VET);
    set_vlan_mode(regs, features);
}

/// Turns the VLAN mode on if `features` has either VLAN offload: one switch serves both
/// directions, so a device that inserts tags also strips them (which the stack takes either
/// way).
fn set_vlan_mode(regs: &Hw, features: NetdevFeatures) {
    let ctrl = regs.read32(CTRL) & !CTRL_VME;
    let on = features.contains(NetdevFeatures::HW_VLAN_CTAG_RX)
        || features.contains(NetdevFeatures::HW_VLAN_CTAG_TX);
    regs.write32(if on { ctrl | CTRL_VME } else { ctrl }, CTRL);
}

/// Returns whether the link is up.
fn link_up(regs: &Hw) -> bool {
    regs.read32(STATUS) & STATUS_LU != 0
}

/// Masks the device's interrupts and starts its reset.
fn start_reset(regs: &Hw) {
    regs.write32(!0, IMC);
    regs.write32(regs.read32(CTRL) | CTRL_RST, CTRL);
}

/// Resets the device, leaving its interrupts masked and its link set up.
fn reset(regs: &Hw) {
    start_reset(regs);
    // The reset takes about a microsecond; registers read back after it.
    delay::msleep(1);
    regs.write32(!0, IMC);
    let _ = regs.read32(ICR);
    regs.write32(regs.read32(CTRL) | CTRL_SLU | CTRL_ASDE, CTRL);
}

/// Resets the device when the driver lets it go: after its net device is unregistered (which
/// stopped its rings), before its BAR is unmapped.
struct ResetOnDrop(Arc<Hw>);

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        start_reset(&self.0);
    }
}

/// A bound device. Fields drop in order: the net device first.
struct Driver {
    _netdev: Registration<E1000>,
    _reset: ResetOnDrop,
}

kernel::pci_device_table!(
    PCI_TABLE,
    (),
    [(pci::DeviceId::from_id(0x8086, 0x100e), ())]
);

impl pci::Driver for Driver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = PCI_TABLE;

    fn probe(pdev: &pci::Device<pci::Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.set_master();
        // The 82540EM is a 32-bit PCI device: its 8254x siblings hang on 64-bit addresses there.
        pdev.dma_set_mask_and_coherent(32)?;
        let regs = Arc::pin_init(
            try_pin_init!(Hw {
                regs: pdev.iomap_region_sized::<BAR_SIZE>(0, c_str!("e1000_rust"))?,
                rctl <- new_spinlock!(0),
                mta <- new_spinlock!([0; MTA_LEN]),
                rx_csum: AtomicBool::new(true),
                drops <- new_spinlock!(Drops::default()),
                itr <- new_spinlock!(ITR_DEFAULT),
            }? Error),
            GFP_KERNEL,
        )?;
        reset(&regs);
        let mac = read_mac(&regs)?;
        regs.write_mta(None);

        let descs = |n: u32| -> Result<Descs> {
            let descs = CoherentAllocation::alloc_coherent(pdev, n as usize, GFP_KERNEL)?;
            Ok(Arc::new(descs, GFP_KERNEL)?)
        };
        let (rx_descs, tx_descs) = (descs(RING_MAX)?, descs(RING_MAX)?);
        let dma: ARef<DmaDevice> = pdev.as_ref().into();
        let r = regs.clone();
        let pdev_ref: ARef<pci::Device> = (&**pdev).into();
        let mut ndev = Unregistered::<E1000>::new_with(1, 1, |dev, slot| {
            slot.init(try_pin_init!(Priv {
                napi <- Napi::new(dev, try_pin_init!(Chan {
                    rx <- rx::Shared::with_buf_len(RX_BUF_LEN),
                    txq <- tx::Queue::new(),
                    regs: r.clone(),
                    dma,
                    dim <- Dim::new(Itr(r), ITR_PROFILE),
                }? Error), rx::Queue::new()),
                pdev: pdev_ref,
                rx_descs,
                tx_descs,
                rx_size: AtomicU32::new(RING_DEFAULT),
                tx_size: AtomicU32::new(RING_DEFAULT),
                reset <- netdev::Reset::new(),
            }? Error))
        })?;
        ndev.set_parent(pdev.as_ref());
        // Down until the device is up and its link is: the first carrier_on() is an event.
        ndev.carrier_off();
        ndev.set_mac_address(&mac)?;
        ndev.set_mtu_limits(ETH_MIN_MTU, MAX_MTU)?;
        ndev.set_ethtool_ops();
        ndev.set_xdp_features(Features::BASIC | Features::REDIRECT | Features::NDO_XMIT);
        // Segmentation for TCP over IPv4 only, as the C driver offers on the 8254x.
        let offloads = NetdevFeatures::SG
            | NetdevFeatures::HW_CSUM
            | NetdevFeatures::RXCSUM
            | NetdevFeatures::TSO
            | NetdevFeatures::HW_VLAN_CTAG_RX
            | NetdevFeatures::HW_VLAN_CTAG_TX;
        ndev.set_features(offloads, offloads);
        ndev.set_tso_max_segs(tx::tso_max_segs(TX_DESC_LIMIT, TX_GSO_DESC_SEGMENTS));
        // The device offloads tagged packets as untagged ones.
        ndev.set_vlan_features(NetdevFeatures::SG | NetdevFeatures::HW_CSUM | NetdevFeatures::TSO);
        configure(&regs, &mac, offloads);
        let netdev = ndev.register()?;
        Ok(KBox::pin(
            Driver {
                _netdev: netdev,
                _reset: ResetOnDrop(regs),
            },
            GFP_KERNEL,
        )?)
    }
}

kernel::module_pci_driver! {
    type: Driver,
    name: "e1000_rust",
    author: "rnetcore",
    description: "Intel 82540EM Gigabit Ethernet, on the Rust networking core",
    license: "GPL",
}
