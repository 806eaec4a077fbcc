#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the lab guest once on the debug kernel: the built-in KUnit suites
# run at boot, then the traffic checks, the fault-injection window and the
# drivers/net selftests, each step followed by a splat check. kunit.py
# parses every KTAP stream; the last line is "N passed, N failed,
# N skipped" over KUnit cases, lab checks and selftest cases.
set -uo pipefail
. "$(dirname "$0")/env.sh"
KUNIT=$TREE/tools/testing/kunit/kunit.py
# The lab's NICs are driven by the Rust e1000 (LAB_DRIVER=e1000 for the C one).
export LAB_DRIVER=${LAB_DRIVER:-e1000_rust}
DRIVER=$LAB_DRIVER
problems=()

"$TOP/tooling/ksft.sh" || problems+=("--problem=the drivers/net selftests did not install")
# The lab's XDP programs (lab/xdp.sh), against the uapi headers ksft.sh
# installed.
XDP_OBJS=$CACHE/lab-xdp
mkdir -p "$XDP_OBJS"
for a in pass drop tx redirect; do
	clang -O2 -Wall -target bpf -D"${a^^}" -I"$BUILD/usr/include" \
		-c "$TOP/tooling/lab/xdp_action.c" -o "$XDP_OBJS/xdp_$a.o" ||
		problems+=("--problem=the lab's XDP program for $a did not build")
done
export LAB_ENV="${LAB_ENV:-} XDP_OBJS=$XDP_OBJS"
"$TOP/tooling/lab.sh" test
lab_rc=$?
L=$OUT/lab

echo "== KUnit (kunit.py parse $L/dmesg.txt)"
python3 "$KUNIT" parse --json="$OUT/kunit.json" "$L/dmesg.txt" | tee "$OUT/kunit.txt" | tail -n 3
echo "== Lab checks (kunit.py parse $L/lab.ktap)"
python3 "$KUNIT" parse --json="$OUT/lab.json" "$L/lab.ktap" >"$OUT/lab.txt"
grep -h '^ *[a-z_0-9]* *\(ok\|FAIL\) ' "$L/guest.log" || true

echo "== drivers/net selftests on $DRIVER (expectations: tooling/ksft/expect-$DRIVER)"
python3 "$TOP/tooling/ksft-results.py" "$L/ksft" "$TOP/tooling/ksft/expect-$DRIVER" \
	"selftests_$DRIVER" -o "$L/ksft.ktap" &&
	python3 "$KUNIT" parse --json="$OUT/ksft.json" "$L/ksft.ktap" >"$OUT/ksft.txt"

# Benchmarks report, they do not assert (rust_net_rx_bench, rust_net_tx_bench).
if grep -q 'net_bench:' "$L/dmesg.txt"; then
	echo "== Benchmarks (debug kernel; make bench times a production one)"
	grep -h 'net_bench:' "$L/dmesg.txt" | sed 's/^\[[^]]*\] *//'
fi

echo "== Summary"
if [ ! -f "$L/done" ]; then
	problems+=("--problem=the lab guest died or stopped early (exit $lab_rc): its console is $L/console.log")
fi
mapfile -t expect < <(sed -e 's/#.*//' -e '/^\s*$/d' -e "s/@DRIVER@/$DRIVER/" \
	"$TOP/tooling/configs/suites")
python3 "$TOP/tooling/summarize.py" "$OUT/kunit.json" "$OUT/lab.json" "$OUT/ksft.json" \
	"${expect[@]/#/--expect=}" "${problems[@]}"
