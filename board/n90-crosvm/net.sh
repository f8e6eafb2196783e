#!/bin/sh
# The N90 board's network step: a TAP device whose host side is the guest's gateway, with
# DHCP from dnsmasq (Debian's) on it; the guest's init takes a lease (udhcpc). POSIX sh: it
# also runs inside the system-test rig's L1 (busybox).
#
#   net.sh run [OPTIONS] -- COMMAND...
#       For tests: network and pid namespaces of this command's own (unshare), the tap and
#       dnsmasq in them, then COMMAND (which attaches the VM to the tap by name). When the
#       namespaces' first process ends, the kernel ends every other one in them (dnsmasq
#       too) and the network namespace, which has no name, goes with its tap: nothing
#       outlives the run, on any exit path (util-linux's --kill-child covers a SIGKILL of
#       the unshare itself). Never NAT. COMMAND finds dnsmasq's files (dnsmasq.pid, leases,
#       dnsmasq.log) in $N90_NET_DIR. Exit status: COMMAND's.
#   net.sh up [OPTIONS] [--nat]     For a user at a workstation: the tap and dnsmasq in this
#       host's own namespace, until `net.sh down`; with --nat (or NAT=yes in board.conf) also
#       outbound NAT: an nftables table n90_nat that masquerades the guest's subnet, and IPv4
#       forwarding on. Root; never run by tests.
#   net.sh down                     Undoes `up` (state in /run/n90-net).
#   net.sh nat-rules [OPTIONS]      Prints the nftables ruleset `up --nat` loads (tests check it
#       with `nft -c` inside a namespace of their own; it is never applied by them).
# OPTIONS (defaults from board.conf through the environment the callers set, else these):
#   --tap NAME (NET_TAP, n90tap0)  --host-ip ADDR/PREFIX (NET_HOST_IP, 10.0.2.1/24)
#   --range FIRST,LAST (NET_DHCP_RANGE, 10.0.2.10,10.0.2.50)  --dnsmasq PATH (DNSMASQ, dnsmasq)
set -eu
tap=${NET_TAP:-n90tap0} host_ip=${NET_HOST_IP:-10.0.2.1/24} range=${NET_DHCP_RANGE:-10.0.2.10,10.0.2.50}
dnsmasq=${DNSMASQ:-dnsmasq} nat=${NAT:-no} state=/run/n90-net
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "net.sh: $*" >&2; exit 1; }

cmd=${1:-}
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
	case $1 in
	--tap) tap=$2; shift 2 ;;
	--host-ip) host_ip=$2; shift 2 ;;
	--range) range=$2; shift 2 ;;
	--dnsmasq) dnsmasq=$2; shift 2 ;;
	--nat) nat=yes; shift ;;
	--) shift; break ;;
	*) die "unknown option $1" ;;
	esac
done
case $host_ip in */*) ;; *) die "--host-ip $host_ip: give ADDR/PREFIX" ;; esac

# The guests' subnet, for the NAT rule: ADDR/PREFIX with the host bits cleared.
subnet() {
	local addr=${host_ip%/*} bits=${host_ip#*/} ip=0 part
	local IFS=.
	for part in $addr; do ip=$((ip * 256 + part)); done
	ip=$((ip & (0xffffffff << (32 - bits)) & 0xffffffff))
	echo "$((ip >> 24 & 255)).$((ip >> 16 & 255)).$((ip >> 8 & 255)).$((ip & 255))/$bits"
}

# tap_up: the tap with the host's address (iproute2, or busybox's tunctl inside the rig).
tap_up() {
	ip tuntap add dev "$tap" mode tap 2>/dev/null || tunctl -t "$tap" >/dev/null ||
		die "cannot create the tap $tap (root, /dev/net/tun)"
	ip addr add "$host_ip" dev "$tap"
	ip link set "$tap" up
}

# dnsmasq_start DIR: DHCP only (no DNS: --port=0) on the tap, as nobody, its lease file and
# pid file in DIR. It answers by broadcast, which udhcpc asks for, so no ARP entry is needed.
dnsmasq_start() {
	command -v "$dnsmasq" >/dev/null || die "dnsmasq is missing (make deps: dnsmasq-base)"
	# Inside the rig's L1 there are no user databases; dnsmasq drops to nobody by name.
	grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>/etc/passwd
	grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group
	"$dnsmasq" --conf-file=/dev/null --port=0 --interface="$tap" --bind-interfaces --except-interface=lo \
		--dhcp-range="$range,12h" --dhcp-authoritative --dhcp-leasefile="$1/leases" --pid-file="$1/dnsmasq.pid" \
		--user=nobody --group=nogroup --log-facility="$1/dnsmasq.log" --log-dhcp ||
		die "dnsmasq did not start ($(tail -n 3 "$1/dnsmasq.log" 2>/dev/null))"
}

nat_rules() {
	cat <<EOF
table ip n90_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr $(subnet) oifname != "$tap" masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "$tap" accept
		oifname "$tap" ct state established,related accept
	}
}
EOF
}

case $cmd in
run)
	[ $# -gt 0 ] || die "run: no command"
	set -- _in_namespace --tap "$tap" --host-ip "$host_ip" --range "$range" --dnsmasq "$dnsmasq" -- "$@"
	# busybox's unshare (the rig's L1) has no --kill-child.
	if unshare --help 2>&1 | grep -q -- --kill-child; then
		exec unshare --net --pid --kill-child "$here/net.sh" "$@"
	fi
	exec unshare -n -p -f "$here/net.sh" "$@"
	;;
_in_namespace)
	ip link set lo up
	tap_up
	dir=$(mktemp -d "${TMPDIR:-/tmp}/n90-net.XXXXXX")
	chmod 0755 "$dir"
	dnsmasq_start "$dir"
	set +e
	N90_NET_DIR=$dir "$@"
	rc=$?
	[ -s "$dir/leases" ] && echo "net.sh: leases given: $(cut -d' ' -f3 "$dir/leases" | tr '\n' ' ')" >&2
	rm -rf "$dir"
	exit $rc
	;;
up)
	[ "$(id -u)" = 0 ] || die "up: needs root"
	[ ! -e "$state/tap" ] || die "up: already up ($(cat "$state/tap")); net.sh down first"
	mkdir -p "$state"
	tap_up
	echo "$tap" >"$state/tap"
	dnsmasq_start "$state"
	if [ "$nat" = yes ]; then
		nat_rules | nft -f - || die "up: the NAT rules did not load"
		cat /proc/sys/net/ipv4/ip_forward >"$state/ip_forward"
		echo 1 >/proc/sys/net/ipv4/ip_forward
		echo "net.sh: NAT for $(subnet) (nftables table ip n90_nat), IPv4 forwarding on" >&2
	fi
	echo "net.sh: $tap at $host_ip, DHCP $range; boot with --net tap=$tap (net.sh down to remove)" >&2
	;;
down)
	[ -e "$state/tap" ] || die "down: nothing is up"
	tap=$(cat "$state/tap")
	[ -f "$state/dnsmasq.pid" ] && kill "$(cat "$state/dnsmasq.pid")" 2>/dev/null
	if [ -f "$state/ip_forward" ]; then
		nft delete table ip n90_nat 2>/dev/null
		cat "$state/ip_forward" >/proc/sys/net/ipv4/ip_forward
	fi
	ip link del "$tap" 2>/dev/null
	rm -rf "$state"
	echo "net.sh: $tap removed" >&2
	;;
nat-rules) nat_rules ;;
*) die "usage: net.sh run|up|down|nat-rules [OPTIONS] (see the header of this file)" ;;
esac
