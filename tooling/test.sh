#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the lab guest once: the built-in KUnit suites run at boot, then the
# traffic checks run. kunit.py parses both KTAP streams; the last line is
# "N passed, N failed, N skipped" over KUnit cases and lab checks.
set -uo pipefail
. "$(dirname "$0")/env.sh"
KUNIT=$TREE/tools/testing/kunit/kunit.py

"$TOP/tooling/lab.sh" test
lab_rc=$?
L=$OUT/lab

echo "== KUnit (kunit.py parse $L/dmesg.txt)"
python3 "$KUNIT" parse --json="$OUT/kunit.json" "$L/dmesg.txt" | tee "$OUT/kunit.txt" | tail -n 3
echo "== Lab checks (kunit.py parse $L/lab.ktap)"
python3 "$KUNIT" parse --json="$OUT/lab.json" "$L/lab.ktap" >"$OUT/lab.txt"
grep -h '^ *[a-z_0-9]* *\(ok\|FAIL\) ' "$L/guest.log" || true

# Benchmarks report, they do not assert (rust_net_rx_bench).
if grep -q 'rx_bench:' "$L/dmesg.txt"; then
	echo "== Benchmarks"
	grep -h 'rx_bench:' "$L/dmesg.txt" | sed 's/^\[[^]]*\] *//' | tee "$OUT/bench.txt"
fi

echo "== Summary"
[ $lab_rc = 0 ] || echo "lab guest exited with $lab_rc (see $L/guest.log)"
mapfile -t expect < <(sed -e 's/#.*//' -e '/^\s*$/d' "$TOP/tooling/configs/suites")
python3 "$TOP/tooling/summarize.py" "$OUT/kunit.json" "$OUT/lab.json" \
	"${expect[@]/#/--expect=}"
