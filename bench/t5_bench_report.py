"""The table of bench/run_t5_bench.sh: libmlm vs PyTorch per row (mode,
batch, threads), the tokens/s ratio, greedy batch-1's per-token time against
the memory floor, and peak RSS against weights + 25% + cache.

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
    theirs = {(r["mode"], r["batch"], r["threads"]): r for r in rows(os.path.join(out, "pytorch.jsonl"))}
    print(f"{'dtype':5} {'mode':7} {'batch':>5} {'thr':>3} | {'libmlm tok/s':>12} {'torch tok/s':>11} "
          f"{'ratio':>6} | {'ms/token':>8} {'decode':>7} {'floor':>6} | {'RSS MB':>7} "
          f"{'limit':>6}")
    for r in ours:
        key = (r["mode"], r["batch"], r["threads"])
        t = theirs.get(key)
        ratio = r["tokens_per_s"] / t["tokens_per_s"] if t else float("nan")
        limit = r["weights_mb"] * 1.25 + r["cache_mb"]
        print(f"{r.get('dtype', 'fp32'):5} {r['mode']:7} {r['batch']:>5} {r['threads']:>3} | "
              f"{r['tokens_per_s']:>12.1f} "
              f"{(t['tokens_per_s'] if t else float('nan')):>11.1f} {ratio:>6.2f} | "
              f"{r['ms_per_token']:>8.2f} {r['decode_ms_per_token']:>7.2f} "
              f"{r['floor_ms_per_token']:>6.2f} | {r['peak_rss_mb']:>7.1f} {limit:>6.1f}")
    g1 = [r for r in ours if r["mode"] == "greedy" and r["batch"] == 1]
    for r in g1:
        print(f"{r.get('dtype', 'fp32')} greedy batch 1, {r['threads']} thread(s): a decode step takes "
              f"{r['decode_ms_per_token'] / r['floor_ms_per_token']:.2f}x the memory floor "
              f"({r['floor_ms_per_token']:.2f} ms: the decoder's weights and the head at "
              f"{r['read_gb_per_s']} GB/s)")


if __name__ == "__main__":
    main(sys.argv[1])
