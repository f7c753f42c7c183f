#!/bin/sh
# Copies the real files the test suite reads from ../shared/data into
# tests/data/ (same relative layout), cutting the larger corpora to the
# excerpts described in tests/data/SOURCES.md. Run once from the repository
# root when a fixture is added; the result is committed, so a clone runs
# every test without ../shared. Deterministic: the same input gives the same
# bytes (gzip -n: no name or time stamp).
set -eu
SRC=${1:-../shared/data}
DST=tests/data
[ -d "$SRC" ] || { echo "copy_fixtures: $SRC is absent" >&2; exit 1; }

copy() { # copy REL...: whole files, unchanged
    for rel in "$@"; do
        mkdir -p "$DST/$(dirname "$rel")"
        cp "$SRC/$rel" "$DST/$rel"
        chmod 644 "$DST/$rel"
    done
}
head_lines() { # head_lines REL N: the first N lines, unchanged
    mkdir -p "$DST/$(dirname "$1")"
    head -n "$2" "$SRC/$1" > "$DST/$1"
}

copy tokenizers/bert-base-uncased/tokenizer.json tokenizers/bert-base-uncased/vocab.txt \
     tokenizers/bert-base-uncased/config.json \
     tokenizers/roberta-base/tokenizer.json tokenizers/roberta-base/vocab.json \
     tokenizers/roberta-base/merges.txt tokenizers/roberta-base/tokenizer_config.json \
     tokenizers/t5-small/tokenizer.json tokenizers/t5-small/tokenizer_config.json \
     tokenizers/bert-base-multilingual-cased/vocab.txt
for m in tiny-random-bert-caikit tiny-random-t5-caikit; do
    for f in "$SRC/models/$m"/*; do copy "models/$m/$(basename "$f")"; done
done

copy corpora/wikitext-2-raw/wiki.valid.raw corpora/xsum-sample/sample.jsonl \
     corpora/cnn-dailymail-sample/train_sample.csv
for f in train test validation-1 validation-2; do
    copy "corpora/eli5-category/dummy/eli5-category-$f.json"
done
head_lines corpora/korsts/sts-train.tsv 3001                  # header + 3000 pairs
head_lines corpora/korean-chatbot-data/ChatbotData.csv 2001   # header + 2000 rows
head_lines corpora/kornli/xnli.dev.ko.tsv 501                 # header + 500 pairs

# JSON arrays: the first N elements, re-serialised by Python's json module
# with the original's separators (member order and strings unchanged).
/usr/bin/python3 - "$SRC" "$DST" <<'PY'
import gzip, io, json, os, sys
src, dst = sys.argv[1], sys.argv[2]
def excerpt(rel, n, gz, indent):
    opener = gzip.open if gz else open
    with opener(os.path.join(src, rel), "rt", encoding="utf-8") as f:
        rows = json.load(f)[:n]
    text = json.dumps(rows, ensure_ascii=False, indent=indent)
    os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
    if gz:
        with open(os.path.join(dst, rel), "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as g:
                g.write(text.encode("utf-8"))
    else:
        with open(os.path.join(dst, rel), "w", encoding="utf-8") as f:
            f.write(text)
excerpt("corpora/eli5-category/eli5-category-validation-2.json.gz", 400, True, None)
excerpt("corpora/klue-sts/klue-sts-v1.1_dev.json", 100, False, 4)
PY
