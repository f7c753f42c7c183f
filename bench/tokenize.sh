#!/bin/sh
# Tokenization throughput, libmlm vs Hugging Face `tokenizers` (Rust, through
# its Node binding, encodeBatch) in one run: the same text (WikiText-2 valid,
# one text per line, no special tokens), the same thread counts (1 and 2;
# rayon's pool size for HF), bert-base-uncased and roberta-base. Each cell is
# the median of 5 timed runs after a warm-up (bench/tokenizer_bench.c and
# bench/tokenize_hf.js), the two sides alternating; ratio = libmlm / HF.
#
#   make bench-tokenize        (or bench/tokenize.sh after building
#                               build/bench/tokenizer_bench)
#
# The HF side needs node and tests/node_modules (npm ci in tests/, tried
# here); without them only libmlm's figures are printed.
#
# Measured 2025-11-25 (2 x AMD EPYC vCPU, 23.5 GiB, Debian 12, node v20.20.2,
# tokenizers 0.23.2) on a SHARED machine under load average ~8 (other jobs
# on both cores), so absolute figures are low and 2 threads cannot scale;
# the ratios are the meaningful part (same text, same moment):
#   tokenizer          thr  mlm MB/s  HF MB/s  ratio  mlm Mt/s  HF Mt/s  tokens
#   bert-base-uncased    1      5.62     1.29   4.34     1.173    0.270  238656
#   bert-base-uncased    2      5.67     1.40   4.06     1.183    0.292  238656
#   roberta-base         1      3.24     1.24   2.61     0.698    0.268  246127
#   roberta-base         2      3.18     1.20   2.64     0.684    0.259  246127
# (an earlier run under the same load: ratios 5.22, 4.03, 2.50, 2.66.)
set -eu
cd "$(dirname "$0")/.."
BIN=build/bench/tokenizer_bench
DATA=../shared/data
CORPUS=$DATA/corpora/wikitext-2-raw/wiki.valid.raw
[ -x "$BIN" ] || { echo "build $BIN first (make bench-tokenize)"; exit 1; }
[ -f "$CORPUS" ] || { echo "skip: $CORPUS is absent"; exit 0; }

hf=1
why=""
if ! command -v node >/dev/null 2>&1; then
    hf=0; why="node is not installed"
elif [ ! -d tests/node_modules/tokenizers ]; then
    if ! (cd tests && npm ci --prefer-offline --no-audit --no-fund >/dev/null 2>&1); then
        hf=0; why="npm ci in tests/ failed (offline?)"
    fi
fi

field() { echo "$1" | sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')
echo "machine: $(nproc) x ${cpu:-?}, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ $hf = 1 ]; then
    ver=$(node -e "console.log(require('./tests/node_modules/tokenizers/package.json').version)")
    echo "peer: tokenizers $ver (Node binding), node $(node --version)"
else
    echo "peer: skipped ($why)"
fi
echo "corpus: $CORPUS, lines as texts, no special tokens, median of 5 runs"
printf '%-18s %3s  %9s %9s %6s  %9s %9s %6s  %s\n' tokenizer thr "mlm MB/s" "HF MB/s" ratio \
    "mlm Mt/s" "HF Mt/s" ratio "tokens (mlm/HF)"
for name in bert-base-uncased roberta-base; do
    for t in 1 2; do
        ours=$($BIN --json "$DATA/tokenizers/$name/tokenizer.json" $t "$CORPUS")
        ob=$(field "$ours" bytes); ot=$(field "$ours" tokens); om=$(field "$ours" median_s)
        if [ $hf = 1 ]; then
            theirs=$(TOKENIZERS_PARALLELISM=true RAYON_NUM_THREADS=$t node bench/tokenize_hf.js --child $name | tail -n 1)
            ht=$(field "$theirs" tokens); hm=$(field "$theirs" median_s)
        else
            ht=0; hm=0
        fi
        awk -v n=$name -v t=$t -v b=$ob -v ot=$ot -v om=$om -v ht=$ht -v hm=$hm 'BEGIN {
            omb = b / 1e6 / om; otk = ot / 1e6 / om
            if (hm > 0) {
                hmb = b / 1e6 / hm; htk = ht / 1e6 / hm
                printf "%-18s %3d  %9.2f %9.2f %6.2f  %9.3f %9.3f %6.2f  %d/%d\n", n, t, omb, hmb, omb / hmb, otk, htk, otk / htk, ot, ht
            } else
                printf "%-18s %3d  %9.2f %9s %6s  %9.3f %9s %6s  %d\n", n, t, omb, "-", "-", otk, "-", "-", ot
        }'
    done
done
