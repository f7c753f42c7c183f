"""Golden outputs of the PyTorch reference for libmlm's parity tests.

    /usr/bin/python3 tests/reference/make_goldens.py
        rewrites the committed checkpoints (make_checkpoints.py) and then
        tests/data/goldens/<model>/{forward,train*}.{safetensors,json} for
        tiny-bert, tiny-roberta, tiny-distilbert, and
        tests/data/goldens/caikit-bert/ (encoder only).
    /usr/bin/python3 tests/reference/make_goldens.py train-small NAME OUT_DIR
        a small checkpoint (make_checkpoints.py small NAME) in OUT_DIR/model and
        its training goldens (as the tiny models' train*) in OUT_DIR/golden;
        the training parity test runs this at test time
    /usr/bin/python3 tests/reference/make_goldens.py forward MODEL_DIR OUT_DIR
        forward goldens for any HF-layout MLM folder (e.g. the
        distilroberta-shaped one written by make_checkpoints.py).

See README.md for what each file holds. Deterministic: fixed seeds, one
torch thread, deterministic algorithms.
"""

import json
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_models as hf  # noqa: E402
import make_checkpoints as mc  # noqa: E402
import safetensors_io as st  # noqa: E402

ROOT = mc.ROOT
GOLDEN_DIR = os.path.join(ROOT, "tests", "data", "goldens")
TOPK = 5

TRAIN = dict(
    learning_rate=1e-3, weight_decay=0.01, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8,
    warmup_steps=1, num_training_steps=10, max_grad_norm=1.0, steps=3,
    lr_scheduler_type="linear", optim="adamw_torch (torch.optim.AdamW, foreach=False)",
)


def _setup():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def _f(x):
    return float(x)


# ------------------------------------------------------------ batches

def make_batch(family, special, vocab_size, seed, lengths=(13, 9, 5), n_masks=(2, 1, 1),
               pair_first=True):
    """A right-padded batch: ids drawn with a fixed generator from the regular
    range, special tokens at the ends, some positions replaced by the mask id
    (fill-mask positions), labels = original id there, -100 elsewhere.
    BERT: sequence 0 is a pair ([CLS] a [SEP] b [SEP], token types 0/1)."""
    g = torch.Generator().manual_seed(seed)
    B, T = len(lengths), max(lengths)
    lo = special["first_regular"]
    hi = vocab_size - 1 if family == "roberta" else vocab_size   # roberta <mask> is last
    ids = torch.full((B, T), special["pad"], dtype=torch.long)
    am = torch.zeros((B, T), dtype=torch.long)
    tt = torch.zeros((B, T), dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    mask_pos = []
    for b, L in enumerate(lengths):
        body = torch.randint(lo, hi, (L,), generator=g)
        if family == "roberta":
            body[0], body[L - 1] = special["bos"], special["eos"]
        else:
            body[0], body[L - 1] = special["cls"], special["sep"]
            if family == "bert" and b == 0 and pair_first and L >= 7:
                mid = L // 2
                body[mid] = special["sep"]
                tt[b, mid + 1:L] = 1
        ids[b, :L] = body
        am[b, :L] = 1
        cand = [i for i in range(1, L - 1) if int(ids[b, i]) not in
                (special.get("sep"), special.get("eos"))]
        perm = torch.randperm(len(cand), generator=g)[:n_masks[b]]
        for j in sorted(int(p) for p in perm):
            i = cand[j]
            labels[b, i] = ids[b, i]
            ids[b, i] = special["mask"]
            mask_pos.append((b, i))
    batch = {"input_ids": ids, "attention_mask": am}
    if family == "bert":
        batch["token_type_ids"] = tt
    return batch, labels, torch.tensor(mask_pos, dtype=torch.long)


def make_train_batch(family, special, vocab_size, seed, lengths=(13, 11, 6)):
    """Labels on ~20% of the non-special positions of each sequence (at least
    one; never specials or padding); their inputs follow a fixed cycle
    mask / random id / mask / unchanged / mask (the collator's 80/10/10 idea,
    made deterministic so every kind is present)."""
    g = torch.Generator().manual_seed(seed)
    batch, _, _ = make_batch(family, special, vocab_size, seed, lengths=lengths,
                             n_masks=(0,) * len(lengths))
    ids = batch["input_ids"]
    labels = torch.full_like(ids, -100)
    specials = {v for k, v in special.items() if k != "first_regular"}
    lo = special["first_regular"]
    hi = vocab_size - 1 if family == "roberta" else vocab_size
    kinds = []
    for b, L in enumerate(lengths):
        cand = [i for i in range(L) if int(ids[b, i]) not in specials]
        k = max(1, round(0.2 * L))
        chosen = sorted(int(cand[int(j)]) for j in torch.randperm(len(cand), generator=g)[:k])
        for i in chosen:
            labels[b, i] = ids[b, i]
            j = len(kinds) % 5        # fixed pattern: mask, random, mask, unchanged, mask
            if j == 1:
                ids[b, i] = int(torch.randint(lo, hi, (), generator=g))
                kinds.append("random")
            elif j == 3:
                kinds.append("unchanged")
            else:
                ids[b, i] = special["mask"]
                kinds.append("mask")
    batch["labels"] = labels
    return batch, kinds


# ------------------------------------------------------------ forward goldens

def forward_goldens(model_dir, out_dir, special, seed, name):
    os.makedirs(out_dir, exist_ok=True)
    model = hf.from_pretrained(model_dir).eval()
    c = model.config
    batch, labels, mask_pos = make_batch(c.family, special, c.vocab_size, seed)
    with torch.no_grad():
        out = model(**batch, labels=labels)
        m64 = hf.from_pretrained(model_dir, dtype=torch.float64).eval()
        out64 = m64(**batch, labels=labels)
    if c.family == "roberta":
        pos = hf.roberta_position_ids(batch["input_ids"], c.pad_token_id)
    else:
        pos = torch.arange(batch["input_ids"].shape[1])[None, :].expand_as(batch["input_ids"]).clone()
    logits = out["logits"]
    sel = logits[mask_pos[:, 0], mask_pos[:, 1]]          # [M, V]
    probs = sel.softmax(-1)
    top = probs.topk(TOPK, dim=-1)
    srt = sel.sort(dim=-1, descending=True).values
    min_gap = float((srt[:, :TOPK] - srt[:, 1:TOPK + 1]).min())
    tensors = dict(batch)
    tensors.update({
        "position_ids": pos,
        "labels": labels,
        "last_hidden_state": out["last_hidden_state"].contiguous(),
        "logits": logits.contiguous(),
        "loss": out["loss"].reshape(()),
        "fill_mask.positions": mask_pos,
        "fill_mask.top5_ids": top.indices,
        "fill_mask.top5_scores": top.values.contiguous(),
    })
    for i, h in enumerate(out["hidden_states"]):
        tensors[f"hidden_states.{i}"] = h.clone()
    st.save_file(tensors, os.path.join(out_dir, "forward.safetensors"),
                 metadata={"format": "pt", "model": name})
    meta = {
        "model": name,
        "model_dir": os.path.relpath(model_dir, ROOT) if model_dir.startswith(ROOT) else model_dir,
        "family": c.family,
        "mode": "eval (dropout off), float32, eager attention",
        "special_ids": special,
        "batch": {"batch_size": int(batch["input_ids"].shape[0]),
                  "seq_len": int(batch["input_ids"].shape[1]),
                  "lengths": [int(x) for x in batch["attention_mask"].sum(1)],
                  "padding": "right", "seed": seed},
        "tensors": {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)}
                    for k, v in tensors.items()},
        "eval_loss": _f(out["loss"]), "eval_loss_float64": _f(out64["loss"]),
        "fill_mask": {"top_k": TOPK, "scores": "softmax over the whole vocabulary at each "
                      "mask position; ids in descending score order",
                      "min_logit_gap_among_top6": min_gap},
        "float32_vs_float64_max_abs_diff": {
            "last_hidden_state": _f((out["last_hidden_state"].double() - out64["last_hidden_state"]).abs().max()),
            "logits": _f((logits.double() - out64["logits"]).abs().max()),
        },
        "notes": [
            "hidden_states.0 is the embeddings output (after LayerNorm), hidden_states.i the output of layer i; hidden_states.L == last_hidden_state",
            "padded positions are included: their values are what HF computes (pad queries attend to the non-pad keys); compare them too or mask them",
            "position_ids are the ids the reference used (RoBERTa: padding_idx+1 over non-pad tokens, padding_idx on pads)",
            "labels: original id at each masked position, -100 elsewhere; loss = mean cross-entropy over labelled positions",
        ],
    }
    with open(os.path.join(out_dir, "forward.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


# ------------------------------------------------------------ training goldens

def dropout_off(c):
    if c.family == "distilbert":
        return {"dropout": 0.0, "attention_dropout": 0.0}
    return {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def _run_training(model_dir, batch, overrides, dtype):
    model = hf.from_pretrained(model_dir, config_overrides=overrides, dtype=dtype)
    model.train()
    opt = hf.make_optimizer(model, TRAIN["learning_rate"], TRAIN["weight_decay"],
                            betas=(TRAIN["adam_beta1"], TRAIN["adam_beta2"]),
                            eps=TRAIN["adam_epsilon"])
    sched = hf.make_scheduler(opt, TRAIN["warmup_steps"], TRAIN["num_training_steps"])
    steps, grads, params = [], {}, {}
    for s in range(1, TRAIN["steps"] + 1):
        def grab(m, s=s):
            grads[s] = {n: p.grad.detach().clone() for n, p in hf.unique_parameters(m).items()}
        loss, norm, lr = hf.train_step(model, batch, opt, sched, TRAIN["max_grad_norm"],
                                       on_grads=grab)
        coef = min(1.0, TRAIN["max_grad_norm"] / (float(norm) + 1e-6))
        steps.append({"step": s, "lr": lr, "loss": _f(loss), "grad_norm": _f(norm),
                      "clip_coef": coef})
        params[s] = {n: p.detach().clone() for n, p in hf.unique_parameters(model).items()}
    return model, steps, grads, params


# The small models' batch: longer sequences, so that the labelled rows (~20%)
# are a realistic share of a padded batch.
SMALL_LENGTHS = (64, 47, 21)


def train_goldens(model_dir, out_dir, special, seed, name, lengths=(13, 11, 6)):
    os.makedirs(out_dir, exist_ok=True)
    c = hf.load_config(model_dir)
    batch, kinds = make_train_batch(c.family, special, c.vocab_size, seed, lengths=lengths)
    overrides = dropout_off(c)
    model, steps, grads_by_step, params = _run_training(model_dir, batch, overrides, torch.float32)
    _, steps64, grads64_by_step, params64 = _run_training(model_dir, batch, overrides, torch.float64)
    grads, grads64 = grads_by_step[1], grads64_by_step[1]
    # Step 1 has lr 0 (warmup 1): the parameters do not move, so step 2's
    # gradients are step 1's, bit for bit; only step 3's are new. The parity
    # test bounds each AdamW update by the gradients that made it.
    step2_same = all(torch.equal(grads_by_step[2][n], g) for n, g in grads.items())
    assert step2_same, "step 2's gradients differ from step 1's"

    st.save_file(dict(batch), os.path.join(out_dir, "train_batch.safetensors"),
                 metadata={"format": "pt"})
    st.save_file({n: g.contiguous() for n, g in grads.items()},
                 os.path.join(out_dir, "train_grads.safetensors"), metadata={"format": "pt"})
    st.save_file({n: g.contiguous() for n, g in grads_by_step[3].items()},
                 os.path.join(out_dir, "train_grads_step3.safetensors"),
                 metadata={"format": "pt", "step": "3"})
    for s in (1, 2, 3):
        st.save_file({n: p.contiguous() for n, p in params[s].items()},
                     os.path.join(out_dir, f"train_step{s}.safetensors"),
                     metadata={"format": "pt", "step": str(s)})
    decay = set(hf.decay_parameter_names(model))
    names = list(hf.unique_parameters(model))
    key_bias = [n for n in names if n.endswith(("attention.self.key.bias", "attention.k_lin.bias"))]
    p_noise = [max(float((params[s][n].double() - params64[s][n]).abs().max())
                   for n in names if n not in key_bias) for s in (1, 2, 3)]
    grad_rel = max(float((grads[n].double() - grads64[n]).abs().max()) /
                   float(grads64[n].abs().max()) for n in names if n not in key_bias)
    key_bias_abs = max(float(grads[n].abs().max()) for n in key_bias)
    # How far torch's own float32 step-3 gradients are from its float64
    # run's, per tensor (relative L2): they are taken at parameters that
    # already differ where step 2's update was ill-conditioned.
    g3, g3_64 = grads_by_step[3], grads64_by_step[3]
    grad3_rel = {n: float((g3[n].double() - g3_64[n]).norm() / g3_64[n].norm())
                 for n in names if n not in key_bias}
    meta = {
        "model": name,
        "model_dir": os.path.relpath(model_dir, ROOT),
        "config_overrides": overrides,
        "config_overrides_note": "dropout disabled (all dropout probabilities 0) for the golden; "
                                 "model in train mode otherwise (no other difference for these models)",
        "settings": dict(TRAIN, loss="CrossEntropyLoss(ignore_index=-100), mean over labelled tokens",
                         same_batch_every_step=True, gradient_accumulation_steps=1,
                         clip="torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0): total_norm = 2-norm of per-parameter 2-norms; grads *= min(1, max_norm/(total_norm+1e-6))",
                         schedule="lr(step) = lr * (step/warmup if step < warmup else max(0, (total-step)/(total-warmup))), step counted from 0 before the first update, so the first update uses lr 0 with warmup 1",
                         adamw="p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)"),
        "batch": {"seed": seed, "lengths": [int(x) for x in batch["attention_mask"].sum(1)],
                  "labelled_positions": int((batch["labels"] != -100).sum()),
                  "labelled_input_kinds": kinds},
        "loss": steps[0]["loss"],
        "grad_norm_before_clipping": steps[0]["grad_norm"],
        "loss_float64": steps64[0]["loss"],
        "grad_norm_before_clipping_float64": steps64[0]["grad_norm"],
        "steps": steps,
        "steps_float64": steps64,
        "grads_float32_vs_float64_max_rel_diff_per_tensor": grad_rel,
        "grads_float32_vs_float64_note": "max over tensors (key biases excluded) of max|g32 - g64| / max|g64|",
        "key_bias_grad_max_abs_float32": key_bias_abs,
        "params_float32_vs_float64_max_abs": p_noise,
        "params_float32_vs_float64_note": "per step 1..3, max over tensors (key biases excluded) of max|p32 - p64|: where torch's own float32 AdamW updates stray from the float64 ones (elements whose gradient is near zero, whose update m/sqrt(v) is ill-conditioned)",
        "grads_step2_equal_step1": step2_same,
        "grads_step3_float32_vs_float64_rel_l2": grad3_rel,
        "decay_parameters": [n for n in names if n in decay],
        "no_decay_parameters": [n for n in names if n not in decay],
        "tied": {a: cn for a, cn in hf.tied_aliases(model).items()},
        "near_zero_gradients": key_bias,
        "files": {
            "train_batch.safetensors": "input_ids, attention_mask, (token_type_ids,) labels (I64)",
            "train_grads.safetensors": "gradient of every parameter (HF names, tied stored once under the embedding / *.bias name) after the first backward, BEFORE clipping",
            "train_grads_step3.safetensors": "the same after the third backward (step 2's equal step 1's: lr 0 at step 1 leaves the parameters as they were)",
            "train_step1.safetensors": "every parameter after optimizer step 1 (lr 0 because of warmup: equal to the checkpoint)",
            "train_step2.safetensors": "after step 2",
            "train_step3.safetensors": "after step 3",
        },
        "notes": [
            "attention key biases get zero gradient in exact arithmetic (softmax is shift-invariant per query); their float32 gradients and updates are rounding noise: Adam's m/(sqrt(v)+eps) is ill-conditioned wherever a gradient is near its rounding error or eps, so compare parameters after a step element by element, bounded by what each element's gradients allow (tests/test_train.c), not with one tolerance per tensor",
            "the word-embedding padding row gets no gradient from the embedding lookup; its gradient comes from the tied decoder only",
            "RoBERTa's position-embedding padding_idx row gets no gradient either",
        ],
    }
    with open(os.path.join(out_dir, "train.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


# ------------------------------------------------------------ caikit encoder

def caikit_goldens(out_dir, seed=4242):
    src = mc.CAIKIT_SRC
    if not os.path.isdir(src):
        print("skip caikit-bert: " + src + " not found")
        return None
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        mc.convert_caikit(tmp, src)
        enc = hf.load_bert_encoder(tmp).eval()
        enc64 = hf.load_bert_encoder(tmp, dtype=torch.float64).eval()
        c = enc.config
        special = dict(pad=0, unk=1, cls=2, sep=3, mask=4, first_regular=5)
        batch, _, _ = make_batch("bert", special, c.vocab_size, seed, n_masks=(0, 0, 0))
        tt = batch["token_type_ids"].clone()
        tt[2, :5] = 7     # type_vocab_size is 16: exercise a row beyond 0/1
        batch["token_type_ids"] = tt
        with torch.no_grad():
            out = enc(**batch)
            out64 = enc64(**batch)
    tensors = dict(batch)
    tensors["last_hidden_state"] = out["last_hidden_state"].contiguous()
    tensors["pooler_output"] = out["pooler_output"].contiguous()
    for i, h in enumerate(out["hidden_states"]):
        tensors[f"hidden_states.{i}"] = h.clone()
    st.save_file(tensors, os.path.join(out_dir, "forward.safetensors"), metadata={"format": "pt"})
    meta = {
        "model": "caikit-bert",
        "source": "tests/data/models/tiny-random-bert-caikit/pytorch_model.bin (BertForSequenceClassification); converted by `make_checkpoints.py caikit OUT_DIR` (all 90 tensors kept: bert.embeddings.position_ids I64, bert.pooler.*, classifier.*)",
        "mode": "BertModel (encoder + pooler), eval, float32",
        "batch": {"seed": seed, "lengths": [int(x) for x in batch["attention_mask"].sum(1)],
                  "padding": "right", "token_type_ids": "sequence 0 a pair (0/1); sequence 2 has type 7 on its first 5 tokens"},
        "tensors": {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)}
                    for k, v in tensors.items()},
        "float32_vs_float64_max_abs_diff": {
            "last_hidden_state": _f((out["last_hidden_state"].double() - out64["last_hidden_state"]).abs().max())},
    }
    with open(os.path.join(out_dir, "forward.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


SEEDS = {"tiny-bert": 11, "tiny-roberta": 12, "tiny-distilbert": 13}


def main(argv):
    _setup()
    if len(argv) == 3 and argv[0] == "forward":
        c = hf.load_config(argv[1])
        special = (mc.DISTILROBERTA_SHAPED["special"] if c.family == "roberta"
                   else mc.TINY["tiny-bert"]["special"])
        forward_goldens(argv[1], argv[2], special, 21, os.path.basename(argv[1].rstrip("/")))
        return 0
    if len(argv) == 3 and argv[0] == "train-small" and argv[1] in mc.SMALL:
        spec = mc.SMALL[argv[1]]
        mdir = mc.write_small(argv[1], os.path.join(argv[2], "model"))
        t = train_goldens(mdir, os.path.join(argv[2], "golden"), spec["special"],
                          spec["seed"] + 100, argv[1], lengths=SMALL_LENGTHS)
        print(f"{argv[1]}: train loss {t['loss']:.6f} grad_norm {t['grad_norm_before_clipping']:.6f}")
        return 0
    if argv:
        print(__doc__)
        return 2
    mc.main([])
    for name, seed in SEEDS.items():
        mdir = os.path.join(mc.MODELS_DIR, name)
        special = mc.TINY[name]["special"]
        m = forward_goldens(mdir, os.path.join(GOLDEN_DIR, name), special, seed, name)
        t = train_goldens(mdir, os.path.join(GOLDEN_DIR, name), special, seed + 100, name)
        print(f"{name}: eval_loss {m['eval_loss']:.6f} min top-k gap {m['fill_mask']['min_logit_gap_among_top6']:.2e} "
              f"train loss {t['loss']:.6f} grad_norm {t['grad_norm_before_clipping']:.6f}")
    # tiny-bert-legacy must load to tiny-bert exactly: same goldens
    caikit_goldens(os.path.join(GOLDEN_DIR, "caikit-bert"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
