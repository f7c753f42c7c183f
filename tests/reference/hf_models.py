"""PyTorch reference for Hugging Face's BertForMaskedLM, RobertaForMaskedLM
(also XLM-RoBERTa / CamemBERT) and DistilBertForMaskedLM.

Written from the semantics of transformers' modeling_bert.py,
modeling_roberta.py, modeling_distilbert.py, activations.py and the Trainer's
optimizer/scheduler setup (trainer.py, optimization.py, trainer_pt_utils.py).
Eager attention only (the "eager" implementation: explicit softmax).

Module attribute names mirror HF's so that `state_dict()` keys are HF's
parameter names (`bert.encoder.layer.0.attention.self.query.weight`, ...).

Run with Debian's torch: /usr/bin/python3.
"""

import contextlib
import json
import math
import os
from collections import OrderedDict

import torch
from torch import nn

try:
    from . import safetensors_io as st
except ImportError:  # run as a script from this folder
    import safetensors_io as st


# ------------------------------------------------------------ activations

def _gelu_new(x):
    # NewGELUActivation (gelu_new): tanh approximation written out
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def _gelu_fast(x):
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


ACTIVATIONS = {
    "gelu": lambda x: nn.functional.gelu(x),                       # exact erf
    "gelu_python": lambda x: x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0))),
    "gelu_new": _gelu_new,
    "gelu_pytorch_tanh": lambda x: nn.functional.gelu(x, approximate="tanh"),
    "gelu_fast": _gelu_fast,
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": torch.relu,
    "silu": nn.functional.silu,
    "swish": nn.functional.silu,
    "tanh": torch.tanh,
    "linear": lambda x: x,
}


class Act(nn.Module):
    """ACT2FN[name] (no parameters)."""

    def __init__(self, name):
        super().__init__()
        if name not in ACTIVATIONS:
            raise KeyError(f"activation {name!r} not supported (have {sorted(ACTIVATIONS)})")
        self.name = name
        self.fn = ACTIVATIONS[name]

    def forward(self, x):
        return self.fn(x)


# ------------------------------------------------------------ configs

# Defaults of BertConfig / RobertaConfig / DistilBertConfig.__init__ (plus
# PretrainedConfig's tie_word_embeddings=True).
BERT_DEFAULTS = dict(
    vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
    intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
    initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0,
    position_embedding_type="absolute", tie_word_embeddings=True,
)
ROBERTA_DEFAULTS = dict(BERT_DEFAULTS, vocab_size=50265, pad_token_id=1, bos_token_id=0,
                        eos_token_id=2)
DISTILBERT_DEFAULTS = dict(
    vocab_size=30522, max_position_embeddings=512, sinusoidal_pos_embds=False, n_layers=6,
    n_heads=12, dim=768, hidden_dim=4 * 768, dropout=0.1, attention_dropout=0.1,
    activation="gelu", initializer_range=0.02, qa_dropout=0.1, seq_classif_dropout=0.2,
    pad_token_id=0, tie_word_embeddings=True,
)
FAMILY = {"bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta",
          "camembert": "roberta", "distilbert": "distilbert"}
DEFAULTS = {"bert": BERT_DEFAULTS, "roberta": ROBERTA_DEFAULTS, "distilbert": DISTILBERT_DEFAULTS}


class Config(dict):
    """config.json merged over the model type's defaults; attribute access."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k)

    @property
    def family(self):
        mt = self.get("model_type")
        if mt not in FAMILY:
            raise ValueError(f"unsupported model_type {mt!r}")
        return FAMILY[mt]


def make_config(d):
    mt = d.get("model_type")
    if mt not in FAMILY:
        raise ValueError(f"unsupported model_type {mt!r}")
    c = Config(DEFAULTS[FAMILY[mt]])
    c.update(d)
    if c.family == "distilbert":
        # attribute_map of DistilBertConfig
        for hf, ours in (("hidden_size", "dim"), ("num_attention_heads", "n_heads"),
                         ("num_hidden_layers", "n_layers")):
            if hf in d and ours not in d:
                c[ours] = d[hf]
    elif c.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only position_embedding_type='absolute' is supported")
    return c


def load_config(path):
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    with open(path) as f:
        return make_config(json.load(f))


def _extended_mask(attention_mask, dtype):
    # get_extended_attention_mask: [B,T] -> [B,1,1,T]; (1 - m) * finfo.min
    m = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


def roberta_position_ids(input_ids, padding_idx, past_key_values_length=0):
    """create_position_ids_from_input_ids: positions count non-pad tokens only,
    starting at padding_idx + 1; pad tokens get padding_idx."""
    mask = input_ids.ne(padding_idx).int()
    incremental = (torch.cumsum(mask, dim=1).type_as(mask) + past_key_values_length) * mask
    return incremental.long() + padding_idx


# ------------------------------------------------------------ BERT / RoBERTa

class BertEmbeddings(nn.Module):
    def __init__(self, c, roberta=False):
        super().__init__()
        self.roberta = roberta
        self.padding_idx = c.pad_token_id
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(
            c.max_position_embeddings, c.hidden_size,
            padding_idx=c.pad_token_id if roberta else None)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def position_ids_for(self, input_ids):
        if self.roberta:
            return roberta_position_ids(input_ids, self.padding_idx)
        T = input_ids.shape[1]
        return torch.arange(T, dtype=torch.long, device=input_ids.device)[None, :].expand_as(input_ids)

    def forward(self, input_ids, token_type_ids=None, position_ids=None):
        if position_ids is None:
            position_ids = self.position_ids_for(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        emb = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        emb = emb + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(emb))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        if c.hidden_size % c.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        self.h = c.num_attention_heads
        self.d = c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(c.attention_probs_dropout_prob)

    def _split(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.h, self.d).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d)
        scores = scores + ext_mask
        probs = self.dropout(nn.functional.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.shape[0], ctx.shape[1], self.h * self.d)


class BertSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, h, inp):
        return self.LayerNorm(self.dropout(self.dense(h)) + inp)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, x, ext_mask):
        return self.output(self.self(x, ext_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.intermediate_act_fn = Act(c.hidden_act)

    def forward(self, x):
        return self.intermediate_act_fn(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.intermediate_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, h, inp):
        return self.LayerNorm(self.dropout(self.dense(h)) + inp)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, x, ext_mask):
        a = self.attention(x, ext_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c.num_hidden_layers)])


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    """BertModel / RobertaModel (add_pooling_layer=False inside *ForMaskedLM)."""

    def __init__(self, c, roberta=False, add_pooling_layer=False):
        super().__init__()
        self.config = c
        self.embeddings = BertEmbeddings(c, roberta=roberta)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c) if add_pooling_layer else None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        h = self.embeddings(input_ids, token_type_ids, position_ids)
        ext = _extended_mask(attention_mask, h.dtype)
        hs = [h]
        for layer in self.encoder.layer:
            h = layer(h, ext)
            hs.append(h)
        out = {"last_hidden_state": h, "hidden_states": hs}
        if self.pooler is not None:
            out["pooler_output"] = self.pooler(h)
        return out


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.transform_act_fn = Act(c.hidden_act)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(self.transform_act_fn(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transform = BertPredictionHeadTransform(c)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, x):
        return self.decoder(self.transform(x))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.predictions = BertLMPredictionHead(c)


class RobertaLMHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))
        self.decoder.bias = self.bias

    def forward(self, x):
        # always the exact-erf gelu, whatever config.hidden_act says
        x = nn.functional.gelu(self.dense(x))
        return self.decoder(self.layer_norm(x))


# ------------------------------------------------------------ DistilBERT

def _sinusoidal_(out):
    n_pos, dim = out.shape
    import numpy as np
    enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)]
                    for pos in range(n_pos)])
    with torch.no_grad():
        out[:, 0::2] = torch.FloatTensor(np.sin(enc[:, 0::2]))
        out[:, 1::2] = torch.FloatTensor(np.cos(enc[:, 1::2]))
    out.requires_grad = False


class DistilEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.dim, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.dim)
        self.LayerNorm = nn.LayerNorm(c.dim, eps=1e-12)   # fixed, not from config
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, input_ids):
        T = input_ids.shape[1]
        pos = torch.arange(T, dtype=torch.long, device=input_ids.device)[None, :]
        emb = self.word_embeddings(input_ids) + self.position_embeddings(pos)
        return self.dropout(self.LayerNorm(emb))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        if c.dim % c.n_heads:
            raise ValueError("dim must be a multiple of n_heads")
        self.n_heads, self.dim = c.n_heads, c.dim
        self.dropout = nn.Dropout(p=c.attention_dropout)
        self.q_lin = nn.Linear(c.dim, c.dim)
        self.k_lin = nn.Linear(c.dim, c.dim)
        self.v_lin = nn.Linear(c.dim, c.dim)
        self.out_lin = nn.Linear(c.dim, c.dim)

    def forward(self, x, mask):
        B, T, _ = x.shape
        dph = self.dim // self.n_heads

        def shape(t):
            return t.view(B, -1, self.n_heads, dph).transpose(1, 2)

        q, k, v = shape(self.q_lin(x)), shape(self.k_lin(x)), shape(self.v_lin(x))
        q = q / math.sqrt(dph)                       # scale q first
        scores = torch.matmul(q, k.transpose(2, 3))
        m = (mask == 0).view(B, 1, 1, T).expand_as(scores)
        scores = scores.masked_fill(m, torch.tensor(torch.finfo(scores.dtype).min))
        w = self.dropout(nn.functional.softmax(scores, dim=-1))
        ctx = torch.matmul(w, v).transpose(1, 2).contiguous().view(B, -1, self.n_heads * dph)
        return self.out_lin(ctx)


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dropout = nn.Dropout(p=c.dropout)
        self.lin1 = nn.Linear(c.dim, c.hidden_dim)
        self.lin2 = nn.Linear(c.hidden_dim, c.dim)
        self.activation = Act(c.activation)

    def forward(self, x):
        return self.dropout(self.lin2(self.activation(self.lin1(x))))


class TransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = MultiHeadSelfAttention(c)
        self.sa_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)
        self.ffn = FFN(c)
        self.output_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)

    def forward(self, x, mask):
        sa = self.sa_layer_norm(self.attention(x, mask) + x)
        return self.output_layer_norm(self.ffn(sa) + sa)


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([TransformerBlock(c) for _ in range(c.n_layers)])


class DistilBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.embeddings = DistilEmbeddings(c)
        self.transformer = Transformer(c)

    def forward(self, input_ids, attention_mask=None, **_):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        h = self.embeddings(input_ids)
        hs = [h]
        for layer in self.transformer.layer:
            h = layer(h, attention_mask)
            hs.append(h)
        return {"last_hidden_state": h, "hidden_states": hs}


# ------------------------------------------------------------ *ForMaskedLM

def _mlm_loss(logits, labels):
    return nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1),
                                       ignore_index=-100)   # mean over labelled tokens


class BertForMaskedLM(nn.Module):
    base_model_prefix = "bert"

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.bert = BertModel(c, roberta=False)
        self.cls = BertOnlyMLMHead(c)
        if c.tie_word_embeddings:
            self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight

    def base(self):
        return self.bert

    def head_linears(self):
        return [self.cls.predictions.decoder]

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None):
        out = self.bert(input_ids, attention_mask, token_type_ids, position_ids)
        p = self.cls.predictions
        out["logits"] = p(out["last_hidden_state"])
        if labels is not None:
            out["loss"] = _mlm_loss(out["logits"], labels)
        return out


class RobertaForMaskedLM(nn.Module):
    base_model_prefix = "roberta"

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.roberta = BertModel(c, roberta=True)
        self.lm_head = RobertaLMHead(c)
        if c.tie_word_embeddings:
            self.lm_head.decoder.weight = self.roberta.embeddings.word_embeddings.weight

    def base(self):
        return self.roberta

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                labels=None):
        out = self.roberta(input_ids, attention_mask, token_type_ids, position_ids)
        out["logits"] = self.lm_head(out["last_hidden_state"])
        if labels is not None:
            out["loss"] = _mlm_loss(out["logits"], labels)
        return out


class DistilBertForMaskedLM(nn.Module):
    base_model_prefix = "distilbert"

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.activation = Act(c.activation)
        self.distilbert = DistilBertModel(c)
        self.vocab_transform = nn.Linear(c.dim, c.dim)
        self.vocab_layer_norm = nn.LayerNorm(c.dim, eps=1e-12)
        self.vocab_projector = nn.Linear(c.dim, c.vocab_size)
        if c.tie_word_embeddings:
            self.vocab_projector.weight = self.distilbert.embeddings.word_embeddings.weight

    def base(self):
        return self.distilbert

    def forward(self, input_ids, attention_mask=None, labels=None, **_):
        out = self.distilbert(input_ids, attention_mask)
        x = self.vocab_layer_norm(self.activation(self.vocab_transform(out["last_hidden_state"])))
        out["logits"] = self.vocab_projector(x)
        if labels is not None:
            out["loss"] = _mlm_loss(out["logits"], labels)
        return out


MLM_CLASSES = {"bert": BertForMaskedLM, "roberta": RobertaForMaskedLM,
               "distilbert": DistilBertForMaskedLM}


def build_mlm(c):
    return MLM_CLASSES[c.family](c)


# ------------------------------------------------------------ init

def init_weights(model, generator, std=None):
    """PreTrainedModel._init_weights for every module, then the MLM head bias
    zeroed. Linear: N(0, initializer_range), bias 0; Embedding: N(0, ir) with
    the padding_idx row zeroed; LayerNorm: weight 1, bias 0. A Linear whose
    weight is tied to an embedding is skipped (HF initialises it and then ties,
    so the embedding's values survive)."""
    c = model.config
    std = c.initializer_range if std is None else std
    emb_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Linear):
                if id(m.weight) not in emb_weights:
                    m.weight.normal_(0.0, std, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, std, generator=generator)
                if m.padding_idx is not None:
                    m.weight[m.padding_idx].zero_()
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()
        if c.family == "distilbert" and c.get("sinusoidal_pos_embds"):
            _sinusoidal_(model.distilbert.embeddings.position_embeddings.weight)
    return model


def perturb_(model, generator, bias_std=0.05, ln_std=0.1):
    """Not HF: give every bias N(0, bias_std) and every LayerNorm weight
    1 + N(0, ln_std) (LayerNorm bias N(0, bias_std)) so that parity tests
    exercise them (HF's init leaves them 0 / 1)."""
    with torch.no_grad():
        for name, p in unique_parameters(model).items():
            if name.endswith("bias"):
                p.normal_(0.0, bias_std, generator=generator)
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.add_(torch.empty_like(m.weight).normal_(0.0, ln_std, generator=generator))
    return model


def new_model(config, seed, perturb=True, dtype=torch.float32):
    c = config if isinstance(config, Config) else make_config(config)
    torch.manual_seed(seed)   # nothing should draw from it, but be safe
    model = build_mlm(c)
    g = torch.Generator().manual_seed(seed)
    init_weights(model, g)
    if perturb:
        perturb_(model, g)
    return model.to(dtype)


# ------------------------------------------------------------ names, save, load

def unique_parameters(model):
    """HF names -> parameters, each shared parameter once, under the first
    name `named_parameters()` meets (the embedding, `cls.predictions.bias`,
    `lm_head.bias`)."""
    return OrderedDict(model.named_parameters())


def tied_aliases(model):
    """alias name -> canonical name for every parameter registered twice."""
    canon = {}
    out = OrderedDict()
    every = [(mn + ("." if mn else "") + pn, p)
             for mn, m in model.named_modules(remove_duplicate=False)
             for pn, p in m._parameters.items() if p is not None]
    for n, p in every:
        if id(p) in canon:
            out[n] = canon[id(p)]
        else:
            canon[id(p)] = n
    return out


def save_pretrained(model, out_dir, extra_config=None):
    """config.json + model.safetensors (tied tensors stored once, metadata
    {"format": "pt"} as transformers writes)."""
    os.makedirs(out_dir, exist_ok=True)
    c = dict(model.config)
    if extra_config:
        c.update(extra_config)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")
    sd = {n: p.detach().contiguous() for n, p in unique_parameters(model).items()}
    st.save_file(sd, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})


def _normalise_keys(sd, model):
    """Apply the renames transformers does on load; return (sd, ignored)."""
    prefix = model.base_model_prefix
    ignored = []
    out = OrderedDict()
    has_prefix = any(k.startswith(prefix + ".") for k in sd)
    for k, v in sd.items():
        nk = k
        if nk.endswith(".gamma"):
            nk = nk[:-len(".gamma")] + ".weight"
        elif nk.endswith(".beta"):
            nk = nk[:-len(".beta")] + ".bias"
        if not has_prefix and not nk.startswith(("cls.", "lm_head.", "vocab_")):
            nk = prefix + "." + nk
        out[nk] = v
    final = OrderedDict()
    for k, v in out.items():
        if (k.endswith("embeddings.position_ids") or k.endswith("embeddings.token_type_ids")
                or ".pooler." in k or k.startswith("cls.seq_relationship.")
                or k.startswith(("classifier.", "pre_classifier.", "qa_outputs."))):
            ignored.append(k)
            continue
        final[k] = v
    return final, ignored


def load_state_dict_into(model, sd, strict=True):
    sd, ignored = _normalise_keys(sd, model)
    params = unique_parameters(model)
    aliases = tied_aliases(model)
    missing = [n for n in params if n not in sd and not any(
        a in sd for a, cn in aliases.items() if cn == n)]
    unexpected = []
    with torch.no_grad():
        for k, v in sd.items():
            target = k if k in params else aliases.get(k)
            if target is None:
                unexpected.append(k)
                continue
            t = torch.as_tensor(v)
            if tuple(t.shape) != tuple(params[target].shape):
                raise ValueError(f"{k}: shape {tuple(t.shape)} != {tuple(params[target].shape)}")
            if k != target and k in sd and target in sd:
                # both the tied alias and the canonical tensor are stored
                if not torch.equal(sd[target].to(params[target].dtype), t.to(params[target].dtype)):
                    ignored.append(k + " (tied copy differs; canonical kept)")
                else:
                    ignored.append(k + " (tied copy)")
                continue
            params[target].copy_(t.to(params[target].dtype))
    if strict and (missing or unexpected):
        raise ValueError(f"missing keys {missing}, unexpected keys {unexpected}")
    return {"missing": missing, "unexpected": unexpected, "ignored": ignored}


def from_pretrained(path, dtype=torch.float32, strict=True, config_overrides=None):
    """Load an HF-layout folder (config.json + model.safetensors); re-ties."""
    c = load_config(path)
    if config_overrides:
        c.update(config_overrides)
    model = build_mlm(c)
    sd = st.load_torch(os.path.join(path, "model.safetensors"))
    report = load_state_dict_into(model, sd, strict=strict)
    model = model.to(dtype)
    model.load_report = report
    return model


def load_bert_encoder(path, state_dict=None, dtype=torch.float32):
    """BertModel with pooler (encoder-only) from a folder or a state dict with
    `bert.`-prefixed keys (a BertForSequenceClassification, say)."""
    c = load_config(path)
    enc = BertModel(c, roberta=c.family == "roberta", add_pooling_layer=True)
    if state_dict is None:
        state_dict = st.load_torch(os.path.join(path, "model.safetensors"))
    prefix = "roberta." if c.family == "roberta" else "bert."
    sd = {}
    for k, v in state_dict.items():
        if not k.startswith(prefix) or k.endswith("position_ids") or k.endswith("token_type_ids"):
            continue
        k = k[len(prefix):]
        if k.endswith(".gamma"):
            k = k[:-6] + ".weight"
        elif k.endswith(".beta"):
            k = k[:-5] + ".bias"
        sd[k] = v
    enc.load_state_dict(sd, strict=True)
    return enc.to(dtype)


# ------------------------------------------------------------ Trainer's optimizer

def get_parameter_names(model, forbidden_layer_types, forbidden_name_patterns=()):
    """trainer_pt_utils.get_parameter_names: names of parameters not inside a
    forbidden layer type (recursively) and not matching a name pattern."""
    import re
    pats = [re.compile(p) for p in forbidden_name_patterns]
    result = []
    for name, child in model.named_children():
        result += [f"{name}.{n}" for n in get_parameter_names(child, forbidden_layer_types, forbidden_name_patterns)
                   if not isinstance(child, tuple(forbidden_layer_types))
                   and not any(p.search(f"{name}.{n}".lower()) for p in pats)]
    result += [k for k in model._parameters.keys() if not any(p.search(k.lower()) for p in pats)]
    return result


# Trainer.get_decay_parameter_names (transformers 4.56 trainer.py): the
# parameters of nn.LayerNorm modules and the names (lowercased) matching one
# of these patterns get no weight decay. T5LayerNorm is no nn.LayerNorm, but
# its weights' names ("layer_norm.weight", "final_layer_norm.weight") match
# "_norm", and T5's "relative_attention_bias.weight" matches "bias".
DECAY_FORBIDDEN_PATTERNS = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)",
                            r"_norm(?:$|\.)"]


def decay_parameter_names(model):
    """Trainer.get_decay_parameter_names."""
    return get_parameter_names(model, [nn.LayerNorm], DECAY_FORBIDDEN_PATTERNS)


def make_optimizer(model, lr, weight_decay, betas=(0.9, 0.999), eps=1e-8):
    """Trainer.create_optimizer with optim='adamw_torch': two groups."""
    decay = set(decay_parameter_names(model))
    params = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in params if n in decay and p.requires_grad],
         "weight_decay": weight_decay},
        {"params": [p for n, p in params if n not in decay and p.requires_grad],
         "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def linear_schedule_lambda(num_warmup_steps, num_training_steps):
    """optimization.get_linear_schedule_with_warmup's lr_lambda."""
    def f(step):
        if step < num_warmup_steps:
            return float(step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - step) /
                   float(max(1, num_training_steps - num_warmup_steps)))
    return f


def make_scheduler(optimizer, num_warmup_steps, num_training_steps):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_schedule_lambda(num_warmup_steps, num_training_steps))


def train_step(model, batch, optimizer, scheduler, max_grad_norm=1.0, on_grads=None,
               autocast=None):
    """One Trainer step: forward, backward, clip_grad_norm_, step, schedule,
    zero_grad. Returns (loss, total_norm_before_clipping, lr_used).
    autocast: a context (torch.autocast(...)) the forward and loss run in,
    as the Trainer's bf16/fp16 wrap compute_loss; the backward runs outside."""
    model.train()
    with autocast if autocast is not None else contextlib.nullcontext():
        out = model(**batch)
    loss = out["loss"]
    loss.backward()
    if on_grads is not None:
        on_grads(model)
    # clip coef = min(1, max_norm / (total_norm + 1e-6)), total_norm = 2-norm
    # of the per-parameter 2-norms
    total_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    lr = optimizer.param_groups[0]["lr"]
    optimizer.step()
    scheduler.step()
    model.zero_grad(set_to_none=True)
    return loss.detach(), total_norm.detach(), lr
