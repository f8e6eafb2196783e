#!/usr/bin/env python3
"""Boards: board/NAME/board.conf read once, for every script (the suite runner, the crosvm
runner drop-in, quickstart-n90.sh, mkrootfs.sh, the network step).

board.conf is shell syntax, KEY=VALUE, without expansion. A value's `{arch}` becomes the
architecture; KEY_aarch64 / KEY_x86_64 replace KEY for that architecture; INHERIT=OTHER
takes OTHER's keys first (qemu_virt is the n90-crosvm guest under QEMU). A board directory
that is a symlink is an alias (board/n90 -> n90-crosvm): the board's name is its target's.

usage: harness/board.py [--arch ARCH] NAME            all keys, as shell assignments
       harness/board.py [--arch ARCH] NAME KEY...      the values, one a line
Architecture names: aarch64 (arm64) and x86_64 (amd64); default: the board's ARCH.
"""
import os
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHES = {"aarch64": "aarch64", "arm64": "aarch64", "x86_64": "x86_64", "amd64": "x86_64"}


class BoardError(Exception):
    pass


def canonical_arch(name):
    try:
        return ARCHES[name]
    except KeyError:
        raise BoardError(f"unknown architecture '{name}' (aarch64 or x86_64)") from None


def _read_conf(path):
    conf = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            try:
                words = shlex.split(line, comments=True)
            except ValueError as e:
                raise BoardError(f"{path}:{lineno}: {e}") from None
            if not words:
                continue
            if len(words) != 1 or "=" not in words[0]:
                raise BoardError(f"{path}:{lineno}: expected KEY=VALUE")
            key, value = words[0].split("=", 1)
            conf[key] = value
    return conf


def board_dir(name):
    path = os.path.join(ROOT, "board", name)
    if not os.path.isfile(os.path.join(path, "board.conf")):
        known = sorted(d for d in os.listdir(os.path.join(ROOT, "board"))
                       if os.path.isfile(os.path.join(ROOT, "board", d, "board.conf")))
        raise BoardError(f"no board '{name}' (known: {', '.join(known)})")
    return os.path.realpath(path)


def read_board(name, arch=None):
    """The board's keys for ARCH (default: its own ARCH), resolved; NAME, ARCH and BOARD_DIR
    added. Raises BoardError."""
    raw, seen, current = {}, [], name
    while current:
        if current in seen:
            raise BoardError(f"board '{name}': INHERIT loop through {' -> '.join(seen)}")
        seen.append(current)
        conf = _read_conf(os.path.join(board_dir(current), "board.conf"))
        current = conf.pop("INHERIT", None)
        raw = {**conf, **raw}
    arch = canonical_arch(arch or raw.get("ARCH", "x86_64"))
    out = {}
    for key, value in raw.items():
        if key.endswith("_aarch64") or key.endswith("_x86_64"):
            continue
        out[key] = raw.get(f"{key}_{arch}", value)
    for key in raw:  # keys that exist only per architecture
        for suffix in ("_aarch64", "_x86_64"):
            if key.endswith(suffix) and key[: -len(suffix)] not in out:
                base = key[: -len(suffix)]
                out[base] = raw.get(f"{base}_{arch}", "")
    out = {k: v.replace("{arch}", arch) for k, v in out.items()}
    out.update(NAME=os.path.basename(board_dir(name)), ARCH=arch, BOARD_DIR=board_dir(seen[-1]))
    return out


def main(argv):
    arch = None
    if argv[:1] == ["--arch"] and len(argv) > 1:
        arch, argv = argv[1], argv[2:]
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    try:
        conf = read_board(argv[0], arch)
    except (BoardError, OSError) as e:
        print(f"board: {e}", file=sys.stderr)
        return 2
    if len(argv) == 1:
        for key in sorted(conf):
            print(f"{key}={shlex.quote(conf[key])}")
        return 0
    for key in argv[1:]:
        if key not in conf:
            print(f"board: '{argv[0]}' has no {key}", file=sys.stderr)
            return 2
        print(conf[key])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
