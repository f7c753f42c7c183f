"""PyTorch reference timing for the T5 summarization bench (issue #13):
tests/reference/t5_generate.py's generate() (k/v cache on) on a 128-token
input, exactly NEW new tokens (min_new_tokens = max_new_tokens, so a random
model's early </s> cannot shorten a run), greedy and beam 4, batch 1 and 8.
One thread count per process: BLIS reads BLIS_NUM_THREADS when torch loads
it, so this script sets it (unless already set) before importing torch.
Prints one JSON line per row.

    /usr/bin/python3 bench/t5_generate_ref.py MODEL_DIR --threads N
        [--modes greedy,beam4] [--batches 1,8] [--new 32] [--reps 3] [--autocast bf16]
    (--autocast bf16: generate() inside torch.autocast("cpu", bfloat16), PyTorch's
    bf16 inference on CPUs with AVX512-BF16 or AMX)

MODEL_DIR: a T5 folder, e.g. from
    /usr/bin/python3 tests/reference/make_t5.py checkpoint v1.0 t5-small DIR
The input ids are t5_inputs.json's bench_128 for the folder's tokenizer
(summarize: + English/Korean sentences, cut to 127 ids, then </s>); every row
of a batch is that input.
"""

import argparse
import json
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--modes", default="greedy,beam4")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--autocast", choices=("none", "bf16"), default="none")
    args = ap.parse_args()
    os.environ.setdefault("BLIS_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import torch
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "tests", "reference"))
    import make_t5
    import t5_generate as tg
    import t5_models as tm

    torch.set_num_threads(args.threads)
    model = tm.from_pretrained(args.model)
    gc = tg.model_generation_config(args.model, dict(model.config))
    _, _, t = make_t5.inputs_for(args.model)
    row = t["bench_128"]
    for mode in args.modes.split(","):
        nb = 1 if mode == "greedy" else int(mode.replace("beam", ""))
        for B in (int(x) for x in args.batches.split(",")):
            ids = torch.tensor([row] * B, dtype=torch.long)
            am = torch.ones_like(ids)
            opts = dict(max_new_tokens=args.new, min_new_tokens=args.new, num_beams=nb)

            def run():
                if args.autocast == "bf16":   # PyTorch's bf16 inference on CPU
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        return tg.generate(model, ids, am, generation_config=gc,
                                           **opts)["sequences"]
                return tg.generate(model, ids, am, generation_config=gc, **opts)["sequences"]

            out = run()                       # warm-up
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                run()
                times.append(time.perf_counter() - t0)
            ms = statistics.median(times) * 1e3
            print(json.dumps({
                "impl": "pytorch-reference", "torch": torch.__version__, "autocast": args.autocast, "model": os.path.basename(
                    os.path.abspath(args.model)), "mode": mode, "batch": B, "threads": args.threads,
                "input_tokens": ids.shape[1], "new_tokens": int(out.shape[1] - 1), "reps": args.reps,
                "median_ms": round(ms, 2), "tokens_per_s": round(B * args.new / (ms / 1e3), 1)}),
                flush=True)


if __name__ == "__main__":
    main()
