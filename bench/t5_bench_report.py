"""The table of bench/run_t5_bench.sh: libmlm vs PyTorch per row (mode,
batch, threads), the tokens/s ratio against PyTorch's best figure of the row
(fp32, or its bf16 autocast where it was timed), greedy batch-1's per-token
time against the memory floor, and peak RSS against weights + 25% + cache;
then issue #13's targets row by row, for each libmlm dtype and for the
fastest.

    t5_bench_report.py OUT_DIR   (reads libmlm.jsonl and pytorch.jsonl)"""

import json
import os
import sys


def rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def main(out):
    ours = rows(os.path.join(out, "libmlm.jsonl"))
    theirs = {}   # row -> {autocast: tokens/s}
    for r in rows(os.path.join(out, "pytorch.jsonl")):
        theirs.setdefault((r["mode"], r["batch"], r["threads"]), {})[r.get("autocast", "none")] = \
            r["tokens_per_s"]
    nan = float("nan")

    def best(key):
        t = theirs.get(key, {})
        return max(t.values()) if t else nan

    print(f"{'dtype':5} {'mode':7} {'batch':>5} {'thr':>3} | {'libmlm tok/s':>12} "
          f"{'torch fp32':>10} {'torch bf16':>10} {'ratio':>6} | {'ms/token':>8} {'decode':>7} "
          f"{'floor':>6} | {'RSS MB':>7} {'limit':>6}")
    for r in ours:
        key = (r["mode"], r["batch"], r["threads"])
        t = theirs.get(key, {})
        ratio = r["tokens_per_s"] / best(key)
        limit = r["weights_mb"] * 1.25 + r["cache_mb"]
        print(f"{r.get('dtype', 'fp32'):5} {r['mode']:7} {r['batch']:>5} {r['threads']:>3} | "
              f"{r['tokens_per_s']:>12.1f} {t.get('none', nan):>10.1f} {t.get('bf16', nan):>10.1f} "
              f"{ratio:>6.2f} | {r['ms_per_token']:>8.2f} {r['decode_ms_per_token']:>7.2f} "
              f"{r['floor_ms_per_token']:>6.2f} | {r['peak_rss_mb']:>7.1f} {limit:>6.1f}")
    print("ratio: libmlm's tokens/s over the faster of PyTorch's fp32 and bf16-autocast figures "
          "of the row")
    g1 = [r for r in ours if r["mode"] == "greedy" and r["batch"] == 1]
    for r in g1:
        print(f"{r.get('dtype', 'fp32')} greedy batch 1, {r['threads']} thread(s): a decode step takes "
              f"{r['decode_ms_per_token'] / r['floor_ms_per_token']:.2f}x the memory floor "
              f"({r['floor_ms_per_token']:.2f} ms: the decoder's weights and the head at "
              f"{r['read_gb_per_s']} GB/s)")
    print("targets (issue #13): >= 3x PyTorch's best tokens/s in every row; greedy batch 1 "
          "within 1.5x of the memory floor; peak RSS <= weights + 25% + cache")
    dtypes = sorted({r.get("dtype", "fp32") for r in ours})
    for dt in dtypes + ["fastest"]:
        sel = {}
        for r in ours:
            key = (r["mode"], r["batch"], r["threads"])
            if dt != "fastest" and r.get("dtype", "fp32") != dt:
                continue
            if key not in sel or r["tokens_per_s"] > sel[key]["tokens_per_s"]:
                sel[key] = r
        ratios = {k: v["tokens_per_s"] / best(k) for k, v in sel.items()}
        worst = min(ratios.items(), key=lambda kv: kv[1]) if ratios else None
        ok_speed = all(x >= 3 for x in ratios.values())
        ok_rss = all(v["peak_rss_mb"] <= v["weights_mb"] * 1.25 + v["cache_mb"] for v in sel.values())
        ok_floor = all(v["decode_ms_per_token"] <= 1.5 * v["floor_ms_per_token"]
                       for k, v in sel.items() if k[0] == "greedy" and k[1] == 1)
        label = dt if dt != "fastest" else "fastest libmlm dtype per row (" + ", ".join(
            f"{k[0]} b{k[1]} t{k[2]}: {v.get('dtype', 'fp32')}" for k, v in sorted(sel.items())) + ")"
        if worst:
            print(f"  {'MET ' if ok_speed else 'MISS'} {label}: worst ratio {worst[1]:.2f} "
                  f"({worst[0][0]} batch {worst[0][1]}, {worst[0][2]} thr); floor "
                  f"{'met' if ok_floor else 'missed'}; RSS {'met' if ok_rss else 'missed'}")


if __name__ == "__main__":
    main(sys.argv[1])
