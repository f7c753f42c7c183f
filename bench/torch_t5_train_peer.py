"""PyTorch peer for bench/run_t5_train_bench.sh: seq2seq training steps of
the reference T5 (tests/reference/t5_models.py, dropout as configured) as
transformers' Trainer runs them, at the configuration
bench/t5_train_bench.c prints, so that both sides train the same model on
the same batch shape with the same threads.

One step, as Trainer.training_step + the optimizer step of its loop:
  batch     B rows of S source ids and T target ids (labels), each ending
            with </s>, no padding, no decoder_input_ids (the seed's
            DataCollatorForSeq2Seq(model=None): the model shifts the labels)
  forward   model.train() (dropout 0.1), T5ForConditionalGeneration.forward
            with labels: logits at every target position,
            cross_entropy(ignore_index=-100); with --autocast bf16 inside
            torch.autocast("cpu", dtype=torch.bfloat16), as the Trainer's
            bf16=True wraps compute_loss (the backward runs outside it)
  backward  loss.backward()
  update    clip_grad_norm_(1.0), torch.optim.AdamW with the Trainer's two
            parameter groups (no weight decay on the RMS-norm weights and
            the relative attention bias), get_linear_schedule_with_warmup's
            LambdaLR, zero_grad(set_to_none)
(hf_models.make_optimizer / make_scheduler / train_step are those pieces.)

One configuration per process: BLIS reads BLIS_NUM_THREADS / BLIS_ARCH_TYPE
when torch loads it, so the driver sets them in the environment of each run.
Prints one JSON line:

    torch_t5_train_peer.py --config JSON --batch B --source S --target T
                           --threads N [--steps S] [--warmup W] [--seed 42]
                           [--autocast none|bf16]
    torch_t5_train_peer.py --probe (same arguments)   # GEMM probe for the BLIS search
    torch_t5_train_peer.py --cpu-bf16                 # prints 1 when the CPU has
                                                      # AVX512-BF16 or AMX, else 0

Run with /usr/bin/python3 (Debian's torch 1.13)."""

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_bench_common as tbc  # noqa: E402  (before torch: see its docstring)

_BLIS_DEBUG = tbc.blis_debug_start() if "--cpu-bf16" not in sys.argv else None
import torch  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import hf_models  # noqa: E402
import t5_models  # noqa: E402

LEARNING_RATE = 5e-5
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0
EOS = 1


def make_batch(g, rows, source, target, vocab):
    """rows (source, target) pairs as t5_train_bench.c makes them: ordinary
    ids in [2, vocab), </s> last, no padding (the ids do not change the
    work)."""
    ids = torch.randint(2, vocab, (rows, source), generator=g)
    labels = torch.randint(2, vocab, (rows, target), generator=g)
    ids[:, -1], labels[:, -1] = EOS, EOS
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--source", type=int, default=128)
    ap.add_argument("--target", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--autocast", choices=("none", "bf16"), default="none")
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--cpu-bf16", action="store_true")
    ap.add_argument("--arch-name", default="")
    ap.add_argument("--label", default="t5-small")
    a = ap.parse_args()
    if a.cpu_bf16:
        print(1 if tbc.cpu_has_bf16() else 0)
        return
    selected = tbc.blis_debug_end(_BLIS_DEBUG)
    torch.set_num_threads(a.threads)
    cfg_run = {"threads": a.threads, "blis_threads": os.environ.get("BLIS_NUM_THREADS", "unset"),
               "blis_arch_type": os.environ.get("BLIS_ARCH_TYPE", "unset"),
               "blis_arch_asked": a.arch_name or "default", "blis_selected": selected,
               "omp_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
               "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
               "autocast": a.autocast, "mkldnn": torch.backends.mkldnn.is_available()}
    cfg = json.loads(a.config)
    if a.probe:
        gflops = tbc.gemm_probe(a.batch * a.source, cfg["d_model"], cfg["d_ff"], cfg["num_heads"],
                                a.source, a.batch)
        print(json.dumps({"impl": "pytorch-probe", "label": a.label, "config": cfg_run,
                          "gflops": gflops}), flush=True)
        return
    runtime_rss = tbc.maxrss_mb()
    model = t5_models.new_model(cfg, a.seed).train()
    total = a.warmup + a.steps
    opt = hf_models.make_optimizer(model, LEARNING_RATE, WEIGHT_DECAY)
    sched = hf_models.make_scheduler(opt, 0, total)
    g = torch.Generator().manual_seed(a.seed)
    times, cpu, losses = [], [], []
    model_rss = tbc.maxrss_mb()
    for step in range(total):
        t, c0 = time.perf_counter(), time.process_time()
        batch = make_batch(g, a.batch, a.source, a.target, model.config.vocab_size)
        cast = (torch.autocast("cpu", dtype=torch.bfloat16) if a.autocast == "bf16"
                else contextlib.nullcontext())
        loss, _, _ = hf_models.train_step(model, batch, opt, sched, MAX_GRAD_NORM, autocast=cast)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c0)
        losses.append(float(loss))
    step_s = statistics.median(times[a.warmup:])
    tokens = a.batch * (a.source + a.target)
    print(json.dumps({
        "impl": "pytorch", "label": a.label, "config": cfg_run,
        "batch": a.batch, "source": a.source, "target": a.target,
        "steps": a.steps, "warmup": a.warmup,
        "step_s": step_s, "step_s_all": times, "cpu_s": statistics.median(cpu[a.warmup:]),
        "tokens_per_s": tokens / step_s, "losses": losses,
        "params": sum(p.numel() for p in model.parameters()),
        "peak_rss_mb": tbc.maxrss_mb(), "runtime_rss_mb": runtime_rss, "model_rss_mb": model_rss,
        "loadavg": list(os.getloadavg()),
    }), flush=True)


if __name__ == "__main__":
    main()
