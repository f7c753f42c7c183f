"""bf16 mixed-precision training in bench/run_train_bench.sh's folder
(MLM_BF16=1): libmlm fp32 and bf16 (the "bf16" option) against PyTorch's
best fp32 configuration and its bf16 autocast (same BLIS configuration),
tokens/s per shape and thread count. Issue #15's targets: libmlm bf16 >= 2x
PyTorch bf16 autocast and >= 1.5x libmlm fp32 (where the CPU has bf16
units)."""

import json
import os
import sys


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip().startswith("{")]


def key(r):
    return (r.get("label") or r.get("shape"), r["config"]["threads"])


def main():
    d = sys.argv[1]
    f32 = {key(r): r for r in lines(os.path.join(d, "libmlm.jsonl"))}
    b16 = {key(r): r for r in lines(os.path.join(d, "libmlm_bf16.jsonl"))}
    p32 = {key(r): r for r in lines(os.path.join(d, "pytorch.jsonl"))}
    p16 = {key(r): r for r in lines(os.path.join(d, "pytorch_bf16.jsonl"))}
    print()
    print("bf16 mixed-precision training, tokens/s (medians):")
    hdr = (f"  {'shape':<14}{'thr':>4}{'libmlm fp32':>12}{'libmlm bf16':>12}{'PT fp32':>9}"
           f"{'PT bf16':>9}{'bf16/PT bf16':>13}{'bf16/fp32':>10}")
    print(hdr)
    verdicts = []
    for k in sorted(b16):
        o, of = b16[k], f32.get(k)
        t, tb = p32.get(k), p16.get(k)
        tok = lambda r: r["tokens_per_s"] if r else None
        fmt = lambda x, w: f"{x:>{w}.0f}" if x else f"{'-':>{w}}"
        r1 = tok(o) / tok(tb) if tb else None
        r2 = tok(o) / tok(of) if of else None
        print(f"  {k[0]:<14}{k[1]:>4}{fmt(tok(of), 12)}{fmt(tok(o), 12)}{fmt(tok(t), 9)}"
              f"{fmt(tok(tb), 9)}{(f'{r1:.2f}' if r1 else '-'):>13}"
              f"{(f'{r2:.2f}' if r2 else '-'):>10}")
        if r1:
            verdicts.append((f"{k[0]}, {k[1]} thr: libmlm bf16 / PyTorch bf16 autocast", r1, 2.0))
        if r2:
            verdicts.append((f"{k[0]}, {k[1]} thr: libmlm bf16 / libmlm fp32", r2, 1.5))
    for what, v, t in verdicts:
        print(f"  {'MET ' if v >= t else 'MISS'} {what}: {v:.2f} (target >= {t})")


if __name__ == "__main__":
    main()
