"""PyTorch reference for Hugging Face's T5ForConditionalGeneration (T5 v1.0
/ t5-small style and v1.1 / mT5 / FLAN style), eager attention. Dropout
(config.dropout_rate) sits where modeling_t5.py puts it — after each stack's
embedding lookup and final norm, on the attention probabilities, inside the
FFN after the activation, on each sublayer's output — and acts only in
train mode: the eval forward (every golden) is unchanged by it.

Written from the semantics of transformers' models/t5/modeling_t5.py and
configuration_t5.py (4.56), activations.py (gelu_new) and the tied-weight
handling of modeling_utils.py (save_pretrained writes one copy). Module
attribute names mirror HF's, so `state_dict()` keys are HF's parameter names
(`encoder.block.0.layer.0.SelfAttention.q.weight`, ...).

What each piece mirrors (modeling_t5.py unless said):
* `T5LayerNorm`                -> T5LayerNorm (RMS norm: no mean, no bias)
* `T5DenseActDense`            -> T5DenseActDense (wi, act, wo; "relu")
* `T5DenseGatedActDense`       -> T5DenseGatedActDense (act(wi_0 x) * wi_1 x, wo)
* `T5Attention`                -> T5Attention (no 1/sqrt(d) scaling, relative
                                  position bias in the first block of a stack,
                                  `_relative_position_bucket`, `compute_bias`)
* `T5Stack`                    -> T5Stack.forward (mask building as
                                  `get_extended_attention_mask`/`invert_attention_mask`
                                  and `_prepare_4d_causal_attention_mask_with_cache_position`)
* `T5ForConditionalGeneration` -> T5ForConditionalGeneration.forward (tied
                                  lm_head rescale by d_model**-0.5)
* `init_weights`               -> T5PreTrainedModel._init_weights
* `make_config`                -> T5Config.__init__ + PretrainedConfig kwargs
* `save_pretrained` / `from_pretrained` -> the HF folder layout (tied tensors once)

Deliberate differences (documented, none affects float32 results):
* float64 models compute the RMS-norm variance and the softmax in float64
  (HF upcasts to float32 only, so an HF float64 model would mix in float32);
  the float64 run is our yardstick for float32 noise, not an HF output.
* the key/value cache is a plain per-layer list (`T5Cache`), not HF's
  EncoderDecoderCache; it holds the same tensors (self-attention k/v grown one
  step at a time, cross-attention k/v computed once from the encoder output).

Run with Debian's torch: /usr/bin/python3.
"""

import json
import math
import os
from collections import OrderedDict

import torch
from torch import nn

try:
    from . import safetensors_io as st
    from .hf_models import ACTIVATIONS
except ImportError:  # run as a script from this folder
    import safetensors_io as st
    from hf_models import ACTIVATIONS


# ------------------------------------------------------------ config

# T5Config.__init__ defaults (configuration_t5.py) plus the PretrainedConfig
# ones that matter here (tie_word_embeddings True; decoder_start_token_id and
# bos_token_id None: T5Config does not set them, t5-small's config.json does).
T5_DEFAULTS = dict(
    model_type="t5", vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6,
    num_decoder_layers=None, num_heads=8, relative_attention_num_buckets=32,
    relative_attention_max_distance=128, dropout_rate=0.1, layer_norm_epsilon=1e-6,
    initializer_factor=1.0, feed_forward_proj="relu", is_encoder_decoder=True, use_cache=True,
    pad_token_id=0, eos_token_id=1, classifier_dropout=0.0, tie_word_embeddings=True,
    decoder_start_token_id=None, bos_token_id=None,
)


class T5Config(dict):
    """config.json merged over T5Config's defaults; attribute access."""

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k)


def make_config(d):
    """T5Config(**d): num_decoder_layers defaults to num_layers;
    feed_forward_proj "ACT" or "gated-ACT" gives dense_act_fn = ACT and
    is_gated_act, with "gated-gelu" meaning gelu_new (the tanh form) for
    backwards compatibility. As in PretrainedConfig, keys present in
    config.json (dense_act_fn, is_gated_act as save_pretrained writes them)
    are set as given, after T5Config computed its own."""
    if d.get("model_type", "t5") not in ("t5", "mt5"):
        raise ValueError(f"unsupported model_type {d.get('model_type')!r}")
    c = T5Config(T5_DEFAULTS)
    c.update(d)
    if c["num_decoder_layers"] is None:
        c["num_decoder_layers"] = c["num_layers"]
    ffp = c["feed_forward_proj"]
    info = ffp.split("-")
    if len(info) > 1 and info[0] != "gated" or len(info) > 2:
        raise ValueError(f"`feed_forward_proj`: {ffp} is not a valid activation function of the dense layer")
    act = "gelu_new" if ffp == "gated-gelu" else info[-1]
    gated = info[0] == "gated"
    c["dense_act_fn"] = d.get("dense_act_fn", act)
    c["is_gated_act"] = d.get("is_gated_act", gated)
    if c["dense_act_fn"] not in ACTIVATIONS:
        raise ValueError(f"activation {c['dense_act_fn']!r} not supported")
    return c


def load_config(path):
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    with open(path) as f:
        return make_config(json.load(f))


# ------------------------------------------------------------ layers

class T5LayerNorm(nn.Module):
    """RMS norm: w * h / sqrt(mean(h^2) + eps); the variance is computed in
    float32 (float64 for a float64 model, see the module docstring)."""

    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.variance_epsilon = eps

    def forward(self, h):
        vd = torch.float64 if h.dtype == torch.float64 else torch.float32
        variance = h.to(vd).pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * h


class T5DenseActDense(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wi = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.wo = nn.Linear(c.d_ff, c.d_model, bias=False)
        self.dropout = nn.Dropout(c.dropout_rate)
        self.act = ACTIVATIONS[c.dense_act_fn]

    def forward(self, x):
        return self.wo(self.dropout(self.act(self.wi(x))))


class T5DenseGatedActDense(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wi_0 = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.wi_1 = nn.Linear(c.d_model, c.d_ff, bias=False)
        self.wo = nn.Linear(c.d_ff, c.d_model, bias=False)
        self.dropout = nn.Dropout(c.dropout_rate)
        self.act = ACTIVATIONS[c.dense_act_fn]

    def forward(self, x):
        return self.wo(self.dropout(self.act(self.wi_0(x)) * self.wi_1(x)))


class T5LayerFF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.DenseReluDense = T5DenseGatedActDense(c) if c.is_gated_act else T5DenseActDense(c)
        self.layer_norm = T5LayerNorm(c.d_model, eps=c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout_rate)

    def forward(self, h):
        return h + self.dropout(self.DenseReluDense(self.layer_norm(h)))


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """T5Attention._relative_position_bucket, step for step (float32 log,
    truncation toward zero by .to(long)). relative_position = key position -
    query position. Bidirectional (encoder): half the buckets per sign
    (positive distances get the upper half), exact below num_buckets/4, then
    log-spaced up to max_distance. Causal (decoder): only key <= query counts
    (positive distances map to bucket 0), exact below num_buckets/2."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(
        relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1))
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


class T5Attention(nn.Module):
    """Self- or cross-attention. No 1/sqrt(d_kv) on the scores (folded into
    q's init); no biases; inner dim n_heads*d_kv may differ from d_model."""

    def __init__(self, c, is_decoder, has_relative_attention_bias=False):
        super().__init__()
        self.is_decoder = is_decoder
        self.has_relative_attention_bias = has_relative_attention_bias
        self.num_buckets = c.relative_attention_num_buckets
        self.max_distance = c.relative_attention_max_distance
        self.n_heads, self.d_kv = c.num_heads, c.d_kv
        self.dropout = c.dropout_rate
        self.inner_dim = c.num_heads * c.d_kv
        self.q = nn.Linear(c.d_model, self.inner_dim, bias=False)
        self.k = nn.Linear(c.d_model, self.inner_dim, bias=False)
        self.v = nn.Linear(c.d_model, self.inner_dim, bias=False)
        self.o = nn.Linear(self.inner_dim, c.d_model, bias=False)
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(self.num_buckets, self.n_heads)

    def compute_bias(self, query_positions, key_length):
        """compute_bias: [1, H, Q, K]; query_positions are the absolute
        positions of the queries (cache_position), keys are 0..K-1."""
        dev = self.relative_attention_bias.weight.device
        context_position = query_positions.to(dev)[:, None]
        memory_position = torch.arange(key_length, dtype=torch.long, device=dev)[None, :]
        bucket = relative_position_bucket(memory_position - context_position,
                                          bidirectional=not self.is_decoder,
                                          num_buckets=self.num_buckets, max_distance=self.max_distance)
        values = self.relative_attention_bias(bucket)          # [Q, K, H]
        return values.permute([2, 0, 1]).unsqueeze(0)

    def _split(self, x):
        B = x.shape[0]
        return x.view(B, -1, self.n_heads, self.d_kv).transpose(1, 2)

    def forward(self, x, position_bias, kv_states=None, cache=None, layer_idx=None):
        """x [B, Q, d_model]; position_bias [B or 1, H, Q, K] already holds the
        additive mask. Self-attention with `cache` appends this step's k/v to
        cache.self_k/self_v[layer_idx]; cross-attention computes k/v from
        kv_states once and keeps them in cache.cross_k/cross_v[layer_idx]."""
        q = self._split(self.q(x))
        if kv_states is not None:                       # cross-attention
            if cache is not None and cache.cross_k[layer_idx] is not None:
                k, v = cache.cross_k[layer_idx], cache.cross_v[layer_idx]
            else:
                k, v = self._split(self.k(kv_states)), self._split(self.v(kv_states))
                if cache is not None:
                    cache.cross_k[layer_idx], cache.cross_v[layer_idx] = k, v
        else:
            k, v = self._split(self.k(x)), self._split(self.v(x))
            if cache is not None:
                if cache.self_k[layer_idx] is not None:
                    k = torch.cat([cache.self_k[layer_idx], k], dim=2)
                    v = torch.cat([cache.self_v[layer_idx], v], dim=2)
                cache.self_k[layer_idx], cache.self_v[layer_idx] = k, v
        scores = torch.matmul(q, k.transpose(3, 2))
        scores = scores + position_bias
        sd = torch.float64 if scores.dtype == torch.float64 else torch.float32
        w = nn.functional.softmax(scores.to(sd), dim=-1).type_as(scores)
        w = nn.functional.dropout(w, p=self.dropout, training=self.training)
        out = torch.matmul(w, v).transpose(1, 2).contiguous()
        return self.o(out.view(out.shape[0], -1, self.inner_dim))


class T5LayerSelfAttention(nn.Module):
    def __init__(self, c, is_decoder, has_relative_attention_bias):
        super().__init__()
        self.SelfAttention = T5Attention(c, is_decoder, has_relative_attention_bias)
        self.layer_norm = T5LayerNorm(c.d_model, eps=c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout_rate)

    def forward(self, h, position_bias, cache=None, layer_idx=None):
        return h + self.dropout(self.SelfAttention(self.layer_norm(h), position_bias, cache=cache,
                                                   layer_idx=layer_idx))


class T5LayerCrossAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.EncDecAttention = T5Attention(c, True, has_relative_attention_bias=False)
        self.layer_norm = T5LayerNorm(c.d_model, eps=c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout_rate)

    def forward(self, h, enc, position_bias, cache=None, layer_idx=None):
        return h + self.dropout(self.EncDecAttention(self.layer_norm(h), position_bias,
                                                     kv_states=enc, cache=cache,
                                                     layer_idx=layer_idx))


class T5Block(nn.Module):
    """layer.0 self-attention, (decoder: layer.1 cross-attention), last: FF."""

    def __init__(self, c, is_decoder, has_relative_attention_bias):
        super().__init__()
        self.is_decoder = is_decoder
        self.layer = nn.ModuleList([T5LayerSelfAttention(c, is_decoder, has_relative_attention_bias)])
        if is_decoder:
            self.layer.append(T5LayerCrossAttention(c))
        self.layer.append(T5LayerFF(c))


class T5Cache:
    """Decoder key/value cache: per layer, self-attention k/v [N, H, T, d_kv]
    (grown by one position per step) and cross-attention k/v [N, H, S, d_kv]
    (from the encoder output, computed at the first step)."""

    def __init__(self, n_layers):
        self.self_k = [None] * n_layers
        self.self_v = [None] * n_layers
        self.cross_k = [None] * n_layers
        self.cross_v = [None] * n_layers

    def seq_length(self):
        return 0 if self.self_k[0] is None else self.self_k[0].shape[2]

    def reorder(self, beam_idx):
        """EncoderDecoderCache.reorder_cache: index_select every tensor on the
        batch dimension (beam search keeps the selected beams' histories)."""
        for lst in (self.self_k, self.self_v, self.cross_k, self.cross_v):
            for i, t in enumerate(lst):
                if t is not None:
                    lst[i] = t.index_select(0, beam_idx)


def _inverted_mask(mask_2d, dtype):
    """get_extended_attention_mask / invert_attention_mask: [B, K] ->
    [B, 1, 1, K] with 0 where attended and finfo(dtype).min where masked."""
    m = mask_2d[:, None, None, :].to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


def _causal_mask(mask_2d, query_positions, dtype):
    """_prepare_4d_causal_attention_mask_with_cache_position (eager): [B, 1,
    Q, K] with finfo.min where key > query position or mask_2d is 0, else 0.
    mask_2d covers every key position (past + current)."""
    B, K = mask_2d.shape
    Q = query_positions.shape[0]
    min_dtype = torch.finfo(dtype).min
    causal = torch.full((Q, K), min_dtype, dtype=dtype)
    if Q != 1:
        causal = torch.triu(causal, diagonal=1)
    causal = causal * (torch.arange(K) > query_positions.reshape(-1, 1))
    causal = causal[None, None, :, :].expand(B, 1, -1, -1).clone()
    padding = (causal + mask_2d[:, None, None, :].to(dtype)) == 0
    return causal.masked_fill(padding, min_dtype)


class T5Stack(nn.Module):
    def __init__(self, c, embed_tokens, is_decoder):
        super().__init__()
        self.config = c
        self.is_decoder = is_decoder
        self.embed_tokens = embed_tokens
        n = c.num_decoder_layers if is_decoder else c.num_layers
        self.block = nn.ModuleList([T5Block(c, is_decoder, i == 0) for i in range(n)])
        self.final_layer_norm = T5LayerNorm(c.d_model, eps=c.layer_norm_epsilon)
        self.dropout = nn.Dropout(c.dropout_rate)

    def forward(self, input_ids, attention_mask=None, encoder_hidden_states=None,
                encoder_attention_mask=None, cache=None, output_hidden_states=False):
        """T5Stack.forward. The first block computes the position bias (plus
        the additive mask) once and every block reuses it; for the decoder the
        same holds for the cross-attention "bias" (zeros plus the encoder
        mask). With a cache the queries sit at positions past..past+T-1."""
        h = self.dropout(self.embed_tokens(input_ids))
        B, T = input_ids.shape
        dtype = h.dtype
        past = cache.seq_length() if cache is not None else 0
        positions = torch.arange(past, past + T)
        if attention_mask is None:
            attention_mask = torch.ones(B, past + T, dtype=torch.long)
        if self.is_decoder:
            mask = _causal_mask(attention_mask, positions, dtype)
        else:
            mask = _inverted_mask(attention_mask, dtype)
        rel = self.block[0].layer[0].SelfAttention
        K = past + T
        position_bias = rel.compute_bias(positions, K).to(dtype)[:, :, -T:, :] + mask
        cross_bias = None
        if self.is_decoder:
            S = encoder_hidden_states.shape[1]
            if encoder_attention_mask is None:
                encoder_attention_mask = torch.ones(B, S, dtype=torch.long)
            cross_bias = torch.zeros((1, rel.n_heads, T, S), dtype=dtype) + \
                _inverted_mask(encoder_attention_mask, dtype)
        hs = []
        for i, blk in enumerate(self.block):
            if output_hidden_states:
                hs.append(h)
            h = blk.layer[0](h, position_bias, cache=cache, layer_idx=i)
            if self.is_decoder:
                h = blk.layer[1](h, encoder_hidden_states, cross_bias, cache=cache, layer_idx=i)
            h = blk.layer[-1](h)
        pre_norm = h
        h = self.dropout(self.final_layer_norm(h))
        if output_hidden_states:
            hs.append(h)
        # hidden_states as HF returns them: the input of every block, then the
        # final (normed) output; pre_final_norm: the last block's output
        return {"last_hidden_state": h, "hidden_states": hs if output_hidden_states else None,
                "pre_final_norm": pre_norm, "position_bias": position_bias}


class T5ForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model_dim = c.d_model
        self.shared = nn.Embedding(c.vocab_size, c.d_model)
        self.encoder = T5Stack(c, self.shared, is_decoder=False)
        self.decoder = T5Stack(c, self.shared, is_decoder=True)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.shared.weight

    @property
    def dtype(self):
        return self.shared.weight.dtype

    def new_cache(self):
        return T5Cache(self.config.num_decoder_layers)

    def encode(self, input_ids, attention_mask=None, output_hidden_states=False):
        return self.encoder(input_ids, attention_mask, output_hidden_states=output_hidden_states)

    def lm_logits(self, sequence_output):
        """Tied: rescale by d_model**-0.5 (a Python float; the multiply runs in
        the tensor's dtype) before projecting on the shared embedding."""
        if self.config.tie_word_embeddings:
            sequence_output = sequence_output * (self.model_dim ** -0.5)
        return self.lm_head(sequence_output)

    def decode(self, decoder_input_ids, encoder_hidden_states, encoder_attention_mask=None,
               decoder_attention_mask=None, cache=None, output_hidden_states=False):
        out = self.decoder(decoder_input_ids, decoder_attention_mask, encoder_hidden_states,
                           encoder_attention_mask, cache=cache,
                           output_hidden_states=output_hidden_states)
        out["logits"] = self.lm_logits(out["last_hidden_state"])
        return out

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None,
                decoder_attention_mask=None, encoder_outputs=None, labels=None, cache=None,
                output_hidden_states=False):
        """T5ForConditionalGeneration.forward: encoder (unless
        encoder_outputs given), decoder_input_ids from labels by shift right
        when absent, decoder, lm_head. Returns a dict with logits,
        encoder_last_hidden_state, decoder_last_hidden_state (before the
        rescale), loss when labels are given."""
        if encoder_outputs is None:
            encoder_outputs = self.encode(input_ids, attention_mask, output_hidden_states)
        enc = encoder_outputs["last_hidden_state"]
        if decoder_input_ids is None and labels is not None:
            decoder_input_ids = shift_right(labels, self.config.decoder_start_token_id,
                                            self.config.pad_token_id)
        dec = self.decode(decoder_input_ids, enc, attention_mask, decoder_attention_mask, cache,
                          output_hidden_states)
        out = {"logits": dec["logits"], "encoder_last_hidden_state": enc,
               "decoder_last_hidden_state": dec["last_hidden_state"], "cache": cache}
        if output_hidden_states:
            out["encoder_hidden_states"] = encoder_outputs["hidden_states"]
            out["decoder_hidden_states"] = dec["hidden_states"]
            out["encoder_pre_final_norm"] = encoder_outputs["pre_final_norm"]
            out["decoder_pre_final_norm"] = dec["pre_final_norm"]
        if labels is not None:
            out["loss"] = nn.functional.cross_entropy(
                dec["logits"].reshape(-1, dec["logits"].shape[-1]), labels.reshape(-1),
                ignore_index=-100)
        return out


def shift_right(labels, decoder_start_token_id, pad_token_id):
    """T5PreTrainedModel._shift_right: [start] + labels[:-1], -100 -> pad."""
    if decoder_start_token_id is None:
        raise ValueError("decoder_start_token_id has to be defined (T5 usually uses the pad id)")
    out = labels.new_zeros(labels.shape)
    out[..., 1:] = labels[..., :-1].clone()
    out[..., 0] = decoder_start_token_id
    out.masked_fill_(out == -100, pad_token_id)
    return out


# ------------------------------------------------------------ init

def init_weights(model, generator):
    """T5PreTrainedModel._init_weights with factor = initializer_factor:
    shared N(0, factor); lm_head N(0, factor) only when untied; q N(0,
    factor*(d_model*d_kv)^-0.5); k, v N(0, factor*d_model^-0.5); o N(0,
    factor*(n_heads*d_kv)^-0.5); relative_attention_bias N(0,
    factor*d_model^-0.5); wi, wi_0, wi_1 N(0, factor*d_model^-0.5); wo N(0,
    factor*d_ff^-0.5); every T5LayerNorm weight = factor*1.0. Same
    distributions as HF, drawn from `generator` in named_modules() order (HF
    draws from the global stream in module.apply order: the values differ)."""
    c = model.config
    f = c.initializer_factor
    d_model, d_kv, H, d_ff = c.d_model, c.d_kv, c.num_heads, c.d_ff
    with torch.no_grad():
        model.shared.weight.normal_(0.0, f * 1.0, generator=generator)
        if not c.tie_word_embeddings:
            model.lm_head.weight.normal_(0.0, f * 1.0, generator=generator)
        for name, m in model.named_modules():
            if isinstance(m, T5LayerNorm):
                m.weight.fill_(f * 1.0)
            elif isinstance(m, T5DenseActDense):
                m.wi.weight.normal_(0.0, f * d_model ** -0.5, generator=generator)
                m.wo.weight.normal_(0.0, f * d_ff ** -0.5, generator=generator)
            elif isinstance(m, T5DenseGatedActDense):
                m.wi_0.weight.normal_(0.0, f * d_model ** -0.5, generator=generator)
                m.wi_1.weight.normal_(0.0, f * d_model ** -0.5, generator=generator)
                m.wo.weight.normal_(0.0, f * d_ff ** -0.5, generator=generator)
            elif isinstance(m, T5Attention):
                m.q.weight.normal_(0.0, f * (d_model * d_kv) ** -0.5, generator=generator)
                m.k.weight.normal_(0.0, f * d_model ** -0.5, generator=generator)
                m.v.weight.normal_(0.0, f * d_model ** -0.5, generator=generator)
                m.o.weight.normal_(0.0, f * (H * d_kv) ** -0.5, generator=generator)
                if m.has_relative_attention_bias:
                    m.relative_attention_bias.weight.normal_(0.0, f * d_model ** -0.5,
                                                             generator=generator)
    return model


def new_model(config, seed, dtype=torch.float32):
    c = config if isinstance(config, T5Config) else make_config(config)
    model = T5ForConditionalGeneration(c)
    init_weights(model, torch.Generator().manual_seed(seed))
    return model.to(dtype).eval()


# ------------------------------------------------------------ names, save, load

# T5ForConditionalGeneration._tied_weights_keys: aliases of shared.weight
EMBED_ALIASES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")


def unique_parameters(model):
    """HF names -> parameters, shared ones once: exactly the names
    save_pretrained writes (`shared.weight`, `lm_head.weight` only when
    untied; never `encoder.embed_tokens.weight` / `decoder.embed_tokens.weight`)."""
    return OrderedDict(model.named_parameters())


def state_dict_to_save(model):
    return OrderedDict((n, p.detach().contiguous()) for n, p in unique_parameters(model).items())


def save_pretrained(model, out_dir, config_dict=None):
    """config.json (config_dict, or the model's config) + model.safetensors
    with metadata {"format": "pt"} as transformers writes it."""
    os.makedirs(out_dir, exist_ok=True)
    cfg = dict(model.config) if config_dict is None else config_dict
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    st.save_file(state_dict_to_save(model), os.path.join(out_dir, "model.safetensors"),
                 metadata={"format": "pt"})


def load_state_dict_into(model, sd, strict=True):
    """Load HF names; re-tie. `shared.weight` may come under an alias
    (encoder./decoder.embed_tokens.weight, or lm_head.weight for a tied
    model) when absent; aliases present beside it are checked and ignored
    (HF re-ties after loading, so shared's values win)."""
    c = model.config
    params = unique_parameters(model)
    sd = OrderedDict(sd)
    report = {"ignored": [], "missing": [], "unexpected": []}
    aliases = list(EMBED_ALIASES) + (["lm_head.weight"] if c.tie_word_embeddings else [])
    if "shared.weight" not in sd:
        for a in aliases:
            if a in sd:
                sd["shared.weight"] = sd[a]
                break
    with torch.no_grad():
        for k, v in sd.items():
            t = torch.as_tensor(v)
            if k in aliases and k not in params:
                same = torch.equal(t.to(torch.float64), torch.as_tensor(sd["shared.weight"]).to(torch.float64))
                report["ignored"].append(k + (" (tied copy)" if same else " (tied copy differs; shared.weight kept)"))
                continue
            if k not in params:
                report["unexpected"].append(k)
                continue
            if tuple(t.shape) != tuple(params[k].shape):
                raise ValueError(f"{k}: shape {tuple(t.shape)} != {tuple(params[k].shape)}")
            params[k].copy_(t.to(params[k].dtype))
        report["missing"] = [n for n in params if n not in sd]
    if strict and (report["missing"] or report["unexpected"]):
        raise ValueError(f"missing keys {report['missing']}, unexpected keys {report['unexpected']}")
    return report


def from_pretrained(path, dtype=torch.float32, strict=True, config_overrides=None):
    """Load an HF-layout folder: config.json + model.safetensors (or
    pytorch_model.bin through torch.load when there is no safetensors)."""
    c = load_config(path)
    if config_overrides:
        c.update(config_overrides)
        c = make_config(dict(c))
    model = T5ForConditionalGeneration(c)
    stp = os.path.join(path, "model.safetensors")
    if os.path.exists(stp):
        sd = st.load_torch(stp)
    else:
        sd = torch.load(os.path.join(path, "pytorch_model.bin"), map_location="cpu")
    report = load_state_dict_into(model, sd, strict=strict)
    model = model.to(dtype).eval()
    model.load_report = report
    return model
