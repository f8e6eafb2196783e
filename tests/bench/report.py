#!/usr/bin/env python3
"""The benchmark report: build/bench/report.md with plots (gnuplot, PNG) and bench.json.

Reads what `make bench` measured in build/bench/:
  linux-runs.jsonl  fio and iperf3 in Debian's kernel, per run, per monitor, and the host's own
                    ceiling ("host"), plus n90vmm's per-request breakdown (tests/bench/linux.sh)
  linux-where.txt   host or rig-l1
  boot.json, *-runs.txt  the test guest's boot, blk and net cases (tests/bench/run.sh)
Every figure is the median of the runs with its spread (min..max); a guest's disk figures are
also given as a fraction of the host's own in the same run. Standard library only; the plots
are drawn by gnuplot (Debian's gnuplot-nox) from data files written next to them.
usage: report.py BENCH_DIR
"""
import json
import os
import statistics
import subprocess
import sys

WORKLOADS = [
    ("rr1", "4 KiB random read, QD 1", "iops"),
    ("rr32", "4 KiB random read, QD 32", "iops"),
    ("rw1", "4 KiB random write, QD 1", "iops"),
    ("rw32", "4 KiB random write, QD 32", "iops"),
    ("sr", "1 MiB sequential read, QD 8", "mbps"),
    ("sw", "1 MiB sequential write, QD 8", "mbps"),
    ("net-g2h", "TCP guest to host (iperf3)", "mbps"),
    ("net-h2g", "TCP host to guest (iperf3 -R)", "mbps"),
]
UNIT = {"iops": "IOPS", "mbps": "MB/s"}
MONITOR_ORDER = ["host", "n90vmm", "qemu", "crosvm"]
MONITOR_NAME = {"host": "host (fio on the device itself)", "n90vmm": "n90vmm", "qemu": "QEMU q35",
                "crosvm": "crosvm"}


def load_jsonl(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


def summary(values):
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            "values": values}


def grouped(path, ok, values):
    """{group: {label: summary}} over the runs in `path` for which ok(run); values(run) gives
    (group, value) pairs."""
    groups = {}
    for r in load_jsonl(path):
        if not ok(r):
            continue
        for group, v in values(r):
            if isinstance(v, (int, float)):
                groups.setdefault(group, {}).setdefault(r.get("label"), []).append(v)
    return {g: {m: summary(v) for m, v in per.items()} for g, per in groups.items()}


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def cell(s, digits=0):
    if not s:
        return "n/a"
    return f"{fmt(s['median'], digits)} ({fmt(s['min'], digits)}..{fmt(s['max'], digits)})"


def gnuplot(script, cwd):
    try:
        subprocess.run(["gnuplot"], input=script, text=True, cwd=cwd, check=True, capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", "") or str(e)
        print(f"report: gnuplot failed: {err.strip()[:300]}", file=sys.stderr)
        return False


def bar_plot(out_dir, name, title, ylabel, rows, monitors):
    """rows: [(label, {monitor: summary})]; bars are medians, error marks min..max."""
    dat = os.path.join(out_dir, name + ".dat")
    with open(dat, "w") as f:
        f.write("# label " + " ".join(f"{m}_med {m}_min {m}_max" for m in monitors) + "\n")
        for label, per in rows:
            cols = []
            for m in monitors:
                s = per.get(m)
                cols += [s["median"], s["min"], s["max"]] if s else ["NaN", "NaN", "NaN"]
            f.write('"%s" %s\n' % (label, " ".join(str(c) for c in cols)))
    plots = []
    for i, m in enumerate(monitors):
        c = 2 + 3 * i
        xt = ":xtic(1)" if i == 0 else ""
        plots.append(f"'{name}.dat' using {c}:{c + 1}:{c + 2}{xt} title '{MONITOR_NAME.get(m, m)}'")
    script = f"""
set terminal pngcairo size 1000,460 font ',10'
set termoption noenhanced
set output '{name}.png'
set title '{title}'
set ylabel '{ylabel}'
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.75 border -1
set boxwidth 0.9
set key top left
set grid ytics
set yrange [0:*]
set xtics nomirror
plot {", ".join(plots)}
"""
    return gnuplot(script, out_dir)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    rows = load_jsonl(os.path.join(out, "linux-runs.jsonl"))
    where = "unknown"
    if os.path.exists(os.path.join(out, "linux-where.txt")):
        where = open(os.path.join(out, "linux-where.txt")).read().strip()
    figures = [r for r in rows if "monitor" in r]
    breakdown = [r for r in rows if "breakdown" in r]
    monitors = [m for m in MONITOR_ORDER if any(r["monitor"] == m for r in figures)]

    # Per workload and monitor: median and spread of the metric; fraction of the host per run.
    result = {"where": where, "monitors": monitors, "workloads": {}, "breakdown": breakdown}
    for wl, desc, metric in WORKLOADS:
        per = {}
        for m in monitors:
            vals = [r.get(metric) for r in figures if r["monitor"] == m and r["workload"] == wl]
            s = summary(vals)
            if s:
                lat = summary([r.get("lat_us") for r in figures if r["monitor"] == m and r["workload"] == wl])
                if lat:
                    s["lat_us"] = lat
                per[m] = s
        # The host's ceiling for the disk in the same run; for net, loopback is a different
        # path (no NIC at all), so net figures get no fraction.
        if "host" in monitors and not wl.startswith("net"):
            host_by_run = {r["run"]: r.get(metric) for r in figures if r["monitor"] == "host" and r["workload"] == wl}
            for m in monitors:
                if m == "host" or m not in per:
                    continue
                fr = [r.get(metric) / host_by_run[r["run"]] for r in figures
                      if r["monitor"] == m and r["workload"] == wl and host_by_run.get(r["run"]) and
                      isinstance(r.get(metric), (int, float))]
                if fr:
                    per[m]["fraction_of_host"] = summary(fr)
        if per:
            result["workloads"][wl] = {"description": desc, "metric": metric, "unit": UNIT[metric],
                                       "results": per}
    loop = summary([r.get("mbps") for r in figures if r["monitor"] == "host" and r["workload"] == "net-loopback"])
    if loop:
        result["net_loopback_mbps"] = loop

    boot = {}
    if os.path.exists(os.path.join(out, "boot.json")):
        try:
            boot = json.load(open(os.path.join(out, "boot.json")))
        except json.JSONDecodeError:
            boot = {}
    result["test_guest"] = boot
    # The test guest's runs, with spread (boot.json keeps medians only).
    tg_blk = grouped(os.path.join(out, "blk-runs.txt"),
                     lambda r: r.get("errors") == 0 and (r.get("host_iops") or 0) > 0,
                     lambda r: [(r.get("op"), r.get("host_iops"))])
    tg_boot = grouped(os.path.join(out, "boot-runs.txt"), lambda r: r.get("exit_status") == 0,
                      lambda r: [(k, r.get(k)) for k in ("first_byte_ms", "exit_ms")])
    tg_net = grouped(os.path.join(out, "net-runs.txt"), lambda r: r.get("problems") == 0,
                     lambda r: [(d, (r.get(d) or {}).get("frames_per_s")) for d in ("h2g", "g2h")])
    result["test_guest_runs"] = {"blk_iops": tg_blk, "boot_ms": tg_boot, "net_frames_per_s": tg_net}

    # Goals (issue 15), measured in this run.
    W = result["workloads"]

    def med(wl, m, key=None):
        s = W.get(wl, {}).get("results", {}).get(m)
        if not s:
            return None
        return s[key]["median"] if key else s["median"]

    goals = []
    fr32 = med("rr32", "n90vmm", "fraction_of_host")
    goals.append({"goal": "4 KiB random read QD 32 >= 80 % of the host's own QD 32 rate (where the host's KVM is real)",
                  "measured": None if fr32 is None else f"{fr32 * 100:.0f} % of the host ({where})",
                  "met": None if fr32 is None else (fr32 >= 0.8 if where == "host" else None),
                  "note": "applies on a host with real KVM" if where != "host" else ""})
    n32, q32 = med("rr32", "n90vmm"), med("rr32", "qemu")
    goals.append({"goal": "4 KiB random read QD 32 >= 1.5x QEMU's (in the rig)",
                  "measured": None if not (n32 and q32) else f"{n32 / q32:.2f}x ({fmt(n32)} vs {fmt(q32)} IOPS)",
                  "met": None if not (n32 and q32) else n32 >= 1.5 * q32})
    n1, q1 = med("rr1", "n90vmm"), med("rr1", "qemu")
    goals.append({"goal": "4 KiB random read QD 1 within 10 % of QEMU or better",
                  "measured": None if not (n1 and q1) else f"{n1 / q1:.2f}x ({fmt(n1)} vs {fmt(q1)} IOPS)",
                  "met": None if not (n1 and q1) else n1 >= 0.9 * q1})
    for d, name in (("net-g2h", "guest to host"), ("net-h2g", "host to guest")):
        a, b = med(d, "n90vmm"), med(d, "qemu")
        goals.append({"goal": f"TCP {name} >= QEMU without vhost",
                      "measured": None if not (a and b) else f"{a / b:.2f}x ({fmt(a)} vs {fmt(b)} Mbit/s)",
                      "met": None if not (a and b) else a >= b})
    nb = (boot.get("results") or {}).get("n90vmm") or {}
    if nb.get("first_byte_ms") is not None:
        goals.append({"goal": "tiny-guest boot not regressing (issue 15: 5.7 ms to first byte, 20.3 ms to exit on kvm-pvm)",
                      "measured": f"{nb['first_byte_ms']} ms / {nb['exit_ms']} ms ({boot.get('where', '?')})",
                      "met": None, "note": "compare on the same kind of host; make bench-ab tests it for significance"})
    result["goals"] = goals

    with open(os.path.join(out, "bench.json"), "w") as f:
        json.dump(result, f, indent=1)

    # Plots.
    guests = [m for m in monitors]
    plots = []
    short = {"rr1": "randread QD 1", "rr32": "randread QD 32", "rw1": "randwrite QD 1", "rw32": "randwrite QD 32",
             "sr": "read 1 MiB", "sw": "write 1 MiB", "net-g2h": "guest to host", "net-h2g": "host to guest"}
    rows4k = [(short[wl], W[wl]["results"]) for wl in ("rr1", "rr32", "rw1", "rw32") if wl in W]
    if rows4k and bar_plot(out, "plot-blk-4k", "fio, 4 KiB random, O_DIRECT: IOPS (median, min..max)", "IOPS",
                           rows4k, guests):
        plots.append(("plot-blk-4k.png", "4 KiB random I/O"))
    rowsseq = [(short[wl], W[wl]["results"]) for wl in ("sr", "sw") if wl in W]
    if rowsseq and bar_plot(out, "plot-blk-seq", "fio, 1 MiB sequential, O_DIRECT: MB/s (median, min..max)", "MB/s",
                            rowsseq, guests):
        plots.append(("plot-blk-seq.png", "1 MiB sequential I/O"))
    rowsnet = [(short[wl], W[wl]["results"]) for wl in ("net-g2h", "net-h2g") if wl in W]
    netmon = [m for m in guests if m != "host"]
    if rowsnet and bar_plot(out, "plot-net", "iperf3 TCP (offloads on, no vhost): Mbit/s (median, min..max)",
                            "Mbit/s", rowsnet, netmon):
        plots.append(("plot-net.png", "network"))

    tg_monitors = ["n90vmm-pci", "n90vmm-mmio", "qemu-q35-pci", "qemu-microvm-mmio"]
    tg_rows = [(op, tg_blk[op]) for op in ("randread", "randwrite") if op in tg_blk]
    tg_mons = [m for m in tg_monitors if any(m in per for _, per in tg_rows)]
    if tg_rows and bar_plot(out, "plot-testguest-blk", "test guest, 4 KiB virtio-blk, QD 8, polled: IOPS (median, min..max)",
                            "IOPS", tg_rows, tg_mons):
        plots.append(("plot-testguest-blk.png", "test guest virtio-blk"))
    boot_rows = [(k, tg_boot[k]) for k in ("first_byte_ms", "exit_ms") if k in tg_boot]
    boot_mons = [m for m in ("n90vmm", "qemu-microvm", "qemu-q35") if any(m in per for _, per in boot_rows)]
    if boot_rows and bar_plot(out, "plot-testguest-boot", "test guest boot: ms (median, min..max)", "ms",
                              boot_rows, boot_mons):
        plots.append(("plot-testguest-boot.png", "test guest boot"))

    # The report.
    md = []
    md.append("# n90vmm benchmark\n")
    if not figures:
        md.append("The Linux half (fio, iperf3) did not run or measured nothing (`BENCH_LINUX=0`, or see "
                  "`linux-l1.log`); the figures below are the test guest's.\n")
    else:
        md.append(f"Linux guest figures measured **{'on this host' if where == 'host' else 'in the rig (L1: QEMU TCG with nested SVM; real KVM inside, emulated)'}**"
                  f" (`{where}`). "
                  + ("Rig timings prove correctness and compare monitors side by side in the same L1; they are not hardware speed. "
                     if where != "host" else "")
                  + f"Each figure: median of {max([s['n'] for w in W.values() for s in w['results'].values()] or [0])} runs, "
                  "(min..max) across runs; runs interleave the monitors and the host's own ceiling.\n")
        md.append("Guest: Debian's cloud kernel, 2 vCPUs, 512 MiB, an initramfs with fio and iperf3 from Debian; "
                  "disk: the same raw block device for every monitor, O_DIRECT (n90vmm `--disk DEV,direct`, "
                  "QEMU `cache=none,aio=io_uring`); net: the same tap, TCP with offloads, QEMU without vhost.\n")
    for png, what in plots:
        md.append(f"![{what}]({png})\n")
    if figures:
        md.append("## Disk and network\n")
        md.append("| workload | unit | " + " | ".join(MONITOR_NAME.get(m, m) for m in monitors) + " |")
        md.append("|" + "---|" * (2 + len(monitors)))
    for wl, desc, metric in WORKLOADS:
        if wl not in W:
            continue
        res = W[wl]["results"]
        cells = []
        for m in monitors:
            s = res.get(m)
            c = cell(s, 0 if metric == "iops" else 1)
            if s and "fraction_of_host" in s:
                c += f", {s['fraction_of_host']['median'] * 100:.0f} % of host"
            cells.append(c)
        unit = "Mbit/s" if wl.startswith("net") else UNIT[metric]
        md.append(f"| {desc} | {unit} | " + " | ".join(cells) + " |")
    if loop:
        md.append(f"\nNetwork reference: iperf3 over the host's loopback {cell(loop, 0)} Mbit/s (no NIC, no guest: an upper bound, not a ceiling for a tap).\n")
    lat_rows = [(wl, desc) for wl, desc, metric in WORKLOADS if wl in W and metric == "iops"]
    if lat_rows:
        md.append("\nMean completion latency seen by fio (µs, median of runs):\n")
        md.append("| workload | " + " | ".join(MONITOR_NAME.get(m, m) for m in monitors) + " |")
        md.append("|" + "---|" * (1 + len(monitors)))
        for wl, desc in lat_rows:
            res = W[wl]["results"]
            md.append(f"| {desc} | " + " | ".join(fmt(res[m]["lat_us"]["median"], 1) if m in res and "lat_us" in res[m] else "n/a" for m in monitors) + " |")
    if breakdown:
        md.append("\n## Where the time goes: n90vmm per request\n")
        md.append("One n90vmm boot per workload with `--stats` (the whole boot's requests; the workload dominates). "
                  "Exits: every vCPU exit (KVM's own count when the host has binary statistics, `kvm`, else those "
                  "that reached n90vmm) per completed request. Syscalls: the notify eventfd reads, the backend's "
                  "calls, the irqfd writes and the I/O thread's epoll waits, per request. Notify to completion: host "
                  "time from the I/O thread taking a request to its completion being published.\n")
        md.append("| workload | backend | queues | requests | exits/req | syscalls/req | notify to completion (µs) | interrupts/req | max in flight |")
        md.append("|---|---|---|---|---|---|---|---|---|")
        for b in breakdown:
            md.append(f"| {b['breakdown']} | {b.get('backend')} | {b.get('queues')} | {fmt(b.get('completed'))} | "
                      f"{b.get('exits_per_req')} ({b.get('exits_kind')}) | {b.get('syscalls_per_req')} | "
                      f"{b.get('notify_to_completion_us')} | {b.get('interrupts_per_req')} | {b.get('max_inflight')} |")
    if boot:
        md.append(f"\n## Test guest (tests/guest mb.bin), `{boot.get('where')}`\n")
        res = boot.get("results", {})
        md.append("| monitor | first serial byte (ms), median (min..max) | exit (ms) | peak RSS (KiB), median |")
        md.append("|---|---|---|---|")
        for m, r in res.items():
            fb = cell(tg_boot.get("first_byte_ms", {}).get(m), 1) if tg_boot else r.get("first_byte_ms")
            ex = cell(tg_boot.get("exit_ms", {}).get(m), 1) if tg_boot else r.get("exit_ms")
            md.append(f"| {m} | {fb} | {ex} | {r.get('max_rss_kib')} |")
        if tg_blk:
            md.append("\n4 KiB requests of the test guest (QD 8, polled), IOPS on the host's clock, median (min..max) of runs:\n")
            md.append("| monitor | randread | randwrite |")
            md.append("|---|---|---|")
            for m in tg_mons:
                md.append(f"| {m} | {cell(tg_blk.get('randread', {}).get(m))} | {cell(tg_blk.get('randwrite', {}).get(m))} |")
        if tg_net:
            md.append("\nvirtio-net of the test guest (1408-byte frames, polled; nettest on the tap), frames/s, median (min..max):\n")
            md.append("| monitor | host to guest | guest to host |")
            md.append("|---|---|---|")
            for m in sorted({m for per in tg_net.values() for m in per}):
                md.append(f"| {m} | {cell(tg_net.get('h2g', {}).get(m))} | {cell(tg_net.get('g2h', {}).get(m))} |")
        tb = (boot.get("blk_breakdown") or {})
        if tb:
            md.append("\nPer request, test guest on n90vmm-pci (median of runs):\n")
            md.append("| op | exits/req | syscalls/req | notify to completion (µs) | interrupts/req |")
            md.append("|---|---|---|---|---|")
            for op, r in tb.items():
                md.append(f"| {op} | {r.get('exits_per_req')} ({r.get('exits_kind')}) | {r.get('syscalls_per_req')} | "
                          f"{r.get('notify_to_completion_us')} | {r.get('interrupts_per_req')} |")
    md.append("\n## Goals (issue 15), side by side\n")
    md.append("| goal | measured | met |")
    md.append("|---|---|---|")
    for g in goals:
        met = {True: "yes", False: "**no**", None: "n/a"}[g["met"]]
        note = f" — {g['note']}" if g.get("note") else ""
        md.append(f"| {g['goal']} | {g['measured'] or 'not measured'}{note} | {met} |")
    md.append("\nData: `bench.json` (this report's figures), `linux-runs.jsonl` (every run), `boot.json`.\n")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"report: {os.path.join(out, 'report.md')}, {len(plots)} plots, bench.json", file=sys.stderr)


if __name__ == "__main__":
    main()
