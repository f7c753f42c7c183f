"""Tiny HF-layout checkpoints (config.json + model.safetensors) for libmlm's
parity tests, plus two generators that write outside the repository.

    /usr/bin/python3 tests/reference/make_checkpoints.py
        (re)writes the committed tests/data/models/{tiny-bert,tiny-bert-legacy,
        tiny-roberta,tiny-distilbert,tiny-roberta-50k,tiny-bert-30k}/
    /usr/bin/python3 tests/reference/make_checkpoints.py distilroberta-shaped OUT_DIR
        a distilroberta-base-shaped RoBERTa (6 x 768, 12 heads, FFN 3072,
        vocab 50265, 514 positions; ~330 MB), fixed seed, to OUT_DIR
    /usr/bin/python3 tests/reference/make_checkpoints.py small NAME OUT_DIR
        NAME one of small-bert, small-roberta, small-distilbert (4 x 256,
        4 heads, FFN 1024, vocab 8003; ~22 MB), fixed seed, to OUT_DIR
    /usr/bin/python3 tests/reference/make_checkpoints.py caikit OUT_DIR [SRC_DIR]
        converts tests/data/models/tiny-random-bert-caikit/pytorch_model.bin
        (BertForSequenceClassification) to OUT_DIR/{config.json,model.safetensors}
        with every tensor as stored (position_ids buffer, pooler, classifier)

Deterministic: fixed seeds, one torch thread.
"""

import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_models as hf  # noqa: E402
import safetensors_io as st  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODELS_DIR = os.path.join(ROOT, "tests", "data", "models")
CAIKIT_SRC = os.path.join(ROOT, "tests", "data", "models", "tiny-random-bert-caikit")

# Odd sizes on purpose: intermediate 37 and vocabularies that are not
# multiples of 8/16 catch stride and tail bugs; initializer_range 0.2 (not
# HF's 0.02) so that attention is far from uniform and the 1/sqrt(d) scale,
# masks and softmax matter at float32 tolerances.
TINY = {
    "tiny-bert": dict(
        seed=1001,
        config=dict(
            architectures=["BertForMaskedLM"], model_type="bert", vocab_size=1013,
            hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=37,
            hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
            max_position_embeddings=64, type_vocab_size=2, initializer_range=0.2,
            layer_norm_eps=1e-12, pad_token_id=0, position_embedding_type="absolute",
            torch_dtype="float32", tie_word_embeddings=True),
        # ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4
        special=dict(pad=0, unk=1, cls=2, sep=3, mask=4, first_regular=5)),
    "tiny-roberta": dict(
        seed=1002,
        config=dict(
            architectures=["RobertaForMaskedLM"], model_type="roberta", vocab_size=1031,
            hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            # gelu_new in the encoder; the lm_head still uses exact-erf gelu
            hidden_act="gelu_new", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
            max_position_embeddings=66, type_vocab_size=1, initializer_range=0.2,
            layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
            position_embedding_type="absolute", torch_dtype="float32",
            tie_word_embeddings=True),
        # <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=vocab-1
        special=dict(bos=0, pad=1, eos=2, unk=3, mask=1030, first_regular=4)),
    "tiny-distilbert": dict(
        seed=1003,
        config=dict(
            architectures=["DistilBertForMaskedLM"], model_type="distilbert", vocab_size=1009,
            dim=32, n_layers=2, n_heads=4, hidden_dim=37, activation="relu", dropout=0.1,
            attention_dropout=0.1, max_position_embeddings=64, sinusoidal_pos_embds=False,
            initializer_range=0.2, pad_token_id=0, qa_dropout=0.1, seq_classif_dropout=0.2,
            torch_dtype="float32", tie_word_embeddings=True),
        special=dict(pad=0, unk=1, cls=2, sep=3, mask=4, first_regular=5)),
}

# Checkpoints for the fill-mask pipeline goldens (tests/gen_fill_mask_goldens.js):
# the vocabularies of real tokenizers (roberta-base: 50265, bert-base-uncased:
# 30522) so that text goes through end to end, kept under ~2 MB by a tiny
# hidden size. initializer_range 0.8 makes the softmax far from uniform and
# spreads the top logits well apart (the generator checks the smallest gap
# among the ranked candidates against float32 noise). max_position_embeddings
# 130: RoBERTa takes 128 tokens, BERT 130, so "too long" is cheap to test.
PIPELINE = {
    "tiny-roberta-50k": dict(
        seed=1004,
        config=dict(
            architectures=["RobertaForMaskedLM"], model_type="roberta", vocab_size=50265,
            hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=19,
            hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
            max_position_embeddings=130, type_vocab_size=1, initializer_range=0.8,
            layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
            position_embedding_type="absolute", torch_dtype="float32",
            tie_word_embeddings=True),
        tokenizer="roberta-base"),
    "tiny-bert-30k": dict(
        seed=3005,
        config=dict(
            architectures=["BertForMaskedLM"], model_type="bert", vocab_size=30522,
            hidden_size=12, num_hidden_layers=2, num_attention_heads=2, intermediate_size=23,
            hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
            max_position_embeddings=130, type_vocab_size=2, initializer_range=0.8,
            layer_norm_eps=1e-12, pad_token_id=0, position_embedding_type="absolute",
            torch_dtype="float32", tie_word_embeddings=True),
        tokenizer="bert-base-uncased"),
}

# "Small" checkpoints for the training parity test at a realistic size (the
# training benchmark's small shape: 4 layers, hidden 256, 4 heads, FFN 1024,
# a vocabulary of 8k), generated at test time rather than committed (~22 MB
# each). initializer_range 0.05: q·k/sqrt(d) of order 1 at hidden 256.
SMALL = {
    "small-bert": dict(
        seed=4001,
        config=dict(
            architectures=["BertForMaskedLM"], model_type="bert", vocab_size=8003,
            hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
            hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
            max_position_embeddings=130, type_vocab_size=2, initializer_range=0.05,
            layer_norm_eps=1e-12, pad_token_id=0, position_embedding_type="absolute",
            torch_dtype="float32", tie_word_embeddings=True),
        special=TINY["tiny-bert"]["special"]),
    "small-roberta": dict(
        seed=4002,
        config=dict(
            architectures=["RobertaForMaskedLM"], model_type="roberta", vocab_size=8003,
            hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
            hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
            max_position_embeddings=130, type_vocab_size=1, initializer_range=0.05,
            layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
            position_embedding_type="absolute", torch_dtype="float32",
            tie_word_embeddings=True),
        special=dict(bos=0, pad=1, eos=2, unk=3, mask=8002, first_regular=4)),
    "small-distilbert": dict(
        seed=4003,
        config=dict(
            architectures=["DistilBertForMaskedLM"], model_type="distilbert", vocab_size=8003,
            dim=256, n_layers=4, n_heads=4, hidden_dim=1024, activation="gelu", dropout=0.1,
            attention_dropout=0.1, max_position_embeddings=130, sinusoidal_pos_embds=False,
            initializer_range=0.05, pad_token_id=0, qa_dropout=0.1, seq_classif_dropout=0.2,
            torch_dtype="float32", tie_word_embeddings=True),
        special=TINY["tiny-distilbert"]["special"]),
}

DISTILROBERTA_SHAPED = dict(
    seed=2024,
    config=dict(
        architectures=["RobertaForMaskedLM"], model_type="roberta", vocab_size=50265,
        hidden_size=768, num_hidden_layers=6, num_attention_heads=12, intermediate_size=3072,
        hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
        max_position_embeddings=514, type_vocab_size=1, initializer_range=0.02,
        layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        position_embedding_type="absolute", torch_dtype="float32", tie_word_embeddings=True),
    special=dict(bos=0, pad=1, eos=2, unk=3, mask=50264, first_regular=4))


def _setup():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def tiny_model(name):
    spec = TINY[name]
    return hf.new_model(hf.make_config(spec["config"]), spec["seed"], perturb=True)


def write_tiny(name, out_root=MODELS_DIR):
    spec = TINY[name]
    model = tiny_model(name)
    out = os.path.join(out_root, name)
    hf.save_pretrained(model, out)
    return out


def write_pipeline(name, out_root=MODELS_DIR):
    spec = PIPELINE[name]
    model = hf.new_model(hf.make_config(spec["config"]), spec["seed"], perturb=True)
    out = os.path.join(out_root, name)
    hf.save_pretrained(model, out)
    return out


def write_bert_legacy(out_root=MODELS_DIR):
    """tiny-bert's weights the way old hub files store them: LayerNorm
    `gamma`/`beta`, the `bert.embeddings.position_ids` I64 buffer, a
    `bert.pooler.*` and `cls.seq_relationship.*` (unused by the MLM model),
    and the tied `cls.predictions.decoder.weight` stored as a second copy
    (equal values). Loading it must give exactly tiny-bert."""
    model = tiny_model("tiny-bert")
    c = model.config
    sd = {}
    for n, p in hf.unique_parameters(model).items():
        if ".LayerNorm." in n:
            n = n.replace(".LayerNorm.weight", ".LayerNorm.gamma").replace(".LayerNorm.bias", ".LayerNorm.beta")
        sd[n] = p.detach().clone()
    sd["cls.predictions.decoder.weight"] = model.bert.embeddings.word_embeddings.weight.detach().clone()
    sd["bert.embeddings.position_ids"] = torch.arange(c.max_position_embeddings)[None, :].clone()
    g = torch.Generator().manual_seed(77)
    H = c.hidden_size
    sd["bert.pooler.dense.weight"] = torch.empty(H, H).normal_(0, 0.2, generator=g)
    sd["bert.pooler.dense.bias"] = torch.zeros(H)
    sd["cls.seq_relationship.weight"] = torch.empty(2, H).normal_(0, 0.2, generator=g)
    sd["cls.seq_relationship.bias"] = torch.zeros(2)
    out = os.path.join(out_root, "tiny-bert-legacy")
    os.makedirs(out, exist_ok=True)
    cfg = dict(c)
    cfg["architectures"] = ["BertForPreTraining"]
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    st.save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    return out


def write_small(name, out_dir):
    spec = SMALL[name]
    model = hf.new_model(hf.make_config(spec["config"]), spec["seed"], perturb=True)
    hf.save_pretrained(model, out_dir)
    return out_dir


def distilroberta_shaped_model():
    spec = DISTILROBERTA_SHAPED
    return hf.new_model(hf.make_config(spec["config"]), spec["seed"], perturb=True)


def write_distilroberta_shaped(out_dir):
    model = distilroberta_shaped_model()
    hf.save_pretrained(model, out_dir)
    return out_dir


def convert_caikit(out_dir, src_dir=CAIKIT_SRC):
    sd = torch.load(os.path.join(src_dir, "pytorch_model.bin"), map_location="cpu")
    os.makedirs(out_dir, exist_ok=True)
    st.save_file({k: v.contiguous() for k, v in sd.items()},
                 os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(os.path.join(src_dir, "config.json"), os.path.join(out_dir, "config.json"))
    return out_dir


def main(argv):
    _setup()
    if len(argv) >= 2 and argv[0] == "distilroberta-shaped":
        print(write_distilroberta_shaped(argv[1]))
    elif len(argv) >= 3 and argv[0] == "small" and argv[1] in SMALL:
        print(write_small(argv[1], argv[2]))
    elif len(argv) >= 2 and argv[0] == "caikit":
        print(convert_caikit(argv[1], argv[2] if len(argv) > 2 else CAIKIT_SRC))
    elif not argv:
        for name in TINY:
            print(write_tiny(name))
        print(write_bert_legacy())
        for name in PIPELINE:
            print(write_pipeline(name))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
