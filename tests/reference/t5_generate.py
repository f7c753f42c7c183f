"""generate() for the T5 reference (t5_models.py), following transformers'
generation/utils.py, generation/logits_process.py,
generation/stopping_criteria.py and generation/configuration_utils.py as of
4.56 (the vectorized beam search that replaced BeamSearchScorer in 4.50,
with the per-instance early-stopping heuristic of PR #38778).

Entry point:

    out = generate(model, input_ids, attention_mask=None,
                   generation_config=None,   # the model folder's (see below)
                   use_cache=True,           # False: recompute the decoder each step
                   seed=None,                # torch.manual_seed before sampling
                   trace=False,              # record per-step decisions (margins)
                   **kwargs)                 # HF GenerationConfig names

    out["sequences"]        LongTensor [batch*num_return_sequences, L]
    out["sequences_scores"] FloatTensor [batch*num_return_sequences] (beam
                            search, HF returns it with output_scores=True)
    out["scores"]           per-step processed scores (output_scores=True)
    out["config"]           the resolved generation config (dict)
    out["trace"]            decisions and their margins (trace=True)

What mirrors what:
* `GENERATION_DEFAULTS`        GenerationConfig.__init__ defaults
* `model_generation_config`    from_pretrained: generation_config.json when
                               present, else GenerationConfig.from_model_config
                               (the generation keys of config.json, None dropped)
* `resolve_config`             _prepare_generation_config (kwargs over the
                               model's generation config), _prepare_special_tokens
                               (eos as a list, pad <- eos[0] when unset, decoder
                               start <- bos when unset), _prepare_generated_length
                               (max_new_tokens wins; an untouched max_length of
                               20 becomes 20 + 1 for the decoder start token;
                               min_new_tokens sets min_length = min_new_tokens + 1),
                               GenerationConfig.validate's errors that apply
* `logits_processors`          _get_logits_processor, same order
* `_greedy_or_sample`          GenerationMixin._sample
* `_beam_search`               GenerationMixin._beam_search and its helpers
                               (_get_top_k_continuations,
                               _get_running_beams_for_next_iteration,
                               _update_finished_beams, _check_early_stop_heuristic,
                               _beam_search_has_unfinished_sequences)

Beam search as 4.56 computes it (read from utils.py):
* scores are sums of log_softmax(logits) (float32), processors applied to the
  log-probs of each running beam, then added to the beam's running score; the
  top K = max(2, 1 + n_eos) * num_beams continuations over num_beams*vocab are
  kept (torch.topk, so ties go to the lower flat index beam*vocab + token).
* a continuation "finishes" when it hits a stopping criterion: its last token
  is an eos id, or its length reaches max_length. Only finished
  continuations among the top num_beams (top_num_beam_mask) become
  hypotheses; the running beams are the best num_beams unfinished ones.
* LENGTH PENALTY: a finished hypothesis scores
      sum_logprobs / (generated_len ** length_penalty)
  with generated_len = cur_len + 1 - decoder_prompt_len = the number of
  tokens generated INCLUDING the eos token and EXCLUDING the decoder start
  token (T5: decoder_prompt_len = 1). BeamHypotheses.add before 4.50 used
  the length without the eos (the hypothesis was stored before appending it);
  4.56's _update_finished_beams divides by (cur_len + 1 - decoder_prompt_len)
  where cur_len is the length before the new token, i.e. with the eos. The
  divisor is a Python float, so the division happens in float32.
* finished hypotheses are merged with the kept ones and the best num_beams
  kept (torch.topk over [kept, new]); sequences_scores are these scores.
* early_stopping=True: once all num_beams hypotheses of an input are
  finished, none is added any more and the loop ends when that holds for
  every input. early_stopping=False: the heuristic, per input and sticky once
  satisfied (PR #38778): stop improving an input when its best running score
  divided by (cur_len - decoder_prompt_len) ** length_penalty (cur_len
  counted after appending this step's token, i.e. the running beams' current
  generated length) is not above the worst kept hypothesis score (only when
  all num_beams slots hold a hypothesis; otherwise the worst counts as -1e9).
  early_stopping="never": the same with (max_length - decoder_prompt_len)
  as the length when length_penalty > 0 (the best a running beam could still
  reach), cur_len - decoder_prompt_len otherwise. The loop ends when no input
  can improve, or (True) all are full, or every continuation hit a stopping
  criterion (max_length).
* output: the kept hypotheses in score order, the first num_return_sequences
  per input, cut to 1 + the longest returned generated length. Shorter ones
  are filled with `pad_token_id or eos_token_id[0]` (utils.py's
  `output_fill_value`): T5's pad id 0 is falsy, so BEAM SEARCH PADS T5 OUTPUTS
  WITH THE EOS ID 1, while greedy/sampling pad finished rows with pad (0).
* greedy/sampling (_sample): argmax (first index on ties) or
  torch.multinomial over softmax(processed scores); rows that finished get
  pad_token_id; the loop ends when every row hit eos or max_length.

Processors (the order of _get_logits_processor, those supported here):
  repetition_penalty (RepetitionPenaltyLogitsProcessor: tokens of the decoder
  sequence, decoder start included: score < 0 ? score * p : score / p),
  no_repeat_ngram_size (NoRepeatNGramLogitsProcessor over the decoder
  sequence including the start token), bad_words_ids
  (NoBadWordsLogitsProcessor: -inf; a bad word equal to [eos] is dropped),
  min_length (MinLengthLogitsProcessor: eos -inf while len(decoder seq) <
  min_length), min_new_tokens (MinNewTokensLengthLogitsProcessor, prompt
  length 1), forced_bos_token_id, forced_eos_token_id
  (ForcedEOSTokenLogitsProcessor: at len == max_length - 1 all -inf but the
  eos id(s), which get 0); then for sampling only: temperature, top_k (HF
  default 50!), top_p (min_tokens_to_keep = 1, or n_eos + 1 in beam
  sampling); renormalize_logits last. Greedy applies them to raw logits,
  beam search to log-probs.

Sampling follows HF's semantics but draws from torch's generator: the random
stream cannot match another implementation; use it for distribution tests.

Numerics: the logits are taken in float32 (`.to(torch.float32)` as HF does)
unless score_dtype says otherwise (the float64 yardstick run uses float64).
"""

import copy
import json
import math
import os

import torch
from torch import nn

# GenerationConfig.__init__ defaults (configuration_utils.py, 4.56), the
# subset this reference knows. Keys in UNSUPPORTED must keep their default.
GENERATION_DEFAULTS = dict(
    max_length=20, max_new_tokens=None, min_length=0, min_new_tokens=None, early_stopping=False,
    max_time=None, stop_strings=None, do_sample=False, num_beams=1, num_beam_groups=1,
    penalty_alpha=None, dola_layers=None, use_cache=True, cache_implementation=None,
    temperature=1.0, top_k=50, top_p=1.0, min_p=None, typical_p=1.0, epsilon_cutoff=0.0,
    eta_cutoff=0.0, diversity_penalty=0.0, repetition_penalty=1.0, encoder_repetition_penalty=1.0,
    length_penalty=1.0, no_repeat_ngram_size=0, bad_words_ids=None, force_words_ids=None,
    renormalize_logits=False, constraints=None, forced_bos_token_id=None,
    forced_eos_token_id=None, remove_invalid_values=False,
    exponential_decay_length_penalty=None, suppress_tokens=None, begin_suppress_tokens=None,
    sequence_bias=None, token_healing=False, guidance_scale=None, watermarking_config=None,
    num_return_sequences=1, output_attentions=False, output_hidden_states=False,
    output_scores=False, output_logits=None, return_dict_in_generate=False, pad_token_id=None,
    bos_token_id=None, eos_token_id=None, encoder_no_repeat_ngram_size=0,
    decoder_start_token_id=None, low_memory=None,
)
UNSUPPORTED = ("max_time", "stop_strings", "num_beam_groups", "penalty_alpha", "dola_layers",
               "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff", "diversity_penalty",
               "encoder_repetition_penalty", "force_words_ids", "constraints",
               "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
               "begin_suppress_tokens", "sequence_bias", "token_healing", "guidance_scale",
               "watermarking_config", "encoder_no_repeat_ngram_size", "low_memory")
NEG_INF = -float("inf")


# ------------------------------------------------------------ configuration

def model_generation_config(model_dir=None, model_config=None):
    """The model's GenerationConfig as from_pretrained sets it:
    generation_config.json over the defaults when the folder has one, else
    GenerationConfig.from_model_config(config): the generation keys of
    config.json whose value is not None (task_specific_params are not
    generation keys: only pipelines read them)."""
    gc = dict(GENERATION_DEFAULTS)
    path = os.path.join(model_dir, "generation_config.json") if model_dir else None
    if path and os.path.exists(path):
        with open(path) as f:
            d = json.load(f)
        for k, v in d.items():
            if k in gc:
                gc[k] = v
        gc["_source"] = "generation_config.json"
    else:
        for k, v in (model_config or {}).items():
            if k in gc and v is not None:
                gc[k] = v
        gc["_source"] = "config.json (GenerationConfig.from_model_config)"
    return gc


def resolve_config(model_gc, kwargs, decoder_prompt_len=1):
    """_prepare_generation_config + _prepare_special_tokens +
    _prepare_generated_length (+ validate's errors) for an encoder-decoder
    whose decoder prompt is the start token. Returns the resolved dict with
    `eos_token_ids` (list or None), `pad` and `decoder_start` added."""
    gc = copy.deepcopy(model_gc)
    for k, v in kwargs.items():
        if k not in GENERATION_DEFAULTS:
            raise ValueError(f"The following `model_kwargs` are not used by the model: ['{k}']")
        gc[k] = v
    for k in UNSUPPORTED:
        if gc[k] != GENERATION_DEFAULTS[k]:
            raise NotImplementedError(f"generation option {k}={gc[k]!r} is not in this reference")
    eos = gc["eos_token_id"]
    if eos is not None and not isinstance(eos, list):
        eos = [eos]
    pad = gc["pad_token_id"]
    if pad is None and eos is not None:
        pad = eos[0]          # "Setting `pad_token_id` to `eos_token_id`"
    start = gc["decoder_start_token_id"]
    if start is None:
        start = gc["bos_token_id"]
    if start is None:
        raise ValueError("`decoder_start_token_id` or `bos_token_id` has to be defined for "
                         "encoder-decoder generation.")
    has_default_max_length = kwargs.get("max_length") is None and gc["max_length"] is not None
    has_default_min_length = kwargs.get("min_length") is None and gc["min_length"] is not None
    if gc["max_new_tokens"] is not None:
        gc["max_length"] = gc["max_new_tokens"] + decoder_prompt_len
    elif has_default_max_length and gc["max_length"] == GENERATION_DEFAULTS["max_length"]:
        # "by default let's always generate 20 new tokens" (T5 has no
        # max_position_embeddings to clamp with)
        gc["max_length"] = gc["max_length"] + decoder_prompt_len
    if gc["min_new_tokens"] is not None:
        gc["min_length"] = gc["min_new_tokens"] + decoder_prompt_len
    del has_default_min_length   # only chooses a warning in HF
    if decoder_prompt_len >= gc["max_length"]:
        raise ValueError(f"Input length of decoder_input_ids is {decoder_prompt_len}, but "
                         f"`max_length` is set to {gc['max_length']}.")
    nb, nrs = gc["num_beams"], gc["num_return_sequences"]
    if nb == 1 and not gc["do_sample"] and nrs != 1:
        raise ValueError("Greedy methods without beam search do not support "
                         "`num_return_sequences` different than 1")
    if nb > 1 and nrs > nb:
        raise ValueError("`num_return_sequences` has to be smaller or equal to `num_beams`.")
    if gc["early_stopping"] not in (True, False, "never"):
        raise ValueError("`early_stopping` must be a boolean or 'never'")
    if gc["do_sample"] and gc["temperature"] is not None and not gc["temperature"] > 0:
        raise ValueError("`temperature` has to be a strictly positive float")
    gc["eos_token_ids"] = eos
    gc["pad"] = pad
    gc["decoder_start"] = start
    gc["mode"] = ("beam_sample" if gc["do_sample"] else "beam_search") if nb > 1 else \
        ("sample" if gc["do_sample"] else "greedy")
    return gc


# ------------------------------------------------------------ logits processors

def _isin_mask(V, ids):
    m = torch.zeros(V, dtype=torch.bool)
    m[torch.tensor(ids, dtype=torch.long)] = True
    return m


class RepetitionPenalty:
    def __init__(self, penalty):
        self.penalty = penalty

    def __call__(self, input_ids, scores):
        score = torch.gather(scores, 1, input_ids)
        score = torch.where(score < 0, score * self.penalty, score / self.penalty)
        return scores.scatter(1, input_ids, score)


class NoRepeatNGram:
    def __init__(self, n):
        self.n = n

    def banned(self, row):
        """_get_ngrams + _get_generated_ngrams for one hypothesis."""
        n, cur_len = self.n, len(row)
        if cur_len + 1 < n:
            return []
        grams = {}
        for ng in zip(*[row[i:] for i in range(n)]):
            grams.setdefault(tuple(ng[:-1]), []).append(ng[-1])
        return grams.get(tuple(row[cur_len + 1 - n:cur_len]), [])

    def __call__(self, input_ids, scores):
        out = scores.clone()
        for i, row in enumerate(input_ids.tolist()):
            b = self.banned(row)
            if b:
                out[i, b] = NEG_INF
        return out


class NoBadWords:
    """NoBadWordsLogitsProcessor = SequenceBiasLogitsProcessor with -inf."""

    def __init__(self, bad_words_ids, eos):
        if not isinstance(bad_words_ids, list) or not bad_words_ids or \
                any(not isinstance(w, list) for w in bad_words_ids):
            raise ValueError("`bad_words_ids` has to be a non-empty list of lists")
        if eos is not None:
            bad_words_ids = [w for w in bad_words_ids if all(w != [e] for e in eos)]
        self.seqs = {tuple(w): NEG_INF for w in bad_words_ids}

    def __call__(self, input_ids, scores):
        V = scores.shape[-1]
        for s in self.seqs:
            if any(t >= V for t in s):
                raise ValueError(f"The model vocabulary size is {V}, but tokens {list(s)} were biased")
        bias = torch.zeros_like(scores)
        l1 = torch.zeros((V,), dtype=torch.float)
        for s, b in self.seqs.items():
            if len(s) == 1:
                l1[s[-1]] = b
        bias += l1
        for s, b in self.seqs.items():
            if len(s) == 1 or len(s) > input_ids.shape[1]:
                continue
            pl = len(s) - 1
            match = torch.eq(input_ids[:, -pl:], torch.tensor(s[:-1], dtype=input_ids.dtype)).prod(dim=1)
            bias[:, s[-1]] += torch.where(match.bool(), torch.tensor(b), torch.tensor(0.0))
        return scores + bias


class MinLength:
    def __init__(self, min_length, eos):
        self.min_length, self.eos = min_length, eos

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] < self.min_length:
            return torch.where(_isin_mask(scores.shape[-1], self.eos), NEG_INF, scores)
        return scores.clone()


class MinNewTokens:
    def __init__(self, prompt_len, min_new_tokens, eos):
        self.prompt_len, self.min_new, self.eos = prompt_len, min_new_tokens, eos

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] - self.prompt_len < self.min_new:
            return torch.where(_isin_mask(scores.shape[-1], self.eos), NEG_INF, scores)
        return scores.clone()


class ForcedBOS:
    def __init__(self, tok):
        self.tok = tok

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] == 1:
            out = torch.full_like(scores, NEG_INF)
            out[:, self.tok] = 0
            return out
        return scores


class ForcedEOS:
    def __init__(self, max_length, eos):
        self.max_length = max_length
        self.eos = eos if isinstance(eos, list) else [eos]

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] == self.max_length - 1:
            out = torch.full_like(scores, NEG_INF)
            out[:, self.eos] = 0
            return out
        return scores


class Temperature:
    def __init__(self, t):
        self.t = t

    def __call__(self, input_ids, scores):
        return scores / self.t


class TopK:
    def __init__(self, k, min_keep=1):
        self.k = max(k, min_keep)

    def __call__(self, input_ids, scores):
        k = min(self.k, scores.size(-1))
        remove = scores < torch.topk(scores, k)[0][..., -1, None]
        return scores.masked_fill(remove, NEG_INF)


class TopP:
    def __init__(self, p, min_keep=1):
        self.p, self.min_keep = float(p), min_keep

    def __call__(self, input_ids, scores):
        sorted_logits, sorted_idx = torch.sort(scores, descending=False)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove = cum <= (1 - self.p)
        remove[..., -self.min_keep:] = 0
        remove = remove.scatter(1, sorted_idx, remove)
        return scores.masked_fill(remove, NEG_INF)


class LogNormalize:
    def __call__(self, input_ids, scores):
        return scores.log_softmax(dim=-1)


def logits_processors(gc):
    """_get_logits_processor's list, in its order (the supported entries)."""
    eos = gc["eos_token_ids"]
    procs = []
    if gc["repetition_penalty"] is not None and gc["repetition_penalty"] != 1.0:
        procs.append(RepetitionPenalty(gc["repetition_penalty"]))
    if gc["no_repeat_ngram_size"] is not None and gc["no_repeat_ngram_size"] > 0:
        procs.append(NoRepeatNGram(gc["no_repeat_ngram_size"]))
    if gc["bad_words_ids"] is not None:
        procs.append(NoBadWords(gc["bad_words_ids"], eos))
    if gc["min_length"] is not None and eos is not None and gc["min_length"] > 0:
        procs.append(MinLength(gc["min_length"], eos))
    if gc["min_new_tokens"] is not None and eos is not None and gc["min_new_tokens"] > 0:
        procs.append(MinNewTokens(1, gc["min_new_tokens"], eos))
    if gc["forced_bos_token_id"] is not None:
        procs.append(ForcedBOS(gc["forced_bos_token_id"]))
    if gc["forced_eos_token_id"] is not None:
        procs.append(ForcedEOS(gc["max_length"], gc["forced_eos_token_id"]))
    if gc["do_sample"]:
        keep = (len(eos) + 1 if eos is not None else 2) if gc["num_beams"] > 1 else 1
        if gc["temperature"] is not None and gc["temperature"] != 1.0:
            procs.append(Temperature(gc["temperature"]))
        if gc["top_k"] is not None and gc["top_k"] != 0:
            procs.append(TopK(gc["top_k"], keep))
        if gc["top_p"] is not None and gc["top_p"] < 1.0:
            procs.append(TopP(gc["top_p"], keep))
    if gc["renormalize_logits"] is True:
        procs.append(LogNormalize())
    return procs


def apply_processors(procs, input_ids, scores):
    for p in procs:
        scores = p(input_ids, scores)
    return scores


# ------------------------------------------------------------ model steps

class _Decoder:
    """The decoder side of one generate() call: cached (one new token per
    step, k/v kept) or uncached (the whole decoder sequence recomputed every
    step, as HF does with use_cache=False; only the last position goes
    through lm_head here, which changes no id)."""

    def __init__(self, model, enc, enc_mask, use_cache):
        self.model, self.enc, self.enc_mask = model, enc, enc_mask
        self.cache = model.new_cache() if use_cache else None

    def step(self, seqs):
        m = self.model
        ids = seqs[:, -1:] if self.cache is not None else seqs
        out = m.decoder(ids, None, self.enc, self.enc_mask, cache=self.cache)
        return m.lm_logits(out["last_hidden_state"][:, -1:, :])[:, -1, :]

    def reorder(self, beam_idx):
        if self.cache is not None:
            self.cache.reorder(beam_idx)
        self.enc = self.enc.index_select(0, beam_idx)
        self.enc_mask = self.enc_mask.index_select(0, beam_idx)


def _expand(t, n):
    return t if n == 1 else t.repeat_interleave(n, dim=0)


# ------------------------------------------------------------ generate

@torch.no_grad()
def generate(model, input_ids, attention_mask=None, generation_config=None, use_cache=True,
             seed=None, trace=False, score_dtype=torch.float32, **kwargs):
    """GenerationMixin.generate for T5ForConditionalGeneration (see the
    module docstring). generation_config: the model's (model_generation_config);
    kwargs override it with HF's names."""
    if generation_config is None:
        generation_config = model_generation_config(None, dict(model.config))
    gc = resolve_config(generation_config, kwargs)
    gc["use_cache"] = bool(use_cache and gc["use_cache"])
    if attention_mask is None:
        # _prepare_attention_mask_for_generation: infer from pad when pad is in
        # the inputs and pad is not an eos id, else all ones
        pad, eos = gc["pad"], gc["eos_token_ids"] or []
        if pad is not None and bool((input_ids == pad).any()) and pad not in eos:
            attention_mask = input_ids.ne(pad).long()
        else:
            attention_mask = torch.ones_like(input_ids)
    enc = model.encode(input_ids, attention_mask)["last_hidden_state"]
    if seed is not None:
        torch.manual_seed(seed)
    if gc["num_beams"] > 1:
        out = _beam_search(model, enc, attention_mask, gc, trace, score_dtype)
    else:
        out = _greedy_or_sample(model, enc, attention_mask, gc, trace, score_dtype)
    out["config"] = {k: v for k, v in gc.items() if not k.startswith("_")}
    return out


def _greedy_or_sample(model, enc, enc_mask, gc, trace, score_dtype):
    """GenerationMixin._sample."""
    nrs = gc["num_return_sequences"]
    enc, enc_mask = _expand(enc, nrs), _expand(enc_mask, nrs)
    B = enc.shape[0]
    seqs = torch.full((B, 1), gc["decoder_start"], dtype=torch.long)
    dec = _Decoder(model, enc, enc_mask, gc["use_cache"])
    procs = logits_processors(gc)
    eos, pad = gc["eos_token_ids"], gc["pad"]
    unfinished = torch.ones(B, dtype=torch.long)
    scores_out, steps = [], []
    while True:
        logits = dec.step(seqs).to(score_dtype)
        scores = apply_processors(procs, seqs, logits)
        if gc["output_scores"]:
            scores_out.append(scores.clone())
        if gc["do_sample"]:
            probs = nn.functional.softmax(scores, dim=-1)
            nxt = torch.multinomial(probs, num_samples=1).squeeze(1)
        else:
            nxt = torch.argmax(scores, dim=-1)
            if trace:
                steps.append(_greedy_step_trace(scores, nxt, unfinished, seqs.shape[1]))
        if eos is not None:
            nxt = nxt * unfinished + pad * (1 - unfinished)
        seqs = torch.cat([seqs, nxt[:, None]], dim=-1)
        done = torch.full((B,), seqs.shape[-1] >= gc["max_length"], dtype=torch.bool)
        if eos is not None:
            done |= torch.isin(seqs[:, -1], torch.tensor(eos))
        unfinished = unfinished & ~done.long()
        if unfinished.max() == 0:
            break
    out = {"sequences": seqs}
    if gc["output_scores"]:
        out["scores"] = scores_out
    if trace:
        out["trace"] = {"mode": "greedy", "steps": steps}
    return out


def _greedy_step_trace(scores, nxt, unfinished, cur_len):
    """For each unfinished row: the chosen token's lead over the runner-up
    (top1 - top2 of the processed scores) and the row's scale (largest
    finite |score|), so a float32 implementation's noise can be judged."""
    rows = []
    for i in range(scores.shape[0]):
        if not int(unfinished[i]):
            continue
        s = scores[i]
        fin = s[torch.isfinite(s)]
        top = torch.topk(s, 2).values
        gap = float(top[0] - top[1]) if bool(torch.isfinite(top[1])) else float("inf")
        scale = float(fin.abs().max()) if fin.numel() else 1.0
        rows.append({"row": i, "cur_len": cur_len, "token": int(nxt[i]), "gap": gap,
                     "scale": scale})
    return rows


def _beam_search(model, enc, enc_mask, gc, trace, score_dtype):
    """GenerationMixin._beam_search (4.56), tensor for tensor."""
    nb, nrs = gc["num_beams"], gc["num_return_sequences"]
    eos, pad = gc["eos_token_ids"], gc["pad"]
    early_stopping, lp, max_length = gc["early_stopping"], gc["length_penalty"], gc["max_length"]
    do_sample = gc["do_sample"]
    V = model.config.vocab_size
    batch = enc.shape[0]
    n_eos = len(eos) if eos is not None else 0
    K = max(2, 1 + n_eos) * nb
    top_nb_mask = torch.cat((torch.ones(nb, dtype=torch.bool), torch.zeros(K - nb, dtype=torch.bool)))
    procs = logits_processors(gc)
    fdt = score_dtype

    dec = _Decoder(model, _expand(enc, nb), _expand(enc_mask, nb), gc["use_cache"])
    cur_len = 1
    prompt_len = cur_len
    # output_fill_value = pad_token_id or eos_token_id[0] if eos is not None else -1
    fill = (pad if pad else eos[0]) if eos is not None else -1
    running = torch.full((batch, nb, max_length), fill, dtype=torch.long)
    running[:, :, :cur_len] = gc["decoder_start"]
    sequences = running.clone()
    running_scores = torch.zeros((batch, nb), dtype=fdt)
    running_scores[:, 1:] = -1e9
    beam_scores = torch.full((batch, nb), -1e9, dtype=fdt)
    finished = torch.zeros((batch, nb), dtype=torch.bool)
    heur_unsat = torch.ones((batch, 1), dtype=torch.bool)
    hits = torch.zeros((batch, nb), dtype=torch.bool)
    running_bidx = torch.full((batch, nb, max_length - cur_len), -1, dtype=torch.int32)
    beam_idx_out = running_bidx.clone()
    scores_out, steps = [], []
    eos_t = torch.tensor(eos) if eos is not None else None

    def gather(t, idx):
        while idx.dim() < t.dim():
            idx = idx.unsqueeze(-1)
        return torch.take_along_dim(t, idx, dim=1)

    while True:
        flat = running[:, :, :cur_len].reshape(batch * nb, cur_len)
        logits = dec.step(flat).to(fdt)
        log_probs = nn.functional.log_softmax(logits, dim=-1)
        log_probs = apply_processors(procs, flat, log_probs)
        if gc["output_scores"]:
            scores_out.append(log_probs.clone())
        acc = (log_probs.view(batch, nb, V) + running_scores[:, :, None]).reshape(batch, nb * V)

        # c. _get_top_k_continuations
        if do_sample:
            topk_idx = torch.multinomial(nn.functional.softmax(acc, dim=-1), num_samples=K)
            topk_lp = torch.gather(acc, 1, topk_idx)
        else:
            topk_lp, topk_idx = torch.topk(acc, k=K)
        cur_beam = topk_idx // V
        topk_bidx = gather(running_bidx, cur_beam)
        topk_seqs = gather(running, cur_beam)
        topk_ids = topk_idx % V
        topk_seqs[:, :, cur_len] = topk_ids
        offs = torch.arange(batch).view(-1, 1) * nb
        topk_bidx[:, :, cur_len - prompt_len] = (cur_beam + offs).to(torch.int32)

        # d. stopping criteria on every continuation
        hits = torch.full((batch, K), cur_len + 1 >= max_length, dtype=torch.bool)
        if eos is not None:
            hits |= torch.isin(topk_ids, eos_t)

        if trace:
            steps.append(_beam_step_trace(acc, topk_lp, topk_ids, hits, beam_scores, finished,
                                          heur_unsat, early_stopping, nb, V, cur_len, prompt_len,
                                          lp, eos, max_length))

        # e. _get_running_beams_for_next_iteration
        topk_running_lp = topk_lp + hits.to(fdt) * -1.0e9
        nxt = torch.topk(topk_running_lp, k=nb)[1]
        running = gather(topk_seqs, nxt)
        running_scores = gather(topk_running_lp, nxt)
        running_bidx = gather(topk_bidx, nxt)

        # f. _update_finished_beams
        just = hits & top_nb_mask[None, :]
        fin_lp = topk_lp / ((cur_len + 1 - prompt_len) ** lp)
        full = torch.all(finished, dim=-1, keepdim=True) & (early_stopping is True)
        fin_lp = fin_lp + full.to(fdt) * -1.0e9
        fin_lp = fin_lp + (~heur_unsat).to(fdt) * -1.0e9
        fin_lp = fin_lp + (~just) * -1.0e9
        m_seqs = torch.cat((sequences, topk_seqs), dim=1)
        m_scores = torch.cat((beam_scores, fin_lp), dim=1)
        m_bidx = torch.cat((beam_idx_out, topk_bidx), dim=1)
        m_fin = torch.cat((finished, just), dim=1)
        keep = torch.topk(m_scores, k=nb)[1]
        sequences = gather(m_seqs, keep)
        beam_scores = gather(m_scores, keep)
        beam_idx_out = gather(m_bidx, keep)
        finished = gather(m_fin, keep)

        # g. reorder the cache, advance, stopping condition
        beam_idx = (running_bidx[..., cur_len - prompt_len]).reshape(-1).long()
        dec.reorder(beam_idx)
        cur_len += 1
        # _check_early_stop_heuristic
        if early_stopping == "never" and lp > 0.0:
            best_len = max_length - prompt_len
        else:
            best_len = cur_len - prompt_len
        best_running = running_scores[:, :1] / (best_len ** lp)
        worst_fin = torch.where(finished, torch.min(beam_scores, dim=1, keepdim=True)[0],
                                torch.tensor(-1.0e9, dtype=fdt))
        if trace and early_stopping is not True:
            for b in range(batch):
                if bool(heur_unsat[b, 0]) and bool(finished[b].all()):
                    steps[-1][b]["comparisons"].append(
                        ("heuristic", float(best_running[b, 0]), float(beam_scores[b].min())))
        heur_unsat = heur_unsat & torch.any(best_running > worst_fin, dim=-1, keepdim=True)
        # _beam_search_has_unfinished_sequences
        improvement_possible = bool(torch.any(heur_unsat))
        exists_open = not (bool(torch.all(finished)) and early_stopping is True)
        valid_cont = not bool(torch.all(hits))
        if not (improvement_possible and exists_open and valid_cont):
            break

    sequences = sequences[:, :nrs, :].reshape(batch * nrs, max_length)
    beam_scores = beam_scores[:, :nrs].reshape(batch * nrs)
    beam_idx_out = beam_idx_out[:, :nrs, :].reshape(batch * nrs, -1)
    max_gen = int(((beam_idx_out + 1).bool()).sum(dim=1).max())
    sequences = sequences[:, :prompt_len + max_gen]
    out = {"sequences": sequences, "sequences_scores": beam_scores,
           "beam_indices": beam_idx_out[:, :max_gen]}
    if gc["output_scores"]:
        out["scores"] = scores_out
    if trace:
        out["trace"] = {"mode": "beam", "steps": steps}
    return out


def row_k(nb, eos):
    return nb * (1 + (len(eos) if eos is not None else 0)) + 1


def _beam_step_trace(acc, topk_lp, topk_ids, hits, beam_scores, finished, heur_unsat,
                     early_stopping, nb, V, cur_len, prompt_len, lp, eos, max_length):
    """The comparisons of one beam step whose outcome decides the ids, per
    input, with the two values compared (a, b): a float32 implementation
    reproduces the ids exactly when each gap is well above its noise.
      * "top_nb": the num_beams-th vs the (num_beams+1)-th continuation,
        when either is finished (decides which finished ones are in
        top_num_beam_mask)
      * "running": the num_beams-th vs the next unfinished continuation
        (decides the running beams), when unfinished ones continue
      * "merge": adjacent pairs among the best num_beams+1 real (> -5e8)
        candidates for the kept hypotheses, when a hypothesis finished
      * "heuristic": the best running score over its hypothetical length vs
        the worst kept hypothesis (added by _beam_search after the step, for
        early_stopping False / "never", while the input can still improve
        and all its num_beams slots hold hypotheses)
    Entries are (kind, a, b). Values below -5e8 carry HF's -1e9 penalties
    (not real scores) and are never compared."""
    out = []
    B = acc.shape[0]
    for b in range(B):
        comps = []
        # the best nb*(1+n_eos)+1 continuations hold at least nb+1 unfinished
        # ones (each beam has n_eos eos continuations), unless all finish
        k = min(row_k(nb, eos), acc.shape[1])
        vals, idx = torch.topk(acc[b], k)
        keep = vals > -5e8
        vals, idx = vals[keep], idx[keep]
        tok = idx % V
        fin_sorted = torch.full_like(tok, cur_len + 1 >= max_length, dtype=torch.bool)
        if eos is not None:
            fin_sorted |= torch.isin(tok, torch.tensor(eos))
        # the top_num_beam_mask cut matters only when a finished continuation
        # sits at it (unfinished ones are ranked by "running" below)
        if vals.numel() > nb and (bool(fin_sorted[nb - 1]) or bool(fin_sorted[nb])):
            comps.append(("top_nb", float(vals[nb - 1]), float(vals[nb])))
        if cur_len + 1 < max_length:
            s2 = vals[~fin_sorted]
            if s2.numel() > nb:
                comps.append(("running", float(s2[nb - 1]), float(s2[nb])))
        just = hits[b] & (torch.arange(hits.shape[1]) < nb)
        if bool(just.any()) and bool(heur_unsat[b, 0]) and not (
                bool(finished[b].all()) and early_stopping is True):
            new = (topk_lp[b] / ((cur_len + 1 - prompt_len) ** lp))[just]
            old = beam_scores[b][beam_scores[b] > -5e8]
            merged = torch.sort(torch.cat([old, new]), descending=True).values[:nb + 1]
            for i in range(merged.numel() - 1):
                comps.append(("merge", float(merged[i]), float(merged[i + 1])))
        out.append({"input": b, "cur_len": cur_len, "comparisons": comps})
    return out

