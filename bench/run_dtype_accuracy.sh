#!/bin/sh
# What bf16 and int8 weights cost in accuracy (make bench-dtype-accuracy,
# issue #15): a small RoBERTa (4 layers, 256 wide, 8k byte-level BPE)
# trained here with `mlm train` on the first 90% of WikiText-2's lines
# (../shared/data: the raw validation split) plus the English corpora of
# ../shared/data (ELI5 answers, CNN/DailyMail articles, Tiny Shakespeare:
# WikiText alone, 0.25 M tokens, leaves the model at the unigram plateau),
# then fill-mask predictions at held-out mask positions of WikiText's last
# 10%, fp32 against bf16 and int8 (build/bench/dtype_accuracy). Training
# runs once per folder; the model stays in $DIR for later runs.
#
# Environment: DIR (default /tmp/mlm-dtype-accuracy), STEPS (2500),
# THREADS (2), POSITIONS (2000).
set -eu
cd "$(dirname "$0")/.."
DIR=${DIR:-/tmp/mlm-dtype-accuracy}
STEPS=${STEPS:-2500}
THREADS=${THREADS:-2}
POSITIONS=${POSITIONS:-2000}
WIKI=../shared/data/corpora/wikitext-2-raw/wiki.valid.raw
[ -f "$WIKI" ] || { echo "no $WIKI: the corpora of ../shared/data are needed"; exit 1; }
mkdir -p "$DIR"
N=$(wc -l < "$WIKI")
head -n $((N * 9 / 10)) "$WIKI" > "$DIR/train.txt"
tail -n +$((N * 9 / 10 + 1)) "$WIKI" > "$DIR/heldout.txt"
python3 - "$DIR/train.txt" <<'PY'
import csv, gzip, json, sys
D = "../shared/data/corpora/"
with open(sys.argv[1], "a") as out:
    for q in json.load(gzip.open(D + "eli5-category/eli5-category-validation-2.json.gz")):
        for t in q["answers"]["text"]:
            out.write(" ".join(t.split()) + "\n")
    csv.field_size_limit(1 << 24)
    for row in csv.DictReader(open(D + "cnn-dailymail-sample/train_sample.csv")):
        out.write(row["article"] + "\n")
    out.write(open(D + "tiny-shakespeare/input.txt").read())
PY
if [ ! -f "$DIR/model/model.safetensors" ]; then
    bin/mlm train-tokenizer --model bpe --vocab-size 8000 --threads "$THREADS" \
        "$DIR/train.txt" --out "$DIR/tok" > /dev/null
    mkdir -p "$DIR/cfg"
    cat > "$DIR/cfg/config.json" <<'JSON'
{"model_type": "roberta", "architectures": ["RobertaForMaskedLM"], "vocab_size": 8000,
 "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
 "intermediate_size": 1024, "max_position_embeddings": 514, "type_vocab_size": 1,
 "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "layer_norm_eps": 1e-05,
 "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
 "initializer_range": 0.02}
JSON
    bin/mlm train --config_name "$DIR/cfg" --tokenizer_name "$DIR/tok" \
        --train_file "$DIR/train.txt" --validation_file "$DIR/heldout.txt" \
        --max_seq_length 128 --per_device_train_batch_size 16 --learning_rate 1e-3 \
        --warmup_steps 100 --weight_decay 0.01 --max_steps "$STEPS" --logging_steps 250 \
        --save_strategy no --num_threads "$THREADS" --seed 7 --do_eval \
        --output_dir "$DIR/model" > "$DIR/train.log" 2>&1
    grep -E '"loss"|perplexity' "$DIR/train.log" | tail -3
fi
uptime
build/bench/dtype_accuracy "$DIR/model" "$DIR/heldout.txt" --positions "$POSITIONS" \
    --threads "$THREADS"
