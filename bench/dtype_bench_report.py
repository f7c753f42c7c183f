"""The table of bench/run_dtype_bench.sh from its JSON lines (one folder:
libmlm.jsonl — a header line then one line per thread count, per dtype —,
pytorch.jsonl, ort.jsonl, load_before, load_after). Issue #15's targets:
fill-mask at 2 threads: bf16 <= 1.3x its memory floor, int8 <= 1.5x, both
<= 0.5x ONNX Runtime fp32, int8 <= 0.7x ONNX Runtime int8; forward 8x128:
bf16 >= 2x PyTorch bf16 autocast and >= 1.5x our fp32 (where the CPU has
bf16 units), fp32 >= 1.2x PyTorch fp32."""

import json
import os
import sys

from model_bench_report import cpu_model, lines


def main():
    d = sys.argv[1]
    rows = lines(os.path.join(d, "libmlm.jsonl"))
    heads = [r for r in rows if "ids" in r]
    ours = [r for r in rows if r.get("impl") == "libmlm"]
    torch_rows = lines(os.path.join(d, "pytorch.jsonl"))
    ort_rows = lines(os.path.join(d, "ort.jsonl"))
    wbytes = {h["dtype"]: h["weight_bytes"] for h in heads}
    la = [open(os.path.join(d, f)).read().strip().split("load average:")[-1].strip()
          for f in ("load_before", "load_after") if os.path.exists(os.path.join(d, f))]
    print()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; load average before/after: "
          f"{' / '.join(la)}")
    print(f"libmlm: {heads[0]['system']}")
    print("model: distilroberta-shaped RoBERTa; weight bytes a forward reads: " +
          ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in wbytes.items()))
    print("medians (ms); floor = weight bytes / read bandwidth measured in the same run")
    verdicts = []
    threads = sorted({r["config"]["threads"] for r in ours})
    for n in threads:
        mine = {r["dtype"]: r for r in ours if r["config"]["threads"] == n}
        bw = max(r["bandwidth_gbs"] for r in mine.values())
        tr = [r for r in torch_rows if r["config"]["threads"] == n]
        t32 = [r for r in tr if r["config"].get("autocast", "none") == "none"]
        tbf = [r for r in tr if r["config"].get("autocast") == "bf16"]
        o32 = [r for r in ort_rows if r["config"]["threads"] == n and r["impl"] == "onnxruntime"]
        o8 = [r for r in ort_rows if r["config"]["threads"] == n and r["impl"] == "onnxruntime-int8"]
        best = lambda rs, k: min((r[k] for r in rs if r.get(k) is not None), default=None)
        ort32, ort8 = best(o32, "fill_ms_masked_head"), best(o8, "fill_ms_masked_head")
        pt32b, ptbfb = best(t32, "batch_ms"), best(tbf, "batch_ms")
        print()
        print(f"{n} thread(s): read bandwidth {bw:.1f} GB/s")
        hdr = (f"  {'dtype':<6}{'fill-mask':>10}{'floor':>8}{'x floor':>8}{'/ORT fp32':>10}"
               f"{'/ORT int8':>10}{'8x128 fwd':>11}{'tok/s':>8}{'PT fp32/us':>11}"
               f"{'PT bf16/us':>11}{'RSS MB':>8}")
        print(hdr)
        f32b = mine.get("fp32", {}).get("batch_ms")
        for dt in ("fp32", "bf16", "int8"):
            r = mine.get(dt)
            if not r:
                continue
            fill, b = r["fill_ms_e2e"], r["batch_ms"]
            floor = wbytes[dt] / (bw * 1e9) * 1e3
            rat = lambda p: "-" if p is None else f"{fill / p:.2f}"
            inv = lambda p: "-" if p is None or not b else f"{p / b:.2f}"
            print(f"  {dt:<6}{fill:>10.2f}{floor:>8.2f}{fill / floor:>8.2f}{rat(ort32):>10}"
                  f"{rat(ort8):>10}{b:>11.1f}{1024 / b * 1e3:>8.0f}{inv(pt32b):>11}"
                  f"{inv(ptbfb):>11}{r['peak_rss_mb']:>8.1f}")
            if n == 2 and dt == "bf16":
                verdicts.append(("fill-mask bf16 / its floor, 2 thr", fill / floor, 1.3, "<="))
            if n == 2 and dt == "int8":
                verdicts.append(("fill-mask int8 / its floor, 2 thr", fill / floor, 1.5, "<="))
            if n == 2 and dt != "fp32" and ort32:
                verdicts.append((f"fill-mask {dt} / ORT fp32, 2 thr", fill / ort32, 0.5, "<="))
            if n == 2 and dt == "int8" and ort8:
                verdicts.append(("fill-mask int8 / ORT int8, 2 thr", fill / ort8, 0.7, "<="))
            if dt == "fp32" and pt32b:
                verdicts.append((f"forward 8x128 fp32: PyTorch fp32 / ours, {n} thr", pt32b / b,
                                 1.2, ">="))
            if dt == "bf16" and ptbfb:
                verdicts.append((f"forward 8x128 bf16: PyTorch bf16 / ours, {n} thr", ptbfb / b,
                                 2.0, ">="))
            if dt == "bf16" and f32b:
                verdicts.append((f"forward 8x128 bf16: our fp32 / ours, {n} thr", f32b / b, 1.5,
                                 ">="))
        peers = [("ORT fp32", ort32), ("ORT int8", ort8), ("PyTorch fp32 8x128", pt32b),
                 ("PyTorch bf16 autocast 8x128", ptbfb)]
        print("  peers: " + ", ".join(f"{k} {v:.2f} ms" for k, v in peers if v is not None))
    print()
    print("targets:")
    for what, v, t, op in verdicts:
        ok = v <= t if op == "<=" else v >= t
        print(f"  {'MET ' if ok else 'MISS'} {what}: {v:.2f} (target {op} {t})")


if __name__ == "__main__":
    main()
