# SPDX-License-Identifier: GPL-2.0
#
# Allocation fault injection for the lab guest; sourced by guest.sh (and
# by anything a driver's lab step runs), not run. Uses the kernel's
# fail_page_alloc and failslab debugfs attributes
# (Documentation/fault-injection/fault-injection.rst).
#
#   fault_arm PERCENT [TASKS]   fail page and slab allocations that cannot
#                               sleep (what a NIC's receive refill and a
#                               softirq make) with PERCENT probability.
#                               TASKS empty: any context, softirq included;
#                               else only the listed PIDs (task filter:
#                               process context only).
#   fault_disarm                stop; prints "pages slabs", the number of
#                               failures each injected while armed
#   fault_window SECONDS PERCENT [TASKS]
#                               arm, wait, disarm; prints as fault_disarm
#
# Only allocations that may not sleep fail (ignore-gfp-wait): process
# context work with GFP_KERNEL, the guest's 9p root among it, is left
# alone. verbose=0: a forced failure is not logged with a stack trace
# (the lab's splat checks read the log).
FAULT_DEBUGFS=/sys/kernel/debug
FAULT_BUDGET=1000000000

fault_attrs() {
	echo "$FAULT_DEBUGFS/fail_page_alloc" "$FAULT_DEBUGFS/failslab"
}

fault_arm() {
	local pct=$1 tasks=${2:-} d pid filter=N
	[ -d "$FAULT_DEBUGFS/fail_page_alloc" ] ||
		mount -t debugfs none "$FAULT_DEBUGFS" 2>/dev/null
	[ -n "$tasks" ] && filter=Y
	for d in $(fault_attrs); do
		[ -d "$d" ] || { echo "fault_arm: no $d (CONFIG_FAIL_PAGE_ALLOC/FAILSLAB?)" >&2; return 1; }
		echo 0 >"$d/probability"
		echo 0 >"$d/verbose"
		echo 0 >"$d/space"
		echo 1 >"$d/interval"
		echo Y >"$d/ignore-gfp-wait"
		echo $filter >"$d/task-filter"
		echo $FAULT_BUDGET >"$d/times"
	done
	echo 0 >"$FAULT_DEBUGFS/fail_page_alloc/min-order"
	echo N >"$FAULT_DEBUGFS/fail_page_alloc/ignore-gfp-highmem"
	for pid in $tasks; do
		echo 1 >"/proc/$pid/make-it-fail"
	done
	for d in $(fault_attrs); do
		echo "$pct" >"$d/probability"
	done
}

fault_disarm() {
	local d n out=()
	for d in $(fault_attrs); do
		echo 0 >"$d/probability"
		n=$(cat "$d/times")
		out+=($((FAULT_BUDGET - n)))
		echo 1 >"$d/times"
	done
	echo "${out[*]}"
}

fault_window() {
	fault_arm "$2" "${3:-}" || return 1
	sleep "$1"
	fault_disarm
}
