#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The table of `make profile`: guest kernel instructions per packet.

Each argument is a profile boot's directory (tooling/lab/profile.sh):
blocks.txt (the tbprof plugin's "address instructions executions" per
translation block over the window), kallsyms (the guest's symbols) and
counts.txt (the NICs' packet counts over the window). A block is charged to
the text symbol at or below its address. Figures are instructions per
packet B received; the first directory is the reference the others are
compared with.
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


def profile(d):
    """Instructions per symbol, the packet counts, and the driver's name."""
    addrs, names = symbols(os.path.join(d, "kallsyms"))
    per = collections.Counter()
    with open(os.path.join(d, "blocks.txt")) as f:
        for line in f:
            if line.startswith("#"):
                continue
            va, insns, count = line.split()
            i = bisect.bisect_right(addrs, int(va, 16)) - 1
            per[names[i] if i >= 0 else "?"] += int(insns) * int(count)
    with open(os.path.join(d, "counts.txt")) as f:
        rx_a, tx_a, rx_b, tx_b, bytes_b = map(int, f.read().split())
    return per, rx_b, bytes_b


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
    runs = []
    for d in dirs:
        per, pkts, nbytes = profile(d)
        if pkts <= 0:
            sys.exit(f"{d}: B received no packet in the window")
        runs.append((os.path.basename(d.rstrip("/")), per, pkts, nbytes))
    width = max(12, *(len(r[0]) for r in runs))

    def row(label, values):
        cells = "".join(f"{v:>{width}.0f}" if isinstance(v, float) else f"{v:>{width}}"
                        for v in values)
        return f"{label:<58.58}{cells}"

    print("Guest kernel instructions per packet B received, iperf3 TCP A->B")
    print(row("", [r[0] for r in runs]))
    print(row("packets B received in the window", [r[2] for r in runs]))
    print(row("bytes per packet", [r[3] / r[2] for r in runs]))
    print(row("all kernel code", [sum(r[1].values()) / r[2] for r in runs]))
    # What only one of the drivers executes: its driver path (its own code,
    # and core code only it calls, e.g. page_pool or DMA mapping), with
    # what both run in common left out.
    ref = runs[0][1]
    only = []
    for name, per, pkts, _ in runs:
        others = [r[1] for r in runs if r[0] != name]
        only.append(sum(v for s, v in per.items()
                        if all(o.get(s, 0) == 0 for o in others)) / pkts)
    print(row("  in symbols only this driver executes", only))
    common = set(ref).intersection(*(r[1] for r in runs[1:]))
    print(row("  in symbols every driver executes", [
        sum(v for s, v in r[1].items() if s in common) / r[2] for r in runs]))
    print()
    names = set().union(*(r[1] for r in runs))

    def per_pkt(r, s):
        return r[1].get(s, 0) / r[2]

    last = runs[-1]
    order = sorted(names, key=lambda s: -abs(per_pkt(last, s) - per_pkt(runs[0], s)))
    dem = demangle(order[:TOP])
    print(f"The {TOP} symbols whose instructions per packet differ most "
          f"({last[0]} against {runs[0][0]}):")
    print(row("", [r[0] for r in runs] + ["difference"]))
    for s in order[:TOP]:
        vals = [per_pkt(r, s) for r in runs]
        print(row(dem[s], vals + [f"{vals[-1] - vals[0]:+.1f}"]))


if __name__ == "__main__":
    main()
