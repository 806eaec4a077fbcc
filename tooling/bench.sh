#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: a benchmark, not a test. Builds the production kernel
# (configs/profile/bench.config: no debug options, its own build
# directory, the same sources) and boots it twice:
#   1. time: the benchmark KUnit suites run at boot (only they: kunit's
#      filter_glob), each alternating the Rust path and the C path over many
#      rounds; then lab/bench.sh times the lab NICs under the C e1000 and
#      e1000_rust in turn (iperf3 TCP, and UDP and XDP_DROP receive rates
#      fed by a generator on the host: native XDP on e1000_rust, generic
#      on e1000);
#   2. instructions: the same suites under QEMU's instruction counter
#      (-icount shift=0: the guest's clock advances 1 ns per instruction),
#      so that the engines' times become instructions per packet, which the
#      host's load does not change.
# bench-table.py prints the table (workload | Rust | C | Rust/C, medians and
# spread) and saves it to out/bench.txt and out/bench.json; loc.py adds the
# drivers' code lines.
set -euo pipefail
export RNETCORE_PROFILE=bench
. "$(dirname "$0")/env.sh"

"$TOP/tooling/build.sh"
B=$OUT/bench
rm -rf "$B"

. "$TOP/tooling/bench/gen.sh"
gen_build
gen_setup

GLOB='rust_net_*bench*'
log "boot 1: timing (benchmark suites, then the lab NICs)"
gen_server "$B/time/gen" "$B/gen.stop" &
gen_pid=$!
cleanup() {
	touch "$B/gen.stop"
	wait $gen_pid 2>/dev/null
	gen_cleanup
}
trap cleanup EXIT
rc=0
LAB_OUT=$B/time LAB_SCRIPT=$TOP/tooling/lab/bench.sh LAB_QEMU="$GEN_NETDEV" \
	LAB_APPEND="kunit.filter_glob=$GLOB" LAB_ENV="XDP_OBJ=$CACHE/bench/xdp_drop.o BENCH_ROUNDS=${BENCH_ROUNDS:-5}" \
	"$TOP/tooling/lab.sh" all || rc=$?
touch "$B/gen.stop"
wait $gen_pid || true

log "boot 2: instructions (benchmark suites under -icount shift=0)"
LAB_OUT=$B/icount LAB_SCRIPT=$TOP/tooling/lab/bench.sh LAB_QEMU="-icount shift=0" \
	LAB_APPEND="kunit.filter_glob=$GLOB" "$TOP/tooling/lab.sh" engines || rc=$?

python3 "$TOP/tooling/bench-table.py" --time "$B/time" --icount "$B/icount" \
	--json "$OUT/bench.json" | tee "$OUT/bench.txt"
python3 "$TOP/tooling/loc.py" "$TREE" | tee -a "$OUT/bench.txt"
exit $rc
