#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print the `make bench` table: workload | Rust | C | Rust/C.

Reads the benchmark suites' lines from the kernel log of the timing boot
and of the instruction-count boot:

    net_bench: <workload> <Rust|C> <unit> median <m> p10 <a> p90 <b> rounds <n>

(under -icount shift=0 the guest's nanoseconds are instructions), and the
lab NICs' rounds from bench-<driver>.txt (lab/bench.sh). Each cell is the
median with its spread: p10-p90 of the engines' rounds, min-max of the
NICs' rounds. Rust/C is the ratio of the medians (for rates, the Rust
path's rate over the C path's; for costs, its cost over C's: above 1 is
slower for costs, faster for rates). Writes the rows as JSON too.
"""

import argparse
import glob
import json
import os
import re
import statistics

LINE = re.compile(r"net_bench: (\S+) (Rust|C) (\S+) median (\d+) p10 (\d+) p90 (\d+) rounds (\d+)")
TITLES = {
    "engine_rx": "engine RX, 60 B frames",
    "engine_rx_xdp_drop": "engine RX, 60 B frames, XDP_DROP: Rust native, C generic",
    "engine_tx": "engine TX, 60 B packets",
    "tcp": "NIC iperf3 TCP A->B",
    "udp": "NIC UDP receive (host sender)",
    "xdp_drop": "NIC XDP_DROP, Rust native, C generic (host sender)",
    "udp_cpu": "NIC UDP receive, per busy guest CPU-second",
    "xdp_drop_cpu": "NIC XDP_DROP, Rust native, C generic, per busy guest CPU-second",
}


def engine_rows(logdir, kind):
    rows = {}
    for path in sorted(glob.glob(os.path.join(logdir, "dmesg*.txt")))[:1]:
        with open(path, errors="replace") as f:
            for line in f:
                m = LINE.search(line)
                if not m:
                    continue
                work, side, unit, med, p10, p90, n = m.groups()
                if kind == "icount":
                    unit = "instructions/pkt"
                key = (work, unit)
                rows.setdefault(key, {})[side] = {
                    "median": int(med), "low": int(p10), "high": int(p90),
                    "rounds": int(n), "spread": "p10-p90"}
    return rows


def nic_rows(logdir):
    rows = {}
    for path in sorted(glob.glob(os.path.join(logdir, "bench-*.txt"))):
        driver = os.path.basename(path)[len("bench-"):-len(".txt")]
        samples = {}
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 6:
                    continue
                work, side, _, value, unit, sender = parts
                s = samples.setdefault((work, unit, side), {"v": [], "s": []})
                s["v"].append(float(value))
                if sender != "-":
                    s["s"].append(float(sender))
        for (work, unit, side), s in samples.items():
            cell = {"median": statistics.median(s["v"]), "low": min(s["v"]),
                    "high": max(s["v"]), "rounds": len(s["v"]), "spread": "min-max",
                    "driver": driver}
            if s["s"]:
                cell["sender_median"] = statistics.median(s["s"])
            rows.setdefault((work, unit), {})[side] = cell
    return rows


def fmt(v):
    if v >= 100000:
        return f"{v / 1000:.0f}k"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def cell(c):
    if not c:
        return "-"
    s = f"{fmt(c['median'])} [{fmt(c['low'])}-{fmt(c['high'])}]"
    if "sender_median" in c:
        s += f" (sent {fmt(c['sender_median'])})"
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--time", required=True)
    ap.add_argument("--icount")
    ap.add_argument("--json")
    args = ap.parse_args()

    rows = engine_rows(args.time, "time")
    if args.icount:
        rows.update(engine_rows(args.icount, "icount"))
    rows.update(nic_rows(args.time))
    order = list(TITLES)
    table = []
    for (work, unit), sides in sorted(rows.items(),
                                      key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99,
                                                      kv[0][1] != "ns/pkt")):
        r, c = sides.get("Rust"), sides.get("C")
        ratio = r["median"] / c["median"] if r and c and c["median"] else None
        title = TITLES.get(work, work)
        drivers = [f"{side}: {x['driver']}" for side, x in (("Rust", r), ("C", c)) if x and "driver" in x]
        if drivers:
            title += f" [{', '.join(drivers)}]"
        table.append({"workload": work, "title": title, "unit": unit,
                      "rust": r, "c": c, "ratio": ratio})

    head = ("workload", "Rust", "C", "Rust/C")
    lines = [(f"{t['title']} ({t['unit']})", cell(t["rust"]), cell(t["c"]),
              f"{t['ratio']:.3f}" if t["ratio"] else "-") for t in table]
    widths = [max(len(x[i]) for x in [head] + lines) for i in range(4)]
    for x in [head, tuple("-" * w for w in widths)] + lines:
        print(" | ".join(v.ljust(w) for v, w in zip(x, widths)).rstrip())
    print("median [spread: p10-p90 of the engines' rounds, min-max of the NICs' rounds];"
          " instructions/pkt: a second boot under QEMU -icount shift=0")
    if not table:
        print("no results (see out/bench/*/guest.log and console.log)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=1)
    return 0 if table else 1


if __name__ == "__main__":
    raise SystemExit(main())
