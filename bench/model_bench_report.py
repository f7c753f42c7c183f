"""The table of bench/run_model_bench.sh from its JSON lines (one folder:
libmlm.jsonl, pytorch.jsonl, ort.jsonl, load_before, load_after)."""

import json
import os
import statistics
import sys


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip().startswith("{")]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def best(rows, keys):
    """The lowest figure among rows and keys, with its row and key."""
    cands = [(r[k], r, k) for r in rows for k in keys if r.get(k) is not None]
    return min(cands, key=lambda c: c[0]) if cands else (None, None, None)


def fmt_cfg(r, k=None):
    c = r["config"]
    if r["impl"] == "pytorch":
        s = f"torch {c['torch']}, set_num_threads {c['threads']}, BLIS {c['blis_arch']} x{c['blis_threads']}"
    else:
        s = f"ORT {c['ort']}, intra-op {c['intraOpNumThreads']}, opt level {c['graphOptimizationLevel']}"
    if k == "fill_ms_masked_head":
        s += ", head at the mask only"
    elif k == "fill_ms_all_logits":
        s += ", all 12 positions' logits"
    return s


def main():
    d = sys.argv[1]
    ours = lines(os.path.join(d, "libmlm.jsonl"))
    head, ours = ours[0], ours[1:]
    torch_rows = lines(os.path.join(d, "pytorch.jsonl"))
    ort_rows = lines(os.path.join(d, "ort.jsonl"))
    w = head["weights_mb"]
    la = [open(os.path.join(d, f)).read().strip().split("load average:")[-1].strip()
          for f in ("load_before", "load_after") if os.path.exists(os.path.join(d, f))]
    print()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; load average before/after: {' / '.join(la)}")
    print(f"libmlm: {head['system']}")
    print(f"model: distilroberta-shaped RoBERTa, {w:.1f} MB of F32 weights; sentence "
          f"\"{head['sentence']}\" ({len(head['ids'])} tokens, mask at {head['mask_pos']})")
    print("all times: medians after warm-up (ms); ratio = libmlm / peer (lower is better) for "
          "latency and load, peer / libmlm for throughput")
    configs = []
    hdr = f"{'metric':<34}{'thr':>4}{'libmlm':>10}{'PyTorch':>10}{'ratio':>8}{'ORT':>10}{'ratio':>8}  target"
    print()
    print(hdr)
    print("-" * len(hdr))
    verdicts = []
    for o in ours:
        n = o["config"]["threads"]
        tr = [r for r in torch_rows if r["config"]["threads"] == n]
        orr = [r for r in ort_rows if r["config"]["threads"] == n]
        keys = ["fill_ms_masked_head", "fill_ms_all_logits"]
        tf, tfr, tfk = best(tr, keys)
        of, ofr, ofk = best(orr, keys)
        tb, tbr, _ = best(tr, ["batch_ms"])
        ob, obr, _ = best(orr, ["batch_ms"])

        def row(name, ours_v, tv, ov, inverse=False, target=""):
            def ratio(p):
                if p is None or ours_v is None:
                    return "-"
                return f"{(p / ours_v if inverse else ours_v / p):.2f}"
            def v(x):
                return "-" if x is None else f"{x:.1f}" if x >= 10 else f"{x:.2f}"
            print(f"{name:<34}{n:>4}{v(ours_v):>10}{v(tv):>10}{ratio(tv):>8}{v(ov):>10}{ratio(ov):>8}  {target}")

        row("fill-mask e2e, 1x12 (ms)", o["fill_ms_e2e"], tf, of, target="<=0.33 / <=0.5")
        row("  forward at the mask, 1x12 (ms)", o["fill_ms_masked_head"], tf, of)
        row("batch 8x128, all logits (ms)", o["batch_ms"], tb, ob, inverse=True,
            target=">=1.5 / >=1.0 (peer/ours)")
        tps = lambda x: None if x is None else 1024.0 / x * 1e3
        row("  tokens/s", tps(o["batch_ms"]), tps(tb), tps(ob))
        if tf is not None:
            verdicts.append((n, "fill-mask vs PyTorch", o["fill_ms_e2e"] / tf, 0.33, "<="))
            configs.append(f"  PyTorch fill-mask, {n} thr: {fmt_cfg(tfr, tfk)}")
        if of is not None:
            verdicts.append((n, "fill-mask vs ORT", o["fill_ms_e2e"] / of, 0.5, "<="))
            configs.append(f"  ORT fill-mask, {n} thr: {fmt_cfg(ofr, ofk)}")
        if tb is not None:
            verdicts.append((n, "batch vs PyTorch", tb / o["batch_ms"], 1.5, ">="))
            configs.append(f"  PyTorch batch, {n} thr: {fmt_cfg(tbr)}")
        if ob is not None:
            verdicts.append((n, "batch vs ORT", ob / o["batch_ms"], 1.0, ">="))
            configs.append(f"  ORT batch, {n} thr: {fmt_cfg(obr)} (run() into a pre-allocated output "
                           "tensor: no copy; with the binding's copy see batch_ms_with_copy)")
    print()
    o = ours[0]
    tl = statistics.median([r["load_ms"] for r in torch_rows]) if torch_rows else None
    ol = statistics.median([r["load_ms"] for r in ort_rows]) if ort_rows else None
    f = lambda x: "-" if x is None else f"{x:.1f}"
    print(f"load from page cache (ms): libmlm model {o['load_ms']:.2f} (weights mapped), "
          f"pipeline (model + tokenizer) {o['load_pipeline_ms']:.1f}, first fill-mask after it "
          f"{o['first_fill_ms']:.1f} (pages of the mapping come in); PyTorch reference loader "
          f"{f(tl)}; ORT session {f(ol)}   target < 100")
    verdicts.append((0, "pipeline load", o["load_pipeline_ms"], 100.0, "<"))
    rss = o["peak_rss_mb"]
    print(f"peak RSS after load + fill-mask (MB): libmlm {rss:.1f} = {rss / w:.2f}x weights; "
          + ", ".join(f"{r['impl']} {r['config']['threads']} thr {r['peak_rss_mb']:.0f} "
                      f"(runtime alone {r['runtime_rss_mb']:.0f})"
                      for r in ([min(torch_rows, key=lambda r: r['peak_rss_mb'])] if torch_rows else [])
                      + ort_rows[:1])
          + "   target <= 1.25x weights")
    verdicts.append((0, "peak RSS / weights", rss / w, 1.25, "<="))
    print()
    print("peer configurations (best per metric and thread count):")
    print("\n".join(configs))
    print()
    print("targets:")
    for n, what, v, t, op in verdicts:
        ok = v <= t if op == "<=" else v >= t if op == ">=" else v < t
        thr = f"{n} thr, " if n else ""
        print(f"  {'MET ' if ok else 'MISS'} {thr}{what}: {v:.2f} (target {op} {t})")


if __name__ == "__main__":
    main()
