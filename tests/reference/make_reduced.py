"""Goldens of a bf16 model (mlm_model_set_dtype(MLM_DTYPE_BF16)): the
PyTorch reference models (hf_models.py, t5_models.py: transformers'
semantics) with every nn.Linear computing

    F.linear(x.to(bfloat16).float(), W.to(bfloat16).float(), b)

— both operands rounded to bfloat16 (round to nearest even, torch's and
vcvtneps2bf16's rule for normal numbers), products and sums in float32, the
bias and everything else float32 — and the word embedding table (T5:
shared) rounded to bfloat16, which is what libmlm's bf16 model stores and
computes. Position tables, T5's relative attention bias, the norms, the
attention products (activations only) stay float32, as in libmlm.

    /usr/bin/python3 tests/reference/make_reduced.py encoder NAME
        tests/data/goldens/NAME/forward_bf16.safetensors from the inputs of
        the committed tests/data/goldens/NAME/forward.safetensors and the
        checkpoint tests/data/models/NAME (tiny-roberta, tiny-bert,
        tiny-distilbert).
    /usr/bin/python3 tests/reference/make_reduced.py t5 MODEL_DIR GOLDEN_DIR OUT
        OUT (a safetensors file) for a T5 checkpoint from the inputs of
        GOLDEN_DIR/forward.safetensors (make_t5.py's goldens).

Deterministic: one torch thread.
"""

import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_models as hf  # noqa: E402
import safetensors_io as st  # noqa: E402
import t5_models as tm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))


def bf16(x):
    return x.to(torch.bfloat16).float()


def bf16_linear(self, x):
    return F.linear(bf16(x), bf16(self.weight), self.bias)


def reduce_(emb):
    """Rounds an nn.Embedding's table in place (a tied head shares it)."""
    with torch.no_grad():
        emb.weight.copy_(bf16(emb.weight))


@torch.no_grad()
def encoder(name):
    golden = os.path.join(ROOT, "tests", "data", "goldens", name)
    g = st.load_torch(os.path.join(golden, "forward.safetensors"))
    model = hf.from_pretrained(os.path.join(ROOT, "tests", "data", "models", name)).eval()
    words = [m for n, m in model.named_modules() if n.endswith("embeddings.word_embeddings")]
    assert len(words) == 1, "one word embedding table expected"
    reduce_(words[0])
    batch = {k: g[k].long() for k in ("input_ids", "attention_mask", "token_type_ids") if k in g}
    out = model(**batch)
    st.save_file({"logits": out["logits"].contiguous()},
                 os.path.join(golden, "forward_bf16.safetensors"),
                 metadata={"format": "pt", "model": name, "made_by": "make_reduced.py encoder"})


@torch.no_grad()
def t5(model_dir, golden_dir, out_path):
    g = st.load_torch(os.path.join(golden_dir, "forward.safetensors"))
    model = tm.from_pretrained(model_dir).eval()
    reduce_(model.shared)
    out = model(input_ids=g["input_ids"].long(), attention_mask=g["attention_mask"].long(),
                decoder_input_ids=g["decoder_input_ids"].long(),
                decoder_attention_mask=g["decoder_attention_mask"].long())
    st.save_file({"logits": out["logits"].contiguous(),
                  "encoder_last_hidden_state": out["encoder_last_hidden_state"].contiguous()},
                 out_path, metadata={"format": "pt", "made_by": "make_reduced.py t5"})


def main(argv):
    torch.set_num_threads(1)
    nn.Linear.forward = bf16_linear
    if len(argv) == 2 and argv[0] == "encoder":
        encoder(argv[1])
    elif len(argv) == 4 and argv[0] == "t5":
        t5(argv[1], argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
