#!/usr/bin/env python3
"""Board test suite runner behind harness/run_board_tests.sh.

Reads the board (board/NAME/board.conf) and the suite manifest (harness/suites/NAME.json,
upstream's shape: name, default_timeout, cases[{name, path, args, timeout, allow_failure}]),
keeps this shard's cases, runs them with harness/exec-cases.sh under the chosen hypervisor
(n90vmm inside the system-test rig's L1 when this host's KVM cannot run the kernel: no KVM, or
kvm-pvm for Linux, as `n90vmm --host-info` says; QEMU with KVM or TCG by the same), and writes
OUT/last_run.json (upstream's shape) and OUT/junit.xml. Exit status: 0 when no case failed
(soft failures allowed), 1 when one did, 2 on bad usage or a run that produced no results.
"""
import argparse
import datetime
import json
import os
import re
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HYPERVISORS = ("n90vmm", "qemu", "crosvm")


def fail(msg):
    print(f"run_board_tests: {msg}", file=sys.stderr)
    sys.exit(2)


def read_board(name):
    path = os.path.join(ROOT, "board", name, "board.conf")
    if not os.path.isfile(path):
        fail(f"no board '{name}' ({path} is missing)")
    conf = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            words = shlex.split(line, comments=True)
            if not words:
                continue
            if len(words) != 1 or "=" not in words[0]:
                fail(f"{path}:{lineno}: expected KEY=VALUE")
            key, value = words[0].split("=", 1)
            conf[key] = value
    return conf


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
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not isinstance(c.get("path"), str):
            fail(f"suite '{name}': every case needs a name and a path")
        if not c["name"].replace("-", "").replace("_", "").replace(".", "").isalnum() or c["name"] in names:
            fail(f"suite '{name}': case name '{c['name']}' is not a unique [A-Za-z0-9._-] name")
        names.add(c["name"])
    return suite


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
    """'any' for a multiboot kernel (StarryOS: every KVM runs it), 'linux' otherwise."""
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


def run_cases(args, board, plan_path, out):
    info = host_info(args.n90vmm)
    need = kernel_need(args.kernel)
    here = host_can(info, need)
    args.where = "host" if here or args.hypervisor != "n90vmm" else "rig-l1"
    args.host_kvm = info.get("flavour", "none")
    if args.hypervisor == "n90vmm":
        plan = "n90vmm runs " + ("here" if here else "in the rig's L1")
    else:
        plan = f"{args.hypervisor} uses " + ("KVM" if here else "TCG")
    print(f"run_board_tests: this host's KVM: {args.host_kvm} ({info.get('reason', '?')}); the kernel needs "
          f"{'real KVM (Linux)' if need == 'linux' else 'any KVM'}: {plan}", file=sys.stderr)
    env = dict(os.environ)
    env.update(
        HYPERVISOR=args.hypervisor,
        KERNEL=args.kernel,
        INITRD=args.initrd or "",
        ROOTFS=args.rootfs or "",
        CMDLINE=args.append,
        CPUS=str(args.cpus),
        MEMORY_MB=str(args.memory),
        PROFILE=board.get("PROFILE", ""),
        NET=board.get("NET", "none"),
        BOOT_TIMEOUT=str(args.boot_timeout),
        PROMPT=board.get("PROMPT", "starry:~# "),
        JOBS=str(args.jobs),
        QEMU_ACCEL="kvm" if here else "tcg",
        QEMU_CPU=qemu_kvm_cpu(args.n90vmm) if here and args.hypervisor == "qemu" else "max",
        N90VMM=args.n90vmm,
    )
    exec_cases = os.path.join(ROOT, "harness", "exec-cases.sh")
    if args.where == "rig-l1":
        # This host's KVM cannot run the kernel: the whole batch runs in one L1 session of the
        # rig (real KVM), with the files at fixed L1 paths and the settings passed as `env` words.
        files = {"/bt/n90vmm": args.n90vmm, "/bt/exec-cases.sh": exec_cases, "/bt/plan": plan_path,
                 "/bt/kernel": args.kernel}
        l1env = {k: env[k] for k in ("HYPERVISOR", "CMDLINE", "CPUS", "MEMORY_MB", "PROFILE", "NET",
                                     "BOOT_TIMEOUT", "PROMPT", "JOBS")}
        l1env.update(N90VMM="/bt/n90vmm", KERNEL="/bt/kernel", INITRD="", ROOTFS="")
        if args.initrd:
            files["/bt/initrd"] = args.initrd
            l1env["INITRD"] = "/bt/initrd"
        if args.rootfs:
            files["/bt/rootfs"] = args.rootfs
            l1env["ROOTFS"] = "/bt/rootfs"
        cmd = [os.path.join(ROOT, "tests", "system", "l1.sh"), "--timeout", str(args.l1_timeout),
               "--log", os.path.join(out, "l1.log")]
        for l1path, host in files.items():
            cmd += ["--add", f"{os.path.abspath(host)}:{l1path}"]
        cmd += ["--", "env"] + [f"{k}={v}" for k, v in l1env.items()] + ["/bt/exec-cases.sh", "/bt/plan", "/tmp/bt"]
    else:
        cmd = [exec_cases, plan_path, os.path.join(out, "cases")]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=sys.stderr, text=True, errors="replace")
    with open(os.path.join(out, "exec.log"), "w") as f:
        f.write(proc.stdout)
    return proc.stdout


def collect(stdout, cases):
    """Per case: the harness JSON (or an error line) and the exit status."""
    got = {}
    for line in stdout.replace("\r", "").splitlines():
        # A tag may follow console noise on the same line (L1's firmware leaves some unended).
        m = re.search(r"(CASE-JSON|CASE-ERROR|CASE-END) (\S+) (.*)$", line)
        if not m:
            continue
        tag, name, rest = m.groups()
        entry = got.setdefault(name, {})
        if tag == "CASE-JSON":
            try:
                entry["json"] = json.loads(rest)
            except ValueError:
                entry["error"] = "unreadable result JSON"
        elif tag == "CASE-ERROR":
            entry["error"] = rest.strip()
        elif tag == "CASE-END":
            entry["exit_code"] = int(rest) if rest.strip().lstrip("-").isdigit() else None
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


def write_junit(path, suite_name, hypervisor, results):
    ts = ET.Element("testsuite", name=f"{suite_name}@{hypervisor}", tests=str(len(results)),
                    failures=str(sum(r["status"] == "failed" for r in results)),
                    skipped=str(sum(r["status"] == "soft_failed" for r in results)))
    for r in results:
        tc = ET.SubElement(ts, "testcase", classname=f"{suite_name}.{hypervisor}", name=r["name"],
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


def main():
    p = argparse.ArgumentParser(prog="run_board_tests.sh", description=__doc__.split("\n")[0])
    p.add_argument("--board", required=True)
    p.add_argument("--hypervisor", required=True, choices=HYPERVISORS)
    p.add_argument("--rootfs", help="disk image given to every case, read-only (default: the board's ROOTFS)")
    p.add_argument("--suite", default="smoke", help="a name under harness/suites/ or a manifest path")
    p.add_argument("--jobs", type=int, default=1, help="VMs at a time")
    p.add_argument("--shard", help="K/N: run every N-th case starting at the K-th")
    p.add_argument("--out", help="results directory (default build/board-tests/BOARD-SUITE-HYPERVISOR)")
    p.add_argument("--kernel")
    p.add_argument("--initrd")
    p.add_argument("--append", help="kernel command line")
    p.add_argument("--n90vmm", default=os.path.join(ROOT, "build", "n90vmm"))
    p.add_argument("--l1-timeout", type=int, default=900)
    args = p.parse_args()

    board = read_board(args.board)
    suite = read_suite(args.suite)
    if args.jobs < 1:
        fail("--jobs must be at least 1")
    rel = lambda v: v if not v or os.path.isabs(v) else os.path.join(ROOT, v)
    args.kernel = rel(args.kernel or board.get("KERNEL"))
    args.initrd = rel(args.initrd if args.initrd is not None else board.get("INITRD"))
    args.rootfs = rel(args.rootfs if args.rootfs is not None else board.get("ROOTFS"))
    args.append = args.append if args.append is not None else board.get("CMDLINE", "console=ttyS0")
    args.cpus = int(board.get("CPUS", "1"))
    args.memory = int(board.get("MEMORY_MB", "512"))
    args.boot_timeout = int(board.get("BOOT_TIMEOUT", "60"))
    for what in ("kernel", "initrd", "rootfs", "n90vmm"):
        v = getattr(args, what)
        if v and not os.path.isfile(v):
            fail(f"--{what} '{v}' does not exist")
    if not args.kernel:
        fail("no kernel (give --kernel or KERNEL in board.conf)")

    cases = shard(suite["cases"], args.shard)
    out = args.out or os.path.join(ROOT, "build", "board-tests", f"{args.board}-{suite['name']}-{args.hypervisor}")
    os.makedirs(out, exist_ok=True)
    default_timeout = int(suite.get("default_timeout", board.get("COMMAND_TIMEOUT", 600)))
    plan_path = os.path.join(out, "plan.tsv")
    with open(plan_path, "w") as f:
        for c in cases:
            command = shlex.join([c["path"]] + [str(a) for a in c.get("args", [])])
            f.write(f"{c['name']}\t{int(c.get('timeout', default_timeout))}\t{command}\n")

    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    stdout = run_cases(args, board, plan_path, out) if cases else ""
    finished = datetime.datetime.now(datetime.timezone.utc)
    results = collect(stdout, cases)
    run = {
        "suite": suite["name"],
        "arch": "x86_64",
        "board": args.board,
        "hypervisor": args.hypervisor,
        "where": getattr(args, "where", "host"),
        "host_kvm": getattr(args, "host_kvm", None),
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
    write_junit(os.path.join(out, "junit.xml"), suite["name"], args.hypervisor, results)
    for r in results:
        extra = f"  ({r['error']})" if r.get("error") else ""
        print(f"{r['status']:<12} {r['name']:<24} exit {r['exit_code']}{extra}")
    print(f"{suite['name']} on {args.board} under {args.hypervisor} ({run['where']}): {run['passed']} passed, {run['failed']} failed, "
          f"{run['soft_failed']} soft-failed; results in {out}/last_run.json")
    if any("error" in r for r in results) and not any(r["exit_code"] is not None for r in results):
        sys.exit(2)
    sys.exit(1 if run["failed"] else 0)


if __name__ == "__main__":
    main()
