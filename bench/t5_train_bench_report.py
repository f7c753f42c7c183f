"""The table of bench/run_t5_train_bench.sh from its JSON lines (one folder:
libmlm.jsonl, pytorch.jsonl, probe.jsonl, arch_ids.json, load_before,
load_after). Several lines of one configuration (REPS > 1): the median of
their tokens/s, the largest peak RSS. Run with any python3."""

import os
import sys

from train_bench_report import busy, lines, load_avg, spread, torch_cfg


def median_run(rows):
    """The run whose tokens/s is the median of rows (the upper one of an
    even count), with the peak RSS of the largest."""
    if not rows:
        return None
    r = dict(sorted(rows, key=lambda r: r["tokens_per_s"])[len(rows) // 2])
    r["tokens_all"] = [x["tokens_per_s"] for x in rows]
    r["peak_rss_mb"] = max(x["peak_rss_mb"] for x in rows)
    return r


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def load1(r):
    return r.get("loadavg", [None])[0] if r else None


def one_thread_cpu(ours, peers):
    """At 1 thread the CPU time a step is what an idle machine's wall time
    would be (other load takes turns on the core, it does not add CPU time
    to ours): the ratio of CPU times is the figure least touched by load."""
    o = median_run([r for r in ours if r["config"]["threads"] == 1])
    if not o:
        return ""
    parts = [f"libmlm {o['cpu_s']:.3f} s"]
    for name, cast in (("PyTorch fp32", "none"), ("PyTorch bf16", "bf16")):
        p = median_run([r for r in peers if r["config"]["threads"] == 1
                        and r["config"]["autocast"] == cast])
        if p:
            parts.append(f"{name} {p['cpu_s']:.3f} s (ratio {p['cpu_s'] / o['cpu_s']:.2f}x)")
    return ("1 thread, CPU time a step (the load-robust comparison; ratio = PyTorch's / "
            "libmlm's): " + ", ".join(parts))


def spin_notes(ours, peers):
    """Multi-thread medians whose CPU time a step exceeds 1.5x the 1-thread
    median's of the same side (libmlm, PyTorch fp32, PyTorch bf16)."""
    notes = []
    for name, rows in (("libmlm", ours),
                       ("PyTorch fp32", [r for r in peers if r["config"]["autocast"] == "none"]),
                       ("PyTorch bf16", [r for r in peers if r["config"]["autocast"] == "bf16"])):
        one = median_run([r for r in rows if r["config"]["threads"] == 1])
        for n in sorted({r["config"]["threads"] for r in rows} - {1}):
            r = median_run([x for x in rows if x["config"]["threads"] == n])
            if one and r["cpu_s"] > 1.5 * one["cpu_s"]:
                notes.append(f"{name} {n} thr {r['cpu_s']:.2f} s CPU a step against "
                             f"{one['cpu_s']:.2f} s at 1 thread")
    return notes


def main():
    d = sys.argv[1]
    ours = lines(os.path.join(d, "libmlm.jsonl"))
    peers = lines(os.path.join(d, "pytorch.jsonl"))
    probes = lines(os.path.join(d, "probe.jsonl"))
    if not ours:
        print("no libmlm results")
        return 1
    o0 = ours[0]
    print()
    print(f"machine: {o0['cpu']}, {o0['cores']} cores; load average before / after: "
          f"{load_avg(d, 'load_before')} / {load_avg(d, 'load_after')}")
    print(f"libmlm: {o0['config']['system']}")
    print(f"t5-small v1.0 (relu, tied lm_head), dropout 0.1, {o0['params'] / 1e6:.2f} M parameters;"
          f" batch {o0['batch']} x ({o0['source']} source + {o0['target']} target) tokens; "
          f"model FLOPs {o0['model_flops_per_step'] / 1e9:.1f} GFLOP/step")
    print("tokens/s: batch x (source + target) / median step time after warm-up (a step: collate +"
          " forward + backward + clip_grad_norm_(1.0) + AdamW + schedule)")
    print("MFU: model FLOPs (6 x weights per token, the head at every target position, attention "
          "12*L*keys*HD per token) / step time / the fp32 FMA peak measured in the libmlm process")
    print()
    hdr = (f"{'thr':>3}{'libmlm':>9}{'PyT fp32':>10}{'PyT bf16':>10}{'ratio':>7}   {'MFU':>6}"
           f"{'PyT MFU':>8}   {'RSS MB':>7}{'PyT RSS':>8}{'ratio':>6}   {'load':>5}   "
           "step s min/med/max (ours | PyTorch best)")
    print(hdr)
    print("-" * len(hdr))
    verdicts, configs, flagged = [], [], []
    for n in sorted({o["config"]["threads"] for o in ours}):
        o = median_run([r for r in ours if r["config"]["threads"] == n])
        fp32 = median_run([r for r in peers if r["config"]["threads"] == n
                           and r["config"]["autocast"] == "none"])
        bf16 = median_run([r for r in peers if r["config"]["threads"] == n
                           and r["config"]["autocast"] == "bf16"])
        best = max((r for r in (fp32, bf16) if r), key=lambda r: r["tokens_per_s"], default=None)
        for r in (fp32, bf16):
            if r and r["params"] != o["params"]:
                print(f"WARNING: PyTorch has {r['params']} parameters, libmlm {o['params']}")
        pt = best["tokens_per_s"] if best else None
        ratio = o["tokens_per_s"] / pt if best else None
        tokens = o["batch"] * (o["source"] + o["target"])
        pmfu = (o["model_flops_per_step"] * fp32["tokens_per_s"] / tokens * 1e-9 / o["peak_gflops"]
                if fp32 else None)
        rss_ratio = o["peak_rss_mb"] / best["peak_rss_mb"] if best else None
        rows = [r for r in (o, fp32, bf16) if r]
        flag = "*" if any(busy(r) for r in rows) else " "
        loads = [load1(r) for r in rows if load1(r) is not None]
        print(f"{flag}{n:>2}{o['tokens_per_s']:>9.1f}{fmt(fp32 and fp32['tokens_per_s'], '10.1f'):>10}"
              f"{fmt(bf16 and bf16['tokens_per_s'], '10.1f'):>10}{fmt(ratio, '7.2f'):>7}   "
              f"{100 * o['mfu']:>5.1f}%{fmt(pmfu and 100 * pmfu, '7.1f') + ('%' if pmfu else ' '):>8}   "
              f"{o['peak_rss_mb']:>7.0f}{fmt(best and best['peak_rss_mb'], '8.0f'):>8}"
              f"{fmt(rss_ratio, '6.2f'):>6}   {fmt(max(loads) if loads else None, '5.2f'):>5}   "
              f"{spread(o)} | {spread(best) if best else '-'}")
        note = " [* machine busy: not a valid figure]" if flag == "*" else ""
        if best:
            which = "bf16 autocast" if best is bf16 else "fp32"
            verdicts.append((f"{n} thr: tokens/s vs PyTorch's best ({which})", ratio, 2.0, ">=",
                             "x", note))
            verdicts.append((f"{n} thr: peak RSS / PyTorch's ({which})", rss_ratio, 1.0, "<=", "x",
                             ""))
            for r in (fp32, bf16):
                if r:
                    configs.append(f"  {n} thr, autocast {r['config']['autocast']}: {torch_cfg(r)}; "
                                   f"runtime alone {r['runtime_rss_mb']:.0f} MB, after model + "
                                   f"optimizer build {r['model_rss_mb']:.0f} MB; tokens/s of each "
                                   "run " + ", ".join(f"{t:.1f}" for t in r["tokens_all"]))
        if len(o["tokens_all"]) > 1:
            configs.append(f"  {n} thr, libmlm: tokens/s of each run "
                           + ", ".join(f"{t:.1f}" for t in o["tokens_all"]))
        flagged += [r for r in rows if busy(r)]
    print()
    print("ratio: libmlm's tokens/s over the best PyTorch figure of the row (fp32 or bf16 "
          "autocast), and libmlm's peak RSS over that run's. PyT MFU: PyTorch fp32's tokens/s "
          "against the same model FLOPs and peak. load: the highest 1-minute load average any "
          "process of the row saw at its end.")
    if flagged:
        print()
        print("WARNING (rows marked *): other work took the CPUs these runs asked for (1 thread: "
              "wall >15% above CPU time; n threads: under 0.65·n CPUs used): " + ", ".join(
                  f"{r['impl']} {r['config']['threads']} thr{' ' + r['config'].get('autocast', '') if r['impl'] == 'pytorch' else ''}"
                  f" ({r['step_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU a step)" for r in flagged)
              + ". Rerun on an idle machine.")
    cpu_line = one_thread_cpu(ours, peers)
    if cpu_line:
        print()
        print(cpu_line)
    spinning = spin_notes(ours, peers)
    if spinning:
        print()
        print("NOTE: multi-thread runs that spent far more CPU time a step than the same side at 1 "
              "thread (threads spinning at barriers, waiting on each other or on other load; "
              "their wall time is the load's as much as the code's): " + "; ".join(spinning))
    print()
    print("libmlm RSS: runtime alone " + ", ".join(sorted({f"{o['runtime_rss_mb']:.0f} MB" for o in ours}))
          + "; after model + data " + ", ".join(sorted({f"{o['model_rss_mb']:.0f} MB" for o in ours})))
    if configs:
        print()
        print("PyTorch configuration of each figure (fastest BLIS sub-configuration for T5's "
              "products and the thread count):")
        print("\n".join(configs))
    if probes:
        print("  BLIS search (GEMM probe of T5's FFN and attention products, GFLOP/s): " + "; ".join(
            f"{r['config']['threads']} thr {r['config']['blis_arch_asked']}"
            f"->{r['config']['blis_selected']} {r['gflops']:.0f}" for r in probes))
    print()
    print("targets:")
    for what, v, t, op, unit, note in verdicts:
        ok = v >= t if op == ">=" else v <= t
        print(f"  {'MET ' if ok else 'MISS'} {what}: {v:.2f}{unit} (target {op} {t:g}{unit}){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
