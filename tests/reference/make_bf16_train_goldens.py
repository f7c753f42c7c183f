"""Golden losses of bf16 mixed-precision training under torch.autocast, for
libmlm's trainer option "bf16" (tests/test_train.c and tests/test_t5_train.c,
bf16_steps_match_autocast).

    /usr/bin/python3 tests/reference/make_bf16_train_goldens.py

For each tiny model (tiny-bert, tiny-roberta, tiny-distilbert): the
committed checkpoint (tests/data/models/<name>), the training golden's batch
(tests/data/goldens/<name>/train_batch.safetensors, make_goldens.py), dropout
off, and make_goldens.py's three AdamW steps (TRAIN), each forward and loss
under torch.autocast("cpu", dtype=torch.bfloat16) as Trainer(bf16=True) runs
compute_loss; the backward, clipping and the optimizer outside, in fp32.
Writes tests/data/goldens/<name>/train_bf16.json: per step the loss and the
gradient norm under autocast and in plain float32 (the same run without it).
For T5 (t5-train-v1.0, t5-train-v1.1): make_t5_train.py's checkpoint, batch
and three constant-lr AdamW steps, dropout off, the forward and loss under
autocast; the same file in those folders (losses only).

torch 1.13's CPU autocast runs linear/matmul in bf16 (inputs rounded, fp32
accumulation, output rounded to bf16) and keeps the inputs' dtype elsewhere:
a GELU of a Linear's bf16 output runs in bf16, and layer_norm has no CPU
autocast rule and refuses a bf16 input beside fp32 weights, so LayerNorm is
fed fp32 here (as PyTorch's newer autocast lists do). Deterministic: one
thread, deterministic algorithms.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_models as hf  # noqa: E402
import make_goldens as mg  # noqa: E402
import make_t5_train as mt5  # noqa: E402
import safetensors_io as st  # noqa: E402
import t5_models as tm  # noqa: E402

MODELS = ("tiny-bert", "tiny-roberta", "tiny-distilbert")
T5_STYLES = ("t5-train-v1.0", "t5-train-v1.1")


def _layer_norm_fp32(self, x):
    return F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps)


def run(model_dir, batch, overrides, autocast):
    model = hf.from_pretrained(model_dir, config_overrides=overrides)
    model.train()
    T = mg.TRAIN
    opt = hf.make_optimizer(model, T["learning_rate"], T["weight_decay"],
                            betas=(T["adam_beta1"], T["adam_beta2"]), eps=T["adam_epsilon"])
    sched = hf.make_scheduler(opt, T["warmup_steps"], T["num_training_steps"])
    steps = []
    for s in range(1, T["steps"] + 1):
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else None
        loss, norm, lr = hf.train_step(model, batch, opt, sched, T["max_grad_norm"],
                                       autocast=ctx)
        steps.append({"step": s, "lr": lr, "loss": float(loss), "grad_norm": float(norm)})
    return steps


def run_t5(gdir, batch, autocast):
    model = tm.from_pretrained(gdir)    # eval(): dropout off, as make_t5_train.py
    T = mt5.TRAIN
    opt = hf.make_optimizer(model, T["learning_rate"], T["weight_decay"],
                            betas=(T["adam_beta1"], T["adam_beta2"]), eps=T["adam_epsilon"])
    losses = []
    for _ in range(T["steps"]):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                        labels=batch["labels"])
        out["loss"].backward()
        losses.append(float(out["loss"]))
        opt.step()
    return losses


def main_t5():
    for name in T5_STYLES:
        gdir = os.path.join(mg.GOLDEN_DIR, name)
        batch = st.load_torch(os.path.join(gdir, "batch.safetensors"))
        bf16, fp32 = run_t5(gdir, batch, True), run_t5(gdir, batch, False)
        out = {
            "model": name,
            "batch": "batch.safetensors (make_t5_train.py)",
            "settings": dict(mt5.TRAIN, autocast='torch.autocast("cpu", dtype=torch.bfloat16) '
                             "around forward and loss; backward and AdamW outside; dropout off; "
                             "constant lr, no clipping", torch=torch.__version__),
            "losses_autocast_bf16": bf16,
            "losses_float32": fp32,
        }
        with open(os.path.join(gdir, "train_bf16.json"), "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        print(name, "autocast", bf16, "fp32", fp32)


def main():
    mg._setup()
    torch.nn.LayerNorm.forward = _layer_norm_fp32
    for name in MODELS:
        model_dir = os.path.join(mg.ROOT, "tests", "data", "models", name)
        gdir = os.path.join(mg.GOLDEN_DIR, name)
        batch = st.load_torch(os.path.join(gdir, "train_batch.safetensors"))
        overrides = mg.dropout_off(hf.load_config(model_dir))
        bf16 = run(model_dir, batch, overrides, True)
        fp32 = run(model_dir, batch, overrides, False)
        out = {
            "model": name,
            "batch": "train_batch.safetensors (make_goldens.py)",
            "config_overrides": overrides,
            "settings": dict(mg.TRAIN, autocast='torch.autocast("cpu", dtype=torch.bfloat16) '
                             "around forward and loss; backward, clip, AdamW outside",
                             torch=torch.__version__,
                             layer_norm="fed float32 input (torch 1.13 has no CPU autocast rule for it)"),
            "steps_autocast_bf16": bf16,
            "steps_float32": fp32,
        }
        with open(os.path.join(gdir, "train_bf16.json"), "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        print(name, "autocast", [s["loss"] for s in bf16], "fp32", [s["loss"] for s in fp32])
    main_t5()


if __name__ == "__main__":
    main()
