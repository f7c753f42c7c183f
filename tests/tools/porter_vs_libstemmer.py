#!/usr/bin/python3
"""How far Snowball's stemmers (libstemmer, Debian's libstemmer0d) are from
NLTK's PorterStemmer() on the words of tests/data/rouge/porter_wikitext.tsv.gz
(NLTK 3.8's stems, written by tests/reference/rouge_reference.py porter).

    /usr/bin/python3 tests/tools/porter_vs_libstemmer.py [--show N]

rouge_score stems with NLTK's default mode (NLTK_EXTENSIONS); Snowball's
"porter" is Martin Porter's original algorithm and "english" is Porter2, so
neither can stand in for it: this prints how many words each stems
differently (over all words, and over those rouge_score would stem: more
than 3 characters). It reads the library through ctypes; nothing in the
build links it.
"""

import ctypes
import gzip
import os
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def main(argv):
    show = int(argv[argv.index("--show") + 1]) if "--show" in argv else 10
    lib = ctypes.CDLL("libstemmer.so.0d")
    lib.sb_stemmer_new.restype = ctypes.c_void_p
    lib.sb_stemmer_new.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.sb_stemmer_stem.restype = ctypes.c_void_p
    lib.sb_stemmer_stem.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.sb_stemmer_length.restype = ctypes.c_int
    lib.sb_stemmer_length.argtypes = [ctypes.c_void_p]
    lib.sb_stemmer_delete.argtypes = [ctypes.c_void_p]
    path = os.path.join(ROOT, "tests/data/rouge/porter_wikitext.tsv.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t") for line in f]
    for algorithm in ("porter", "english"):
        st = lib.sb_stemmer_new(algorithm.encode(), b"UTF_8")
        diffs = []
        for word, nltk_stem in pairs:
            w = word.encode()
            p = lib.sb_stemmer_stem(st, w, len(w))
            got = ctypes.string_at(p, lib.sb_stemmer_length(st)).decode()
            if got != nltk_stem:
                diffs.append((word, nltk_stem, got))
        lib.sb_stemmer_delete(st)
        long_ = [d for d in diffs if len(d[0]) > 3]
        print("libstemmer %-8s differs from NLTK on %d of %d words (%d of the %d longer than 3)"
              % (algorithm, len(diffs), len(pairs), len(long_),
                 sum(1 for w, _ in pairs if len(w) > 3)))
        for word, want, got in long_[:show]:
            print("    %-20s nltk %-16s libstemmer %s" % (word, want, got))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
