"""PyTorch peer for bench/run_train_bench.sh: masked-LM training steps of the
reference model (tests/reference/hf_models.py) as transformers' Trainer runs
them, at the configuration bench/train_bench.c prints, so that both sides
train the same model on the same batch shapes with the same threads.

One step, as Trainer.training_step + the optimizer step of its loop:
  collate   DataCollatorForLanguageModeling.torch_mask_tokens on a B x T
            block of ids: 15% of the non-special tokens picked, 80% of those
            become <mask>, half the rest a random id (HF's Bernoulli chain)
  forward   model.train() (dropout as configured), logits at every position,
            cross_entropy(ignore_index=-100)
  backward  loss.backward()
  update    clip_grad_norm_(1.0), AdamW with the Trainer's two parameter
            groups (no weight decay on biases and LayerNorm weights;
            torch.optim.AdamW's defaults otherwise: foreach unset, not fused),
            get_linear_schedule_with_warmup's LambdaLR, zero_grad(set_to_none)
(hf_models.make_optimizer / make_scheduler / train_step are those pieces.)

One configuration per process: BLIS reads BLIS_NUM_THREADS / BLIS_ARCH_TYPE
when torch loads it, so the driver sets them in the environment of each run.
Prints one JSON line:

    torch_train_peer.py --config JSON --batch B --seq T --threads N
                        [--steps S] [--warmup W] [--seed 42] [--autocast none|bf16]
    (--autocast bf16: torch.autocast("cpu", bfloat16) around the forward and loss,
    as the Trainer does with bf16=True; the backward runs outside it)
    torch_train_peer.py --probe (same arguments)  # GEMM probe for the BLIS search
    torch_train_peer.py --arch-ids "zen3 skx ..."  # BLIS_ARCH_TYPE ids for the names

Run with /usr/bin/python3 (Debian's torch 1.13)."""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_bench_common as tbc  # noqa: E402  (before torch: see its docstring)

_BLIS_DEBUG = tbc.blis_debug_start() if "--arch-ids" not in sys.argv else None
import torch  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import hf_models  # noqa: E402

MLM_PROBABILITY = 0.15
LEARNING_RATE = 5e-5
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0


def config_of(a):
    cfg = json.loads(a.config)
    cfg.setdefault("architectures", ["RobertaForMaskedLM"])
    return cfg


def block(g, rows, seq, vocab, bos, eos):
    """rows x seq of ids as group_texts makes them: <s> then random ordinary
    ids then </s>, no padding (the same shape as train_bench.c's rows; the
    ids themselves do not change the work)."""
    ids = torch.randint(4, vocab - 1, (rows, seq), generator=g)
    ids[:, 0], ids[:, -1] = bos, eos
    return ids


def mask_tokens(inputs, special, mask_id, vocab, g):
    """DataCollatorForLanguageModeling.torch_mask_tokens (mlm_probability
    0.15, 80% <mask>, 10% random, 10% unchanged)."""
    labels = inputs.clone()
    prob = torch.full(labels.shape, MLM_PROBABILITY)
    prob.masked_fill_(special, value=0.0)
    masked = torch.bernoulli(prob, generator=g).bool()
    labels[~masked] = -100
    replaced = torch.bernoulli(torch.full(labels.shape, 0.8), generator=g).bool() & masked
    inputs[replaced] = mask_id
    rnd = torch.bernoulli(torch.full(labels.shape, 0.5), generator=g).bool() & masked & ~replaced
    words = torch.randint(vocab, labels.shape, dtype=torch.long, generator=g)
    inputs[rnd] = words[rnd]
    return inputs, labels


def probe(a, cfg):
    """GFLOP/s of the shape's FFN and attention products (tbc.gemm_probe)."""
    return tbc.gemm_probe(a.batch * a.seq, cfg["hidden_size"], cfg["intermediate_size"],
                          cfg["num_attention_heads"], a.seq, a.batch)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--arch-ids")
    ap.add_argument("--arch-name", default="")
    ap.add_argument("--label", default="")
    ap.add_argument("--autocast", choices=("none", "bf16"), default="none")
    a = ap.parse_args()
    if a.autocast == "bf16":
        # torch 1.13's CPU autocast has no layer_norm rule and refuses a bf16
        # input beside fp32 weights: fed fp32, as newer autocast lists do
        # (tests/reference/make_bf16_train_goldens.py does the same)
        ln = torch.nn.LayerNorm.forward
        torch.nn.LayerNorm.forward = lambda self, x: ln(self, x.float())
    if a.arch_ids is not None:
        print(json.dumps(tbc.arch_ids(a.arch_ids.split())))
        return
    selected = tbc.blis_debug_end(_BLIS_DEBUG)
    torch.set_num_threads(a.threads)
    cfg_run = {"threads": a.threads, "blis_threads": os.environ.get("BLIS_NUM_THREADS", "unset"),
               "blis_arch_type": os.environ.get("BLIS_ARCH_TYPE", "unset"),
               "blis_arch_asked": a.arch_name or "default", "blis_selected": selected,
               "omp_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
               "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
               "autocast": a.autocast}
    cfg = config_of(a)
    if a.probe:
        print(json.dumps({"impl": "pytorch-probe", "label": a.label, "config": cfg_run,
                          "gflops": probe(a, cfg)}), flush=True)
        return
    runtime_rss = tbc.maxrss_mb()
    model = hf_models.new_model(cfg, a.seed, perturb=False)
    model.train()
    total = a.warmup + a.steps
    opt = hf_models.make_optimizer(model, LEARNING_RATE, WEIGHT_DECAY)
    sched = hf_models.make_scheduler(opt, 0, total)
    c = model.config
    vocab, mask_id = c.vocab_size, c.vocab_size - 1     # roberta's <mask> is the last id
    bos, eos, pad = c.get("bos_token_id", 0), c.get("eos_token_id", 2), c.pad_token_id
    g = torch.Generator().manual_seed(a.seed)
    times, cpu, losses, labelled = [], [], [], []
    model_rss = tbc.maxrss_mb()
    for step in range(total):
        t, c0 = time.perf_counter(), time.process_time()
        ids = block(g, a.batch, a.seq, vocab, bos, eos)
        special = (ids == bos) | (ids == eos) | (ids == pad)
        ids, labels = mask_tokens(ids, special, mask_id, vocab, g)
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if a.autocast == "bf16" else None
        loss, _, _ = hf_models.train_step(model, batch, opt, sched, MAX_GRAD_NORM, autocast=cast)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c0)
        losses.append(float(loss))
        labelled.append(int((labels != -100).sum()))
    steady = times[a.warmup:]
    step_s = statistics.median(steady)
    res = {
        "impl": "pytorch", "label": a.label, "config": cfg_run,
        "batch": a.batch, "seq": a.seq, "steps": a.steps, "warmup": a.warmup,
        "step_s": step_s, "step_s_all": times, "cpu_s": statistics.median(cpu[a.warmup:]),
        "tokens_per_s": a.batch * a.seq / step_s,
        "labelled_mean": statistics.mean(labelled),
        "losses": losses,
        "params": sum(p.numel() for p in model.parameters()),
        "peak_rss_mb": tbc.maxrss_mb(), "runtime_rss_mb": runtime_rss,
        "model_rss_mb": model_rss,
    }
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
