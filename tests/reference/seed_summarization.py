"""The seed's summarization loop in PyTorch, for examples/seed_summarization.c
(its test: tests/test_seq2seq_trainer.c, seed_loop_matches_pytorch).

    /usr/bin/python3 tests/reference/seed_summarization.py   # needs node + tests/node_modules

writes tests/data/goldens/seed-summarization/:
  config.json, model.safetensors  a tiny random T5 with t5-small's vocabulary
                                  (32128), dropout_rate 0 so both sides run
                                  the same floats (the seed's model.train()
                                  draws dropout masks from torch's stream)
  seed.json                       the token ids HF's tokenizers (the Node
                                  binding) gives the seed's texts, and the
                                  loss of every step of the seed's loop,
                                  float32 as loss.item() returns it

The loop is the seed's, line for line: tokenizer(article, truncation=True,
max_length=128)["input_ids"], tokenizer(summary, truncation=True,
max_length=32)["input_ids"], DataCollatorForSeq2Seq(tokenizer, model=None)
with pad_token = eos_token (inputs padded with </s> under attention mask
0, labels with -100; no decoder_input_ids, the model shifts the labels),
batch_size=2 (one batch: both rows; the order shuffle=True picks changes
neither the mean loss nor the gradients beyond rounding), transformers.AdamW
(model.parameters(), lr) with its defaults (eps 1e-6, weight_decay 0.0,
correct_bias True), EPOCHS epochs. lr is 1e-3 instead of the seed's 5e-5
so that every step moves the loss by far more than float32 noise.
"""

import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import t5_models  # noqa: E402
from optim_reference import HFAdamW  # noqa: E402
from seq2seq_collator import PadTokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "tests", "data", "goldens", "seed-summarization")
TOKENIZER = os.path.join(ROOT, "tests", "data", "tokenizers", "t5-small", "tokenizer.json")

TRAIN_DATA = [
    {"article": "The first human went into space and orbited the Earth on April 12, 1961.",
     "summary": "First human in space on April 12, 1961."},
    {"article": "Apollo 11 was the first mission to land humans on the Moon.",
     "summary": "Apollo 11 first humans on Moon."},
]
EPOCHS = 4
LR = 1e-3
SEED = 20261206

CONFIG = {
    "model_type": "t5", "architectures": ["T5ForConditionalGeneration"],
    "vocab_size": 32128, "d_model": 16, "d_kv": 4, "num_heads": 4, "d_ff": 32,
    "num_layers": 2, "num_decoder_layers": 2, "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128, "dropout_rate": 0.0,
    "feed_forward_proj": "relu", "layer_norm_epsilon": 1e-6, "initializer_factor": 1.0,
    "tie_word_embeddings": True, "is_encoder_decoder": True, "pad_token_id": 0,
    "eos_token_id": 1, "decoder_start_token_id": 0,
}

JS = """
const { Tokenizer } = require(process.argv[1]);
const tok = Tokenizer.fromFile(process.argv[2]);
const texts = JSON.parse(process.argv[3]);
(async () => {
  const out = [];
  for (const [text, max] of texts) {
    const enc = await tok.encode(text);
    let ids = Array.from(enc.getIds());
    // truncation=True, max_length: the post-processor's </s> is kept
    if (ids.length > max) ids = ids.slice(0, max - 1).concat([ids[ids.length - 1]]);
    out.push(ids);
  }
  console.log(JSON.stringify(out));
})();
"""


def hf_ids(texts):
    mod = os.path.join(ROOT, "tests", "node_modules", "tokenizers")
    res = subprocess.run(["node", "-e", JS, mod, TOKENIZER, json.dumps(texts)],
                         check=True, capture_output=True, text=True)
    return json.loads(res.stdout)


def collate(rows, pad_id):
    """DataCollatorForSeq2Seq(tokenizer, model=None): labels padded with
    -100 to the longest, then tokenizer.pad on the rest."""
    max_label = max(len(r["labels"]) for r in rows)
    feats = []
    for r in rows:
        lab = r["labels"] + [-100] * (max_label - len(r["labels"]))
        feats.append({"input_ids": r["input_ids"], "labels": lab})
    labels = torch.tensor([f.pop("labels") for f in feats])
    batch = PadTokenizer(pad_id).pad(feats)
    batch["labels"] = labels
    return batch


def main():
    ids = hf_ids([[r["article"], 128] for r in TRAIN_DATA] + [[r["summary"], 32] for r in TRAIN_DATA])
    n = len(TRAIN_DATA)
    rows = [{"input_ids": ids[i], "labels": ids[n + i]} for i in range(n)]
    model = t5_models.new_model(CONFIG, SEED)
    os.makedirs(OUT, exist_ok=True)
    t5_models.save_pretrained(model, OUT, CONFIG)
    model.train()
    optimizer = HFAdamW(model.parameters(), lr=LR)
    eos = 1  # tokenizer.pad_token = tokenizer.eos_token
    losses = []
    for _ in range(EPOCHS):
        batch = collate(rows, eos)
        optimizer.zero_grad()
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    labels=batch["labels"])
        loss = out["loss"]
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        print("Batch loss:", loss.item())
    with open(os.path.join(OUT, "seed.json"), "w") as f:
        json.dump({"train_data": TRAIN_DATA, "input_ids": [r["input_ids"] for r in rows],
                   "labels": [r["labels"] for r in rows], "epochs": EPOCHS, "lr": LR,
                   "losses": losses}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
