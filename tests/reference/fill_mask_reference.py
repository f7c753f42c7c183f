"""The model half of transformers' FillMaskPipeline, for
tests/gen_fill_mask_goldens.js (which does the tokenizer half with HF's
Node binding). Never part of `make check`.

    /usr/bin/python3 tests/reference/fill_mask_reference.py MODEL_DIR < items.json

stdin: {"mask_id": M, "items": [{"ids": [...], "top_k": K, "target_ids": [...] | null}]}
stdout: {"items": [{"k": K', "values": [[...]], "predictions": [[...]],
                    "target_ids": [...] | null, "min_logit_gap": g}]}

Follows FillMaskPipeline.postprocess / get_target_ids (transformers 4.4x):
one forward per text (batch 1, no padding, attention mask all ones, token
types 0), `probs = logits[0, masked_index].softmax(-1)` in float32, targets
as `list(set(ids))` (their order is Python's set order; it only matters for
ties) and `probs[..., target_ids]`, top_k capped at the number of targets,
`probs.topk(top_k)`. `values` are the float32 scores (exact as doubles).
`min_logit_gap` is the smallest difference between consecutive logits among
the top k+1 candidates of every mask: how far apart the ranking is compared
with float32 noise (~1e-6). `f32_vs_f64` is the largest difference between
the float32 softmax and the same model's float64 one over the candidates of
every mask: the float32 noise floor of the scores (an ill-conditioned
checkpoint would show it here; the generator refuses more than 1e-6).
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_models as hf  # noqa: E402


def main(argv):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    model = hf.from_pretrained(argv[0]).eval()
    model64 = hf.from_pretrained(argv[0], dtype=torch.float64).eval()
    req = json.load(sys.stdin)
    mask_id = req["mask_id"]
    out = []
    for it in req["items"]:
        ids = torch.tensor([it["ids"]], dtype=torch.long)
        with torch.no_grad():
            logits = model(ids, attention_mask=torch.ones_like(ids))["logits"]
            logits64 = model64(ids, attention_mask=torch.ones_like(ids))["logits"]
        masked_index = torch.nonzero(ids[0] == mask_id, as_tuple=False).squeeze(-1)
        lg = logits[0, masked_index, :]
        probs = lg.softmax(dim=-1)
        probs64 = logits64[0, masked_index, :].softmax(dim=-1)
        top_k = it["top_k"]
        target_ids = None
        if it.get("target_ids") is not None:
            target_ids = list(set(it["target_ids"]))
            if len(target_ids) < top_k:
                top_k = len(target_ids)
            probs = probs[..., target_ids]
            probs64 = probs64[..., target_ids]
            lg = lg[..., target_ids]
        values, predictions = probs.topk(top_k)
        if target_ids is not None:
            predictions = torch.tensor(target_ids)[predictions]
        n = min(top_k + 1, lg.shape[-1])
        top_logits = lg.topk(n).values
        gap = float((top_logits[:, :-1] - top_logits[:, 1:]).min()) if n > 1 else float("inf")
        f64 = float((probs.double() - probs64).abs().max())
        out.append(dict(k=top_k, values=values.tolist(), predictions=predictions.tolist(),
                        target_ids=target_ids, min_logit_gap=gap, f32_vs_f64=f64))
    json.dump({"items": out}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
