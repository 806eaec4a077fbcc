# SPDX-License-Identifier: GPL-2.0
#
# The lab's link-level checks, for the guest script (guest.sh); sourced
# after nics.sh, with A in nsA and B in nsB and the guest script's
# `result`. XDP_OBJS, if set, is the directory of the XDP programs.
#
#   link_checks  interrupt coalescing (ethtool -C rx-usecs) observed in
#                A's interrupt rate, and the adaptive moderation (adaptive-rx)
#                moving B's interval under TCP; jumbo frames both ways (MTU 9000);
#                frames longer than A takes dropped and counted; a new MAC
#                address on A; 802.1Q VLANs with and without the tag
#                offloads; a transmit hang on A that the watchdog finds and
#                a reset clears; each followed by a ping at the lab's
#                settings.

# set_mtu MTU: A's and B's MTU.
set_mtu() {
	ip -n nsA link set dev "$A" mtu "$1" && ip -n nsB link set dev "$B" mtu "$1"
}

# jumbo: at MTU 9000 on both, unfragmented pings of 9000-byte packets both
# ways, and TCP from A to B, whose segments B receives longer than 1500
# bytes. With an XDP program attached, A refuses an MTU whose frames do
# not fit one buffer, and refuses the program at MTU 9000.
jumbo() {
	local json=$OUTDIR/iperf3_jumbo.json ok=0 why st bytes p0 b0 p1 b1 xdp=
	if ! set_mtu 9000 2>>"$OUTDIR/checks.log"; then
		result mtu_jumbo 1 "MTU 9000 refused"
		set_mtu 1500
		return
	fi
	lab_carrier >/dev/null
	ip netns exec nsA ping -c 3 -i 0.2 -W 2 -M do -s 8972 192.0.2.2 >>"$OUTDIR/checks.log" 2>&1 ||
		ok=1 why+="no 9000-byte ping A to B; "
	ip netns exec nsB ping -c 3 -i 0.2 -W 2 -M do -s 8952 2001:db8::1 >>"$OUTDIR/checks.log" 2>&1 ||
		ok=1 why+="no 9000-byte ping6 B to A; "
	iperf3_server
	p0=$(rx_packets nsB "$B") b0=$(rx_bytes nsB "$B")
	ip netns exec nsA iperf3 -c 192.0.2.2 -t 2 -J >"$json" 2>&1
	st=$?
	p1=$(rx_packets nsB "$B") b1=$(rx_bytes nsB "$B")
	bytes=$(iperf3_received "$json")
	bytes=${bytes#* }
	# More than 1500 bytes a frame on average: jumbo frames carried it.
	if [ $st != 0 ] || [ "${bytes:-0}" = 0 ] || [ $((b1 - b0)) -le $((1500 * (p1 - p0))) ]; then
		ok=1
	fi
	why+="iperf3 exit $st, ${bytes:-no} bytes, B received $((p1 - p0)) frames of $((b1 - b0)) bytes"
	if [ -n "${XDP_OBJS:-}" ] && ip -n nsA link set dev "$A" xdpdrv obj "$XDP_OBJS/xdp_pass.o" \
		sec xdp 2>/dev/null; then
		ip -n nsA link set dev "$A" xdpdrv off
		ok=1 xdp=", XDP program taken at MTU 9000"
	fi
	set_mtu 1500
	if [ -n "${XDP_OBJS:-}" ] && ip -n nsA link set dev "$A" xdpdrv obj "$XDP_OBJS/xdp_pass.o" \
		sec xdp 2>/dev/null; then
		ip -n nsA link set dev "$A" mtu 9000 2>/dev/null && ok=1 xdp+=", MTU 9000 taken under XDP"
		ip -n nsA link set dev "$A" xdpdrv off
		ip -n nsA link set dev "$A" mtu 1500
	fi
	result mtu_jumbo $ok "$why$xdp"
}

# oversize: B at MTU 9000 sends 4000-byte packets to A at MTU 1500, whose
# receiver does not take frames that long: A delivers none and counts
# each as a length error (the C e1000 updates its counters every 2 s).
oversize() {
	local e0 e1 got
	e0=$(lab_stat nsA "$A" rx length_errors)
	ip -n nsB link set dev "$B" mtu 9000 || return 1
	got=$(ip netns exec nsB ping -c 5 -i 0.2 -W 1 -q -M do -s 4000 192.0.2.1 |
		sed -n 's/.* \([0-9]*\) received.*/\1/p')
	ip -n nsB link set dev "$B" mtu 1500
	sleep 3
	e1=$(lab_stat nsA "$A" rx length_errors)
	[ "$got" = 0 ] && [ $((e1 - e0)) -ge 5 ]
	result oversize_dropped_counted $? \
		"${got:-?}/5 replies to 4000-byte pings; A's rx length errors +$((e1 - e0))"
}

# a_mac: A's MAC address.
a_mac() {
	ip -n nsA -br link show dev "$A" | awk '{ print $3 }'
}

# set_a_mac MAC: A, taken down, gets MAC and comes up again.
set_a_mac() {
	ip -n nsA link set dev "$A" down && ip -n nsA link set dev "$A" address "$1" &&
		ip -n nsA link set dev "$A" up
}

# mac_change: A, down, takes a new address and answers pings at it (B
# resolves it afresh); then its own address back.
mac_change() {
	local old new=02:00:00:00:0a:01 ok=0 why
	old=$(a_mac)
	set_a_mac "$new" || { result mac_change 1 "could not set $new"; return; }
	ip -n nsB neigh flush dev "$B"
	lab_carrier >/dev/null
	ip netns exec nsB ping -c 3 -i 0.2 -W 2 192.0.2.1 >>"$OUTDIR/checks.log" 2>&1 ||
		ok=1 why="no ping at $new; "
	ip -n nsB neigh show 192.0.2.1 dev "$B" | grep -q "$new" || ok=1 why+="B does not see $new; "
	set_a_mac "$old"
	ip -n nsB neigh flush dev "$B"
	lab_carrier >/dev/null
	ip netns exec nsB ping -c 3 -i 0.2 -W 2 192.0.2.1 >>"$OUTDIR/checks.log" 2>&1 ||
		ok=1 why+="no ping at $old"
	result mac_change $ok "${why:-answered at $new, then at $old}"
}

# irqs: interrupts of A's IRQ line so far, on all CPUs.
irqs() {
	local irq
	irq=$(ip netns exec nsA cat "/sys/class/net/$A/device/irq")
	awk -v i="$irq:" '$1 == i { n = 0; for (f = 2; f <= NF && $f ~ /^[0-9]+$/; f++) n += $f; print n }' \
		/proc/interrupts
}

# rx_usecs NS DEV: DEV's interrupt interval (ethtool -c).
rx_usecs() {
	ip netns exec "$1" ethtool -c "$2" | awk '$1 == "rx-usecs:" { print $2 }'
}

# coalesce: with adaptive moderation off and rx-usecs 10000 on A, a ping
# flood from B (4 requests in flight) raises at most about 100 interrupts a
# second on A's line; with 0 (no throttling), more. Each setting reads
# back; the pings are answered. A's moderation is restored.
coalesce() {
	local old adaptive ok=0 why= u i0 i1 st err rate=()
	old=$(rx_usecs nsA "$A")
	adaptive=$(ip netns exec nsA ethtool -c "$A" | awk '$1 == "Adaptive" { print $3 }')
	for u in 10000 0; do
		if ! err=$(ip netns exec nsA ethtool -C "$A" adaptive-rx off rx-usecs $u 2>&1); then
			# The C e1000 takes no coalescing settings on an 82540EM.
			if [ $u = 10000 ] && grep -q "Operation not supported" <<<"$err"; then
				echo "== coalesce: $DRIVER takes no rx-usecs: $err" >>"$OUTDIR/checks.log"
				return
			fi
			ok=1 why+="rx-usecs $u refused ($err); "
			continue
		fi
		[ "$(rx_usecs nsA "$A")" = $u ] ||
			ok=1 why+="rx-usecs $u reads back otherwise; "
		i0=$(irqs)
		ip netns exec nsB ping -f -l 4 -w 2 -q 192.0.2.1 >>"$OUTDIR/checks.log" 2>&1
		st=$?
		i1=$(irqs)
		[ $st = 0 ] || ok=1 why+="ping flood exit $st at rx-usecs $u; "
		rate+=($(((i1 - i0) / 2)))
		why+="rx-usecs $u: $(((i1 - i0) / 2)) interrupts/s; "
	done
	[ ${#rate[@]} = 2 ] && [ "${rate[0]}" -le 110 ] && [ "${rate[1]}" -gt $((2 * rate[0])) ] || ok=1
	ip netns exec nsA ethtool -C "$A" rx-usecs "${old:-50}" 2>>"$OUTDIR/checks.log"
	[ "$adaptive" != on ] || ip netns exec nsA ethtool -C "$A" adaptive-rx on 2>>"$OUTDIR/checks.log"
	result coalesce_rx_usecs $ok "$why"
}

# adaptive: B's interval follows the traffic with adaptive moderation on:
# turned off and on again, it measures afresh (left alone, it may stay
# parked at an interval it found the traffic served by), and under TCP
# from A to B the interval takes more than one value (read every 0.2 s for
# 4 s); rx-usecs cannot be set while it is on; with adaptive-rx off it
# keeps the interval it had under TCP. Only for drivers that have it.
adaptive() {
	local ok=0 why= json=$OUTDIR/iperf3_adaptive.json seen n err u pid
	if ! err=$(ip netns exec nsB ethtool -C "$B" adaptive-rx off 2>&1) ||
		! err=$(ip netns exec nsB ethtool -C "$B" adaptive-rx on 2>&1); then
		echo "== adaptive: $DRIVER has no adaptive-rx: $err" >>"$OUTDIR/checks.log"
		return
	fi
	# The interval it starts from, then the ones it steps to.
	u=$(rx_usecs nsB "$B")
	iperf3_server
	ip netns exec nsA iperf3 -c 192.0.2.2 -t 4 -J >"$json" 2>&1 &
	pid=$!
	seen=$({
		echo "$u"
		for _ in $(seq 20); do rx_usecs nsB "$B"; sleep 0.2; done
	} | sort -n | uniq | tr '\n' ' ')
	wait $pid
	n=$(wc -w <<<"$seen")
	why="rx-usecs seen under TCP: $seen"
	[ "$n" -gt 1 ] || ok=1
	iperf3_received "$json" >/dev/null || ok=1 why+="; no TCP result"
	ip netns exec nsB ethtool -C "$B" rx-usecs 7 >>"$OUTDIR/checks.log" 2>&1 &&
		ok=1 why+="; rx-usecs taken with adaptive-rx on"
	ip netns exec nsB ethtool -C "$B" adaptive-rx off 2>>"$OUTDIR/checks.log" || ok=1 why+="; adaptive-rx off refused"
	u=$(rx_usecs nsB "$B")
	iperf3_server
	ip netns exec nsA iperf3 -c 192.0.2.2 -t 2 >/dev/null 2>&1 &
	pid=$!
	seen=$(for _ in $(seq 10); do rx_usecs nsB "$B"; sleep 0.2; done | sort -n | uniq | tr '\n' ' ')
	wait $pid
	[ "$seen" = "$u " ] || ok=1 why+="; with adaptive-rx off at $u: $seen"
	ip netns exec nsB ethtool -C "$B" adaptive-rx on 2>>"$OUTDIR/checks.log" || ok=1 why+="; adaptive-rx on refused"
	result coalesce_adaptive $ok "$why"
}

# vlan: VLAN 10 over A and B (198.51.100.0/24), pinged both ways with the
# devices' VLAN offloads on, where they have them (tags inserted and
# stripped by the device: a tag it failed to insert or to report would
# leave the frame to the untagged device, and the ping unanswered), and
# off (tags in the frames); and TCP from A to B over it.
vlan() {
	local mode ok=0 why= st
	ip -n nsA link add link "$A" name "$A.10" type vlan id 10 &&
		ip -n nsB link add link "$B" name "$B.10" type vlan id 10 &&
		ip -n nsA addr add 198.51.100.1/24 dev "$A.10" &&
		ip -n nsB addr add 198.51.100.2/24 dev "$B.10" &&
		ip -n nsA link set "$A.10" up && ip -n nsB link set "$B.10" up ||
		{ result vlan 1 "could not set VLAN 10 up"; vlan_del; return; }
	for mode in on off; do
		ip netns exec nsA ethtool -K "$A" rxvlan $mode txvlan $mode 2>>"$OUTDIR/checks.log"
		ip netns exec nsB ethtool -K "$B" rxvlan $mode txvlan $mode 2>>"$OUTDIR/checks.log"
		st=$(ip netns exec nsA ethtool -k "$A" | awk '$1 == "rx-vlan-offload:" { print $2 }')
		why+="offloads $mode (A: rx-vlan-offload ${st:-?}): "
		if ip netns exec nsA ping -c 3 -i 0.2 -W 2 198.51.100.2 >>"$OUTDIR/checks.log" 2>&1 &&
			ip netns exec nsB ping -c 3 -i 0.2 -W 2 198.51.100.1 >>"$OUTDIR/checks.log" 2>&1; then
			why+="pings answered"
		else
			ok=1 why+="pings lost"
		fi
		# TCP over the VLAN, with the offloads VLAN devices inherit.
		iperf3_server
		if ip netns exec nsA iperf3 -c 198.51.100.2 -t 2 -J >"$OUTDIR/iperf3_vlan_$mode.json" 2>&1; then
			why+=", TCP $(iperf3_received "$OUTDIR/iperf3_vlan_$mode.json" | cut -d' ' -f2) bytes; "
		else
			ok=1 why+=", TCP failed; "
		fi
	done
	ip netns exec nsA ethtool -K "$A" rxvlan on txvlan on 2>/dev/null
	ip netns exec nsB ethtool -K "$B" rxvlan on txvlan on 2>/dev/null
	vlan_del
	result vlan $ok "$why"
}
vlan_del() {
	ip -n nsA link del "$A.10" 2>/dev/null
	ip -n nsB link del "$B.10" 2>/dev/null
}

# tx_hang: A's bus mastering is turned off while it sends 400 UDP datagrams
# of 1400 bytes (from one socket with room for all of them): the device
# takes the descriptors but cannot report them done, so the queue stops
# (byte queue limits, or a full ring) and stays stopped after bus
# mastering is back. The watchdog must
# find it (NETDEV WATCHDOG) and the driver's reset bring A back: pings
# pass again. A has a MAC address of its own meanwhile, not the one a
# reset of the device reloads, and B looks A up afresh over IPv6 (neighbour
# solicitations go to a multicast address): the reset must restore the
# receive address and the multicast filter.
tx_hang() {
	local bdf n t0 ok=1 why old new=02:00:00:00:0a:02
	bdf=$(ip netns exec nsA readlink -f "/sys/class/net/$A/device") || return 1
	bdf=${bdf##*/}
	old=$(a_mac)
	# A's neighbours are resolved again at the new address first: datagrams
	# waiting for an answer to ARP would never reach the ring to fill it.
	set_a_mac "$new" && lab_carrier >/dev/null &&
		ip netns exec nsA ping -c 2 -i 0.2 -W 2 192.0.2.2 >>"$OUTDIR/checks.log" 2>&1 ||
		{ result tx_hang_reset 1 "no ping at $new"; return; }
	n=$(dmesg | grep -c "$A: NETDEV WATCHDOG")
	setpci -s "$bdf" COMMAND=0:4 || { result tx_hang_reset 1 "setpci failed"; return; }
	ip netns exec nsA "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 32, 1 << 22)  # SO_SNDBUFFORCE
s.setblocking(False)
for i in range(400):
    try:
        s.sendto(b"x" * 1400, ("192.0.2.2", 9))
    except OSError:
        pass' 2>>"$OUTDIR/checks.log"
	sleep 1
	setpci -s "$bdf" COMMAND=4:4
	t0=$(date +%s)
	why="no watchdog report in 30 s"
	while [ $(($(date +%s) - t0)) -lt 30 ]; do
		if [ "$(dmesg | grep -c "$A: NETDEV WATCHDOG")" -gt "$n" ]; then
			why="watchdog after $(($(date +%s) - t0)) s"
			ok=0
			break
		fi
		sleep 1
	done
	if [ $ok = 0 ]; then
		# The reset runs after the report; pings pass within 10 s.
		ok=1
		for n in $(seq 10); do
			if ip netns exec nsA ping -c 2 -i 0.2 -W 1 192.0.2.2 >>"$OUTDIR/checks.log" 2>&1; then
				ok=0
				break
			fi
		done
		why+=", $([ $ok = 0 ] && echo "pings pass after $n tries" || echo "no ping passes")"
	fi
	if [ $ok = 0 ]; then
		ip -n nsB neigh flush dev "$B"
		ip netns exec nsB ping -c 2 -i 0.2 -W 2 2001:db8::1 >>"$OUTDIR/checks.log" 2>&1 &&
			ip -n nsB neigh show 2001:db8::1 dev "$B" | grep -q "$new" ||
			ok=1 why+=", no IPv6 ping from B after a neighbour solicitation"
	fi
	set_a_mac "$old"
	ip -n nsB neigh flush dev "$B"
	lab_carrier >/dev/null
	result tx_hang_reset $ok "$why"
}

link_checks() {
	coalesce
	adaptive
	jumbo
	oversize
	mac_change
	vlan
	tx_hang
}
