#!/usr/bin/env python3
"""The N90 setup's crosvm runner, on n90vmm (scripts/starry_crosvm_runner.py is this file).

Takes the old runner's command line, boots the kernel with the rootfs under crosvm (a real
one when it is on PATH and this host can run the guest; otherwise n90vmm's crosvm
compatibility mode, inside the system-test rig when this host's KVM cannot run it), runs
--command at the guest's shell prompt through the harness, prints the payload (the JSON
object in the command's output if there is one, else the output) on stdout and exits with
the command's status. Without --command it boots to the prompt and powers the guest off.

  --root DIR        a StarryOS tree: the kernel is DIR/arceos/NAME, as the old runner had it;
                    any other directory: DIR/NAME (e.g. --root build/rig/arm64/kernel --kernel Image)
  --kernel NAME     default starryos.bin
  --rootfs IMG      the root disk, attached read-only (the old runner's --rwroot let a run
                    change the image); on crosvm-arm64 it is the second disk, as StarryOS wants
  --arch A          aarch64 (default) or x86_64
  --cpus N, --memory SIZE (2G, 4096M, 4096)   default 2 and 2G
  --net             the board's network: a tap with DHCP from dnsmasq on its host side, in a
                    network namespace of the run's own
  --params STR      the kernel command line (default: the board's)
  --boot-timeout S, --command-timeout S       default 60 and 600
  --retries N       boots that never reach the prompt are tried again, up to N times (default 5;
                    the old runner retried its serial connection)
  --command CMD     the command to run at the prompt
  --initrd FILE     (n90vmm's addition) an initramfs; by default a Linux kernel gets the one
                    beside the rootfs image (the board's initrd.cpio.gz), StarryOS none
  --board NAME      (n90vmm's addition) the board whose prompt and network settings apply
                    (default n90-crosvm)
Exit status: the command's (0..255); 124 when the boot or the command timed out; 1 when the
runner itself failed (the old runner's), with the reason on stderr.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import board as boards  # noqa: E402

ROOT = boards.ROOT


def log(msg):
    print(f"[starry-crosvm] {msg}", file=sys.stderr)


def die(msg):
    log(f"ERROR: {msg}")
    sys.exit(1)


def mebibytes(text):
    t = text.strip().upper().rstrip("B").rstrip("I")
    scale = {"G": 1024, "M": 1, "K": 1 / 1024, "T": 1024 * 1024}
    try:
        if t and t[-1] in scale:
            return int(float(t[:-1]) * scale[t[-1]])
        return int(t)
    except ValueError:
        die(f"--memory {text}: give MiB, or a size with G or M")


def find_kernel(root, name):
    for candidate in (os.path.join(root, "arceos", name), os.path.join(root, name)):
        if os.path.isfile(candidate):
            return candidate
    die(f"Kernel not found: {os.path.join(root, 'arceos', name)} (nor {os.path.join(root, name)}). "
        "Build StarryOS for crosvm first (make crosvm), or point --root at the kernel's directory.")


def is_linux(kernel):
    with open(kernel, "rb") as f:
        return b"Linux version " in f.read(64 << 20)


def payload(output):
    """The JSON object in the output if there is one (the old runner's rule), else the output."""
    start, end = output.find("{"), output.rfind("}")
    if 0 <= start < end:
        try:
            json.loads(output[start:end + 1])
            return output[start:end + 1]
        except ValueError:
            pass
    return output


def main():
    p = argparse.ArgumentParser(prog="starry_crosvm_runner.py", description=__doc__.split("\n")[0])
    p.add_argument("--root", required=True)
    p.add_argument("--kernel", default="starryos.bin")
    p.add_argument("--rootfs")
    p.add_argument("--arch", default="aarch64")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--memory", default="2G")
    p.add_argument("--net", action="store_true")
    p.add_argument("--params")
    p.add_argument("--boot-timeout", type=int, default=60)
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--command")
    p.add_argument("--command-timeout", type=int, default=600)
    p.add_argument("--initrd")
    p.add_argument("--board", default="n90-crosvm")
    args = p.parse_args()

    root = os.path.abspath(args.root)
    if not os.path.isdir(root):
        die(f"StarryOS root not found: {root}")
    try:
        arch = boards.canonical_arch(args.arch)
        board = boards.read_board(args.board, arch)
    except boards.BoardError as e:
        die(str(e))
    kernel = find_kernel(root, args.kernel)
    rootfs = os.path.abspath(args.rootfs) if args.rootfs else None
    if rootfs and not os.path.isfile(rootfs):
        die(f"RootFS not found: {rootfs}")
    initrd = args.initrd
    if initrd is None and rootfs and is_linux(kernel):
        beside = os.path.join(os.path.dirname(rootfs), "initrd.cpio.gz")
        initrd = beside if os.path.isfile(beside) else None
    params = args.params if args.params is not None else board.get("CMDLINE", "console=ttyS0")

    work = tempfile.mkdtemp(prefix="n90-runner-")
    # In a subshell of the guest's shell: `exit N` in CMD ends CMD with N (as under the old
    # runner), not the shell the harness drives; eval of the quoted text keeps any quoting,
    # `;`, `&&` or comment in CMD to itself.
    command = f"(eval {shlex.quote(args.command)})" if args.command else "true"
    suite = {"name": "crosvm-runner", "default_timeout": args.command_timeout,
             "cases": [{"name": "command", "path": "/bin/sh", "command": command}]}
    with open(os.path.join(work, "suite.json"), "w") as f:
        json.dump(suite, f)
    run = [sys.executable, os.path.join(ROOT, "harness", "board_tests.py"), "--board", args.board, "--arch", arch,
           "--hypervisor", "crosvm", "--suite", os.path.join(work, "suite.json"), "--out", work,
           "--kernel", kernel, "--initrd", initrd or "", "--rootfs", rootfs or "", "--append", params,
           "--cpus", str(args.cpus), "--memory", str(mebibytes(args.memory)),
           "--net", "tap" if args.net else "none", "--boot-timeout", str(args.boot_timeout)]
    for attempt in range(max(args.retries, 0) + 1):
        log(f"{kernel} on {arch}, {args.cpus} vCPUs, {mebibytes(args.memory)} MiB"
            + (f" (attempt {attempt + 1})" if attempt else ""))
        proc = subprocess.run(run, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        try:
            with open(os.path.join(work, "last_run.json")) as f:
                case = json.load(f)["cases"][0]
        except (OSError, ValueError, KeyError, IndexError):
            die(f"the suite runner left no result (exit {proc.returncode})")
        booted = case.get("boot_ms", -1) >= 0
        if booted or attempt == args.retries:
            break
        log(f"the guest never reached its prompt ({case.get('error', 'boot timed out')}); trying again")
    if not booted:
        log(f"the guest never reached its prompt: {case.get('error', 'boot timed out')}")
        sys.exit(124 if case.get("timed_out") else 1)
    if args.command:
        out = payload(case.get("output", ""))
        sys.stdout.write(out if not out or out.endswith("\n") else out + "\n")
    if case.get("timed_out"):
        log("the command timed out")
        sys.exit(124)
    code = case.get("exit_code")
    sys.exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    main()
