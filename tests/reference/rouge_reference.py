#!/usr/bin/python3
"""ROUGE as the rouge_score package computes it, for libmlm's parity goldens.

There is no rouge_score package on Debian, so this is its algorithm written
out again from google-research/rouge (tokenize.py, rouge_scorer.py,
scoring.py), with NLTK's PorterStemmer (Debian's python3-nltk 3.8, default
mode NLTK_EXTENSIONS) as rouge_score's DefaultTokenizer uses it. Each
function names the one it follows. The C side (src/metrics/) is checked
against what this writes; `selfcheck` first checks this file against
rouge_score's own test figures (ROUGE-1.5.5 runs).

    /usr/bin/python3 tests/reference/rouge_reference.py selfcheck
    /usr/bin/python3 tests/reference/rouge_reference.py goldens
    /usr/bin/python3 tests/reference/rouge_reference.py porter
    /usr/bin/python3 tests/reference/rouge_reference.py bootstrap   # needs numpy

`goldens` writes tests/data/rouge/goldens.json.gz (texts, pairs, per-pair
scores with and without the stemmer, means); `porter` writes
tests/data/rouge/porter_wikitext.tsv.gz (every distinct token of WikiText-2
valid after rouge tokenization, and NLTK's stem of it). Both are
deterministic (gzip without name or time stamp).
"""

import collections
import gzip
import json
import os
import re
import sys

from nltk.stem import porter

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")
OUT = os.path.join(DATA, "rouge")
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

_STEMMER = porter.PorterStemmer()  # mode NLTK_EXTENSIONS, as rouge_score


# ------------------------------------------------------------ tokenize.py

def tokenize(text, use_stemmer):
    """rouge_score tokenize.tokenize(text, stemmer): str.lower(); each run of
    characters outside [a-z0-9] becomes one space; split on whitespace; with
    a stemmer, tokens longer than 3 characters are stemmed; tokens that do
    not match ^[a-z0-9]+$ (the empty ones at either end) are dropped."""
    text = text.lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    tokens = re.split(r"\s+", text)
    if use_stemmer:
        tokens = [_STEMMER.stem(t) if len(t) > 3 else t for t in tokens]
    return [t for t in tokens if re.match(r"^[a-z0-9]+$", t)]


# -------------------------------------------------------- rouge_scorer.py

def fmeasure(p, r):
    """scoring.fmeasure."""
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def ngram_counts(tokens, n):
    """rouge_scorer._create_ngrams."""
    counts = collections.Counter()
    for i in range(len(tokens) - n + 1):
        counts[tuple(tokens[i:i + n])] += 1
    return counts


def score_ngrams(target, prediction, n):
    """rouge_scorer._score_ngrams: precision over the prediction's n-grams,
    recall over the target's, each count at least 1."""
    t, p = ngram_counts(target, n), ngram_counts(prediction, n)
    overlap = sum(min(c, p[g]) for g, c in t.items())
    precision = overlap / max(sum(p.values()), 1)
    recall = overlap / max(sum(t.values()), 1)
    return precision, recall, fmeasure(precision, recall)


def lcs_table(ref, can):
    """rouge_scorer._lcs_table."""
    t = [[0] * (len(can) + 1) for _ in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(can) + 1):
            if ref[i - 1] == can[j - 1]:
                t[i][j] = t[i - 1][j - 1] + 1
            else:
                t[i][j] = max(t[i - 1][j], t[i][j - 1])
    return t


def lcs_indices(ref, can):
    """rouge_scorer.lcs_ind / _backtrack_norec: the indices into ref of the
    one LCS the backtrack reads (left when t[i][j-1] > t[i-1][j], else up)."""
    t = lcs_table(ref, can)
    i, j, out = len(ref), len(can), []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.append(i - 1)
            i -= 1
            j -= 1
        elif t[i][j - 1] > t[i - 1][j]:
            j -= 1
        else:
            i -= 1
    out.reverse()
    return out


def score_lcs(target, prediction):
    """rouge_scorer._score_lcs."""
    if not target or not prediction:
        return 0, 0, 0
    n = lcs_table(target, prediction)[-1][-1]
    precision, recall = n / len(prediction), n / len(target)
    return precision, recall, fmeasure(precision, recall)


def summary_level_lcs(ref_sents, can_sents):
    """rouge_scorer._summary_level_lcs: the union LCS of each reference
    sentence with all candidate sentences, each token hit at most as often
    as it occurs in both summaries (per-token counters, as ROUGE-1.5.5)."""
    if not ref_sents or not can_sents:
        return 0, 0, 0
    m = sum(len(s) for s in ref_sents)
    n = sum(len(s) for s in can_sents)
    if not n or not m:
        return 0, 0, 0
    left_r, left_c = collections.Counter(), collections.Counter()
    for s in ref_sents:
        left_r.update(s)
    for s in can_sents:
        left_c.update(s)
    hits = 0
    for r in ref_sents:
        union = sorted(set().union(*[lcs_indices(r, c) for c in can_sents]))
        for tok in (r[i] for i in union):
            if left_c[tok] > 0 and left_r[tok] > 0:
                hits += 1
                left_c[tok] -= 1
                left_r[tok] -= 1
    recall, precision = hits / m, hits / n
    return precision, recall, fmeasure(precision, recall)


def sentences(text):
    """get_sents in RougeScorer.score without split_summaries: lines, the
    empty ones left out."""
    return [s for s in text.split("\n") if len(s)]


def score(target, prediction, types=TYPES, use_stemmer=False):
    """RougeScorer(types, use_stemmer).score(target, prediction):
    {type: (precision, recall, fmeasure)}."""
    tt, pt = tokenize(target, use_stemmer), tokenize(prediction, use_stemmer)
    out = {}
    for typ in types:
        if typ == "rougeL":
            out[typ] = score_lcs(tt, pt)
        elif typ == "rougeLsum":
            out[typ] = summary_level_lcs([tokenize(s, use_stemmer) for s in sentences(target)],
                                         [tokenize(s, use_stemmer) for s in sentences(prediction)])
        elif re.match(r"rouge[0-9]$", typ) and int(typ[5:]) > 0:
            out[typ] = score_ngrams(tt, pt, int(typ[5:]))
        else:
            raise ValueError("Invalid rouge type: %s" % typ)
    return out


# ------------------------------------------------------------- selfcheck

def selfcheck():
    """rouge_score's own expected figures (rouge_scorer_test.py,
    scoring_test.py, tokenize_test.py at google-research/google-research),
    on its testdata files as committed under tests/data/rouge/."""
    td = os.path.join(OUT, "rouge_score_testdata")
    read = lambda name: open(os.path.join(td, name), encoding="utf-8").read()
    targets = read("target.txt").splitlines(keepends=True)
    predictions = read("prediction.txt").splitlines(keepends=True)
    failures = 0

    def near(name, want, got, places):
        nonlocal failures
        ok = round(abs(want - got), places) == 0
        failures += not ok
        print("%-4s %-48s want %.5f got %.10f" % ("ok" if ok else "FAIL", name, want, got))

    assert tokenize("one Two three", False) == ["one", "two", "three"]
    assert tokenize("one\n Two \nthree", False) == ["one", "two", "three"]
    cases = [  # (type, stem, pair, (recall, precision, fmeasure))
        ("rouge1", False, 0, (0.40741, 0.68750, 0.51163)),
        ("rouge1", False, 1, (0.40476, 0.65385, 0.50000)),
        ("rouge1", True, 0, (0.40741, 0.68750, 0.51163)),
        ("rouge1", True, 1, (0.42857, 0.69231, 0.52941)),
        ("rouge2", False, 0, (0.30769, 0.53333, 0.39024)),
        ("rouge2", False, 1, (0.29268, 0.48000, 0.36364)),
        ("rouge2", True, 0, (0.30769, 0.53333, 0.39024)),
        ("rouge2", True, 1, (0.29268, 0.48000, 0.36364)),
        ("rougeL", False, 0, (0.40741, 0.68750, 0.51163)),
        ("rougeL", False, 1, (0.40476, 0.65385, 0.50000)),
    ]
    for typ, stem, k, (r, p, f) in cases:
        s = score(targets[k], predictions[k], [typ], stem)[typ]
        for what, want, got in (("recall", r, s[1]), ("precision", p, s[0]), ("fmeasure", f, s[2])):
            near("%s%s line %d %s" % (typ, " stem" if stem else "", k, what), want, got, 5)
    s = score(read("target_multi.0.txt"), read("prediction_multi.0.txt"), ["rougeLsum"], True)
    s = s["rougeLsum"]
    for what, want, got in (("recall", 0.36538, s[1]), ("precision", 0.66667, s[0]),
                            ("fmeasure", 0.47205, s[2])):
        near("rougeLsum stem multi.0 %s" % what, want, got, 5)
    s = score("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5", ["rougeLsum"])["rougeLsum"]
    near("rougeLsum union recall", 0.8, s[1], 7)
    near("rougeLsum union precision", 0.4, s[0], 7)
    near("rougeLsum union fmeasure", 0.5333, s[2], 3)
    print("selfcheck: %d failure(s)" % failures)
    return failures


# -------------------------------------------------------------- goldens

def fnv1a64(data):
    """FNV-1a 64 of bytes: the golden's check that C read the same text."""
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


class Corpus:
    """A file under tests/data read as mlm_dataset_load reads it: rows of
    named columns (JSON Lines, CSV with a header, text as column "text")."""

    def __init__(self, rel):
        import csv
        self.rel = rel
        path = os.path.join(DATA, rel)
        if rel.endswith(".jsonl"):
            with open(path, encoding="utf-8") as f:
                self.rows = [json.loads(l) for l in f if l.strip()]
        elif rel.endswith(".csv"):
            with open(path, encoding="utf-8", newline="") as f:
                self.rows = list(csv.DictReader(f))
        else:  # HF's text loader: one row per line, line breaks removed
            with open(path, encoding="utf-8", newline="") as f:
                text = f.read().replace("\r\n", "\n").replace("\r", "\n")
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            self.rows = [{"text": l} for l in lines]

    def spec(self, column, rows, lines=None):
        """The text made of rows [a, b) of column joined by "\\n", then (when
        lines is given) its lines [c, d) joined by "\\n"; and its spec."""
        text = "\n".join(self.rows[i][column] for i in range(*rows))
        spec = {"file": self.rel, "column": column, "rows": list(rows)}
        if lines is not None:
            text = "\n".join(text.split("\n")[lines[0]:lines[1]])
            spec["lines"] = list(lines)
        return text, spec


SYNTHETIC = [
    "", " ", "\n", "\n\n\n", "/", "!!! ... --- ???", "¿¡«»—…", "\t \r\n \u00a0\u3000",
    "안녕하세요 세계", "한국어 문장은 토큰이 없다.\n두 번째 문장.", "삼성 Galaxy S24 출시",
    "서울 Seoul 2024년 3월", "the the the the", "the cat the cat the cat", "a a a b b",
    "the cat sat on the mat", "the mat sat on the cat", "on the mat the cat sat",
    "The cat sat.\nThe dog ran.\nBirds fly.", "Birds fly.\nThe cat sat.\n\nThe dog ran.",
    "The cat and the dog.\nThe cat ran.", "the dog ran\nthe cat sat\nthe cat sat",
    "HELLO World", "hello WORLD hello", "İstanbul İzmir", "i stanbul izmir",
    "\u212aelvin scale", "kelvin SCALE", "ǅemal ǈ Ǌ", "COVID-19 in the 2020s",
    "covid 19 in 2020s 3.14159", "don't can't won't it's", "don t can t won t it s",
    "dying lying tying skies news innings outings cannings howe proceed exceed succeed",
    "die lie tie sky news inning outing canning howe proceeding exceeded succeeding",
    "caresses ponies ties caress cats feed agreed plastered bled motoring sing",
    "conflated troubled sized hopping tanned falling hissing fizzed failing filing",
    "happy sky enjoy relational conditional rational valenci hesitanci digitizer",
    "conformabli radicalli differentli vileli analogousli vietnamization predication",
    "operator feudalism decisiveness hopefulness callousness formaliti sensitiviti",
    "sensibiliti triplicate formative formalize electriciti electrical hopeful goodness",
    "revival allowance inference airliner gyroscopic adjustable defensible irritant",
    "replacement adjustment dependent adoption homologou communism activate angulariti",
    "homologous effective bowdlerize probate rate cease controll roll generously",
    "dies spied died flies cried tries ties lies skis",
    "line one\r\nline two\r\n", "line one\nline two\n",
    "tab\tseparated\u00a0nbsp\u2003em space", "a" * 300 + " " + "b" * 4,
    "a\u0000b c\u0000", "a b c",
    "x\ny\nz\nx y z\n\n\nz y x",
    "1 2 3 4 5 6 7 8 9 10 1 2 3",
    "Résumé naïve café façade coöperate", "resume naive cafe facade cooperate",
]


def build_pairs():
    """The texts (each once), their specs, and (prediction, reference,
    group) triples of text indices."""
    texts, specs, index = [], [], {}

    def text_id(text, spec):
        key = json.dumps(spec, sort_keys=True)
        if key not in index:
            index[key] = len(texts)
            texts.append(text)
            s = dict(spec)
            if "text" not in s:
                s["len"] = len(text.encode("utf-8"))
                s["fnv1a64"] = fnv1a64(text.encode("utf-8"))
            specs.append(s)
        return index[key]

    def inline(text):
        if "\u0000" in text:
            return text_id(text, {"text_hex": text.encode("utf-8").hex()})
        return text_id(text, {"text": text})

    pairs = []
    cnn = Corpus("corpora/cnn-dailymail-sample/train_sample.csv")
    n = len(cnn.rows)
    for i in range(n):
        hl, hs = cnn.spec("highlights", (i, i + 1))
        ar, as_ = cnn.spec("article", (i, i + 1))
        nx, ns = cnn.spec("highlights", ((i + 1) % n, (i + 1) % n + 1))
        h = text_id(hl, hs)
        pairs.append((h, text_id(ar, as_), "cnn"))          # summary vs article
        pairs.append((h, text_id(nx, ns), "cnn"))           # two multi-line summaries
        pairs.append((text_id(*cnn.spec("highlights", (i, i + 1), (0, 1))), h, "cnn"))
        for a in range(len(hl.split("\n"))):                # sentence pairs
            for b in range(len(nx.split("\n"))):
                pa = text_id(*cnn.spec("highlights", (i, i + 1), (a, a + 1)))
                pb = text_id(*cnn.spec("highlights", ((i + 1) % n, (i + 1) % n + 1), (b, b + 1)))
                pairs.append((pa, pb, "cnn"))
    xsum = Corpus("corpora/xsum-sample/sample.jsonl")
    n = len(xsum.rows)
    for i in range(n):
        summ = text_id(*xsum.spec("summary", (i, i + 1)))
        doc, ds = xsum.spec("document", (i, i + 1))
        d = text_id(doc, ds)
        pairs.append((summ, d, "xsum"))
        pairs.append((d, text_id(*xsum.spec("document", ((i + 1) % n, (i + 1) % n + 1))), "xsum"))
        lines = doc.split("\n")
        pairs.append((text_id(*xsum.spec("document", (i, i + 1), (0, 3))),
                      text_id(*xsum.spec("document", (i, i + 1), (1, 4))), "xsum"))
        for j in range(len(lines)):
            lj = text_id(*xsum.spec("document", (i, i + 1), (j, j + 1)))
            pairs.append((summ, lj, "xsum"))
            if j + 1 < len(lines):
                pairs.append((lj, text_id(*xsum.spec("document", (i, i + 1), (j + 1, j + 2))),
                              "xsum"))
    wiki = Corpus("corpora/wikitext-2-raw/wiki.valid.raw")
    nonblank = [i for i, r in enumerate(wiki.rows) if r["text"].strip()]
    for a, b in zip(nonblank[:600], nonblank[1:601]):
        pairs.append((text_id(*wiki.spec("text", (a, a + 1))),
                      text_id(*wiki.spec("text", (b, b + 1))), "wikitext"))
    for k in range(0, 120, 8):  # several paragraphs as the lines of one text
        a, b = nonblank[k], nonblank[k + 6]
        c, d = nonblank[k + 3], nonblank[k + 9]
        pairs.append((text_id(*wiki.spec("text", (a, b))), text_id(*wiki.spec("text", (c, d))),
                      "wikitext"))
    ids = [inline(t) for t in SYNTHETIC]
    for a in ids:
        for b in ids:
            pairs.append((a, b, "synthetic"))
    return texts, specs, pairs


def goldens():
    texts, specs, pairs = build_pairs()
    out_pairs, sums = [], {"plain": [0.0] * 12, "stem": [0.0] * 12}
    for p, r, group in pairs:
        rec = [p, r]
        for mode, stem in (("plain", False), ("stem", True)):
            s = score(texts[r], texts[p], TYPES, stem)  # score(target, prediction)
            flat = [float(v) for t in TYPES for v in s[t]]
            for k in range(12):
                sums[mode][k] += flat[k]
            rec.append(flat)
        out_pairs.append(rec)
    groups = collections.Counter(g for _, _, g in pairs)
    doc = {
        "about": "rouge_score's algorithm (tests/reference/rouge_reference.py) with NLTK "
                 "3.8's PorterStemmer; pairs are [prediction, reference, plain scores, "
                 "stemmed scores], scores (precision, recall, fmeasure) per type in order",
        "types": TYPES,
        "groups": dict(sorted(groups.items())),
        "texts": specs,
        "pairs": out_pairs,
        "mean": {m: [v / len(pairs) for v in sums[m]] for m in sums},
    }
    write_gz(os.path.join(OUT, "goldens.json.gz"),
             json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
    print("goldens: %d texts, %d pairs %s" % (len(texts), len(pairs), dict(groups)))


def porter_goldens():
    """Every distinct token of WikiText-2 valid, rouge-tokenized (no
    stemming), with NLTK's stem. Short tokens too: the stemmer itself must
    agree on them (rouge_score only calls it on tokens of 4+ characters)."""
    with open(os.path.join(DATA, "corpora/wikitext-2-raw/wiki.valid.raw"), encoding="utf-8") as f:
        words = sorted(set(tokenize(f.read(), False)))
    lines = "".join("%s\t%s\n" % (w, _STEMMER.stem(w)) for w in words)
    write_gz(os.path.join(OUT, "porter_wikitext.tsv.gz"), lines)
    changed = sum(1 for l in lines.splitlines() if l.split("\t")[0] != l.split("\t")[1])
    print("porter: %d words, %d changed by the stemmer" % (len(words), changed))


def bootstrap():
    """How far evaluate's default result (BootstrapAggregator's mid F, as
    scoring.py computes it: the median of 1000 means of pairs resampled
    with numpy's global RNG) is from the plain mean libmlm reports, on the
    golden pairs of each corpus (stemmer on), for three seeds."""
    import numpy as np
    with gzip.open(os.path.join(OUT, "goldens.json.gz"), "rt", encoding="utf-8") as f:
        doc = json.load(f)
    start, spans = 0, []
    for group in ("cnn", "xsum", "wikitext"):  # the order build_pairs adds them
        spans.append((group, start, start + doc["groups"][group]))
        start += doc["groups"][group]
    for seed in (0, 1, 2):
        np.random.seed(seed)
        for group, a, b in spans:
            f_scores = np.array([p[3][2::3] for p in doc["pairs"][a:b]])
            means = np.zeros((1000, f_scores.shape[1]))
            for i in range(1000):
                idx = np.random.choice(np.arange(f_scores.shape[0]), size=f_scores.shape[0])
                means[i, :] = np.mean(f_scores[idx, :], axis=0)
            mid = np.percentile(means, [2.5, 50, 97.5], axis=0)[1]
            print("seed %d %-8s %4d pairs: max |mid - mean| over the 4 types %.1e"
                  % (seed, group, b - a, np.max(np.abs(mid - f_scores.mean(axis=0)))))


def write_gz(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as g:
            g.write(text.encode("utf-8"))


def main(argv):
    if len(argv) < 2 or argv[1] not in ("selfcheck", "goldens", "porter", "bootstrap"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "selfcheck":
        return 1 if selfcheck() else 0
    if argv[1] == "porter":
        porter_goldens()
        return 0
    if argv[1] == "bootstrap":
        bootstrap()
        return 0
    if selfcheck():
        return 1
    goldens()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
