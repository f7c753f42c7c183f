"""PyTorch peer of bench/t5_bench.c for bench/run_t5_bench.sh: the T5
reference (tests/reference/t5_models.py) and its generate()
(tests/reference/t5_generate.py, transformers 4.56's algorithm, cached
decoding), on the same 128-token input into exactly 32 new tokens. One
configuration per process (BLIS reads BLIS_NUM_THREADS / BLIS_ARCH_TYPE when
torch loads it). Prints one JSON line shaped like t5_bench's.

    t5_torch_peer.py MODEL_DIR --mode greedy|beam4 --batch N --threads N [--reps R]

Run with /usr/bin/python3 (Debian's torch 1.13)."""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import t5_generate as tg  # noqa: E402
import t5_models as tm  # noqa: E402

NEW_TOKENS = 32


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--mode", default="greedy", choices=["greedy", "beam4"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(os.path.join(HERE, "..", "tests", "reference", "t5_inputs.json")) as f:
        one = json.load(f)["tokenizers"]["t5-small"]["bench_128"]
    ids = torch.tensor([one] * a.batch, dtype=torch.int64)
    mask = torch.ones_like(ids)
    model = tm.from_pretrained(a.model)
    gc = tg.model_generation_config(a.model, dict(model.config))
    beams = 4 if a.mode == "beam4" else 1

    def run(n):
        t = time.perf_counter()
        tg.generate(model, ids, mask, generation_config=gc, num_beams=beams, max_new_tokens=n,
                    min_new_tokens=n)
        return time.perf_counter() - t

    run(1)
    first = run(1)
    run(NEW_TOKENS)
    t = statistics.median([run(NEW_TOKENS) for _ in range(a.reps)])
    print(json.dumps({
        "impl": "pytorch", "mode": a.mode, "batch": a.batch, "threads": a.threads,
        "input_tokens": len(one), "new_tokens": NEW_TOKENS, "seconds": round(t, 4),
        "tokens_per_s": round(a.batch * NEW_TOKENS / t, 2),
        "ms_per_token": round(t / NEW_TOKENS * 1e3, 3),
        "decode_ms_per_token": round((t - first) / (NEW_TOKENS - 1) * 1e3, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "blis_arch_type": os.environ.get("BLIS_ARCH_TYPE", "")}))


if __name__ == "__main__":
    main()
