#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The table of `make profile`: guest kernel instructions per packet.

Each argument is a profile boot's directory (tooling/lab/profile.sh):
blocks.txt (the tbprof plugin's "address instructions executions [mmio]"
per translation block over the window), kallsyms (the guest's symbols) and
counts.txt (the workload, and what the measured NIC received over the
window and its interrupts). A block is charged to the text symbol at or
below its address. Figures are per packet the measured NIC received (B
under TCP, G under XDP_DROP); the first directory is the reference the
others are compared with.
"""

import bisect
import collections
import os
import re
import shutil
import subprocess
import sys

TOP = 30


def symbols(path):
    """Sorted addresses and names of the kernel's text symbols."""
    syms = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in "tTwW":
                syms.append((int(parts[0], 16), parts[2]))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


class Run:
    """One boot's profile: instructions (and MMIO accesses) per symbol, and
    what the measured NIC received over the window."""

    def __init__(self, d):
        self.name = os.path.basename(d.rstrip("/"))
        addrs, names = symbols(os.path.join(d, "kallsyms"))
        self.insns = collections.Counter()
        self.mmio = collections.Counter()
        self.has_mmio = False
        with open(os.path.join(d, "blocks.txt")) as f:
            for line in f:
                if line.startswith("#"):
                    continue
                fields = line.split()
                i = bisect.bisect_right(addrs, int(fields[0], 16)) - 1
                sym = names[i] if i >= 0 else "?"
                self.insns[sym] += int(fields[1]) * int(fields[2])
                if len(fields) > 3:
                    self.has_mmio = True
                    self.mmio[sym] += int(fields[3])
        with open(os.path.join(d, "counts.txt")) as f:
            fields = f.read().split()
        self.workload = fields[0]
        # fields[4], the line's number, is for the reader of counts.txt.
        self.packets, self.bytes, self.irqs = map(int, fields[1:4])
        self.shared = int(fields[5])
        if self.packets <= 0:
            sys.exit(f"{d}: the measured NIC received no packet in the window")


WORKLOADS = {
    "tcp": ("B", "iperf3 TCP A->B"),
    "xdp_drop": ("G", "60-byte frames from the host dropped by XDP on G "
                 "(native on e1000_rust, generic on e1000)"),
}


def demangle(names):
    """Rust symbols readable (c++filt knows v0 mangling), crate hashes cut."""
    names = list(names)
    if not shutil.which("c++filt"):
        return {n: n for n in names}
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True,
                         text=True, check=False).stdout.split("\n")
    return {n: re.sub(r"\[[0-9a-f]{16}\]", "", o) for n, o in zip(names, out)}


def main():
    dirs = sys.argv[1:]
    if len(dirs) < 2:
        sys.exit("usage: prof-table.py REFERENCE-DIR DIR...")
    runs = [Run(d) for d in dirs]
    if len({r.workload for r in runs}) != 1:
        sys.exit("the boots ran different workloads")
    nic, title = WORKLOADS[runs[0].workload]
    width = max(12, *(len(r.name) for r in runs))

    def row(label, values, digits=0):
        cells = "".join(f"{v:>{width}.{digits}f}" if isinstance(v, float) else f"{v:>{width}}"
                        for v in values)
        return f"{label:<58.58}{cells}"

    print(f"Guest kernel instructions per packet {nic} received, {title}")
    print(row("", [r.name for r in runs]))
    print(row(f"packets {nic} received in the window", [r.packets for r in runs]))
    print(row("bytes per packet", [r.bytes / r.packets for r in runs]))
    print(row("all kernel code", [sum(r.insns.values()) / r.packets for r in runs]))
    # What only one of the drivers executes: its driver path (its own code,
    # and core code only it calls, e.g. page_pool or DMA mapping), with
    # what both run in common left out.
    only = []
    for r in runs:
        others = [o.insns for o in runs if o is not r]
        only.append(sum(v for s, v in r.insns.items()
                        if all(o.get(s, 0) == 0 for o in others)) / r.packets)
    print(row("  in symbols only this driver executes", only))
    common = set(runs[0].insns).intersection(*(r.insns for r in runs[1:]))
    print(row("  in symbols every driver executes", [
        sum(v for s, v in r.insns.items() if s in common) / r.packets for r in runs]))
    shared = any(r.shared for r in runs)
    print(row(f"interrupts per 100 packets ({nic}'s line{', shared' if shared else ''})",
              [100 * r.irqs / r.packets for r in runs], 2))
    if all(r.has_mmio for r in runs):
        print(row("MMIO accesses per packet, all kernel code",
                  [sum(r.mmio.values()) / r.packets for r in runs], 2))
    print()

    def per_pkt(r, s):
        return r.insns.get(s, 0) / r.packets

    names = set().union(*(r.insns for r in runs))
    first, last = runs[0], runs[-1]
    order = sorted(names, key=lambda s: -abs(per_pkt(last, s) - per_pkt(first, s)))
    dem = demangle(order[:TOP])
    print(f"The {TOP} symbols whose instructions per packet differ most "
          f"({last.name} against {first.name}):")
    print(row("", [r.name for r in runs] + ["difference"]))
    for s in order[:TOP]:
        vals = [per_pkt(r, s) for r in runs]
        print(row(dem[s], vals + [f"{vals[-1] - vals[0]:+.1f}"]))
    if all(r.has_mmio for r in runs):
        names = set().union(*(r.mmio for r in runs))
        order = sorted((s for s in names if any(r.mmio.get(s) for r in runs)),
                       key=lambda s: -max(r.mmio.get(s, 0) / r.packets for r in runs))
        dem = demangle(order)
        print()
        print("MMIO accesses per packet, by symbol:")
        print(row("", [r.name for r in runs]))
        for s in order:
            print(row(dem[s], [r.mmio.get(s, 0) / r.packets for r in runs], 2))


if __name__ == "__main__":
    main()
