# SPDX-License-Identifier: GPL-2.0
#
# The lab's XDP checks, for the guest script (guest.sh); sourced after
# nics.sh, with A in nsA and B in nsB and the guest script's `result`.
# XDP_OBJS is the directory of the programs built from xdp_action.c
# (xdp_pass.o, xdp_drop.o, xdp_tx.o, xdp_redirect.o).
#
#   xdp_checks   each action attached to A in native mode while B pings A,
#                observed in A's ethtool counters and at B; then 50
#                rounds of attach and detach while TCP runs through A.
#                A driver without native XDP has none of these checks.

# xdp_stat NAME: A's ethtool statistic NAME.
xdp_stat() {
	ip netns exec nsA ethtool -S "$A" | awk -v n="$1:" '$1 == n { print $2 }'
}

# xdp_attach ACTION | off: A's native XDP program.
xdp_attach() {
	if [ "$1" = off ]; then
		ip -n nsA link set dev "$A" xdpdrv off
	else
		ip -n nsA link set dev "$A" xdpdrv obj "$XDP_OBJS/xdp_$1.o" sec xdp
	fi
}

# xdp_ping: B pings A 5 times (0.2 s apart); prints the replies B got.
xdp_ping() {
	ip netns exec nsB ping -c 5 -i 0.2 -W 1 -q 192.0.2.1 |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}

# xdp_action ACTION COUNTER REPLIES: with ACTION attached, B's 5 pings
# raise A's COUNTER by at least 5, and B gets REPLIES replies ("all" or
# "none"); after the detach, 5 more pings are answered. XDP_TX and
# XDP_REDIRECT frames also leave A (tx_xdp_frames) and reach B: B counts
# at least 10 frames over both rounds of pings (read after the second,
# whose traffic also moves along what the rings still hold: the last
# frame of a burst can wait for the next interrupt).
xdp_action() {
	local act=$1 counter=$2 want=$3 c0 c1 f0 f1 b0 b1 got after ok=0 why
	if ! xdp_attach "$act" 2>>"$OUTDIR/checks.log"; then
		result "xdp_$act" 1 "attach failed"
		return
	fi
	c0=$(xdp_stat "$counter") f0=$(xdp_stat tx_xdp_frames) b0=$(rx_packets nsB "$B")
	got=$(xdp_ping)
	c1=$(xdp_stat "$counter")
	xdp_attach off
	after=$(xdp_ping)
	f1=$(xdp_stat tx_xdp_frames) b1=$(rx_packets nsB "$B")
	why="$counter +$((c1 - c0)), B got ${got:-?}/5 replies, ${after:-?}/5 after the detach"
	[ $((c1 - c0)) -ge 5 ] && [ "$after" = 5 ] || ok=1
	case $want in
	all) [ "$got" = 5 ] || ok=1 ;;
	none) [ "$got" = 0 ] || ok=1 ;;
	esac
	if [ "$act" = tx ] || [ "$act" = redirect ]; then
		why+=", tx_xdp_frames +$((f1 - f0)), B received +$((b1 - b0))"
		[ $((f1 - f0)) -ge 5 ] && [ $((b1 - b0)) -ge 10 ] || ok=1
	fi
	result "xdp_$act" $ok "$why"
}

# xdp_attach_detach ROUNDS: XDP_PASS attached and detached ROUNDS times
# while iperf3 sends from A to B (A's receive side carries the ACKs): the
# transfer completes.
xdp_attach_detach() {
	local json=$OUTDIR/iperf3_xdp.json i fail=0 st bytes
	iperf3_server
	ip netns exec nsA iperf3 -c 192.0.2.2 -t 8 -J >"$json" 2>&1 &
	sleep 1
	for i in $(seq "$1"); do
		xdp_attach pass 2>>"$OUTDIR/checks.log" && xdp_attach off || fail=$((fail + 1))
	done
	wait $!
	st=$?
	bytes=$(iperf3_received "$json")
	bytes=${bytes#* }
	[ $fail = 0 ] && [ $st = 0 ] && [ "${bytes:-0}" -gt 0 ]
	result "xdp_attach_detach_x$1" $? \
		"$fail failed attach/detach rounds; iperf3 exit $st, ${bytes:-no} bytes received"
}

xdp_checks() {
	local err
	if ! err=$(xdp_attach pass 2>&1); then
		# A driver without native XDP (the C e1000) has none of these checks.
		if grep -q "does not support XDP in native mode" <<<"$err"; then
			echo "== xdp: $DRIVER has no native XDP: $err" >>"$OUTDIR/checks.log"
		else
			result xdp_attach 1 "$(echo $err)"
		fi
		return
	fi
	xdp_attach off
	xdp_action pass rx_xdp_pass all
	xdp_action drop rx_xdp_drop none
	xdp_action tx rx_xdp_tx none
	xdp_action redirect rx_xdp_redirect none
	xdp_attach_detach 50
}
