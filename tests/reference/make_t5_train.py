"""Goldens of T5 training for libmlm's parity test (tests/test_t5_train.c).

    /usr/bin/python3 tests/reference/make_t5_train.py [OUT_ROOT]
        writes OUT_ROOT/t5-train-v1.0 and OUT_ROOT/t5-train-v1.1 (default
        OUT_ROOT: tests/data/goldens). Same bytes every run.

For each style, a tiny random-init checkpoint (t5_models.new_model, then
every RMS-norm weight 1 + N(0, 0.1) so that their gradients are generic),
a padded batch, and three steps of T5ForConditionalGeneration.forward with
labels (transformers 4.56 modeling_t5.py semantics, dropout off:
model.eval() with gradients) followed by torch.optim.AdamW(lr 1e-3, betas
(0.9, 0.999), eps 1e-8, weight_decay 0.01) over HF Trainer's two parameter
groups (Trainer.get_decay_parameter_names: hf_models.decay_parameter_names).
No clipping, no schedule: the steps' learning rate is constant.

Files of a golden folder:
  config.json, model.safetensors   the checkpoint (save_pretrained's layout)
  batch.safetensors                input_ids, attention_mask (B, S); labels
                                   (B, T) with -100 padding; decoder_input_ids
                                   = _shift_right(labels) (I64)
  grads_step{1,2,3}.safetensors    every parameter's gradient at the start of
                                   step s (unique names: a tied lm_head's
                                   gradient is in shared.weight)
  params_step{1,2,3}.safetensors   every parameter after step s
  train.json                       losses (float32 and float64 runs), the
                                   settings, the decay groups, and per step
                                   and tensor the relative L2 distance between
                                   torch's own float32 and float64 gradients

The float64 run (the same checkpoint cast to float64, its own AdamW) is the
yardstick of float32 noise: at step 1 the two differ by rounding only; at
steps 2 and 3 also because float32's Adam updates stray from float64's
where a gradient is near its rounding error (m/sqrt(v) is ill-conditioned
there).

Deterministic: fixed seeds, one torch thread. Run with Debian's torch:
/usr/bin/python3.
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_models as hf  # noqa: E402
import make_t5 as mt  # noqa: E402
import safetensors_io as st  # noqa: E402
import t5_models as tm  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GOLDEN_DIR = os.path.join(ROOT, "tests", "data", "goldens")

# Odd sizes, small enough that seven copies of the parameters stay ~0.1 MB:
# n_heads*d_kv = 24 != d_model = 16, encoder and decoder depths differ, 8
# buckets with max_distance 10 so that the log-spaced buckets (and their
# clipping in the decoder) show up within the batch's 12 source and 7
# target positions.
SHAPE = dict(vocab_size=83, d_model=16, d_kv=8, num_heads=3, d_ff=20, num_layers=2,
             num_decoder_layers=3, relative_attention_num_buckets=8,
             relative_attention_max_distance=10)
SEEDS = {"v1.0": 6101, "v1.1": 6102}
LN_STD = 0.1
TRAIN = dict(learning_rate=1e-3, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8,
             weight_decay=0.01, steps=3)
# The batch: three sources of different lengths padded with </s> (id 1)
# under attention mask 0, as DataCollatorForSeq2Seq pads when the seed sets
# pad_token = eos_token; targets ending in </s>, padded with -100.
SOURCE_LENGTHS = (12, 5, 9)
TARGET_LENGTHS = (7, 3, 5)
INPUT_PAD = 1
BATCH_SEED = 6200


def make_model(style):
    cfg = mt.config_dict(style, "tiny")
    cfg.update(SHAPE)
    cfg.pop("task_specific_params", None)
    c = tm.make_config(cfg)
    seed = SEEDS[style]
    model = tm.new_model(c, seed)
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, tm.T5LayerNorm):
                m.weight.add_(torch.empty_like(m.weight).normal_(0.0, LN_STD, generator=g))
    return model, cfg


def make_batch(c):
    g = torch.Generator().manual_seed(BATCH_SEED)
    B, S, T = len(SOURCE_LENGTHS), max(SOURCE_LENGTHS), max(TARGET_LENGTHS)
    ids = torch.full((B, S), INPUT_PAD, dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b in range(B):
        n = SOURCE_LENGTHS[b]
        ids[b, :n] = torch.randint(2, c.vocab_size, (n,), generator=g)
        ids[b, n - 1] = 1
        mask[b, :n] = 1
        t = TARGET_LENGTHS[b]
        labels[b, :t] = torch.randint(2, c.vocab_size, (t,), generator=g)
        labels[b, t - 1] = 1
    dec = tm.shift_right(labels, c.decoder_start_token_id, c.pad_token_id)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels,
            "decoder_input_ids": dec}


def run(model, batch):
    """Three steps: forward with labels, backward, AdamW. Returns the
    losses, the gradients and the parameters after each step (unique names)."""
    opt = hf.make_optimizer(model, TRAIN["learning_rate"], TRAIN["weight_decay"],
                            betas=(TRAIN["adam_beta1"], TRAIN["adam_beta2"]),
                            eps=TRAIN["adam_epsilon"])
    losses, grads, params = [], {}, {}
    for s in range(1, TRAIN["steps"] + 1):
        opt.zero_grad()
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    labels=batch["labels"])
        out["loss"].backward()
        losses.append(float(out["loss"]))
        grads[s] = {n: p.grad.detach().clone() for n, p in tm.unique_parameters(model).items()}
        opt.step()
        params[s] = {n: p.detach().clone() for n, p in tm.unique_parameters(model).items()}
    return losses, grads, params


def rel_l2(a, b):
    a, b = a.double(), b.double()
    den = float(b.norm())
    num = float((a - b).norm())
    return num / den if den > 0 else num


def write_golden(style, out_dir):
    torch.set_num_threads(1)
    model, cfg = make_model(style)
    os.makedirs(out_dir, exist_ok=True)
    tm.save_pretrained(model, out_dir, cfg)
    model = tm.from_pretrained(out_dir)          # eval(): no dropout
    m64 = tm.from_pretrained(out_dir, dtype=torch.float64)
    c = model.config
    batch = make_batch(c)
    losses, grads, params = run(model, batch)
    losses64, grads64, params64 = run(m64, batch)
    names = list(tm.unique_parameters(model))
    st.save_file(batch, os.path.join(out_dir, "batch.safetensors"), metadata={"format": "pt"})
    for s in (1, 2, 3):
        st.save_file({n: g.contiguous() for n, g in grads[s].items()},
                     os.path.join(out_dir, f"grads_step{s}.safetensors"),
                     metadata={"format": "pt", "step": str(s)})
        st.save_file({n: p.contiguous() for n, p in params[s].items()},
                     os.path.join(out_dir, f"params_step{s}.safetensors"),
                     metadata={"format": "pt", "step": str(s)})
    decay = set(hf.decay_parameter_names(model))
    meta = {
        "model": f"t5-train-{style}",
        "style": style,
        "settings": dict(TRAIN, optimizer="torch.optim.AdamW (foreach=False), two groups as "
                                          "Trainer.create_optimizer; no clipping, no schedule",
                         loss="CrossEntropyLoss(ignore_index=-100), mean over labelled tokens",
                         dropout="off (model.eval() semantics, gradients on)",
                         same_batch_every_step=True),
        "batch": {"seed": BATCH_SEED, "source_lengths": list(SOURCE_LENGTHS),
                  "target_lengths": list(TARGET_LENGTHS), "input_pad_id": INPUT_PAD,
                  "labelled_tokens": int((batch["labels"] != -100).sum())},
        "losses": losses,
        "losses_float64": losses64,
        "grads_float32_vs_float64_rel_l2": [
            {n: rel_l2(grads[s][n], grads64[s][n]) for n in names} for s in (1, 2, 3)],
        "params_float32_vs_float64_max_abs": [
            max(float((params[s][n].double() - params64[s][n]).abs().max()) for n in names)
            for s in (1, 2, 3)],
        "decay_parameters": [n for n in names if n in decay],
        "no_decay_parameters": [n for n in names if n not in decay],
        "parameters": names,
    }
    with open(os.path.join(out_dir, "train.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta


def main(argv):
    root = argv[1] if len(argv) > 1 else GOLDEN_DIR
    for style in ("v1.0", "v1.1"):
        meta = write_golden(style, os.path.join(root, f"t5-train-{style}"))
        worst = max(max(d.values()) for d in meta["grads_float32_vs_float64_rel_l2"][:1])
        print(f"t5-train-{style}: losses {meta['losses']}, step-1 gradients float32 vs "
              f"float64 worst rel L2 {worst:.2e}, params after 3 steps float32 vs float64 "
              f"max abs {meta['params_float32_vs_float64_max_abs'][2]:.2e}")


if __name__ == "__main__":
    main(sys.argv)
