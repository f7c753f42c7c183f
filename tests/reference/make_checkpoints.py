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

# The three families' MaskedLM configs, with the fields every checkpoint
# here shares (dropout 0.1, absolute positions, float32, tied decoder), in
# the order config.json lists them.
def bert(vocab, hidden, layers, heads, ffn, positions, init, act="gelu"):
    return dict(
        architectures=["BertForMaskedLM"], model_type="bert", vocab_size=vocab,
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=ffn, hidden_act=act, hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1, max_position_embeddings=positions, type_vocab_size=2,
        initializer_range=init, layer_norm_eps=1e-12, pad_token_id=0,
        position_embedding_type="absolute", torch_dtype="float32", tie_word_embeddings=True)


def roberta(vocab, hidden, layers, heads, ffn, positions, init, act="gelu"):
    return dict(
        architectures=["RobertaForMaskedLM"], model_type="roberta", vocab_size=vocab,
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=ffn, hidden_act=act, hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1, max_position_embeddings=positions, type_vocab_size=1,
        initializer_range=init, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, position_embedding_type="absolute", torch_dtype="float32",
        tie_word_embeddings=True)


def distilbert(vocab, dim, layers, heads, ffn, positions, init, act):
    return dict(
        architectures=["DistilBertForMaskedLM"], model_type="distilbert", vocab_size=vocab,
        dim=dim, n_layers=layers, n_heads=heads, hidden_dim=ffn, activation=act, dropout=0.1,
        attention_dropout=0.1, max_position_embeddings=positions, sinusoidal_pos_embds=False,
        initializer_range=init, pad_token_id=0, qa_dropout=0.1, seq_classif_dropout=0.2,
        torch_dtype="float32", tie_word_embeddings=True)


# ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4; RoBERTa: <s>=0 <pad>=1 </s>=2
# <unk>=3 <mask>=vocab-1
BERT_SPECIAL = dict(pad=0, unk=1, cls=2, sep=3, mask=4, first_regular=5)


def roberta_special(vocab):
    return dict(bos=0, pad=1, eos=2, unk=3, mask=vocab - 1, first_regular=4)


# Odd sizes on purpose: intermediate 37 and vocabularies that are not
# multiples of 8/16 catch stride and tail bugs; initializer_range 0.2 (not
# HF's 0.02) so that attention is far from uniform and the 1/sqrt(d) scale,
# masks and softmax matter at float32 tolerances. RoBERTa's encoder runs
# gelu_new (its lm_head still uses exact-erf gelu).
TINY = {
    "tiny-bert": dict(seed=1001, config=bert(1013, 32, 3, 4, 37, 64, 0.2),
                      special=BERT_SPECIAL),
    "tiny-roberta": dict(seed=1002, config=roberta(1031, 32, 2, 4, 37, 66, 0.2, act="gelu_new"),
                         special=roberta_special(1031)),
    "tiny-distilbert": dict(seed=1003, config=distilbert(1009, 32, 2, 4, 37, 64, 0.2, "relu"),
                            special=BERT_SPECIAL),
}

# Checkpoints for the fill-mask pipeline goldens (tests/gen_fill_mask_goldens.js):
# the vocabularies of real tokenizers (roberta-base: 50265, bert-base-uncased:
# 30522) so that text goes through end to end, kept under ~2 MB by a tiny
# hidden size. initializer_range 0.8 makes the softmax far from uniform and
# spreads the top logits well apart (the generator checks the smallest gap
# among the ranked candidates against float32 noise). max_position_embeddings
# 130: RoBERTa takes 128 tokens, BERT 130, so "too long" is cheap to test.
PIPELINE = {
    "tiny-roberta-50k": dict(seed=1004, config=roberta(50265, 8, 2, 2, 19, 130, 0.8),
                             tokenizer="roberta-base"),
    "tiny-bert-30k": dict(seed=3005, config=bert(30522, 12, 2, 2, 23, 130, 0.8),
                          tokenizer="bert-base-uncased"),
}

# "Small" checkpoints for the training parity test at a realistic size (the
# training benchmark's small shape: 4 layers, hidden 256, 4 heads, FFN 1024,
# a vocabulary of 8k), generated at test time rather than committed (~22 MB
# each). initializer_range 0.05: q·k/sqrt(d) of order 1 at hidden 256.
SMALL = {
    "small-bert": dict(seed=4001, config=bert(8003, 256, 4, 4, 1024, 130, 0.05),
                       special=BERT_SPECIAL),
    "small-roberta": dict(seed=4002, config=roberta(8003, 256, 4, 4, 1024, 130, 0.05),
                          special=roberta_special(8003)),
    "small-distilbert": dict(seed=4003, config=distilbert(8003, 256, 4, 4, 1024, 130, 0.05, "gelu"),
                             special=BERT_SPECIAL),
}

DISTILROBERTA_SHAPED = dict(seed=2024, config=roberta(50265, 768, 6, 12, 3072, 514, 0.02),
                            special=roberta_special(50265))


def _setup():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def new_model(spec):
    return hf.new_model(hf.make_config(spec["config"]), spec["seed"], perturb=True)


def write_model(spec, out_dir):
    hf.save_pretrained(new_model(spec), out_dir)
    return out_dir


def tiny_model(name):
    return new_model(TINY[name])


def write_tiny(name, out_root=MODELS_DIR):
    return write_model(TINY[name], os.path.join(out_root, name))


def write_pipeline(name, out_root=MODELS_DIR):
    return write_model(PIPELINE[name], os.path.join(out_root, name))


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
    return write_model(SMALL[name], out_dir)


def distilroberta_shaped_model():
    return new_model(DISTILROBERTA_SHAPED)


def write_distilroberta_shaped(out_dir):
    return write_model(DISTILROBERTA_SHAPED, out_dir)


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
