"""PyTorch peer for bench/run_model_bench.sh: the reference model of
tests/reference/hf_models.py (eval, no_grad) on the same inputs as
bench/fill_mask_bench.c. One configuration per process: BLIS reads
BLIS_NUM_THREADS / BLIS_ARCH_TYPE when torch loads it, so the driver sets
them in the environment of each run. Prints JSON lines.

    torch_peer.py MODEL_DIR --threads N --ids 0,713,...,2 --mask-pos K [--reps R]
    torch_peer.py MODEL_DIR --export OUT_PREFIX    # OUT_PREFIX{-full,-masked}.onnx

--autocast bf16 runs every call inside torch.autocast("cpu", dtype=torch.bfloat16),
PyTorch's bf16 inference on CPUs with AVX512-BF16 or AMX (the weights stay
fp32 and are cast per call). torch 1.13's CPU autocast has no layer_norm
kernel for bf16 input, so LayerNorm casts its input to fp32 first (what
autocast's fp32 policy does for the ops it lists).

Run with /usr/bin/python3 (Debian's torch 1.13)."""

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import hf_models  # noqa: E402

BATCH, SEQ = 8, 128


def batch_ids(vocab):
    """The 8x128 batch every implementation runs: <s> x... </s> per row,
    the same formula as fill_mask_bench.c."""
    ids = [[4 + (i * 7919 + 13) % (vocab - 10) for i in range(r * SEQ, (r + 1) * SEQ)]
           for r in range(BATCH)]
    for row in ids:
        row[0], row[-1] = 0, 2
    return torch.tensor(ids, dtype=torch.int64)


def maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out) * 1e3


class Masked(torch.nn.Module):
    """Encoder, then the head only at the given flat positions."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, positions):
        h = self.model.base()(input_ids, attention_mask)["last_hidden_state"]
        rows = h.reshape(-1, h.shape[-1]).index_select(0, positions)
        return self.model.lm_head(rows)


class Full(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids, attention_mask)["logits"]


def export(model, prefix):
    ids = torch.tensor([[0, 100, 200, 300, 2]], dtype=torch.int64)
    mask = torch.ones_like(ids)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    torch.onnx.export(Full(model), (ids, mask), prefix + "-full.onnx", opset_version=14,
                      input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_axes=dict(axes, logits={0: "batch", 1: "seq"}))
    pos = torch.tensor([2], dtype=torch.int64)
    torch.onnx.export(Masked(model), (ids, mask, pos), prefix + "-masked.onnx", opset_version=14,
                      input_names=["input_ids", "attention_mask", "positions"],
                      output_names=["logits"],
                      dynamic_axes=dict(axes, positions={0: "n"}, logits={0: "n"}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ids", default="")
    ap.add_argument("--mask-pos", type=int, default=0)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--batch-reps", type=int, default=5)
    ap.add_argument("--export")
    ap.add_argument("--arch-name", default="")
    ap.add_argument("--autocast", choices=("none", "bf16"), default="none")
    a = ap.parse_args()
    if a.autocast == "bf16":
        ln = torch.nn.LayerNorm.forward
        torch.nn.LayerNorm.forward = lambda self, x: ln(self, x.float())
    torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    base_rss = maxrss_mb()
    # One load per process (a few seconds each; the driver runs one process
    # per configuration and takes the median over them).
    t = time.perf_counter()
    model = hf_models.from_pretrained(a.model).eval()
    load_ms = (time.perf_counter() - t) * 1e3
    if a.export:
        export(model, a.export)
        return
    cfg = {"threads": a.threads, "blis_threads": os.environ.get("BLIS_NUM_THREADS", "unset"),
           "blis_arch": a.arch_name or os.environ.get("BLIS_ARCH_TYPE", "default"),
           "blis_arch_type": os.environ.get("BLIS_ARCH_TYPE", "unset"), "torch": torch.__version__}
    cfg["autocast"] = a.autocast
    res = {"impl": "pytorch", "config": cfg, "load_ms": load_ms}
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.autocast == "bf16" else \
        contextlib.nullcontext

    ids = torch.tensor([[int(x) for x in a.ids.split(",")]], dtype=torch.int64)
    mask = torch.ones_like(ids)
    pos = torch.tensor([a.mask_pos], dtype=torch.int64)
    masked, full = Masked(model), Full(model)
    big = batch_ids(model.config.vocab_size)
    bmask = torch.ones_like(big)

    def fill_masked():
        with ctx():
            logits = masked(ids, mask, pos)
        return torch.softmax(logits.float(), -1).topk(5)

    def fill_full():  # what HF's pipeline does: every position's logits
        with ctx():
            logits = full(ids, mask)[0, a.mask_pos]
        return torch.softmax(logits.float(), -1).topk(5)

    def batch():
        with ctx():
            return full(big, bmask)

    res["fill_ms_masked_head"] = timed(fill_masked, a.reps, 3)
    res["fill_ms_all_logits"] = timed(fill_full, a.reps, 1)
    res["peak_rss_mb"] = maxrss_mb()
    res["runtime_rss_mb"] = base_rss
    res["batch_ms"] = timed(batch, a.batch_reps, 1)
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
