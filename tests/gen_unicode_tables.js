#!/usr/bin/env node
// Regenerates src/text/unicode_tables.c: the character classes Hugging Face
// `tokenizers` uses, read off the reference itself (the Rust library's Node
// binding, pinned in tests/package.json) one code point at a time, so that
// libmlm classifies every Unicode scalar value as HF does whatever Unicode
// version the system's utf8proc and Oniguruma carry. Never part of
// `make check`; tests/test_unicode_sweep.c checks the result against the
// sweep goldens (tests/gen_unicode_sweep_goldens.js).
//
//   cd tests && npm ci && cd .. && node tests/gen_unicode_tables.js
//
// HF takes its classes from several crates, each with its own Unicode
// version (read off the probes below: the first version whose additions the
// class does not know):
//   unicode_categories 0.1.1 (Unicode 8.0): BertNormalizer's is_control
//     (is_other: Cc Cf Co), is_punctuation (BertPreTokenizer, Punctuation),
//     is_mark_nonspacing (BertNormalizer's strip_accents);
//   unicode-normalization-alignments (Unicode 9.0): is_combining_mark
//     (StripAccents), and NFD/NFC data (exceptions in unicode.c);
//   Rust's std (Unicode 17.0 in the binding's build): char::is_numeric
//     (Digits), char::is_whitespace, char::to_lowercase;
//   the regex crate (Unicode 16.0): \w of the Whitespace pre-tokenizer and
//     of added tokens' single_word test;
//   Oniguruma as the binding bundles it (Unicode 16.0): \p{L}, \p{N}, \s of
//     ByteLevel's GPT-2 pattern.
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require('tokenizers');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'src', 'text', 'unicode_tables.c');

const bert = (o) => tk.bertNormalizer(Object.assign(
  { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false }, o));
const clean = bert({ cleanText: true });
const stripMn = bert({ stripAccents: true });
const punct = tk.punctuationPreTokenizer();
const digits = tk.digitsPreTokenizer(false);
const wsSplit = tk.whitespaceSplitPreTokenizer();
const wsRegex = tk.whitespacePreTokenizer();
const byteLevel = tk.byteLevelPreTokenizer(false, true);
const stripMarks = tk.stripAccentsNormalizer();

// Each probe puts the code point c between two characters whose class is
// known and reads how the component treats it.
const probes = {
  HF_BERT_CONTROL: (c) => c !== '\ufffd' && clean.normalizeString('a' + c + 'a') === 'aa',
  HF_PUNCTUATION: (c) => punct.preTokenizeString('a' + c + 'a').length === 3,
  HF_MARK_NONSPACING: (c) => stripMn.normalizeString('a' + c + 'a') === 'aa',
  HF_COMBINING_MARK: (c) => stripMarks.normalizeString('a' + c + 'a') === 'aa',
  RUST_NUMERIC: (c) => digits.preTokenizeString('a' + c + 'a').length === 3,
  RUST_REGEX_WORD: (c) => wsRegex.preTokenizeString('x' + c + 'x').length === 1,
  ONIG_LETTER: (c) => byteLevel.preTokenizeString('x' + c + 'x').length === 1,
  ONIG_NUMBER: (c) => byteLevel.preTokenizeString('1' + c + '1').length === 1,
};
const docs = {
  HF_BERT_CONTROL: 'BertNormalizer(clean_text) removes it besides U+FFFD: tokenizers\' is_control,\n' +
    ' * unicode_categories 0.1.1 is_other() (Cc, Cf, Co of Unicode 8.0; \\t \\n \\r excepted;\n' +
    ' * no Cn: unassigned code points and noncharacters are kept).',
  HF_PUNCTUATION: 'BertPreTokenizer and Punctuation split on it: char::is_ascii_punctuation or\n' +
    ' * unicode_categories 0.1.1 is_punctuation() (Pc Pd Ps Pe Pi Pf Po of Unicode 8.0).',
  HF_MARK_NONSPACING: 'BertNormalizer(strip_accents) removes it after NFD: unicode_categories\n' +
    ' * 0.1.1 is_mark_nonspacing() (Mn of Unicode 8.0; with the few code points whose\n' +
    ' * decomposition is all such marks).',
  HF_COMBINING_MARK: 'StripAccents removes it: unicode-normalization-alignments\n' +
    ' * is_combining_mark() (Mn Mc Me of Unicode 9.0).',
  RUST_NUMERIC: 'Digits splits on it: Rust\'s char::is_numeric() (Nd Nl No; Unicode 17.0 in\n' +
    ' * the binding\'s build).',
  RUST_REGEX_WORD: 'The regex crate\'s \\w (Alphabetic, M, Nd, Pc, Join_Control; Unicode 16.0):\n' +
    ' * the Whitespace pre-tokenizer\'s \\w+|[^\\w\\s]+ and added tokens\' single_word.',
  ONIG_LETTER: '\\p{L} of the Oniguruma the binding bundles (Unicode 16.0): GPT-2\'s pattern.',
  ONIG_NUMBER: '\\p{N} of the Oniguruma the binding bundles (Unicode 16.0): GPT-2\'s pattern.',
};

// White_Space, which every whitespace notion of HF agrees on (checked).
const WHITE_SPACE = [[0x9, 0xd], [0x20, 0x20], [0x85, 0x85], [0xa0, 0xa0], [0x1680, 0x1680],
  [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000]];
const isWhiteSpace = (cp) => WHITE_SPACE.some(([a, b]) => cp >= a && cp <= b);

function main() {
  const ranges = {};
  for (const k of Object.keys(probes)) ranges[k] = [];
  const add = (r, cp) => {
    const last = r[r.length - 1];
    // Surrogates are no scalar values: a range may step over them.
    if (last && (last[1] === cp - 1 || (last[1] === 0xd7ff && cp === 0xe000))) last[1] = cp;
    else r.push([cp, cp]);
  };
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    for (const [k, probe] of Object.entries(probes)) if (probe(c)) add(ranges[k], cp);
    // The whitespace classes the C code hard-codes (uc_is_whitespace).
    const ws = isWhiteSpace(cp);
    const splits = wsSplit.preTokenizeString('a' + c + 'a').length === 2;
    const rxSpace = wsRegex.preTokenizeString('x' + c + 'x').length === 2;
    const onigSpace = !probes.ONIG_LETTER(c) && !probes.ONIG_NUMBER(c) &&
      byteLevel.preTokenizeString('!' + c + '!').length !== 1;
    if (splits !== ws || rxSpace !== ws || onigSpace !== ws)
      throw new Error(`U+${cp.toString(16)}: the whitespace classes disagree with White_Space`);
  }
  const hex = (x) => '0x' + x.toString(16).toUpperCase().padStart(4, '0');
  const version = require('tokenizers/package.json').version;
  const lines = [
    '/* Generated by tests/gen_unicode_tables.js from Hugging Face tokenizers ' + version,
    ' * (the Node binding of the Rust library): do not edit. Each table lists the',
    ' * code points of one character class as the reference classifies them,',
    ' * probed one code point at a time; unicode.c says where each one is used. */',
    '#include "text/unicode_tables.h"',
    '',
  ];
  for (const [k, r] of Object.entries(ranges)) {
    lines.push(`/* ${docs[k]} */`);
    lines.push(`const uc_range ${k}[] = {`);
    for (let i = 0; i < r.length; i += 4)
      lines.push('    ' + r.slice(i, i + 4).map(([a, b]) => `{${hex(a)}, ${hex(b)}}`).join(', ') + ',');
    lines.push('};');
    lines.push(`const size_t ${k}_N = sizeof ${k} / sizeof ${k}[0];`);
    lines.push('');
    console.log(`${k}: ${r.length} ranges`);
  }
  fs.writeFileSync(out, lines.join('\n'));
  console.log(out);
}
main();
