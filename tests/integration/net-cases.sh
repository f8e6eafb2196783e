#!/bin/sh
# One virtio-net case: the test guest (virtio=net-..., tests/guest/virtio_net.c) on a tap in a
# network namespace of its own, and the host side of every check.
#
#   1. creates the namespace n90-net-PID with the tap n90tap0, 10.0.2.1/30 on it (IPv6 off,
#      so the guest sees no router solicitations), link up;
#   2. runs COMMAND (the hypervisor with the guest; its standard output is the guest's
#      serial console) inside the namespace;
#   3. once the guest prints "net: serving", pings it (ping -c 3 -W 2 10.0.2.2) and runs
#      nettest (the bulk transfer both ways, which ends the guest's run);
#   4. the hypervisor must exit 0 and the guest print RESULT: PASS (and, with --expect, exactly
#      that file after normalisation);
#   5. deletes the namespace on every exit path.
# The namespace holds only lo and the tap, with no route beyond 10.0.2.0/30: no frame can
# leave it. The guest itself pings 10.0.2.1 (the host end) and checks the replies.
#
# usage: net-cases.sh [--name NAME] [--nettest PATH] [--nettest-args "ARGS"] [--expect FILE]
#                     [--wait SEC] [--out FILE] -- COMMAND...
# COMMAND gets the tap by its name n90tap0 (n90vmm: --net tap=n90tap0; QEMU: -netdev
# tap,ifname=n90tap0,script=no,downscript=no). Prints "PASS NAME" or "FAIL NAME: why";
# the exit status is 0 only for PASS. Needs root (namespaces, taps, AF_PACKET). POSIX sh.
# Environment: IP and PING, iproute2's ip and iputils' ping (default: from PATH; the rig's L1
# passes absolute paths, since its busybox sh would run its own applets, which know no netns).
set -u
IP=${IP:-ip} PING=${PING:-ping}
here=$(cd "$(dirname "$0")" && pwd)
name=net nettest=$here/../../build/nettest nettest_args='' expect='' wait=120 out=''
while [ $# -gt 0 ]; do
	case $1 in
	--name) name=$2 && shift 2 ;;
	--nettest) nettest=$2 && shift 2 ;;
	--nettest-args) nettest_args=$2 && shift 2 ;;
	--expect) expect=$2 && shift 2 ;;
	--wait) wait=$2 && shift 2 ;;
	--out) out=$2 && shift 2 ;;
	--) shift && break ;;
	*) echo "usage: $0 [--name NAME] [--nettest PATH] [--nettest-args ARGS] [--expect FILE] [--wait SEC] [--out FILE] -- COMMAND..." >&2
		exit 2 ;;
	esac
done
[ $# -gt 0 ] || { echo "$0: no hypervisor command" >&2; exit 2; }

ns=n90-net-$$
tap=n90tap0
tmp=$(mktemp -d)
vm=
cleanup() {
	[ -n "$vm" ] && kill "$vm" 2>/dev/null
	"$IP" netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL $name: $1"
	for f in serial.raw vm.err ping.out nettest.out; do
		[ -s "$tmp/$f" ] && tr -d '\r' <"$tmp/$f" | tail -n 25 | sed "s/^/    $f | /"
	done
	[ -n "$out" ] && cp "$tmp/serial.raw" "$out" 2>/dev/null
	exit 1
}

for tool in "$IP" "$PING" "$nettest"; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed (make deps; make)"
done
mkdir -p /run/netns 2>/dev/null # iproute2 creates only the last level
"$IP" netns add "$ns" || fail "cannot create network namespace $ns (root needed)"
"$IP" -n "$ns" tuntap add dev "$tap" mode tap || fail "cannot create tap $tap in $ns"
"$IP" netns exec "$ns" sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1" >/dev/null 2>&1
if ! "$IP" -n "$ns" addr add 10.0.2.1/30 dev "$tap" || ! "$IP" -n "$ns" link set lo up ||
	! "$IP" -n "$ns" link set "$tap" up; then
	fail "cannot configure $tap"
fi

"$IP" netns exec "$ns" "$@" </dev/null >"$tmp/serial.raw" 2>"$tmp/vm.err" &
vm=$!

# Wait for the guest to serve (its ARP and ping checks are done then).
i=0
while ! grep -q 'net: serving' "$tmp/serial.raw" 2>/dev/null; do
	kill -0 "$vm" 2>/dev/null || { wait "$vm"; fail "the hypervisor exited ($?) before the guest served"; }
	[ $i -lt $((wait * 5)) ] || fail "the guest did not serve within ${wait}s"
	sleep 0.2
	i=$((i + 1))
done

"$IP" netns exec "$ns" "$PING" -c 3 -W 2 10.0.2.2 >"$tmp/ping.out" 2>&1
ping_rc=$?
# shellcheck disable=SC2086 # nettest_args is a list of options
"$IP" netns exec "$ns" "$nettest" "$tap" $nettest_args >"$tmp/nettest.out" 2>&1
nettest_rc=$?

# nettest's DONE ends the guest's run; give the hypervisor a moment to power off.
i=0
while kill -0 "$vm" 2>/dev/null && [ $i -lt 150 ]; do
	sleep 0.2
	i=$((i + 1))
done
if kill -0 "$vm" 2>/dev/null; then
	kill "$vm" 2>/dev/null
	vm_rc=timeout
else
	wait "$vm"
	vm_rc=$?
fi
vm=

tr -d '\r' <"$tmp/serial.raw" | sed -n '/n90 test guest:/,$p' | sed '1s/^.*\(n90 test guest:\)/\1/' >"$tmp/serial.out"
[ -n "$out" ] && cp "$tmp/serial.out" "$out"
cat "$tmp/nettest.out" >&2

[ "$ping_rc" -eq 0 ] || fail "ping -c 3 10.0.2.2 from the host failed (exit $ping_rc)"
[ "$nettest_rc" -eq 0 ] || fail "nettest failed (exit $nettest_rc)"
[ "$vm_rc" = 0 ] || fail "the hypervisor's exit status is $vm_rc, expected 0"
grep -qx 'RESULT: PASS' "$tmp/serial.out" || fail "the guest did not print RESULT: PASS"
# The checksums the host computed must be the ones the guest printed.
for dir in host-\>guest guest-\>host; do
	h=$(sed -n "s/^nettest: $dir .*fnv1a64 \(0x[0-9a-f]*\).*/\1/p" "$tmp/nettest.out" | sed 's/^0x0*/0x/')
	g=$(sed -n "s/^net: $dir .*fnv1a64 \(0x[0-9a-f]*\)$/\1/p" "$tmp/serial.out")
	case $nettest_args in *--bench*) continue ;; esac
	if [ -z "$h" ] || [ "$h" != "$g" ]; then
		fail "$dir checksum: host $h, guest $g"
	fi
done
if [ -n "$expect" ] && ! cmp -s "$expect" "$tmp/serial.out"; then
	diff "$expect" "$tmp/serial.out" | sed 's/^/    | /'
	fail "serial output differs from $(basename "$expect")"
fi
echo "PASS $name"
