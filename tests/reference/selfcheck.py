"""Checks the reference against itself (and against facts from the HF /
safetensors sources) in ways that catch mistakes in it.

    /usr/bin/python3 tests/reference/selfcheck.py        # exits 1 on a failure

Takes about a minute on one core.
"""

import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_models as hf  # noqa: E402
import make_checkpoints as mc  # noqa: E402
import make_goldens as mg  # noqa: E402
import make_t5 as mt5  # noqa: E402
import safetensors_io as st  # noqa: E402
import t5_generate as tg  # noqa: E402
import t5_models as tm  # noqa: E402

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def models_dir(name):
    return os.path.join(mc.MODELS_DIR, name)


# ------------------------------------------------------------ safetensors

def check_safetensors():
    import numpy as np
    # byte-exact vectors from tensor.rs's unit tests
    d = np.arange(6, dtype=np.float32)
    exp = bytes([64, 0, 0, 0, 0, 0, 0, 0]) + b'{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}' + d.tobytes()
    check(st.serialize({"attn.0": d.reshape(1, 2, 3)}) == exp, "safetensors: tensor.rs test_serialization bytes")
    exp = bytes([72, 0, 0, 0, 0, 0, 0, 0]) + b'{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}' + b" " * 7 + d.tobytes()
    check(st.serialize({"attn0": d.reshape(1, 1, 2, 3)}) == exp, "safetensors: test_serialization_forced_alignement (space padding)")
    check(st.serialize({}) == bytes([8, 0, 0, 0, 0, 0, 0, 0]) + b"{}      ", "safetensors: test_empty")
    check(st.serialize({}, {"framework": "pt"}) == bytes([40, 0, 0, 0, 0, 0, 0, 0]) + b'{"__metadata__":{"framework":"pt"}}     ',
          "safetensors: test_empty with metadata")
    # ordering: Dtype enum order descending, then name
    ts = {"b": np.zeros(1, np.float32), "a": np.zeros(1, np.float32), "i64": np.zeros(1, np.int64),
          "f64": np.zeros(1, np.float64), "i32": np.zeros(1, np.int32), "u8": np.zeros(1, np.uint8),
          "f16": np.zeros(1, np.float16), "B": np.zeros(1, np.float32), "bool": np.zeros(1, np.bool_)}
    buf = st.serialize(ts)
    n = struct.unpack("<Q", buf[:8])[0]
    order = list(json.loads(buf[8:8 + n]))
    check(order == ["i64", "f64", "B", "a", "b", "i32", "f16", "u8", "bool"],
          f"safetensors: order I64 > F64 > F32 (names bytewise: B < a < b) > I32 > F16 > U8 > BOOL: {order}")
    back = st.load_bytes(buf)
    check(all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in ts.items()), "safetensors: round trip")
    # rejections
    good = st.serialize({"x": np.arange(4, dtype=np.float32)})
    n = struct.unpack("<Q", good[:8])[0]
    hdr = good[8:8 + n]

    def rebuild(h, data=good[8 + n:], pad=True):
        h = h.encode() if isinstance(h, str) else h
        if pad:
            h += b" " * ((8 - len(h) % 8) % 8)
        return struct.pack("<Q", len(h)) + h + data

    bad = {
        "huge header size": struct.pack("<Q", 100_000_001) + good[8:],
        "header beyond file": struct.pack("<Q", len(good)) + good[8:],
        "trailing byte": good + b"\0",
        "short buffer": good[:-1],
        "offsets beyond buffer": rebuild('{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,32]}}'),
        "gap at start": rebuild('{"x":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}}'),
        "overlap": rebuild('{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"y":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}'),
        "shape/size mismatch": rebuild('{"x":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}}'),
        "duplicate key": rebuild('{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'),
        "unknown dtype": rebuild('{"x":{"dtype":"F31","shape":[4],"data_offsets":[0,16]}}'),
        "not utf-8": rebuild(b'{"\xff":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'),
        "metadata not str->str": rebuild('{"__metadata__":{"a":1},"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'),
    }
    for what, b in bad.items():
        try:
            st.load_bytes(b)
            check(False, f"safetensors: rejects {what}")
        except st.SafetensorsError:
            check(True, f"safetensors: rejects {what}")
    check(st.load_bytes(rebuild(hdr))["x"].shape == (4,), "safetensors: accepts its own rebuilt header")
    # shared memory refused
    w = torch.zeros(3, 2)
    try:
        st.serialize({"a": w, "b": w})
        check(False, "safetensors: refuses two names sharing memory")
    except st.SafetensorsError:
        check(True, "safetensors: refuses two names sharing memory")
    # committed files follow the order rule
    for name in ("tiny-bert", "tiny-bert-legacy", "tiny-roberta", "tiny-distilbert"):
        path = os.path.join(models_dir(name), "model.safetensors")
        with open(path, "rb") as f:
            buf = f.read()
        header, _ = st.parse_header(buf)
        names = [k for k in header if k != "__metadata__"]
        key = [(-st.DTYPE_RANK[header[k]["dtype"]], k.encode()) for k in names]
        check(key == sorted(key) and list(header)[0] == "__metadata__",
              f"{name}: header has __metadata__ first, tensors in prepare() order")
        check(st.serialize(st.load_bytes(buf), {"format": "pt"}) == buf, f"{name}: re-serialising gives identical bytes")


# ------------------------------------------------------------ models

def check_ties_and_roundtrip():
    for name in ("tiny-bert", "tiny-roberta", "tiny-distilbert"):
        m = hf.from_pretrained(models_dir(name))
        c = m.config
        base = m.base()
        emb = base.embeddings.word_embeddings.weight
        if c.family == "bert":
            dec, dbias, bias = m.cls.predictions.decoder.weight, m.cls.predictions.decoder.bias, m.cls.predictions.bias
        elif c.family == "roberta":
            dec, dbias, bias = m.lm_head.decoder.weight, m.lm_head.decoder.bias, m.lm_head.bias
        else:
            dec, dbias, bias = m.vocab_projector.weight, None, None
        check(dec is emb and dec.data_ptr() == emb.data_ptr(), f"{name}: decoder weight is the word embedding")
        if dbias is not None:
            check(dbias is bias, f"{name}: decoder bias is the head's bias parameter")
        # one train step keeps the tie
        batch, _ = mg.make_train_batch(c.family, mc.TINY[name]["special"], c.vocab_size, 5)
        opt = hf.make_optimizer(m, 1e-3, 0.01)
        sch = hf.make_scheduler(opt, 0, 10)
        hf.train_step(m, batch, opt, sch)
        check(base.embeddings.word_embeddings.weight is dec, f"{name}: still tied after a step")
        n_unique = len(hf.unique_parameters(m))
        check(len(list(m.parameters())) == n_unique, f"{name}: parameters() yields each tensor once ({n_unique})")
        # save -> load round trip
        with tempfile.TemporaryDirectory() as tmp:
            hf.save_pretrained(m, tmp)
            m2 = hf.from_pretrained(tmp)
            sd1, sd2 = m.state_dict(), m2.state_dict()
            check(sd1.keys() == sd2.keys() and all(torch.equal(sd1[k], sd2[k]) for k in sd1),
                  f"{name}: save -> load gives identical parameters")
            keys = set(st.load_file(os.path.join(tmp, "model.safetensors")))
            check(not any(k in keys for k in hf.tied_aliases(m)), f"{name}: tied aliases not written")
            m.eval(), m2.eval()
            with torch.no_grad():
                a, b = m(**{k: v for k, v in batch.items() if k != "labels"}), m2(**{k: v for k, v in batch.items() if k != "labels"})
            check(torch.equal(a["logits"], b["logits"]), f"{name}: logits identical after round trip")
            hf.save_pretrained(m2, tmp + "/again")
            with open(os.path.join(tmp, "model.safetensors"), "rb") as f1, open(os.path.join(tmp, "again", "model.safetensors"), "rb") as f2:
                check(f1.read() == f2.read(), f"{name}: save is byte-deterministic")
    a = hf.from_pretrained(models_dir("tiny-bert"))
    b = hf.from_pretrained(models_dir("tiny-bert-legacy"))
    sa, sb = a.state_dict(), b.state_dict()
    check(all(torch.equal(sa[k], sb[k]) for k in sa), "tiny-bert-legacy (gamma/beta, position_ids, pooler, seq_relationship, tied copy) loads to tiny-bert")
    check(any("gamma" in k for k in st.load_file(os.path.join(models_dir("tiny-bert-legacy"), "model.safetensors"))),
          "tiny-bert-legacy really stores gamma names")


def check_positions_and_padding():
    pad = 1
    ids = torch.tensor([[0, 10, 11, 2, pad, pad], [pad, pad, 0, 10, 11, 2]])
    got = hf.roberta_position_ids(ids, pad).tolist()
    check(got == [[2, 3, 4, 5, 1, 1], [1, 1, 2, 3, 4, 5]], f"roberta positions right/left padding: {got}")
    for name in ("tiny-bert", "tiny-roberta", "tiny-distilbert"):
        m = hf.from_pretrained(models_dir(name), dtype=torch.float64).eval()
        c = m.config
        sp = mc.TINY[name]["special"]
        batch, _, _ = mg.make_batch(c.family, sp, c.vocab_size, 3)
        with torch.no_grad():
            full = m(**batch)
            worst = 0.0
            for b in range(batch["input_ids"].shape[0]):
                L = int(batch["attention_mask"][b].sum())
                one = {k: v[b:b + 1, :L] for k, v in batch.items()}
                alone = m(**one)
                worst = max(worst, float((alone["logits"][0] - full["logits"][b, :L]).abs().max()))
            check(worst < 1e-10, f"{name}: right padding does not change real tokens' logits ({worst:.1e})")
            if c.family == "roberta":
                # left padding: same positions for the real tokens, so same outputs
                L = int(batch["attention_mask"][1].sum())
                T = batch["input_ids"].shape[1]
                ids = torch.full((1, T), pad)
                ids[0, T - L:] = batch["input_ids"][1, :L]
                am = torch.zeros((1, T), dtype=torch.long)
                am[0, T - L:] = 1
                left = m(input_ids=ids, attention_mask=am)
                d = float((left["logits"][0, T - L:] - full["logits"][1, :L]).abs().max())
                check(d < 1e-10, f"{name}: left padding gives the same outputs ({d:.1e})")


def check_traps():
    # DistilBERT LayerNorm eps is 1e-12 whatever the config says
    c = hf.make_config(dict(mc.TINY["tiny-distilbert"]["config"], layer_norm_eps=0.5))
    m = hf.build_mlm(c)
    eps = {mod.eps for mod in m.modules() if isinstance(mod, nn.LayerNorm)}
    check(eps == {1e-12}, f"distilbert: every LayerNorm eps 1e-12 ({eps})")
    # RoBERTa lm_head uses erf gelu even with hidden_act=gelu_new
    m = hf.from_pretrained(models_dir("tiny-roberta"), dtype=torch.float64).eval()
    check(m.config.hidden_act == "gelu_new", "tiny-roberta uses gelu_new in its encoder")
    x = torch.randn(2, 3, m.config.hidden_size, dtype=torch.float64) * 3
    h = m.lm_head
    d = h.dense(x)
    erf = h.decoder(h.layer_norm(d * 0.5 * (1 + torch.erf(d / math.sqrt(2)))))
    tanh = h.decoder(h.layer_norm(hf._gelu_new(d)))
    check(torch.allclose(h(x), erf, atol=1e-12, rtol=0) and not torch.allclose(h(x), tanh, atol=1e-6),
          "roberta lm_head: exact erf gelu, not hidden_act")
    # gelu_new written out
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    check(torch.allclose(hf.ACTIVATIONS["gelu_new"](x), nn.functional.gelu(x, approximate="tanh"), atol=1e-12),
          "gelu_new equals torch's tanh-approximate gelu in float64")
    # BERT-family mask adds finfo.min after scaling; DistilBERT scales q first
    m = hf.from_pretrained(models_dir("tiny-bert")).eval()
    mask = torch.tensor([[1, 1, 0]])
    ext = hf._extended_mask(mask, torch.float32)
    check(ext[0, 0, 0].tolist() == [0.0, 0.0, torch.finfo(torch.float32).min], "extended mask = (1-m)*finfo.min")
    # padding_idx row: no gradient from the lookup, only from the tied decoder
    for name in ("tiny-bert", "tiny-roberta", "tiny-distilbert"):
        m = hf.from_pretrained(models_dir(name), config_overrides=mg.dropout_off(hf.load_config(models_dir(name))))
        c = m.config
        batch, _ = mg.make_train_batch(c.family, mc.TINY[name]["special"], c.vocab_size, 9)
        out = m(**batch)
        out["loss"].backward()
        emb = m.base().embeddings.word_embeddings
        g_total = emb.weight.grad[c.pad_token_id].clone()
        # gradient through the decoder alone: d loss / d W_dec[pad] = sum_t dlogits[t, pad] * x_t
        m.zero_grad()
        out = m(**batch)
        logits = out["logits"]
        dl, = torch.autograd.grad(out["loss"], logits, retain_graph=True)
        if c.family == "bert":
            xin = m.cls.predictions.transform(out["last_hidden_state"])
        elif c.family == "roberta":
            hd = m.lm_head
            xin = hd.layer_norm(nn.functional.gelu(hd.dense(out["last_hidden_state"])))
        else:
            xin = m.vocab_layer_norm(m.activation(m.vocab_transform(out["last_hidden_state"])))
        g_dec = (dl[..., c.pad_token_id, None] * xin).sum((0, 1))
        check(torch.allclose(g_total, g_dec, rtol=1e-4, atol=1e-7), f"{name}: pad row gradient comes from the decoder only")
        if c.family == "roberta":
            pg = m.base().embeddings.position_embeddings
            m.zero_grad()
            m(**batch)["loss"].backward()
            check(float(pg.weight.grad[c.pad_token_id].abs().max()) == 0.0, f"{name}: position padding_idx row gets no gradient")


def check_gradcheck():
    """torch.autograd.gradcheck (float64) of the loss w.r.t. every parameter
    of micro models (same code paths, fewer numbers)."""
    from torch.nn.utils.stateless import functional_call
    micro = {
        "bert": dict(model_type="bert", vocab_size=23, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=5, max_position_embeddings=12, type_vocab_size=2, initializer_range=0.3,
                     hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
        "roberta": dict(model_type="roberta", vocab_size=23, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=5, max_position_embeddings=12, type_vocab_size=1, initializer_range=0.3,
                        hidden_act="gelu_new", layer_norm_eps=1e-5, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0),
        "distilbert": dict(model_type="distilbert", vocab_size=23, dim=8, n_layers=2, n_heads=2, hidden_dim=5,
                           max_position_embeddings=12, initializer_range=0.3, activation="gelu", dropout=0.0,
                           attention_dropout=0.0),
    }
    for fam, cfg in micro.items():
        m = hf.new_model(cfg, seed=7, dtype=torch.float64).train()
        c = m.config
        ids = torch.tensor([[5, 6, 7, 8, 9, 10], [5, 11, 12, 13, c.pad_token_id, c.pad_token_id]])
        if fam == "roberta":
            ids[:, 0] = 0
        am = (ids != c.pad_token_id).long()
        labels = torch.full_like(ids, -100)
        labels[0, 2], labels[0, 4], labels[1, 1] = 3, 17, 22
        kw = dict(input_ids=ids, attention_mask=am, labels=labels)
        if fam == "bert":
            kw["token_type_ids"] = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0]])
        params = hf.unique_parameters(m)
        names = list(params)
        aliases = hf.tied_aliases(m)

        def f(*ps):
            d = dict(zip(names, ps))
            for a, cn in aliases.items():
                d[a] = d[cn]
            return functional_call(m, d, (), kw)["loss"]
        inputs = tuple(p.detach().clone().requires_grad_(True) for p in params.values())
        nparam = sum(p.numel() for p in inputs)
        ok = torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)
        check(ok, f"gradcheck float64 micro-{fam} ({nparam} parameters, tied decoder)")
        # and the module's own backward agrees with functional_call's
        m.zero_grad()
        m(**kw)["loss"].backward()
        g2 = torch.autograd.grad(f(*inputs), inputs)
        check(all(torch.allclose(params[n].grad, g, rtol=1e-12, atol=1e-14) for n, g in zip(names, g2)),
              f"micro-{fam}: module backward == functional backward")


def check_optimizer():
    m = hf.from_pretrained(models_dir("tiny-bert"), config_overrides={"hidden_dropout_prob": 0.0,
                                                                     "attention_probs_dropout_prob": 0.0},
                           dtype=torch.float64)
    decay = set(hf.decay_parameter_names(m))
    names = list(hf.unique_parameters(m))
    expect = {n for n in names if n.endswith(".weight") and "LayerNorm" not in n}
    check({n for n in names if n in decay} == expect,
          "decay set = every non-LayerNorm weight (embeddings included), no biases")
    # manual AdamW + clip + schedule == torch's, 3 steps
    batch, _ = mg.make_train_batch("bert", mc.TINY["tiny-bert"]["special"], m.config.vocab_size, 4)
    ref = {n: p.detach().clone() for n, p in hf.unique_parameters(m).items()}
    opt = hf.make_optimizer(m, 1e-3, 0.01)
    sch = hf.make_scheduler(opt, 1, 10)
    lam = hf.linear_schedule_lambda(1, 10)
    mm = {n: torch.zeros_like(p) for n, p in ref.items()}
    vv = {n: torch.zeros_like(p) for n, p in ref.items()}
    m2 = hf.from_pretrained(models_dir("tiny-bert"), config_overrides={"hidden_dropout_prob": 0.0,
                                                                      "attention_probs_dropout_prob": 0.0},
                            dtype=torch.float64)
    for t in range(1, 4):
        hf.train_step(m, batch, opt, sch, 1.0)
        p2 = hf.unique_parameters(m2)
        with torch.no_grad():
            for n, p in p2.items():
                p.copy_(ref[n])
        m2.zero_grad()
        m2.train()
        m2(**batch)["loss"].backward()
        norm = math.sqrt(sum(float(p.grad.double().norm()) ** 2 for p in p2.values()))
        coef = min(1.0, 1.0 / (norm + 1e-6))
        lr = 1e-3 * lam(t - 1)
        for n, p in p2.items():
            g = p.grad * coef
            wd = 0.01 if n in decay else 0.0
            ref[n] = ref[n] * (1 - lr * wd)
            mm[n] = 0.9 * mm[n] + 0.1 * g
            vv[n] = 0.999 * vv[n] + 0.001 * g * g
            denom = (vv[n].sqrt() / math.sqrt(1 - 0.999 ** t)) + 1e-8
            ref[n] = ref[n] - (lr / (1 - 0.9 ** t)) * mm[n] / denom
        worst = max(float((hf.unique_parameters(m)[n] - ref[n]).abs().max()) for n in ref)
        check(worst < 1e-12, f"AdamW step {t} (lr {lr:.6g}) == hand-written formula (float64, {worst:.1e})")


def check_goldens_reproduce():
    with tempfile.TemporaryDirectory() as tmp:
        for name, seed in mg.SEEDS.items():
            out = os.path.join(tmp, name)
            mg.forward_goldens(models_dir(name), out, mc.TINY[name]["special"], seed, name)
            mg.train_goldens(models_dir(name), out, mc.TINY[name]["special"], seed + 100, name)
            for fn in sorted(os.listdir(out)):
                with open(os.path.join(out, fn), "rb") as a, open(os.path.join(mg.GOLDEN_DIR, name, fn), "rb") as b:
                    check(a.read() == b.read(), f"goldens/{name}/{fn} reproduces byte for byte")
        g = st.load_file(os.path.join(mg.GOLDEN_DIR, "tiny-bert", "forward.safetensors"))
        s = g["fill_mask.top5_scores"]
        check(bool((s[:, :-1] >= s[:, 1:]).all()) and float(s.sum(1).max()) <= 1.0, "fill-mask scores descending, sum <= 1")
        g1 = st.load_file(os.path.join(mg.GOLDEN_DIR, "tiny-bert", "train_step1.safetensors"))
        ck = st.load_file(os.path.join(models_dir("tiny-bert"), "model.safetensors"))
        check(all((g1[k] == ck[k]).all() for k in ck), "train_step1 == checkpoint (first update has lr 0 with warmup 1)")


# ------------------------------------------------------------ T5

def check_t5(tmp):
    """T5 reference against itself: names, save/load, cached == uncached,
    float32 vs float64, beam bookkeeping, the caikit conversion."""
    dirs = {}
    for style in ("v1.0", "v1.1"):
        d = os.path.join(tmp, "t5-" + style)
        mt5.write_checkpoint(style, "tiny", d)
        dirs[style] = d
    names = {st_: set(st.load_file(os.path.join(d, "model.safetensors"))) for st_, d in dirs.items()}
    for style, ks in names.items():
        tied = style == "v1.0"
        check("shared.weight" in ks and not any(k in ks for k in tm.EMBED_ALIASES)
              and (("lm_head.weight" in ks) != tied),
              f"t5 {style}: safetensors names as save_pretrained writes them (lm_head.weight {'absent' if tied else 'present'})")
        check("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" in ks
              and "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" in ks
              and not any("block.1.layer.0.SelfAttention.relative_attention_bias" in k for k in ks)
              and not any("EncDecAttention.relative_attention_bias" in k for k in ks),
              f"t5 {style}: relative_attention_bias in block 0 of each stack only")
        check(any(k.endswith("DenseReluDense.wi_1.weight") for k in ks) == (style == "v1.1"),
              f"t5 {style}: gated FFN has wi_0/wi_1 exactly when v1.1")
    again = os.path.join(tmp, "again")
    mt5.write_checkpoint("v1.0", "tiny", again)
    with open(os.path.join(dirs["v1.0"], "model.safetensors"), "rb") as a, \
            open(os.path.join(again, "model.safetensors"), "rb") as b:
        check(a.read() == b.read(), "t5 checkpoint: same bytes on every run")
    for style, d in dirs.items():
        m = tm.from_pretrained(d)
        rt = os.path.join(tmp, "rt-" + style)
        tm.save_pretrained(m, rt, json.load(open(os.path.join(d, "config.json"))))
        with open(os.path.join(d, "model.safetensors"), "rb") as a, \
                open(os.path.join(rt, "model.safetensors"), "rb") as b:
            check(a.read() == b.read(), f"t5 {style}: load -> save gives the same bytes")
        if style == "v1.0":
            check(m.lm_head.weight is m.shared.weight and m.encoder.embed_tokens is m.shared,
                  "t5 v1.0: lm_head and both embed_tokens are shared.weight")
        # aliases as older files store them load to the same model
        sd = st.load_torch(os.path.join(d, "model.safetensors"))
        sd["encoder.embed_tokens.weight"] = sd["shared.weight"].clone()
        sd["decoder.embed_tokens.weight"] = sd.pop("shared.weight").clone()
        m2 = tm.T5ForConditionalGeneration(m.config)
        tm.load_state_dict_into(m2, sd)
        check(all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values())),
              f"t5 {style}: a file with only encoder/decoder.embed_tokens.weight loads the same")
    # float32 vs float64, cached vs full, right padding
    _, _, t = mt5.inputs_for(dirs["v1.1"])
    for style, d in dirs.items():
        m, m64 = tm.from_pretrained(d), tm.from_pretrained(d, dtype=torch.float64)
        ids, am = mt5.pad_batch([t["sources"][i] for i in (3, 1, 12)])
        dec = torch.tensor([[0, 5, 9, 13, 7, 1], [0, 22, 5, 1, 0, 0], [0, 8, 1, 0, 0, 0]])
        dm = (torch.arange(6)[None, :] < torch.tensor([[6], [4], [3]])).long()
        with torch.no_grad():
            o, o64 = m(ids, am, dec, dm), m64(ids, am, dec, dm)
            d32 = float((o["logits"].double() - o64["logits"]).abs().max())
            check(d32 < 1e-4, f"t5 {style}: float32 vs float64 logits {d32:.1e} < 1e-4")
            lc = mt5.cached_logits(m64, ids, am, dec, dm)
            dc = float((lc - o64["logits"]).abs().max())
            check(dc < 1e-10, f"t5 {style}: cached decoding == full decoder (float64, {dc:.1e})")
            worst = 0.0
            for b in range(3):
                L, Ld = int(am[b].sum()), int(dm[b].sum())
                one = m64(ids[b:b + 1, :L], None, dec[b:b + 1, :Ld], None)
                worst = max(worst, float((one["logits"][0] - o64["logits"][b, :Ld]).abs().max()))
            check(worst < 1e-10, f"t5 {style}: padding changes no real position's logits ({worst:.1e})")
    # generation: cached == uncached; beam search with one beam and
    # early_stopping=True == greedy; sequences_scores rebuilt from the
    # per-step scores and beam indices (HF's compute_transition_scores recipe)
    m = tm.from_pretrained(dirs["v1.1"])
    gc = tg.model_generation_config(dirs["v1.1"], dict(m.config))
    ids, am = mt5.pad_batch([t["sources"][i] for i in (0, 8, 5)])
    for opts in ({"max_new_tokens": 10}, {"max_new_tokens": 10, "no_repeat_ngram_size": 2},
                 {"max_new_tokens": 10, "num_beams": 4, "num_return_sequences": 2},
                 {"max_new_tokens": 10, "num_beams": 3, "early_stopping": "never", "length_penalty": 2.0}):
        a = tg.generate(m, ids, am, generation_config=gc, **opts)["sequences"]
        b = tg.generate(m, ids, am, generation_config=gc, use_cache=False, **opts)["sequences"]
        check(torch.equal(a, b), f"t5 generate {opts}: cached == uncached ids")
    for opts in ({"max_new_tokens": 10}, {"max_new_tokens": 10, "no_repeat_ngram_size": 2, "min_new_tokens": 3}):
        g = tg.generate(m, ids, am, generation_config=gc, **opts)["sequences"]
        gcf = tg.resolve_config(gc, dict(opts, early_stopping=True))
        gcf["num_beams"] = 1
        enc = m.encode(ids, am)["last_hidden_state"]
        bm = tg._beam_search(m, enc, am, gcf, False, torch.float32)["sequences"]
        # beam search fills after eos with eos (1), greedy with pad (0)
        gg = g.clone()
        for r in range(gg.shape[0]):
            row = gg[r].tolist()
            if 1 in row[1:]:
                gg[r, row.index(1, 1):] = 1
        check(torch.equal(gg[:, :bm.shape[1]], bm) and bool((gg[:, bm.shape[1]:] == 1).all()),
              f"t5: beam search with num_beams=1, early_stopping=True == greedy {opts}")
    for opts in ({"num_beams": 4, "length_penalty": 0.6, "num_return_sequences": 4},
                 {"num_beams": 3, "length_penalty": 2.0, "early_stopping": "never"}):
        o = tg.generate(m, ids, am, generation_config=gc, max_new_tokens=10, output_scores=True, **opts)
        S = torch.stack(o["scores"], 1)          # [batch*beams, steps, V]
        worst = 0.0
        for r in range(o["sequences"].shape[0]):
            bi = o["beam_indices"][r]
            n = int((bi >= 0).sum())
            tot = sum(float(S[int(bi[k]), k, int(o["sequences"][r, k + 1])]) for k in range(n))
            worst = max(worst, abs(tot / n ** opts["length_penalty"] - float(o["sequences_scores"][r])))
        check(worst < 1e-4, f"t5 beam {opts}: sequences_scores = sum of chosen log-probs / "
                            f"(generated length incl. eos) ** length_penalty ({worst:.1e})")
    # HF quirk: beam search pads T5 outputs with eos (pad 0 is falsy)
    o = tg.generate(m, ids, am, generation_config=gc, max_new_tokens=10, num_beams=4, num_return_sequences=4)
    rows = [r for r in o["sequences"].tolist() if 1 in r[1:] and r.index(1, 1) < len(r) - 1]
    check(all(all(x == 1 for x in r[r.index(1, 1):]) for r in rows),
          f"t5 beam: shorter hypotheses filled with eos 1 ({len(rows)} rows)")
    # resolved lengths
    r = tg.resolve_config(gc, {})
    check(r["max_length"] == 21, "generate: untouched max_length 20 -> 21 (decoder start token)")
    check(tg.resolve_config(gc, {"max_length": 20})["max_length"] == 20, "generate: explicit max_length 20 stays 20")
    check(tg.resolve_config(gc, {"max_new_tokens": 5, "min_new_tokens": 2})["min_length"] == 3,
          "generate: min_new_tokens 2 -> min_length 3")
    # buckets: spot values of HF's formula (32 buckets, max distance 128)
    bb = tm.relative_position_bucket(torch.tensor([0, -1, 1, -7, -8, -127, -128, -500, 500]), True, 32, 128).tolist()
    bc = tm.relative_position_bucket(torch.tensor([0, 1, -1, -15, -16, -127, -128, -500]), False, 32, 128).tolist()
    check(bb == [0, 1, 17, 7, 8, 15, 15, 15, 31] and bc == [0, 0, 1, 15, 16, 31, 31, 31],
          f"relative buckets: bidirectional {bb}, causal {bc}")
    # caikit conversion
    cd = os.path.join(tmp, "caikit")
    mt5.convert_caikit(cd)
    bin_sd = torch.load(os.path.join(mt5.CAIKIT_SRC, "pytorch_model.bin"), map_location="cpu")
    conv = st.load_file(os.path.join(cd, "model.safetensors"))
    check(set(conv) == set(bin_sd) - {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"}
          and all(np.array_equal(conv[k], bin_sd[k].numpy()) for k in conv),
          f"caikit T5: safetensors = the .bin less its 3 tied aliases ({len(conv)} tensors)")


def check_t5_goldens_reproduce(tmp):
    out = os.path.join(tmp, "goldens")
    mt5.write_committed(out)
    for name, _ in mt5.COMMITTED:
        for fn in sorted(os.listdir(os.path.join(out, name))):
            with open(os.path.join(out, name, fn), "rb") as a, \
                    open(os.path.join(mt5.GOLDEN_DIR, name, fn), "rb") as b:
                check(a.read() == b.read(), f"goldens/{name}/{fn} reproduces byte for byte")


def main():
    mg._setup()
    torch.set_num_threads(1)
    check_safetensors()
    check_ties_and_roundtrip()
    check_positions_and_padding()
    check_traps()
    check_optimizer()
    check_gradcheck()
    check_goldens_reproduce()
    with tempfile.TemporaryDirectory() as tmp:
        check_t5(tmp)
        check_t5_goldens_reproduce(tmp)
    print(f"\n{len(FAILS)} failure(s)")
    for f in FAILS:
        print("  " + f)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
