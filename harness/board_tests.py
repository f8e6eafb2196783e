#!/usr/bin/env python3
"""Board test suite runner behind harness/run_board_tests.sh.

Reads the board (board/NAME/board.conf through harness/board.py) and the suite manifest
(harness/suites/NAME.json, upstream's shape: name, default_timeout, cases[{name, path, args,
timeout, allow_failure}]; `{cpus}`, `{memory_mb}` and `{net}` in args become the machine's),
keeps this shard's cases, runs them with harness/exec-cases.sh under the chosen hypervisor and
writes OUT/last_run.json (upstream's shape) and OUT/junit.xml.

Where the guests run: n90vmm (and crosvm) need a KVM that runs the board's Linux for the
board's architecture: here when this host is of that architecture and `n90vmm --host-info`
says linux_ok; otherwise inside the system-test rig's L1 of that architecture (real KVM under
QEMU emulation; arm64 L1 on an x86_64 host). QEMU runs here, with KVM when this host could run
the guest, TCG otherwise. Exit status: 0 when no case failed (soft failures allowed), 1 when
one did, 2 on bad usage or a run that produced no results.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import board as boards

ROOT = boards.ROOT
HYPERVISORS = ("n90vmm", "qemu", "crosvm")
HOST_ARCH = boards.canonical_arch(platform.machine())


def fail(msg):
    print(f"run_board_tests: {msg}", file=sys.stderr)
    sys.exit(2)


def note(msg):
    print(f"run_board_tests: {msg}", file=sys.stderr)


def read_suite(name):
    path = name if os.path.isfile(name) else os.path.join(ROOT, "harness", "suites", name + ".json")
    try:
        with open(path) as f:
            suite = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"suite '{name}': {e}")
    cases = suite.get("cases")
    if not isinstance(cases, list) or not cases:
        fail(f"suite '{name}': no cases")
    names = set()
    for c in cases:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not (
                isinstance(c.get("path"), str) or isinstance(c.get("command"), str)):
            fail(f"suite '{name}': every case needs a name and a path (or a shell command)")
        if not c["name"].replace("-", "").replace("_", "").replace(".", "").isalnum() or c["name"] in names:
            fail(f"suite '{name}': case name '{c['name']}' is not a unique [A-Za-z0-9._-] name")
        names.add(c["name"])
    return suite


def read_suites(spec):
    """NAME or NAME,NAME...: several suites run as one, in order and in one guest boot (CI's
    board step: the board and security suites with their proofs); each case keeps its own
    suite's default timeout."""
    suites = [read_suite(name) for name in spec.split(",")]
    if len(suites) == 1:
        return suites[0]
    cases = [{"timeout": s.get("default_timeout", 600), **c} for s in suites for c in s["cases"]]
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        fail(f"suites '{spec}': a case name occurs in more than one of them")
    return {"name": "+".join(s["name"] for s in suites), "cases": cases}


def shard(cases, spec):
    """K/N: every N-th case starting at the K-th (1-based), so shards stay balanced."""
    if not spec:
        return cases
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        fail(f"--shard '{spec}' is not K/N")
    if n < 1 or not 1 <= k <= n:
        fail(f"--shard '{spec}': need 1 <= K <= N")
    return cases[k - 1 :: n]


def host_info(n90vmm):
    """What this host's KVM can do: `n90vmm --host-info` (N90_HOST_KVM=none|pvm|real forces it)."""
    try:
        proc = subprocess.run([n90vmm, "--host-info"], stdout=subprocess.PIPE, text=True, check=True)
        return json.loads(proc.stdout)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        fail(f"cannot ask '{n90vmm} --host-info' what this host's KVM can do: {e}")


def kernel_need(path):
    """'any' for a multiboot kernel (StarryOS x86: every KVM runs it), 'linux' otherwise."""
    with open(path, "rb") as f:
        head = f.read(8192)
    for off in range(0, len(head) - 11, 4):
        magic, flags, checksum = (int.from_bytes(head[off + i:off + i + 4], "little") for i in (0, 4, 8))
        if magic == 0x1BADB002 and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            return "any"
    return "linux"


def host_can(info, need):
    if need == "linux":
        return bool(info.get("linux_ok"))
    return info.get("flavour", "none") != "none"


def qemu_kvm_cpu(n90vmm):
    """The -cpu model QEMU with KVM accepts here, from the scripts' one helper
    (tests/lib/host-kvm.sh): plain host aborts on kvm-pvm (MSR 0x10a)."""
    helper = os.path.join(ROOT, "tests", "lib", "host-kvm.sh")
    try:
        proc = subprocess.run(["sh", "-c", '. "$0" && host_kvm_init "$1" && qemu_kvm_cpu', helper, n90vmm],
                              stdout=subprocess.PIPE, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        fail(f"tests/lib/host-kvm.sh: {e}")
    return proc.stdout.strip()


def real_crosvm():
    """A crosvm on PATH that is not n90vmm under that name, or None."""
    path = shutil.which("crosvm")
    if path and os.path.basename(os.path.realpath(path)) != "n90vmm":
        return path
    return None


def place(args, info):
    """Where the guests run and how: sets args.where, args.qemu_accel, args.crosvm_mode."""
    need = kernel_need(args.kernel)
    here = args.arch == HOST_ARCH and host_can(info, need)
    args.host_kvm = info.get("flavour", "none")
    args.host_tsc_khz = info.get("tsc_khz", 0)
    args.crosvm_mode = None
    if args.hypervisor == "qemu":
        args.where = "host"
        args.qemu_accel = "kvm" if here else "tcg"
        plan = f"QEMU ({args.arch}) uses " + ("KVM" if here else "TCG")
    else:
        args.where = "host" if here else "rig-l1"
        if args.hypervisor == "crosvm":
            crosvm = real_crosvm()
            if crosvm and here:
                args.crosvm_mode = f"crosvm ({crosvm})"
            else:
                why = "no crosvm on PATH" if not crosvm else "crosvm is installed but this host cannot run the guest"
                args.crosvm_mode = f"n90vmm's crosvm compatibility mode ({why})"
            plan = f"{args.crosvm_mode} runs " + ("here" if here else f"in the {args.arch} rig's L1")
        else:
            plan = "n90vmm runs " + ("here" if here else f"in the {args.arch} rig's L1 (real KVM under QEMU emulation)")
    why = "" if args.arch == HOST_ARCH else f"; the guest is {args.arch}, this host {HOST_ARCH}"
    # A forced flavour (N90_HOST_KVM) keeps the measured host's reason: say which is which.
    forced = f", forced by N90_HOST_KVM; measured: {info.get('measured_flavour', '?')}" if info.get("forced") else ""
    note(f"this host's KVM: {args.host_kvm}{forced} ({info.get('reason', '?')}){why}; the kernel needs "
         f"{'real KVM (Linux)' if need == 'linux' else 'any KVM'}: {plan}")


def n90vmm_for(args, arch):
    if arch == HOST_ARCH:
        return args.n90vmm
    if arch == "aarch64":
        return os.path.join(ROOT, "build", "arm64", "n90vmm")
    fail(f"no {arch} n90vmm can be built on this {HOST_ARCH} host")


def run_cases(args, board, plan_path, out):
    env = dict(os.environ)
    env.update(
        HYPERVISOR=args.hypervisor,
        ARCH=args.arch,
        KERNEL=args.kernel,
        INITRD=args.initrd or "",
        ROOTFS=args.rootfs or "",
        CMDLINE=args.append,
        CPUS=str(args.cpus),
        MEMORY_MB=str(args.memory),
        PROFILE=board.get("PROFILE", ""),
        BOOT_TIMEOUT=str(args.boot_timeout),
        PROMPT=board.get("PROMPT", "starry:~# "),
        JOBS=str(args.jobs),
        ONE_BOOT="1" if args.one_boot else "0",
        NET=args.net,
        NET_SH=os.path.join(board["BOARD_DIR"], "net.sh"),
        NET_TAP=board.get("NET_TAP", "n90tap0"),
        NET_HOST_IP=board.get("NET_HOST_IP", "10.0.2.1/24"),
        NET_DHCP_RANGE=board.get("NET_DHCP_RANGE", "10.0.2.10,10.0.2.50"),
        DNSMASQ=shutil.which("dnsmasq") or "dnsmasq",
        QEMU_ACCEL=getattr(args, "qemu_accel", "tcg"),
        QEMU_CPU="max",
        QEMU_TSC_KHZ=str(getattr(args, "host_tsc_khz", 0)),
        N90VMM=args.n90vmm,
        CROSVM=real_crosvm() or "",
    )
    if args.hypervisor == "qemu" and args.qemu_accel == "kvm":
        env["QEMU_CPU"] = qemu_kvm_cpu(args.n90vmm) if args.arch == "x86_64" else "host"
    exec_cases = os.path.join(ROOT, "harness", "exec-cases.sh")
    if args.hypervisor == "crosvm" and not args.crosvm_mode.startswith("crosvm ("):
        # crosvm's command line, taken by n90vmm through a link named crosvm.
        link_dir = os.path.join(out, "crosvm-link")
        os.makedirs(link_dir, exist_ok=True)
        env["CROSVM"] = os.path.join(link_dir, "crosvm")
        if os.path.lexists(env["CROSVM"]):
            os.unlink(env["CROSVM"])
        os.symlink(os.path.abspath(n90vmm_for(args, args.arch)), env["CROSVM"])
    if args.where == "rig-l1":
        cmd = rig_command(args, env, plan_path, out, exec_cases)
    else:
        cmd = [exec_cases, plan_path, os.path.join(out, "cases")]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, errors="replace")
    with open(os.path.join(out, "exec.log"), "w") as f:
        f.write(proc.stdout)
    return proc.stdout


def rig_command(args, env, plan_path, out, exec_cases):
    """The whole batch in one L1 session of the rig of the guest's architecture: the files at
    fixed L1 paths, the settings as `env` words."""
    rig_arch = "arm64" if args.arch == "aarch64" else "x86_64"
    n90 = n90vmm_for(args, args.arch)
    if not os.path.isfile(n90):
        fail(f"{n90} is missing: build it first (make{' ARCH=arm64' if args.arch == 'aarch64' else ''})")
    files = {"/bt/n90vmm": n90, "/bt/exec-cases.sh": exec_cases, "/bt/plan": plan_path, "/bt/kernel": args.kernel}
    l1env = {k: env[k] for k in ("HYPERVISOR", "ARCH", "CMDLINE", "CPUS", "MEMORY_MB", "PROFILE", "BOOT_TIMEOUT",
                                 "PROMPT", "JOBS", "ONE_BOOT", "NET", "NET_TAP", "NET_HOST_IP", "NET_DHCP_RANGE")}
    l1env.update(N90VMM="/bt/n90vmm", KERNEL="/bt/kernel", INITRD="", ROOTFS="", CROSVM="/bt/crosvm")
    for what, l1path in (("initrd", "/bt/initrd"), ("rootfs", "/bt/rootfs")):
        if getattr(args, what):
            files[l1path] = getattr(args, what)
            l1env[what.upper()] = l1path
    libdirs = []
    if rig_arch == "arm64":
        # n90vmm's libraries and the arm64 dnsmasq come from the rig's arm64 sysroot.
        subprocess.run([os.path.join(ROOT, "tests", "system", "fetch-qemu-arm64.sh")], check=True)
        sysroot = os.path.join(ROOT, "build", "rig", "arm64", "qemu", "sysroot")
        libdirs = [os.path.join(sysroot, "usr/lib/aarch64-linux-gnu"), os.path.join(sysroot, "lib/aarch64-linux-gnu")]
        dnsmasq = os.path.join(sysroot, "usr/sbin/dnsmasq")
    else:
        dnsmasq = shutil.which("dnsmasq") or ""
    if args.net == "tap":
        if not os.path.isfile(dnsmasq):
            fail("dnsmasq is missing (make deps: dnsmasq-base)")
        files.update({"/bt/net.sh": env["NET_SH"], "/bt/dnsmasq": dnsmasq})
        l1env.update(NET_SH="/bt/net.sh", DNSMASQ="/bt/dnsmasq")
    # L1 holds the rootfs in its own RAM besides the guest's (docs/n90-crosvm-guide.md "Memory and vCPUs in the rig").
    l1_mem = args.rig_l1_memory or (args.memory + 1024 + sum(
        os.path.getsize(f) for f in files.values()) // (1 << 20))
    l1_timeout = args.l1_timeout or (300 + args.boot_timeout * (1 if args.one_boot else len(args.cases))
                                     + sum(t for _, t in args.cases))
    args.l1 = {"arch": rig_arch, "memory_mb": l1_mem, "timeout_s": l1_timeout}
    note(f"rig: {rig_arch} L1 with {l1_mem} MiB, guest {args.cpus} vCPUs / {args.memory} MiB, "
         f"up to {l1_timeout} s")
    cmd = [os.path.join(ROOT, "tests", "system", "l1.sh"), "--arch", rig_arch, "--mem", str(l1_mem),
           "--timeout", str(l1_timeout), "--log", os.path.join(out, "l1.log")]
    for d in libdirs:
        cmd += ["--libdir", d]
    for l1path, host in files.items():
        cmd += ["--add", f"{os.path.abspath(host)}:{l1path}"]
    cmd += ["--", "sh", "-c", 'ln -sf /bt/n90vmm /bt/crosvm && exec "$@"', "sh", "env"]
    cmd += [f"{k}={v}" for k, v in l1env.items()] + ["/bt/exec-cases.sh", "/bt/plan", "/tmp/bt"]
    return cmd


def collect(stdout, cases):
    """Per case: the harness JSON (or an error line) and the exit status. In one-boot mode
    the batch's JSON holds one command per case, in plan order."""
    got, batch = {}, None
    for line in stdout.replace("\r", "").splitlines():
        # A tag may follow console noise on the same line (L1's firmware leaves some unended).
        m = re.search(r"(CASE-JSON|CASE-ERROR|CASE-END)(-BATCH)? (\S+) (.*)$", line)
        m2 = re.search(r"CASE-BATCH((?: \S+)*)$", line)
        if m2 and not m:
            batch = {"names": m2.group(1).split()}
            continue
        if not m:
            continue
        tag, is_batch, name, rest = m.groups()
        entry = batch if is_batch and batch is not None else got.setdefault(name, {})
        if tag == "CASE-JSON":
            try:
                entry["json"] = json.loads(rest)
            except ValueError:
                entry["error"] = "unreadable result JSON"
        elif tag == "CASE-ERROR":
            entry["error"] = rest.strip()
        elif tag == "CASE-END":
            entry["exit_code"] = int(rest) if rest.strip().lstrip("-").isdigit() else None
    if batch is not None:
        j = batch.get("json") or {}
        commands = j.get("commands") or []
        for i, name in enumerate(batch["names"]):
            if i < len(commands):
                got[name] = {"json": {"boot_ms": j.get("boot_ms", -1), "commands": [commands[i]]},
                             "exit_code": commands[i].get("status")}
            else:
                got[name] = {"error": batch.get("error") or
                             f"no result: the boot ended before this case (exit status {batch.get('exit_code')})"}
    results = []
    for c in cases:
        entry = got.get(c["name"], {})
        exit_code = entry.get("exit_code")
        j = entry.get("json") or {}
        cmd = (j.get("commands") or [{}])[0]
        ok = exit_code == 0
        status = "passed" if ok else ("soft_failed" if c.get("allow_failure") else "failed")
        r = {
            "name": c["name"],
            "status": status,
            "duration_ms": cmd.get("duration_ms", -1),
            "exit_code": exit_code,
            "timed_out": bool(cmd.get("timed_out") or j.get("boot_timed_out")),
            "allow_failure": bool(c.get("allow_failure")),
            "output": cmd.get("output", ""),
            "boot_ms": j.get("boot_ms", -1),
        }
        if "error" in entry or exit_code is None:
            r["error"] = entry.get("error", "no result (the run did not reach this case)")
        results.append(r)
    return results


def write_junit(path, suite_name, label, results):
    ts = ET.Element("testsuite", name=f"{suite_name}@{label}", tests=str(len(results)),
                    failures=str(sum(r["status"] == "failed" for r in results)),
                    skipped=str(sum(r["status"] == "soft_failed" for r in results)))
    for r in results:
        tc = ET.SubElement(ts, "testcase", classname=f"{suite_name}.{label}", name=r["name"],
                           time=f"{max(r['duration_ms'], 0) / 1000:.3f}")
        detail = f"exit code {r['exit_code']}" + (" (timed out)" if r["timed_out"] else "")
        if r.get("error"):
            detail += f": {r['error']}"
        if r["status"] == "failed":
            ET.SubElement(tc, "failure", message=detail).text = r["output"]
        elif r["status"] == "soft_failed":
            ET.SubElement(tc, "skipped", message=f"allowed failure: {detail}")
        ET.SubElement(tc, "system-out").text = r["output"]
    ET.ElementTree(ts).write(path, encoding="unicode", xml_declaration=True)


def resolve_image(path, board_images, what):
    """A path as given (relative to the current directory), else, for a bare file name the
    N90 setup used (`--rootfs rootfs.img`), the board's image of that name."""
    if not path or os.path.isfile(path):
        return os.path.abspath(path) if path else path
    candidate = os.path.join(board_images, path)
    if os.sep not in path and os.path.isfile(candidate):
        note(f"--{what} {path}: the board's {candidate}")
        return candidate
    fail(f"--{what} '{path}' does not exist (build the board's images: ./quickstart-n90.sh build-all)")


def main():
    p = argparse.ArgumentParser(prog="run_board_tests.sh", description=__doc__.split("\n")[0])
    p.add_argument("--board", default="n90-crosvm", help="board/NAME (default n90-crosvm; n90 is an alias, "
                   "qemu_virt the same guest under QEMU)")
    p.add_argument("--hypervisor", choices=HYPERVISORS, help="default: the board's HYPERVISOR")
    p.add_argument("--arch", help="aarch64 or x86_64 (default: the board's ARCH)")
    p.add_argument("--rootfs", help="disk image given to every case, read-only (default: the board's ROOTFS)")
    p.add_argument("--suite", help="a name under harness/suites/ or a manifest path; several, comma-separated, "
                   "run as one in one boot (default: the board's SUITE)")
    p.add_argument("--jobs", type=int, default=1, help="VMs at a time")
    p.add_argument("--shard", help="K/N: run every N-th case starting at the K-th")
    p.add_argument("--one-boot", action="store_true", default=None,
                   help="all cases in one guest boot, in order (default: the board's ONE_BOOT)")
    p.add_argument("--boot-per-case", dest="one_boot", action="store_false", help="a guest boot of its own for each case")
    p.add_argument("--out", help="results directory (default build/board-tests/BOARD-ARCH-SUITE-HYPERVISOR)")
    p.add_argument("--kernel")
    p.add_argument("--initrd")
    p.add_argument("--append", help="kernel command line")
    p.add_argument("--cpus", type=int, help="vCPUs (default: the board's CPUS)")
    p.add_argument("--memory", type=int, help="guest RAM in MiB (default: the board's MEMORY_MB)")
    p.add_argument("--net", choices=("tap", "none"), help="the board's network or none (default: the board's NET)")
    p.add_argument("--timeout", type=int, help="seconds per case (the N90 setup's flag; default: the suite's)")
    p.add_argument("--boot-timeout", type=int, help="seconds to the first prompt (default: the board's BOOT_TIMEOUT)")
    p.add_argument("--n90vmm", default=os.path.join(ROOT, "build", "n90vmm"))
    p.add_argument("--l1-timeout", type=int, help="seconds for the rig's L1 session (default: from the cases)")
    p.add_argument("--rig-l1-memory", type=int, help="the rig's L1 RAM in MiB (default: the guest's + 1 GiB + the files)")
    for flag in ("--serial", "--power-controller", "--net-target"):
        p.add_argument(flag, help=argparse.SUPPRESS)
    args = p.parse_args()

    for flag in ("serial", "power_controller", "net_target"):
        if getattr(args, flag):
            fail(f"--{flag.replace('_', '-')}: real boards over a serial line are not driven by this runner; "
                 "give a hypervisor (docs/n90-crosvm-guide.md)")
    try:
        board = boards.read_board(args.board, args.arch)
    except (boards.BoardError, OSError) as e:
        fail(str(e))
    args.arch = board["ARCH"]
    args.hypervisor = args.hypervisor or board.get("HYPERVISOR", "n90vmm")
    if args.hypervisor not in HYPERVISORS:
        fail(f"board '{args.board}': HYPERVISOR={args.hypervisor} is not one of {', '.join(HYPERVISORS)}")
    suite = read_suites(args.suite or board.get("SUITE", "smoke"))
    if args.jobs < 1:
        fail("--jobs must be at least 1")
    rel = lambda v: v if not v or os.path.isabs(v) else os.path.join(ROOT, v)
    images = os.path.dirname(rel(board.get("ROOTFS", "")))
    args.kernel = rel(args.kernel or board.get("KERNEL"))
    args.initrd = resolve_image(args.initrd, images, "initrd") if args.initrd is not None else rel(board.get("INITRD"))
    args.rootfs = resolve_image(args.rootfs, images, "rootfs") if args.rootfs is not None else rel(board.get("ROOTFS"))
    args.append = args.append if args.append is not None else board.get("CMDLINE", "console=ttyS0")
    args.net = args.net or board.get("NET", "none")
    args.boot_timeout = args.boot_timeout or int(board.get("BOOT_TIMEOUT", "60"))
    if args.one_boot is None:
        args.one_boot = board.get("ONE_BOOT", "no") == "yes"
    for what in ("kernel", "initrd", "rootfs", "n90vmm"):
        v = getattr(args, what)
        if v and not os.path.isfile(v):
            fail(f"--{what} '{v}' does not exist" + ("" if what == "n90vmm" else
                 f" (build the board's guest: ./quickstart-n90.sh build-all --arch {args.arch})"))
    if not args.kernel:
        fail("no kernel (give --kernel or KERNEL in board.conf)")
    place(args, host_info(args.n90vmm))
    # The rig's L1 is QEMU TCG with 2 vCPUs: there the machine shrinks to the board's RIG_CPUS
    # and RIG_MEMORY_MB unless --cpus/--memory say otherwise; the results say so.
    args.machine_note = None
    board_cpus, board_memory = int(board.get("CPUS", "1")), int(board.get("MEMORY_MB", "512"))
    if args.where == "rig-l1" and (board.get("RIG_CPUS") or board.get("RIG_MEMORY_MB")):
        rig_cpus = int(board.get("RIG_CPUS") or board_cpus)
        rig_memory = int(board.get("RIG_MEMORY_MB") or board_memory)
        if (args.cpus or rig_cpus, args.memory or rig_memory) != (board_cpus, board_memory):
            args.machine_note = (f"the board's {board_cpus} vCPUs / {board_memory} MiB reduced to "
                                 f"{args.cpus or rig_cpus} / {args.memory or rig_memory} in the rig's L1 "
                                 "(QEMU TCG, 2 vCPUs); honoured where the guest runs directly")
            note(args.machine_note)
        board_cpus, board_memory = rig_cpus, rig_memory
    args.cpus = args.cpus or board_cpus
    args.memory = args.memory or board_memory

    cases = shard(suite["cases"], args.shard)
    out = args.out or os.path.join(ROOT, "build", "board-tests",
                                   f"{board['NAME']}-{args.arch}-{suite['name']}-{args.hypervisor}")
    os.makedirs(out, exist_ok=True)
    default_timeout = int(suite.get("default_timeout", board.get("COMMAND_TIMEOUT", 600)))
    machine = {"{cpus}": str(args.cpus), "{memory_mb}": str(args.memory), "{net}": args.net}
    fill = lambda word: re.sub(r"\{cpus\}|\{memory_mb\}|\{net\}", lambda m: machine[m.group(0)], word)
    plan_path = os.path.join(out, "plan.tsv")
    args.cases = []
    with open(plan_path, "w") as f:
        for c in cases:
            line = c.get("command") or shlex.join([c["path"]] + [fill(str(a)) for a in c.get("args", [])])
            if "\n" in line or "\t" in line:
                fail(f"case '{c['name']}': a command is one line without tabs")
            timeout = args.timeout or int(c.get("timeout", default_timeout))
            args.cases.append((c["name"], timeout))
            f.write(f"{c['name']}\t{timeout}\t{line}\n")

    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    stdout = run_cases(args, board, plan_path, out) if cases else ""
    finished = datetime.datetime.now(datetime.timezone.utc)
    results = collect(stdout, cases)
    run = {
        "suite": suite["name"],
        "arch": args.arch,
        "board": board["NAME"],
        "hypervisor": args.hypervisor,
        "crosvm": getattr(args, "crosvm_mode", None),
        "where": getattr(args, "where", "host"),
        "host_kvm": getattr(args, "host_kvm", None),
        "machine": {"cpus": args.cpus, "memory_mb": args.memory, "net": args.net, "one_boot": args.one_boot,
                    "note": args.machine_note},
        "rig_l1": getattr(args, "l1", None),
        "shard": args.shard or "1/1",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "duration_ms": int((time.monotonic() - t0) * 1000),
        "total": len(results),
        "passed": sum(r["status"] == "passed" for r in results),
        "failed": sum(r["status"] == "failed" for r in results),
        "soft_failed": sum(r["status"] == "soft_failed" for r in results),
        "cases": results,
    }
    with open(os.path.join(out, "last_run.json"), "w") as f:
        json.dump(run, f, indent=2)
        f.write("\n")
    label = args.hypervisor if args.arch == "x86_64" else f"{args.hypervisor}-{args.arch}"
    write_junit(os.path.join(out, "junit.xml"), suite["name"], label, results)
    for r in results:
        extra = f"  ({r['error']})" if r.get("error") else ""
        print(f"{r['status']:<12} {r['name']:<24} exit {r['exit_code']}{extra}")
    how = args.hypervisor + (f": {run['crosvm']}" if run["crosvm"] else "")
    print(f"{suite['name']} on {board['NAME']} ({args.arch}, {args.cpus} vCPUs, {args.memory} MiB) under {how} "
          f"({run['where']}): {run['passed']} passed, {run['failed']} failed, {run['soft_failed']} soft-failed; "
          f"results in {out}/last_run.json")
    if any("error" in r for r in results) and not any(r["exit_code"] is not None for r in results):
        sys.exit(2)
    sys.exit(1 if run["failed"] else 0)


if __name__ == "__main__":
    main()
