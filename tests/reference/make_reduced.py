"""Goldens of a bf16 or int8 model (mlm_model_set_dtype): the
PyTorch reference models (hf_models.py, t5_models.py: transformers'
semantics) with every nn.Linear computing

    F.linear(x.to(bfloat16).float(), W.to(bfloat16).float(), b)

— both operands rounded to bfloat16 (round to nearest even, torch's and
vcvtneps2bf16's rule for normal numbers), products and sums in float32, the
bias and everything else float32 — and the word embedding table (T5:
shared) rounded to bfloat16, which is what libmlm's bf16 model stores and
computes. Position tables, T5's relative attention bias, the norms, the
attention products (activations only) stay float32, as in libmlm.

int8 (--int8): every nn.Linear is ONNX Runtime's dynamic quantization per
row, as nn/ops/gemm_i8.c states it, in float32 with true divisions and
round-half-even (torch.round):
    weights per output row:  sw = max|W|/127 (1 below FLT_MIN),
                             q = clamp(round(W/sw), -127, 127)
    activations per row:     lo = min(0, min x), hi = max(0, max x),
                             sa = (hi-lo)/255 (1 below FLT_MIN),
                             z = round(clamp(0 - lo/sa, 0, 255)),
                             u = clamp(round(x/sa) + z, 0, 255)
    out = (sa*sw) * float(sum u*q - z*sum q)  (+ bias)
the integer sums exact (float64); the word embedding table (T5: shared)
becomes sw*q, its rows dequantized, while a tied head quantizes the
original float32 weights as libmlm does.

    /usr/bin/python3 tests/reference/make_reduced.py [--int8] encoder NAME
        tests/data/goldens/NAME/forward_bf16.safetensors (forward_int8) from the inputs of
        the committed tests/data/goldens/NAME/forward.safetensors and the
        checkpoint tests/data/models/NAME (tiny-roberta, tiny-bert,
        tiny-distilbert).
    /usr/bin/python3 tests/reference/make_reduced.py [--int8] t5 MODEL_DIR GOLDEN_DIR OUT
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


FLT_MIN = torch.finfo(torch.float32).tiny


def i8_weight(W):
    sw = W.abs().amax(1) / 127.0
    sw = torch.where(sw < FLT_MIN, torch.ones_like(sw), sw)
    q = torch.clamp(torch.round(W / sw[:, None]), -127, 127)
    return q, sw


def i8_linear(self, x):
    q, sw = self._i8
    A = x.reshape(-1, x.shape[-1])
    zero = torch.zeros(A.shape[0])
    lo, hi = torch.minimum(zero, A.amin(1)), torch.maximum(zero, A.amax(1))
    sa = (hi - lo) / 255.0
    sa = torch.where(sa < FLT_MIN, torch.ones_like(sa), sa)
    z = torch.round(torch.clamp(0.0 - lo / sa, 0, 255))
    u = torch.clamp(torch.round(A / sa[:, None]) + z[:, None], 0, 255)
    d = u.double() @ q.double().t() - z.double()[:, None] * q.double().sum(1)[None, :]
    out = (sa[:, None] * sw[None, :]) * d.float()
    if self.bias is not None:
        out = out + self.bias
    return out.reshape(*x.shape[:-1], q.shape[0])


INT8 = False


def prepare_(model, emb):
    """Rounds (bf16) or quantizes (int8) the word embedding table in place;
    int8 first quantizes every Linear from its float32 weight, so that a
    head tied to the table reads the original weights, as libmlm's does."""
    with torch.no_grad():
        if INT8:
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    m._i8 = i8_weight(m.weight.detach().clone())
            q, sw = i8_weight(emb.weight.detach().clone())
            emb.weight.copy_(sw[:, None] * q)
        else:
            emb.weight.copy_(bf16(emb.weight))


@torch.no_grad()
def encoder(name):
    golden = os.path.join(ROOT, "tests", "data", "goldens", name)
    g = st.load_torch(os.path.join(golden, "forward.safetensors"))
    model = hf.from_pretrained(os.path.join(ROOT, "tests", "data", "models", name)).eval()
    words = [m for n, m in model.named_modules() if n.endswith("embeddings.word_embeddings")]
    assert len(words) == 1, "one word embedding table expected"
    prepare_(model, words[0])
    batch = {k: g[k].long() for k in ("input_ids", "attention_mask", "token_type_ids") if k in g}
    out = model(**batch)
    st.save_file({"logits": out["logits"].contiguous()},
                 os.path.join(golden, "forward_int8.safetensors" if INT8 else
                              "forward_bf16.safetensors"),
                 metadata={"format": "pt", "model": name, "made_by": "make_reduced.py encoder"})


@torch.no_grad()
def t5(model_dir, golden_dir, out_path):
    g = st.load_torch(os.path.join(golden_dir, "forward.safetensors"))
    model = tm.from_pretrained(model_dir).eval()
    prepare_(model, model.shared)
    out = model(input_ids=g["input_ids"].long(), attention_mask=g["attention_mask"].long(),
                decoder_input_ids=g["decoder_input_ids"].long(),
                decoder_attention_mask=g["decoder_attention_mask"].long())
    st.save_file({"logits": out["logits"].contiguous(),
                  "encoder_last_hidden_state": out["encoder_last_hidden_state"].contiguous()},
                 out_path, metadata={"format": "pt", "made_by": "make_reduced.py t5"})


def main(argv):
    global INT8
    torch.set_num_threads(1)
    if argv[:1] == ["--int8"]:
        INT8, argv = True, argv[1:]
    nn.Linear.forward = i8_linear if INT8 else bf16_linear
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
