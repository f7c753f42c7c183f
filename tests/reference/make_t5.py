"""T5 checkpoints and goldens for libmlm's T5 parity tests (issue #13).

    /usr/bin/python3 tests/reference/make_t5.py checkpoint STYLE SHAPE OUT_DIR [--seed N]
        STYLE v1.0 (relu FFN, tied lm_head with the d_model**-0.5 rescale) or
        v1.1 (gated-gelu FFN, untied lm_head, no rescale); SHAPE tiny or
        t5-small. Writes config.json, model.safetensors, generation_config.json,
        tokenizer.json, tokenizer_config.json. Same bytes every run.
    /usr/bin/python3 tests/reference/make_t5.py caikit OUT_DIR
        tests/data/models/tiny-random-t5-caikit/pytorch_model.bin converted to
        model.safetensors with the names save_pretrained writes, beside its
        config.json, generation_config.json and tokenizer files.
    /usr/bin/python3 tests/reference/make_t5.py goldens MODEL_DIR OUT_DIR [--quick]
        forward.safetensors + forward.json + generate.json for any of the
        above (see tests/reference/README.md for the formats). --quick skips
        the uncached and float64 re-runs of the generation cases (their
        checks are then reported as null).
    /usr/bin/python3 tests/reference/make_t5.py
        rewrites the committed goldens tests/data/goldens/t5-tiny-v1.0,
        t5-tiny-v1.1, t5-caikit (checkpoints made in a temporary folder).

Deterministic: fixed seeds, one torch thread, deterministic algorithms.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io as st  # noqa: E402
import t5_generate as tg  # noqa: E402
import t5_models as tm  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GOLDEN_DIR = os.path.join(ROOT, "tests", "data", "goldens")
CAIKIT_SRC = os.path.join(ROOT, "tests", "data", "models", "tiny-random-t5-caikit")
T5_SMALL_TOKENIZER = os.path.join(ROOT, "tests", "data", "tokenizers", "t5-small")
INPUTS = os.path.join(HERE, "t5_inputs.json")
TRANSFORMERS_VERSION = "4.56.0"

# Odd sizes for the tiny shape: n_heads*d_kv = 48 != d_model = 40, d_ff 37,
# encoder and decoder depths differ, 16 buckets with max_distance 20 so that
# the log-spaced buckets and their clipping show up in short inputs. Vocab
# 1302 = the caikit tiny T5 tokenizer's.
SHAPES = {
    "tiny": dict(vocab_size=1302, d_model=40, d_kv=12, num_heads=4, d_ff=37, num_layers=2,
                 num_decoder_layers=3, relative_attention_num_buckets=16,
                 relative_attention_max_distance=20),
    "t5-small": dict(vocab_size=32128, d_model=512, d_kv=64, num_heads=8, d_ff=2048, num_layers=6,
                     num_decoder_layers=6, relative_attention_num_buckets=32,
                     relative_attention_max_distance=128),
}
TOKENIZER_OF_SHAPE = {"tiny": CAIKIT_SRC, "t5-small": T5_SMALL_TOKENIZER}
STYLES = {
    "v1.0": dict(feed_forward_proj="relu", tie_word_embeddings=True),
    "v1.1": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False),
}
SEEDS = {("v1.0", "tiny"): 5101, ("v1.1", "tiny"): 5102, ("v1.0", "t5-small"): 5201,
         ("v1.1", "t5-small"): 5202}
# t5-small's config.json task_specific_params["summarization"]
SUMMARIZATION = {"early_stopping": True, "length_penalty": 2.0, "max_length": 200, "min_length": 30,
                 "no_repeat_ngram_size": 3, "num_beams": 4, "prefix": "summarize: "}
GENERATION_CONFIG = {"_from_model_config": True, "decoder_start_token_id": 0, "eos_token_id": 1,
                     "pad_token_id": 0, "transformers_version": TRANSFORMERS_VERSION}
# "Not HF" perturbations of the random checkpoints (see calibrate_eos_ and
# the README): RMS-norm weights 1 + N(0, LN_STD); the </s> row moved so that
# the model ends hypotheses at varied lengths (EOS_TARGET of teacher-forced
# positions pick </s>).
LN_STD = 0.1
EOS_TARGET = 0.12
# Tied (v1.0) checkpoints only: shared.weight * TIED_EMBED_SCALE and the
# decoder's final_layer_norm.weight / TIED_EMBED_SCALE (logits keep their
# size). With HF's N(0, 1) embedding a random tied T5 copies its last input
# token forever (the residual stream carries e_x, whose logit is ~ sqrt(d) *
# cos(h, e_x)): t5-small-shaped, greedy emits the start token 0 at every step.
TIED_EMBED_SCALE = 0.1
# Margin rule: a decision is kept when its gap is >= MARGIN_REL times the
# magnitude of what is compared (see _margins). float32 logits differ from
# float64 ones by ~2e-7 of their size here (forward.json), and a beam score
# (a sum of log-probs) keeps about that relative error; 1e-5 leaves a factor
# of ~50 for another float32 implementation's different rounding.
MARGIN_REL = 1e-5
# t5-small-sized models: uncached/float64 re-runs for every CHECK_EVERY-th
# case only, and at most BIG_TRIES batches per case
CHECK_EVERY = 8
BIG_TRIES = 3


def _setup():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------ checkpoints

def config_dict(style, shape):
    """config.json as save_pretrained writes a T5 config (t5-small's keys,
    plus those a 4.56 T5Config serialises)."""
    s = SHAPES[shape]
    d = dict(
        architectures=["T5ForConditionalGeneration"], model_type="t5",
        vocab_size=s["vocab_size"], d_model=s["d_model"], d_kv=s["d_kv"], d_ff=s["d_ff"],
        num_layers=s["num_layers"], num_decoder_layers=s["num_decoder_layers"],
        num_heads=s["num_heads"], relative_attention_num_buckets=s["relative_attention_num_buckets"],
        relative_attention_max_distance=s["relative_attention_max_distance"], dropout_rate=0.1,
        classifier_dropout=0.0, layer_norm_epsilon=1e-6, initializer_factor=1.0,
        feed_forward_proj=STYLES[style]["feed_forward_proj"],
        dense_act_fn="relu" if style == "v1.0" else "gelu_new", is_gated_act=style == "v1.1",
        tie_word_embeddings=STYLES[style]["tie_word_embeddings"], is_encoder_decoder=True,
        use_cache=True, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        n_positions=512, output_past=True,
        task_specific_params={"summarization": SUMMARIZATION},
        torch_dtype="float32", transformers_version=TRANSFORMERS_VERSION)
    return d


def _calibration_batch(c, seed):
    g = torch.Generator().manual_seed(seed)
    V = c.vocab_size
    enc = torch.randint(3, V, (8, 24), generator=g)
    enc[:, -1] = 1
    dec = torch.randint(3, V, (8, 16), generator=g)
    dec[:, 0] = 0
    return enc, dec


def _eos_row(model):
    return model.shared.weight if model.config.tie_word_embeddings else model.lm_head.weight


@torch.no_grad()
def calibrate_eos_(model, seed):
    """Not HF. A random T5 almost never ranks </s> (id 1) first, so every
    hypothesis would run to max_length and length_penalty / early_stopping
    would change nothing. Point the </s> output row along the decoder's mean
    (rescaled) output direction, with the length that makes </s> the argmax at
    EOS_TARGET of the positions of a random teacher-forced calibration batch
    (bisection; for a tied model the row is also </s>'s input embedding, so
    the direction is recomputed at every try)."""
    c = model.config
    enc, dec = _calibration_batch(c, seed + 1)
    W = _eos_row(model)
    norm = float(W[2:].norm(dim=1).mean())
    orig = W[1].clone()

    def fraction(beta):
        W[1] = orig
        for _ in range(3 if c.tie_word_embeddings else 1):
            out = model(input_ids=enc, decoder_input_ids=dec)
            h = out["decoder_last_hidden_state"]
            if c.tie_word_embeddings:
                h = h * (c.d_model ** -0.5)
            u = h.reshape(-1, h.shape[-1]).mean(0)
            W[1] = beta * norm * u / u.norm()
        logits = model(input_ids=enc, decoder_input_ids=dec)["logits"]
        return float((logits.argmax(-1) == 1).float().mean())

    lo, hi = 0.0, 1.0
    while fraction(hi) < EOS_TARGET and hi < 64:
        lo, hi = hi, hi * 2
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        if fraction(mid) < EOS_TARGET:
            lo = mid
        else:
            hi = mid
    f = fraction(hi)
    return {"beta": hi, "fraction": f}


def make_checkpoint_model(style, shape, seed=None):
    seed = SEEDS[(style, shape)] if seed is None else seed
    cfg = config_dict(style, shape)
    c = tm.make_config(cfg)
    model = tm.new_model(c, seed)
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, tm.T5LayerNorm):
                m.weight.add_(torch.empty_like(m.weight).normal_(0.0, LN_STD, generator=g))
        if c.tie_word_embeddings:
            model.shared.weight.mul_(TIED_EMBED_SCALE)
            model.decoder.final_layer_norm.weight.div_(TIED_EMBED_SCALE)
    cal = calibrate_eos_(model, seed)
    return model, cfg, cal


def _copy_tokenizer(src_dir, out_dir):
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(src_dir, fn), os.path.join(out_dir, fn))


def _compact(o, ind=0):
    """JSON with objects indented and lists of numbers/strings on one line."""
    pad = " " * ind
    if isinstance(o, dict):
        if not o:
            return "{}"
        items = [f'{pad}  {json.dumps(k, ensure_ascii=False)}: {_compact(v, ind + 2)}' for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(o, list) and any(isinstance(x, (dict, list)) for x in o):
        if all(isinstance(x, list) and not any(isinstance(y, (dict, list)) for y in x) for x in o):
            return "[" + ", ".join(json.dumps(x, ensure_ascii=False, separators=(",", ":")) for x in o) + "]"
        return "[\n" + ",\n".join(pad + "  " + _compact(x, ind + 2) for x in o) + "\n" + pad + "]"
    return json.dumps(o, ensure_ascii=False, separators=(",", ":") if isinstance(o, list) else (", ", ": "))


def _write_json(path, d):
    with open(path, "w") as f:
        f.write(_compact(d))
        f.write("\n")


def write_checkpoint(style, shape, out_dir, seed=None):
    model, cfg, cal = make_checkpoint_model(style, shape, seed)
    os.makedirs(out_dir, exist_ok=True)
    tm.save_pretrained(model, out_dir, cfg)
    _write_json(os.path.join(out_dir, "generation_config.json"), GENERATION_CONFIG)
    _copy_tokenizer(TOKENIZER_OF_SHAPE[shape], out_dir)
    return out_dir, cal


def convert_caikit(out_dir, src_dir=CAIKIT_SRC):
    """pytorch_model.bin (torch.load) -> model.safetensors with the names
    save_pretrained writes (the .bin also stores the tied aliases
    encoder/decoder.embed_tokens.weight and lm_head.weight: equal to
    shared.weight, checked, not written); config.json, generation_config.json
    and the tokenizer files copied as they are."""
    model = tm.from_pretrained(src_dir)
    rep = model.load_report
    bad = [x for x in rep["ignored"] if "differs" in x]
    if bad:
        raise ValueError(f"caikit: tied copies differ: {bad}")
    os.makedirs(out_dir, exist_ok=True)
    st.save_file(tm.state_dict_to_save(model), os.path.join(out_dir, "model.safetensors"),
                 metadata={"format": "pt"})
    for fn in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json"):
        shutil.copyfile(os.path.join(src_dir, fn), os.path.join(out_dir, fn))
    return out_dir


# ------------------------------------------------------------ inputs

def inputs_for(model_dir):
    """The stored ids (t5_inputs.json) of the tokenizer this folder carries,
    matched by the sha256 of its tokenizer.json."""
    with open(INPUTS) as f:
        d = json.load(f)
    sha = sha256_file(os.path.join(model_dir, "tokenizer.json"))
    for name, t in d["tokenizers"].items():
        if t["sha256"] == sha:
            return name, d, t
    raise ValueError(f"{model_dir}/tokenizer.json (sha256 {sha}) is not one of the tokenizers in "
                     f"{INPUTS}; add it to t5_tokenize.js and run it")


def pad_batch(rows, pad=0):
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad, dtype=torch.long)
    am = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        am[i, :len(r)] = 1
    return ids, am


# Batches of three sources of different lengths (indices into SOURCES).
FORWARD_SOURCES = [12, 1, 8]
GEN_BATCHES = [[3, 1, 12], [0, 8, 5], [11, 2, 13], [6, 9, 4], [7, 14, 10]]


# ------------------------------------------------------------ forward goldens

def relative_bucket_tables(c):
    R = 2 * c.relative_attention_max_distance + 10
    rel = torch.arange(-R, R + 1)
    kw = dict(num_buckets=c.relative_attention_num_buckets,
              max_distance=c.relative_attention_max_distance)
    return R, tm.relative_position_bucket(rel, bidirectional=True, **kw), \
        tm.relative_position_bucket(rel, bidirectional=False, **kw)


@torch.no_grad()
def cached_logits(model, input_ids, attention_mask, dec_ids, dec_mask):
    """The decoder run one position at a time with the k/v cache (the mask
    prefix grows with it), as generation runs it."""
    enc = model.encode(input_ids, attention_mask)["last_hidden_state"]
    cache = model.new_cache()
    outs = []
    for t in range(dec_ids.shape[1]):
        o = model.decode(dec_ids[:, t:t + 1], enc, attention_mask, dec_mask[:, :t + 1], cache)
        outs.append(o["logits"])
    return torch.cat(outs, dim=1)


@torch.no_grad()
def forward_goldens(model_dir, out_dir, name, source=None, hidden=True):
    tok_name, d, t = inputs_for(model_dir)
    model = tm.from_pretrained(model_dir)
    m64 = tm.from_pretrained(model_dir, dtype=torch.float64)
    c = model.config
    ids, am = pad_batch([t["sources"][i] for i in FORWARD_SOURCES], c.pad_token_id)
    lab_rows = t["targets"]
    T = max(len(r) for r in lab_rows)
    labels = torch.full((len(lab_rows), T), -100, dtype=torch.long)
    dmask = torch.zeros((len(lab_rows), T), dtype=torch.long)
    for i, r in enumerate(lab_rows):
        labels[i, :len(r)] = torch.tensor(r)
        dmask[i, :len(r)] = 1
    start = c.decoder_start_token_id if c.decoder_start_token_id is not None else c.pad_token_id
    dec = tm.shift_right(labels, start, c.pad_token_id)
    out = model(input_ids=ids, attention_mask=am, decoder_input_ids=dec, decoder_attention_mask=dmask,
                labels=labels, output_hidden_states=True)
    out64 = m64(input_ids=ids, attention_mask=am, decoder_input_ids=dec, decoder_attention_mask=dmask,
                labels=labels, output_hidden_states=True)
    lc = cached_logits(model, ids, am, dec, dmask)
    R, bb, bc = relative_bucket_tables(c)
    enc_rel = model.encoder.block[0].layer[0].SelfAttention
    dec_rel = model.decoder.block[0].layer[0].SelfAttention
    Te, Td = ids.shape[1], dec.shape[1]
    tensors = {
        "input_ids": ids, "attention_mask": am, "labels": labels, "decoder_input_ids": dec,
        "decoder_attention_mask": dmask,
        "encoder_last_hidden_state": out["encoder_last_hidden_state"].contiguous(),
        "decoder_last_hidden_state": out["decoder_last_hidden_state"].contiguous(),
        "logits": out["logits"].contiguous(),
        "loss": out["loss"].reshape(()),
        "encoder_position_bias": enc_rel.compute_bias(torch.arange(Te), Te).contiguous(),
        "decoder_position_bias": dec_rel.compute_bias(torch.arange(Td), Td).contiguous(),
        "relative_buckets.bidirectional": bb, "relative_buckets.causal": bc,
    }
    for side in ("encoder", "decoder") if hidden else ():
        hs = out[f"{side}_hidden_states"][:-1] + [out[f"{side}_pre_final_norm"]]
        for i, h in enumerate(hs):
            tensors[f"{side}_hidden_states.{i}"] = h.clone()
    os.makedirs(out_dir, exist_ok=True)
    st.save_file(tensors, os.path.join(out_dir, "forward.safetensors"),
                 metadata={"format": "pt", "model": name})

    def diff(a, b):
        return float((a.double() - b.double()).abs().max())

    real = dmask.bool()
    meta = {
        "model": name,
        "model_dir": source or _rel(model_dir),
        "checkpoint_sha256": sha256_file(os.path.join(model_dir, "model.safetensors")),
        "tokenizer": tok_name,
        "mode": "eval (dropout off), float32, eager attention; T5ForConditionalGeneration.forward with labels",
        "config": {k: c[k] for k in ("vocab_size", "d_model", "d_kv", "d_ff", "num_heads", "num_layers",
                                     "num_decoder_layers", "relative_attention_num_buckets",
                                     "relative_attention_max_distance", "feed_forward_proj",
                                     "dense_act_fn", "is_gated_act", "tie_word_embeddings",
                                     "layer_norm_epsilon", "initializer_factor")},
        "special_ids": {"pad": c.pad_token_id, "eos": c.eos_token_id, "decoder_start": start},
        "batch": {"sources": [d["sources"][i] for i in FORWARD_SOURCES],
                  "targets": d["targets"],
                  "input_lengths": [int(x) for x in am.sum(1)],
                  "label_lengths": [int(x) for x in dmask.sum(1)],
                  "padding": "right, pad id 0, attention_mask 0; labels padded with -100, "
                             "decoder_input_ids = shift_right(labels) (start, labels[:-1], -100 -> pad)"},
        "tensors": {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)}
                    for k, v in tensors.items()},
        "loss": float(out["loss"]), "loss_float64": float(out64["loss"]),
        "float32_vs_float64_max_abs_diff": {
            "encoder_last_hidden_state": diff(out["encoder_last_hidden_state"], out64["encoder_last_hidden_state"]),
            "decoder_last_hidden_state": diff(out["decoder_last_hidden_state"], out64["decoder_last_hidden_state"]),
            "logits": diff(out["logits"], out64["logits"]),
            "logits_real_positions": diff(out["logits"][real], out64["logits"][real]),
        },
        "max_abs": {"encoder_last_hidden_state": float(out["encoder_last_hidden_state"].abs().max()),
                    "logits": float(out["logits"].abs().max())},
        "logits_cached_vs_full_max_abs_diff": diff(lc, out["logits"]),
        "logits_cached_vs_full_max_abs_diff_real_positions": diff(lc[real], out["logits"][real]),
        "notes": [
            "encoder_hidden_states.i (not in the committed tiny goldens) is the input of block i (.0 the embedding output), .L the output of the last block before final_layer_norm; encoder_last_hidden_state is after it; the same for the decoder (decoder_last_hidden_state is before the tied d_model**-0.5 rescale). HF's own hidden_states tuple has .0 .. .L-1 and then the normed output",
            "padded positions are included (pad queries attend to the real keys; padded decoder positions see the causal prefix minus masked keys): compare them too or mask them",
            "encoder_position_bias / decoder_position_bias: compute_bias of the first block, [1, heads, T, T], without the mask (key positions 0..T-1, query positions 0..T-1)",
            "relative_buckets.*: the bucket of relative position r = key - query for r = -R..R (index r + R), R in relative_buckets_R",
            "logits_cached_vs_full_*: the decoder run one position at a time with the key/value cache and the growing mask prefix vs the full forward (float32 rounding only); compare a cached C decoder with `logits` at the same tolerance",
            "float32_vs_float64_max_abs_diff: the float32 noise floor (the float64 run computes the RMS-norm variance and the softmax in float64)",
        ],
        "relative_buckets_R": R,
    }
    _write_json(os.path.join(out_dir, "forward.json"), meta)
    return meta


def _rel(p):
    p = os.path.abspath(p)
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


# ------------------------------------------------------------ generate goldens

def _margins(trace):
    """(smallest relative margin, its absolute gap, what) over a case's
    decisions. Greedy: lead of the chosen token over the runner-up divided by
    the row's largest finite |score|. Beam: |a - b| / max(|a|, |b|) of every
    traced comparison."""
    best = (float("inf"), float("inf"), None)
    if trace["mode"] == "greedy":
        for step in trace["steps"]:
            for r in step:
                rel = r["gap"] / max(r["scale"], 1e-30)
                if rel < best[0]:
                    best = (rel, r["gap"], f"greedy row {r['row']} len {r['cur_len']}")
    else:
        for step in trace["steps"]:
            for e in step:
                for kind, a, b in e["comparisons"]:
                    gap = abs(a - b)
                    rel = gap / max(abs(a), abs(b), 1e-30)
                    if rel < best[0]:
                        best = (rel, gap, f"{kind} input {e['input']} len {e['cur_len']}")
    return best


def _run_case(model, m64, gc_model, opts, ids, am, full_checks):
    """Generate with the trace; when every margin passes and full_checks,
    rerun uncached (must give the same ids) and with the float64 model."""
    out = tg.generate(model, ids, am, generation_config=gc_model, trace=True, **opts)
    rel, gap, where = _margins(out["trace"])
    res = {"out": out, "margin": {"relative": rel, "absolute": gap, "where": where},
           "cached_equals_uncached": None, "float64_ids_equal": None}
    if full_checks and rel >= MARGIN_REL:
        unc = tg.generate(model, ids, am, generation_config=gc_model, use_cache=False, **opts)
        res["cached_equals_uncached"] = torch.equal(unc["sequences"], out["sequences"])
        o64 = tg.generate(m64, ids, am, generation_config=gc_model, score_dtype=torch.float64, **opts)
        res["float64_ids_equal"] = torch.equal(o64["sequences"], out["sequences"])
    return res


def generation_cases(bad, mid_tok, big=False):
    """The grid of the issue. `bad`: tokens the model likes (for
    bad_words_ids), `mid_tok`: a token greedy emits mid-sequence (a second
    eos id). big (t5-small-sized): every (num_beams, length_penalty,
    early_stopping) once, no_repeat_ngram_size alternating 0 / 3, instead of
    both (18 beam cases instead of 36), to keep the run near 30 s."""
    cases = [
        ("greedy-defaults", {}),
        ("greedy-max_new_tokens", {"max_new_tokens": 12}),
        ("greedy-max_length", {"max_length": 10}),
        ("greedy-no_repeat_ngram_3", {"max_new_tokens": 12, "no_repeat_ngram_size": 3}),
        ("greedy-min_new_tokens", {"max_new_tokens": 12, "min_new_tokens": 6}),
        ("greedy-min_length-no_repeat_2", {"max_new_tokens": 12, "min_length": 5, "no_repeat_ngram_size": 2}),
        ("greedy-repetition_penalty", {"max_new_tokens": 12, "repetition_penalty": 1.3}),
        ("greedy-bad_words", {"max_new_tokens": 12, "bad_words_ids": bad}),
        ("greedy-forced_eos", {"max_new_tokens": 8, "forced_eos_token_id": 1}),
        ("greedy-eos_list", {"max_new_tokens": 12, "eos_token_id": [1, mid_tok]}),
        ("greedy-pad_unset", {"max_new_tokens": 12, "pad_token_id": None}),
    ]
    i = 0
    for nb in (2, 4):
        for lp in (0.6, 1.0, 2.0):
            for es in (True, False, "never"):
                for nr in ((3 * (i % 2),) if big else (0, 3)):
                    o = {"max_new_tokens": 12, "num_beams": nb, "length_penalty": lp,
                         "early_stopping": es, "output_scores": True, "return_dict_in_generate": True}
                    if nr:
                        o["no_repeat_ngram_size"] = nr
                    if (i // 2 if big else i) % 2 == 1:
                        o["num_return_sequences"] = 2
                    if i % 3 == 2:
                        o["min_new_tokens"] = 4
                    cases.append((f"beam{nb}-lp{lp}-es{str(es).lower()}-nr{nr}", o))
                    i += 1
    bs = {"output_scores": True, "return_dict_in_generate": True}
    cases += [
        ("beam1-is-greedy", {"max_new_tokens": 12, "num_beams": 1}),
        ("beam3-eos_list", dict(bs, max_new_tokens=12, num_beams=3, eos_token_id=[1, mid_tok],
                                num_return_sequences=3)),
        ("beam4-repetition-bad_words", dict(bs, max_new_tokens=12, num_beams=4, repetition_penalty=1.3,
                                            bad_words_ids=bad)),
        ("beam4-forced_eos", dict(bs, max_length=9, num_beams=4, forced_eos_token_id=1)),
        ("beam4-summarization-like", dict(bs, num_beams=4, length_penalty=2.0, no_repeat_ngram_size=3,
                                          min_length=8, max_length=24, early_stopping=True)),
        ("beam2-defaults", dict(bs, num_beams=2)),
    ]
    return cases


def sampling_cases():
    return [
        ("sample-defaults", {"do_sample": True, "max_new_tokens": 8}),
        ("sample-t0.7-k20-p0.9", {"do_sample": True, "temperature": 0.7, "top_k": 20, "top_p": 0.9,
                                  "max_new_tokens": 8}),
        ("sample-p0.5-k0", {"do_sample": True, "top_k": 0, "top_p": 0.5, "max_new_tokens": 8}),
    ]


def _pick_tokens(model, gc_model, t):
    """Tokens for bad_words_ids / a second eos: from a plain greedy run on
    the first batch (so that they matter): the most frequent generated token
    (banned alone), the first generated bigram of row 1, and a token row 0
    emits at its 4th step."""
    ids, am = pad_batch([t["sources"][i] for i in GEN_BATCHES[0]])
    seqs = tg.generate(model, ids, am, generation_config=gc_model, max_new_tokens=12)["sequences"]
    gen = seqs[:, 1:]
    flat = [x for x in gen.reshape(-1).tolist() if x > 1]
    common = max(sorted(set(flat)), key=flat.count) if flat else 5
    row1 = [x for x in gen[1].tolist() if x > 1]
    bigram = row1[:2] if len(row1) >= 2 and row1[0] != common else [common, 3]
    bad = [[common], [int(bigram[0]), int(bigram[1])]]
    mid = int(gen[0, 3]) if gen.shape[1] > 3 and int(gen[0, 3]) > 1 else 3
    return bad, mid


@torch.no_grad()
def generate_goldens(model_dir, out_dir, name, quick=False, source=None):
    tok_name, d, t = inputs_for(model_dir)
    model = tm.from_pretrained(model_dir)
    m64 = tm.from_pretrained(model_dir, dtype=torch.float64)
    gc_model = tg.model_generation_config(model_dir, dict(model.config))
    bad, mid = _pick_tokens(model, gc_model, t)
    kept, dropped = [], []
    t0 = time.time()
    # the uncached and float64 re-runs cost 2-3 generations each: on a
    # t5-small-sized model they run for every CHECK_EVERY-th case
    # (--quick: none); on tiny models for all
    big = model.config.vocab_size * model.config.d_model > 4_000_000
    for ci, (cname, opts) in enumerate(generation_cases(bad, mid, big)):
        full = not quick and (not big or ci % CHECK_EVERY == 0)
        order = [(ci + k) % len(GEN_BATCHES) for k in range(len(GEN_BATCHES) if not big else BIG_TRIES)]
        tried = []
        for bi in order:
            rows = [t["sources"][i] for i in GEN_BATCHES[bi]]
            ids, am = pad_batch(rows)
            res = _run_case(model, m64, gc_model, opts, ids, am, full)
            ok = res["margin"]["relative"] >= MARGIN_REL and res["float64_ids_equal"] is not False
            if res["cached_equals_uncached"] is False and ok:
                raise AssertionError(f"{name} {cname}: cached and uncached generation differ "
                                     f"although every decision has margin {res['margin']}")
            tried.append({"batch": bi, "margin": res["margin"],
                          "float64_ids_equal": res["float64_ids_equal"],
                          "cached_equals_uncached": res["cached_equals_uncached"]})
            if ok:
                out = res["out"]
                cfg = out["config"]
                case = {
                    "name": cname, "options": opts,
                    "resolved": {k: cfg[k] for k in ("mode", "max_length", "min_length", "num_beams",
                                                     "num_return_sequences", "length_penalty",
                                                     "early_stopping", "no_repeat_ngram_size",
                                                     "repetition_penalty", "bad_words_ids",
                                                     "forced_eos_token_id", "eos_token_ids", "pad",
                                                     "decoder_start", "use_cache")},
                    "batch": bi,
                    "sequences": out["sequences"].tolist(),
                    "sequences_scores": out["sequences_scores"].tolist() if "sequences_scores" in out else None,
                    "min_margin": res["margin"],
                    "checks": {"cached_equals_uncached": res["cached_equals_uncached"],
                               "float64_ids_equal": res["float64_ids_equal"],
                               "batches_tried": len(tried)},
                }
                kept.append(case)
                break
        else:
            dropped.append({"name": cname, "options": opts, "tried": tried,
                            "reason": f"no batch with every decision margin >= {MARGIN_REL} (relative) "
                                      "and float64 ids equal"})
    gen_time = time.time() - t0
    samples = []
    ids, am = pad_batch([t["sources"][i] for i in GEN_BATCHES[0]])
    enc = model.encode(ids, am)["last_hidden_state"]
    for cname, opts in sampling_cases():
        gc = tg.resolve_config(gc_model, opts)
        logits = model.decode(torch.zeros((3, 1), dtype=torch.long), enc, am)["logits"][:, -1, :]
        scores = tg.apply_processors(tg.logits_processors(gc), torch.zeros((3, 1), dtype=torch.long),
                                     logits.float())
        probs = torch.softmax(scores, dim=-1)
        step1 = []
        for r in range(3):
            kept_ids = torch.nonzero(torch.isfinite(scores[r])).reshape(-1)
            p = probs[r, kept_ids]
            o = torch.argsort(p, descending=True)[:50]
            step1.append({"n_kept": int(kept_ids.numel()), "top_ids": kept_ids[o].tolist(),
                          "top_probs": p[o].tolist()})
        s = tg.generate(model, ids, am, generation_config=gc_model, seed=1234, **opts)
        samples.append({"name": cname, "options": opts, "batch": 0, "step1": step1,
                        "torch_seed_1234_sequences": s["sequences"].tolist()})
    smallest = min(kept, key=lambda k: k["min_margin"]["relative"])["min_margin"] if kept else None
    meta = {
        "model": name, "model_dir": source or _rel(model_dir),
        "checkpoint_sha256": sha256_file(os.path.join(model_dir, "model.safetensors")),
        "tokenizer": tok_name,
        "semantics": "transformers 4.56 generate() (see tests/reference/t5_generate.py's docstring)",
        "model_generation_config": {k: v for k, v in gc_model.items() if v != tg.GENERATION_DEFAULTS.get(k, object())},
        "picked_tokens": {"bad_words_ids": bad, "second_eos": mid},
        "margin_rule": {
            "relative_threshold": MARGIN_REL,
            "greedy": "at every step and unfinished row: (top1 - top2) of the processed scores / the row's largest finite |score|",
            "beam": "every comparison that decides the ids: the num_beams-th vs next continuation, the num_beams-th vs next unfinished continuation, adjacent kept/new hypothesis scores, the early-stopping heuristic; |a - b| / max(|a|, |b|)",
            "also": "the float64 model (float64 scores) must give the same ids; otherwise another batch is tried, and a case with no good batch is dropped",
        },
        "smallest_kept_margin": smallest,
        "batches": [{"sources": [d["sources"][i] for i in b],
                     "input_ids": pad_batch([t["sources"][i] for i in b])[0].tolist(),
                     "attention_mask": pad_batch([t["sources"][i] for i in b])[1].tolist()}
                    for b in GEN_BATCHES],
        "cases": kept, "dropped": dropped, "sampling": samples,
        "notes": [
            "options are generate() keyword arguments with HF's names; the model's generation_config.json supplies the rest (resolved shows the result: max_length counts the decoder start token; an untouched max_length of 20 becomes 21)",
            "each case runs batches[case.batch]: input_ids / attention_mask right-padded with 0; sequences start with the decoder start token (0)",
            "greedy: finished rows continue with pad_token_id (0, or eos[0] when pad is unset); beam search: shorter returned hypotheses are filled with `pad_token_id or eos_token_id[0]`, which is the eos id 1 for T5 (pad 0 is falsy in that Python expression)",
            "sequences_scores: sum of log-probs / (generated length incl. eos, excl. the start token) ** length_penalty, float32, as 4.56's _beam_search returns them (rows: input-major, best first)",
            "sampling: step1 lists the processed distribution of the first step (no randomness: compare it), torch_seed_1234_sequences what torch's generator drew (cannot be matched by another RNG)",
        ],
    }
    os.makedirs(out_dir, exist_ok=True)
    _write_json(os.path.join(out_dir, "generate.json"), meta)
    meta["generation_seconds"] = round(gen_time, 1)
    return meta


def goldens(model_dir, out_dir, name=None, quick=False, source=None, hidden=True):
    name = name or os.path.basename(os.path.abspath(model_dir))
    f = forward_goldens(model_dir, out_dir, name, source, hidden)
    g = generate_goldens(model_dir, out_dir, name, quick, source)
    return f, g


COMMITTED = [("t5-tiny-v1.0", "v1.0"), ("t5-tiny-v1.1", "v1.1"), ("t5-caikit", None)]


def write_committed(out_root=GOLDEN_DIR):
    with tempfile.TemporaryDirectory() as tmp:
        for name, style in COMMITTED:
            mdir = os.path.join(tmp, name)
            if style:
                write_checkpoint(style, "tiny", mdir)
                source = f"make_t5.py checkpoint {style} tiny DIR"
            else:
                convert_caikit(mdir)
                source = "make_t5.py caikit DIR"
            # committed without the per-block hidden states (size); the
            # goldens subcommand writes them
            f, g = goldens(mdir, os.path.join(out_root, name), name, source=source, hidden=False)
            print(f"{name}: loss {f['loss']:.6f} logits f32-f64 {f['float32_vs_float64_max_abs_diff']['logits']:.2e} "
                  f"cases kept {len(g['cases'])} dropped {len(g['dropped'])} "
                  f"smallest margin {g['smallest_kept_margin']}")


def main(argv):
    _setup()
    if not argv:
        write_committed()
        return 0
    cmd = argv[0]
    if cmd == "checkpoint" and len(argv) >= 4 and argv[1] in STYLES and argv[2] in SHAPES:
        seed = None
        if "--seed" in argv:
            seed = int(argv[argv.index("--seed") + 1])
        out, cal = write_checkpoint(argv[1], argv[2], argv[3], seed)
        print(json.dumps({"out_dir": out, "eos_calibration": cal}))
        return 0
    if cmd == "caikit" and len(argv) == 2:
        print(convert_caikit(argv[1]))
        return 0
    if cmd == "goldens" and len(argv) >= 3:
        t0 = time.time()
        f, g = goldens(argv[1], argv[2], quick="--quick" in argv)
        print(json.dumps({"out_dir": argv[2], "seconds": round(time.time() - t0, 1),
                          "cases_kept": len(g["cases"]), "cases_dropped": len(g["dropped"]),
                          "smallest_kept_margin": g["smallest_kept_margin"]}))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
