#!/usr/bin/env python3
"""A/B statistics for tests/bench/ab.sh: for every metric, the medians of A and B, the change
of the median, and a two-sided permutation test on the runs' ranks (exact when the number of
relabellings is small, else 20000 seeded random ones). A change is a regression only when it
is both significant (p < AB_ALPHA, default 0.01) and larger than AB_THRESHOLD (default 0.20)
in the bad direction: on a shared machine one slow minute must not block a landing.
usage: abstat.py RUNS.jsonl OUT.json A_NAME B_NAME   (exit 1 on a regression when AB_FAIL=1)
"""
import itertools
import json
import math
import os
import random
import statistics
import sys

# metric: (JSON key, label, True when higher is better)
METRICS = {
    "boot": [("first_byte_ms", "boot: first serial byte (ms)", False), ("exit_ms", "boot: start to exit (ms)", False)],
    "blk-randread": [("iops", "blk 4 KiB randread QD 8 (IOPS)", True)],
    "blk-randwrite": [("iops", "blk 4 KiB randwrite QD 8 (IOPS)", True)],
}


def ranks(values):
    """Ranks 1..n, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def perm_test(a, b, rng):
    """Two-sided p-value of a permutation test on ranks (an exact Mann-Whitney U test when the
    relabellings are few enough to enumerate): robust to the odd slow run of a shared machine,
    and able to reach p < 0.01 with 6 runs a side (perfect separation: 2/924). A test on the
    difference of medians cannot: many relabellings of 6 + 6 leave both medians in place."""
    pooled = ranks(a + b)
    n, k = len(pooled), len(a)
    total_rank = sum(pooled)

    def stat(sum_a):
        return abs(sum_a / k - (total_rank - sum_a) / (n - k))

    observed = stat(sum(pooled[:k]))
    count = 0
    if math.comb(n, k) <= 20000:
        total = 0
        for idx in itertools.combinations(range(n), k):
            total += 1
            if stat(sum(pooled[i] for i in idx)) >= observed - 1e-9:
                count += 1
        return count / total
    trials = 20000
    for _ in range(trials):
        rng.shuffle(pooled)
        if stat(sum(pooled[:k])) >= observed - 1e-9:
            count += 1
    return (count + 1) / (trials + 1)


def main():
    runs_path, out_path, name_a, name_b = sys.argv[1:5]
    alpha = float(os.environ.get("AB_ALPHA", "0.01"))
    threshold = float(os.environ.get("AB_THRESHOLD", "0.20"))
    rows = [json.loads(l) for l in open(runs_path) if l.strip().startswith("{")]
    rng = random.Random(15)
    results = []
    for case, metrics in METRICS.items():
        for key, label, higher_better in metrics:
            a = [r[key] for r in rows if r.get("case") == case and r.get("side") == "A" and r.get("exit_status", 0) in (0, None)
                 and isinstance(r.get(key), (int, float)) and r[key] >= 0]
            b = [r[key] for r in rows if r.get("case") == case and r.get("side") == "B" and r.get("exit_status", 0) in (0, None)
                 and isinstance(r.get(key), (int, float)) and r[key] >= 0]
            if len(a) < 3 or len(b) < 3:
                results.append({"metric": label, "a_n": len(a), "b_n": len(b), "verdict": "too few runs"})
                continue
            ma, mb = statistics.median(a), statistics.median(b)
            change = (mb - ma) / ma if ma else 0.0
            p = perm_test(a, b, rng)
            worse = change < 0 if higher_better else change > 0
            if p < alpha and abs(change) > threshold:
                verdict = "REGRESSION" if worse else "improvement"
            elif p < alpha:
                verdict = ("slower" if worse else "faster") + f" (significant, under {threshold:.0%})"
            else:
                verdict = "no significant change"
            results.append({"metric": label, "a_median": ma, "b_median": mb, "change": change, "p": p,
                            "a": a, "b": b, "a_n": len(a), "b_n": len(b), "higher_is_better": higher_better,
                            "verdict": verdict})
    regressions = [r for r in results if r["verdict"] == "REGRESSION"]
    json.dump({"a": name_a, "b": name_b, "alpha": alpha, "threshold": threshold, "results": results},
              open(out_path, "w"), indent=1)
    print(f"A/B: A={name_a}  B={name_b}  (permutation test on ranks; change of the median; regression = p < {alpha} and worse by > {threshold:.0%})")
    print(f"{'metric':<36} {'A median':>10} {'B median':>10} {'change':>8} {'p':>8} {'runs':>6}  verdict")
    for r in results:
        if "p" not in r:
            print(f"{r['metric']:<36} {'':>10} {'':>10} {'':>8} {'':>8} {r['a_n']:>2}/{r['b_n']:<3}  {r['verdict']}")
            continue
        print(f"{r['metric']:<36} {r['a_median']:>10.1f} {r['b_median']:>10.1f} {r['change'] * 100:>+7.1f}% "
              f"{r['p']:>8.4f} {r['a_n']:>2}/{r['b_n']:<3}  {r['verdict']}")
    print(f"A/B: {len(regressions)} regression(s)")
    if regressions and os.environ.get("AB_FAIL") == "1":
        sys.exit(1)


if __name__ == "__main__":
    main()
