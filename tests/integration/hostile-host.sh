#!/bin/sh
# n90vmm under a hostile host (issue 16, docs/reliability.md): readers that stop reading,
# FIFOs where files are expected, idle and lying control-socket peers, signals, floods of
# failing disk requests, many boots at once and in a row. Each case failed before the
# reliability work and must pass now. Needs a usable /dev/kvm: run.sh calls it on the host,
# or inside the rig's L1 VM (busybox sh there, so POSIX sh only).
# usage: hostile-host.sh N90VMM GUEST_DIR EXPECTED_DIR HOSTILE_PEER
#        HOSTILE_BOOTS=N: boots in a row for the load case (default 300)
n90=$1 gdir=$2 edir=$3 peer=$4
boots=${HOSTILE_BOOTS:-300}
pass=0 fail=0
tmp=${TMPDIR:-/tmp}/n90-hostile.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

ok() { echo "PASS $1${2:+ ($2)}"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
show() { sed 's/^/    | /' "$@" | head -20; }

now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# Running and not a zombie (kill -0 succeeds on a zombie the shell has not reaped yet).
alive() { s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ "$s" != Z ]; }
# wait_gone PID SECONDS: 0 when PID ended within SECONDS; otherwise it is killed, 1.
wait_gone() {
	i=0
	while alive "$1"; do
		if [ $i -ge $(($2 * 20)) ]; then
			kill -KILL "$1" 2>/dev/null
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
	return 0
}
wait_file() { # FILE SECONDS: the file exists and is not empty
	i=0
	while [ ! -s "$1" ] && [ $i -lt $(($2 * 20)) ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -s "$1" ]
}
# one_line NAME FILE TEXT: FILE holds exactly one line, containing TEXT, with no control bytes.
one_line() {
	if [ "$(wc -l <"$2")" -ne 1 ] || ! grep -q -- "$3" "$2"; then
		bad "$1" "expected one line containing '$3', got:"
		show "$2"
		return 1
	fi
	if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$2"; then
		bad "$1" "control characters reached the terminal"
		return 1
	fi
	return 0
}

chatty="-c 1 -m 64 -p action=chatty $gdir/mb.bin"

# A FIFO whose only reader never reads and has shrunk it to one page: the reader of a
# `n90vmm | sleep 60` pipeline, made quick to fill. Sets $reader.
stuck_fifo() {
	rm -f "$1" "$1.ready"
	mkfifo "$1"
	"$peer" stall-fifo "$1" 120 >"$1.ready" &
	reader=$!
	wait_file "$1.ready" 5
}

# --- 1. no reader can stall the monitor ------------------------------------------------------

# The issue's repro: a guest that prints forever into a pipe nobody reads; --timeout must
# still end the run, with 124, at once.
t0=$(now)
( "$n90" --no-stdin --timeout 2 $chatty 2>"$tmp/pipe.err" & echo $! >"$tmp/pipe.pid"
  wait $!; echo $? >"$tmp/pipe.rc" ) | "$peer" stall 120 &
piper=$!
if wait_file "$tmp/pipe.rc" 6; then
	rc=$(cat "$tmp/pipe.rc")
	if [ "$rc" -eq 124 ] && grep -q 'guest output dropped' "$tmp/pipe.err"; then
		ok stuck-stdout-pipe-timeout "exit 124 $(since "$t0") s after start, --timeout 2"
	else
		bad stuck-stdout-pipe-timeout "exit $rc (want 124, output dropped)"
		show "$tmp/pipe.err"
	fi
else
	bad stuck-stdout-pipe-timeout "still running 4 s after its --timeout 2"
	kill -KILL "$(cat "$tmp/pipe.pid")" 2>/dev/null
fi
kill "$piper" 2>/dev/null

# The same with stderr in that pipe too: the timeout's own message cannot hold the stop up
# (it used to be printed first, and a guest that got going again could then win with 0).
t0=$(now)
rm -f "$tmp/pipe.rc"
( "$n90" --no-stdin --timeout 2 $chatty 2>&1 & echo $! >"$tmp/pipe.pid"
  wait $!; echo $? >"$tmp/pipe.rc" ) | "$peer" stall 120 &
piper=$!
if wait_file "$tmp/pipe.rc" 6; then
	rc=$(cat "$tmp/pipe.rc")
	[ "$rc" -eq 124 ] && ok stuck-stdout-stderr-pipe-timeout "exit 124 $(since "$t0") s after start, --timeout 2" ||
		bad stuck-stdout-stderr-pipe-timeout "exit $rc, want 124"
else
	bad stuck-stdout-stderr-pipe-timeout "still running 4 s after its --timeout 2"
	kill -KILL "$(cat "$tmp/pipe.pid")" 2>/dev/null
fi
kill "$piper" 2>/dev/null

# stop_stuck NAME WANT_STATUS HOW N90VMM_ARGS...: n90vmm's stdout is a FIFO nobody reads;
# after a second, HOW (a signal name, or "stop") must end it within 3 s.
stop_stuck() {
	name=$1 want=$2 how=$3
	shift 3
	stuck_fifo "$tmp/out.fifo"
	"$n90" --no-stdin "$@" >"$tmp/out.fifo" 2>"$tmp/$name.err" &
	pid=$!
	sleep 1
	t0=$(now)
	if [ "$how" = stop ]; then
		"$n90" stop "$tmp/ctl.sock" 2>"$tmp/$name.stop"
		src=$?
	else
		kill -"$how" "$pid"
		src=0
	fi
	if ! wait_gone "$pid" 3; then
		bad "$name" "still running 3 s after $how"
	else
		wait "$pid"
		rc=$?
		if [ "$rc" -ne "$want" ] || [ "$src" -ne 0 ]; then
			bad "$name" "exit $rc (want $want), stop exit $src"
			show "$tmp/$name.err" "$tmp/$name.stop" 2>/dev/null
		else
			ok "$name" "exit $rc $(since "$t0") s after $how"
		fi
	fi
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
}
for sig in TERM INT HUP QUIT; do
	stop_stuck "stuck-stdout-sig$(echo $sig | tr 'A-Z' 'a-z')" 130 "$sig" $chatty
done
stop_stuck stuck-stdout-stop 0 stop --socket "$tmp/ctl.sock" $chatty

# The guest's output rate decides how long a reader takes to fall a socket buffer behind
# (one exit per byte on kvm-pvm: ~12 kB/s; real KVM's rep outsb: MB/s).
"$n90" --no-stdin --timeout 1 $chatty >"$tmp/rate.out" 2>/dev/null
rate=$(($(wc -c <"$tmp/rate.out") + 1))
# Seconds for 320 KiB, more than a unix socket's default send buffer (208 KiB).
fill=$((327680 / rate + 2))
[ $fill -gt 60 ] && fill=60

# --serial unix: a late client (it connects after a second of output: a backlog) that never
# reads; the guest keeps printing past the socket's buffer; --timeout ends it.
rm -f "$tmp/con.sock"
t0=$(now)
"$n90" --no-stdin --timeout "$fill" --serial "unix:$tmp/con.sock" $chatty 2>"$tmp/unix.err" &
pid=$!
sleep 1
"$peer" connect "$tmp/con.sock" 300 &
client=$!
if ! wait_gone "$pid" $((fill + 4)); then
	bad stuck-unix-late-client "still running 3 s after its --timeout $fill"
else
	wait "$pid"
	rc=$?
	if [ "$rc" -eq 124 ]; then
		ok stuck-unix-late-client "exit 124 $(since "$t0") s after start, --timeout $fill"
	else
		bad stuck-unix-late-client "exit $rc, want 124"
		show "$tmp/unix.err"
	fi
fi
kill "$client" 2>/dev/null

# --serial file: on a FIFO whose reader stopped reading.
stuck_fifo "$tmp/file.fifo"
t0=$(now)
"$n90" --no-stdin --timeout 2 --serial "file:$tmp/file.fifo" $chatty 2>"$tmp/file.err" &
pid=$!
if ! wait_gone "$pid" 5; then
	bad stuck-serial-file-fifo "still running 3 s after its --timeout 2"
else
	wait "$pid"
	rc=$?
	[ "$rc" -eq 124 ] && ok stuck-serial-file-fifo "exit 124 $(since "$t0") s after start" ||
		{ bad stuck-serial-file-fifo "exit $rc, want 124"; show "$tmp/file.err"; }
fi
kill "$reader" 2>/dev/null

# Harness mode: the console goes to stderr, here a FIFO nobody reads; the boot timeout (no
# prompt ever comes) must still end the run.
stuck_fifo "$tmp/err.fifo"
t0=$(now)
"$n90" --command true --boot-timeout 2 $chatty >"$tmp/harness.out" 2>"$tmp/err.fifo" &
pid=$!
if ! wait_gone "$pid" 5; then
	bad stuck-harness-stderr "still running 3 s after its --boot-timeout 2"
else
	wait "$pid"
	rc=$?
	[ "$rc" -eq 124 ] && ok stuck-harness-stderr "exit 124 $(since "$t0") s after start" ||
		bad stuck-harness-stderr "exit $rc, want 124"
fi
kill "$reader" 2>/dev/null

# --- 2. nothing blocks before the timer and signals are live ---------------------------------

# refused NAME STATUS TEXT ARGS...: ends at once (3 s watchdog) with STATUS and one line.
refused() {
	name=$1 want=$2 text=$3
	shift 3
	"$n90" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	if ! wait_gone "$pid" 3; then
		bad "$name" "still waiting after 3 s"
		return
	fi
	wait "$pid"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		bad "$name" "exit $rc, want $want"
		show "$tmp/$name.err"
	elif one_line "$name" "$tmp/$name.err" "$text"; then
		ok "$name"
	fi
}
rm -f "$tmp/fifo"
mkfifo "$tmp/fifo"
refused fifo-disk-ro 66 "is a FIFO" --no-stdin --timeout 10 --disk "$tmp/fifo,ro" "$gdir/mb.bin"
refused fifo-disk-rw 66 "is a FIFO" --no-stdin --timeout 10 --disk "$tmp/fifo" "$gdir/mb.bin"
refused fifo-serial-file 66 "a FIFO nobody reads" --no-stdin --timeout 3 --serial "file:$tmp/fifo" "$gdir/mb.bin"
refused fifo-kernel 66 "is a FIFO" --no-stdin "$tmp/fifo"
refused fifo-initrd 66 "is a FIFO" --no-stdin -i "$tmp/fifo" "$gdir/mb.bin"
refused fifo-crosvm-block 1 "is a FIFO" run --block "path=$tmp/fifo,ro" "$gdir/mb.bin"

# --- 3. the control socket serves every client -------------------------------------------------

# An idle client holds a connection; `n90vmm stop` must still get through.
rm -f "$tmp/ctl.sock"
"$n90" --no-stdin --timeout 30 --socket "$tmp/ctl.sock" -c 1 -m 64 -p action=hang "$gdir/mb.bin" \
	>/dev/null 2>"$tmp/idle.err" &
pid=$!
"$peer" connect "$tmp/ctl.sock" 60 &
idle=$!
sleep 1
"$n90" stop "$tmp/ctl.sock" 2>"$tmp/idle.stop"
src=$?
if wait_gone "$pid" 3; then
	wait "$pid"
	rc=$?
	[ "$src" -eq 0 ] && [ "$rc" -eq 0 ] && ok control-idle-client "stop exit 0, VM exit 0" ||
		{ bad control-idle-client "stop exit $src, VM exit $rc"; show "$tmp/idle.stop"; }
else
	bad control-idle-client "stop exit $src; the VM still runs"
	show "$tmp/idle.stop"
fi
kill "$idle" 2>/dev/null

# A server that closes without reading: `n90vmm stop` must never die of SIGPIPE, and says so
# in one line, every time.
"$peer" serve "$tmp/close.sock" close 60 &
server=$!
sleep 0.3
sigpipe=0 lines=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	"$n90" stop "$tmp/close.sock" 2>"$tmp/close.err"
	rc=$?
	[ "$rc" -eq 141 ] && sigpipe=$((sigpipe + 1))
	[ "$rc" -eq 76 ] && [ "$(wc -l <"$tmp/close.err")" -eq 1 ] && lines=$((lines + 1))
done
kill "$server" 2>/dev/null
[ $sigpipe -eq 0 ] && [ $lines -eq 20 ] && ok control-stop-no-sigpipe "20 tries: exit 76 and one line each" ||
	{ bad control-stop-no-sigpipe "$sigpipe of 20 died of SIGPIPE, $lines of 20 said why in one line"; show "$tmp/close.err"; }

# A server that answers 50 kB of binary: one escaped line.
"$peer" serve "$tmp/junk.sock" junk 30 &
server=$!
sleep 0.3
"$n90" stop "$tmp/junk.sock" 2>"$tmp/junk.err"
rc=$?
kill "$server" 2>/dev/null
[ "$rc" -eq 76 ] && one_line control-stop-junk-reply "$tmp/junk.err" "answered" && ok control-stop-junk-reply
refused stop-without-path 64 "usage: n90vmm stop SOCKET" stop

# --- 4. clean exits ---------------------------------------------------------------------------

# Socket files n90vmm made are gone after a clean power-off, SIGTERM and SIGKILL (sandbox on).
for how in poweroff TERM KILL; do
	name=socket-files-removed-$(echo $how | tr 'A-Z' 'a-z')
	rm -f "$tmp/s.sock" "$tmp/c.sock"
	action=poweroff
	[ "$how" = poweroff ] || action=hang
	"$n90" --no-stdin --timeout 30 --socket "$tmp/s.sock" --serial "unix:$tmp/c.sock" -c 1 -m 64 \
		-p "action=$action" "$gdir/mb.bin" >/dev/null 2>"$tmp/$name.err" &
	pid=$!
	if [ "$how" != poweroff ]; then
		wait_file "$tmp/s.sock" 5
		sleep 0.5
		kill -"$how" "$pid"
	fi
	wait_gone "$pid" 10
	wait "$pid"
	i=0
	while { [ -e "$tmp/s.sock" ] || [ -e "$tmp/c.sock" ]; } && [ $i -lt 20 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	if [ -e "$tmp/s.sock" ] || [ -e "$tmp/c.sock" ]; then
		bad "$name" "left behind: $(ls "$tmp"/s.sock "$tmp"/c.sock 2>/dev/null | tr '\n' ' ')"
	else
		ok "$name"
	fi
done

# SIGQUIT stops the guest like SIGTERM: 130, with the stats.
"$n90" --no-stdin --stats -c 1 -m 64 -p action=hang "$gdir/mb.bin" >/dev/null 2>"$tmp/quit.err" &
pid=$!
sleep 0.5
kill -QUIT "$pid"
wait_gone "$pid" 3
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] && grep -q '^stats: vcpu0' "$tmp/quit.err" && ok sigquit-stops-like-sigterm ||
	{ bad sigquit-stops-like-sigterm "exit $rc (want 130 with stats)"; show "$tmp/quit.err"; }

# --disable-sandbox says so, once, with or without -v.
for v in "" -v; do
	"$n90" --no-stdin --disable-sandbox $v -c 1 -m 64 "$gdir/mb.bin" >/dev/null 2>"$tmp/nosb.err"
	n=$(grep -c 'disable-sandbox' "$tmp/nosb.err")
	[ "$n" -eq 1 ] && ok "disable-sandbox-warns${v:+-verbose}" || bad "disable-sandbox-warns${v:+-verbose}" "$n warning lines"
done

# The same image twice is a usage error naming both; one locked by another VM names it.
dd if=/dev/zero of="$tmp/disk.img" bs=512 count=2048 2>/dev/null
refused same-image-twice 64 "same image as disk" --no-stdin --disk "$tmp/disk.img" --disk "$tmp/disk.img" "$gdir/mb.bin"
"$n90" --no-stdin --timeout 30 --disk "$tmp/disk.img" -c 1 -m 64 -p action=hang "$gdir/mb.bin" >/dev/null 2>&1 &
holder=$!
sleep 0.5
refused disk-locked-names-holder 71 "in use by process $holder (n90vmm)" --no-stdin --disk "$tmp/disk.img" "$gdir/mb.bin"
kill "$holder"
wait "$holder" 2>/dev/null

# --- 5. messages a person can trust -----------------------------------------------------------

# A 50 kB argument of every byte value: one line, escaped.
awk 'BEGIN { for (i = 0; i < 50000; i++) printf "%c", 1 + i % 255 }' >"$tmp/binary.arg"
refused binary-argument 64 "unknown option" --no-stdin --frobnicate="$(cat "$tmp/binary.arg")" "$gdir/mb.bin"

# --- 6. a guest cannot flood the log ----------------------------------------------------------

# Every write past the file-size limit fails (RLIMIT_FSIZE, 512 KiB or 1 MiB as the shell
# counts; SIGXFSZ ignored, so EFBIG): thousands of failed requests give a bounded log, and
# --stats counts them all.
truncate -s 8M "$tmp/big.img" 2>/dev/null || dd if=/dev/zero of="$tmp/big.img" bs=1M seek=8 count=0 2>/dev/null
(
	trap '' XFSZ
	ulimit -f 1024
	"$n90" --no-stdin --stats --timeout 120 -c 1 -m 256 --disk "$tmp/big.img" \
		-p "virtio=blk-pci-poll bench=randwrite bench_n=3000" "$gdir/mb.bin" >"$tmp/flood.out" 2>"$tmp/flood.err"
)
errors=$(sed -n 's/^stats: virtio-blk0 .* errors=\([0-9]*\).*/\1/p' "$tmp/flood.err")
warnings=$(grep -c 'warning: virtio-blk'  "$tmp/flood.err")
limited=$(sed -n "s/^stats: log 'virtio-blk request failed' logged=\([0-9]*\) suppressed=\([0-9]*\)$/\1 \2/p" "$tmp/flood.err")
set -- $limited
if [ -n "$errors" ] && [ "$errors" -gt 100 ] && [ "$warnings" -le 12 ] && [ "${1:-0}" -eq 10 ] &&
	[ $((${1:-0} + ${2:-0})) -eq "$errors" ]; then
	ok log-flood-rate-limited "$errors failed requests, $warnings warning lines"
else
	bad log-flood-rate-limited "errors=$errors warnings=$warnings limiter='$limited'"
	grep -v '^stats: vcpu' "$tmp/flood.err" | tail -5 | sed 's/^/    | /'
fi

# --- 7. load: many boots at once and in a row --------------------------------------------------

want=$edir/mb.bin-cpus1.txt
i=0
while [ $i -lt 16 ]; do
	"$n90" --no-stdin --timeout 60 -c 1 -m 256 -p "expect_cpus=1 expect_mem_mb=256" "$gdir/mb.bin" \
		>"$tmp/par.$i.raw" 2>"$tmp/par.$i.err" &
	echo $! >"$tmp/par.$i.pid"
	i=$((i + 1))
done
good=0 i=0
while [ $i -lt 16 ]; do
	wait "$(cat "$tmp/par.$i.pid")"
	rc=$?
	tr -d '\r' <"$tmp/par.$i.raw" >"$tmp/par.$i.out"
	[ "$rc" -eq 0 ] && cmp -s "$tmp/par.$i.out" "$want" && good=$((good + 1))
	i=$((i + 1))
done
[ $good -eq 16 ] && ok boots-16-at-once || bad boots-16-at-once "$good of 16 printed the expected report and exited 0"

# In a row: every boot correct and no process left behind. Peak RSS is reported, not judged:
# each boot is a new process, and its peak moves with the host's memory state (likely its
# transparent huge pages: the guest's first touches fault in 2 MiB pages when there are some;
# +18 % over 30 boots in the rig's L1, where nothing carried over). Growth inside one process
# is the rig's soak scenario's check.
t0=$(now)
good=0 i=0 first=0 last=0
while [ $i -lt "$boots" ]; do
	busybox time -v -o "$tmp/seq.time" "$n90" --no-stdin --timeout 60 -c 1 -m 256 \
		-p "expect_cpus=1 expect_mem_mb=256" "$gdir/mb.bin" >"$tmp/seq.raw" 2>"$tmp/seq.err"
	rc=$?
	tr -d '\r' <"$tmp/seq.raw" >"$tmp/seq.out"
	[ "$rc" -eq 0 ] && cmp -s "$tmp/seq.out" "$want" && good=$((good + 1))
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tmp/seq.time")
	[ $i -lt 10 ] && [ "${rss:-0}" -gt $first ] && first=$rss
	[ $i -ge $((boots - 10)) ] && [ "${rss:-0}" -gt $last ] && last=$rss
	i=$((i + 1))
done
# This binary's processes only: other VMs may run on this host meanwhile.
exe=$(readlink -f "$n90")
left=0
for p in /proc/[0-9]*; do
	[ "$(readlink "$p/exe" 2>/dev/null)" = "$exe" ] && left=$((left + 1))
done
if [ $good -eq "$boots" ] && [ "$left" -eq 0 ]; then
	ok "boots-$boots-in-a-row" "$(since "$t0") s; peak RSS first 10 ${first} KiB, last 10 ${last} KiB"
else
	bad "boots-$boots-in-a-row" "$good of $boots correct; peak RSS ${first} -> ${last} KiB; $left n90vmm processes left"
fi

echo "hostile-host: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
