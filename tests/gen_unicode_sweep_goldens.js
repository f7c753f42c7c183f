#!/usr/bin/env node
// Regenerates tests/data/unicode_sweep/sweep.jsonl.gz: every Unicode scalar
// value (U+0000..U+10FFFF without the surrogates) through each normalizer and
// pre-tokenizer kind of Hugging Face `tokenizers` (the Rust library, through
// its official Node binding pinned in tests/package.json). The unicode_sweep
// suite (tests/test_unicode_sweep.c) runs the same inputs through libmlm's
// components and requires identical output. Never part of `make check`.
//
//   cd tests && npm ci && cd .. && node tests/gen_unicode_sweep_goldens.js
//
// Inputs. Chunk k holds the scalar values k*256 .. k*256+255 (surrogates
// left out, so chunks 0xD8..0xDF are empty and absent), in order, joined by
// a separator (unless the component names another):
//   normalizers: "\n". It is a starter that composes with nothing (NFC/NFKC
//     see each code point alone) and a grapheme break on both sides
//     (GB4/GB5: the Precompiled normalizer looks up whole graphemes, and a
//     space would glue itself to a following combining mark);
//   pre-tokenizers: "x". A letter, so that a split shows what the code point
//     between two of them is to the component (whitespace, punctuation,
//     digit, \w, \p{L}...); with a whitespace separator every code point
//     would be a piece of its own whatever its class.
// Components are given as tokenizer.json objects; both sides build them from
// that JSON (the binding through Tokenizer.fromString with a WordLevel
// model that is never used). Precompiled takes the charsmap of
// tests/data/tokenizers/t5-small/tokenizer.json ("from" in the header).
//
// Output file: a header line {golden, tokenizers_version, chunk, separator,
// components: [{name, kind, json | from}]}, then records, one per line:
//   normalizer:    {"c": name, "k": chunk, "out": normalized text,
//                   "a": "d,l,d,l,..."}
//                  only for chunks whose output differs from the input
//                  (with each separator replaced by the component's
//                  separator_out); "a" gives each normalized char's
//                  original span (its alignment) as (start - start of the
//                  previous char's span, length) in code points;
//   pre-tokenizer: {"c": name, "k": chunk, "o": "s,l,s,l,...", "t": [[i, piece]]}
//                  for every chunk: "o" gives each piece as (start - end of
//                  the previous piece, length) in code points of the chunk
//                  text (HF's offsets), "t" the pieces whose text is not the
//                  input slice under the component's fixed mapping (identity;
//                  ' ' -> U+2581 for Metaspace; UTF-8 bytes -> GPT-2's byte
//                  characters for ByteLevel).
// A string holding U+0000 (which cJSON cannot hold) is written as hex of its
// UTF-8 bytes in "out_hex" / as [i, null, hex] instead.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const tk = require('tokenizers');

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'tests', 'data', 'unicode_sweep');
const CHUNK = 256;
const SEPARATOR = { normalizer: '\n', pre_tokenizer: 'x' };

const bert = (o) => Object.assign({ type: 'BertNormalizer', clean_text: false,
  handle_chinese_chars: false, strip_accents: false, lowercase: false }, o);
const t5 = path.join('tokenizers', 't5-small', 'tokenizer.json');

const components = [
  // BertNormalizer: each flag alone, then the defaults (strip_accents null
  // follows lowercase) and everything off.
  { name: 'bert-clean_text', kind: 'normalizer', json: bert({ clean_text: true }) },
  { name: 'bert-chinese', kind: 'normalizer', json: bert({ handle_chinese_chars: true }) },
  { name: 'bert-strip_accents', kind: 'normalizer', json: bert({ strip_accents: true }) },
  { name: 'bert-lowercase', kind: 'normalizer', json: bert({ lowercase: true }) },
  { name: 'bert-defaults', kind: 'normalizer',
    json: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
            strip_accents: null, lowercase: true } },
  { name: 'bert-off', kind: 'normalizer', json: bert({}) },
  { name: 'nfc', kind: 'normalizer', json: { type: 'NFC' } },
  { name: 'nfd', kind: 'normalizer', json: { type: 'NFD' } },
  { name: 'nfkc', kind: 'normalizer', json: { type: 'NFKC' } },
  { name: 'nfkd', kind: 'normalizer', json: { type: 'NFKD' } },
  { name: 'lowercase', kind: 'normalizer', json: { type: 'Lowercase' } },
  { name: 'strip_accents', kind: 'normalizer', json: { type: 'StripAccents' } },
  { name: 'strip', kind: 'normalizer', json: { type: 'Strip', strip_left: true, strip_right: true } },
  { name: 'replace-string', kind: 'normalizer',
    json: { type: 'Replace', pattern: { String: '\n' }, content: ' | ' } },
  { name: 'replace-regex', kind: 'normalizer',
    json: { type: 'Replace', pattern: { Regex: '[\\p{Zs}\\p{Mn}\\p{Cf}\\p{Nd}]+' }, content: '_' } },
  { name: 'precompiled-t5', kind: 'normalizer', from: t5 },
  // The same with other separators: U+0345 (combining class 240) is
  // reordered after every mark of a lower nonzero class, which shows each
  // mark's class; after 'a', marks compose with it (NFC) or form one
  // grapheme with it (Precompiled looks the pair up as a whole).
  { name: 'nfd-after-u0345', kind: 'normalizer', sep: '\u0345', json: { type: 'NFD' } },
  { name: 'nfc-after-u0345', kind: 'normalizer', sep: '\u0345', json: { type: 'NFC' } },
  { name: 'nfc-after-a', kind: 'normalizer', sep: 'a', json: { type: 'NFC' } },
  { name: 'nfkc-after-a', kind: 'normalizer', sep: 'a', json: { type: 'NFKC' } },
  { name: 'precompiled-t5-after-a', kind: 'normalizer', sep: 'a', from: t5 },
  { name: 'bert-pre', kind: 'pre_tokenizer', json: { type: 'BertPreTokenizer' } },
  { name: 'bytelevel', kind: 'pre_tokenizer',
    json: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true } },
  { name: 'metaspace', kind: 'pre_tokenizer',
    json: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true } },
  { name: 'whitespace', kind: 'pre_tokenizer', json: { type: 'Whitespace' } },
  { name: 'whitespace_split', kind: 'pre_tokenizer', json: { type: 'WhitespaceSplit' } },
  { name: 'punctuation', kind: 'pre_tokenizer', json: { type: 'Punctuation', behavior: 'Isolated' } },
  { name: 'digits', kind: 'pre_tokenizer', json: { type: 'Digits', individual_digits: false } },
  { name: 'digits-individual', kind: 'pre_tokenizer', json: { type: 'Digits', individual_digits: true } },
];

function componentJson(c) {
  if (c.json) return c.json;
  const doc = JSON.parse(fs.readFileSync(path.join(root, 'tests', 'data', c.from), 'utf8'));
  if (doc.normalizer.type !== 'Precompiled') throw new Error(c.from + ': normalizer is not Precompiled');
  return doc.normalizer;
}

function tokenizer(normalizer, preTokenizer) {
  return tk.Tokenizer.fromString(JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [],
    normalizer, pre_tokenizer: preTokenizer, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' },
  }));
}

function build(c) {
  if (c.kind === 'pre_tokenizer') return tokenizer(null, componentJson(c)).getPreTokenizer();
  return tokenizer(componentJson(c), null).getNormalizer();
}

// A normalizer's alignments: with a pre-tokenizer that makes every
// normalized char a piece, the offsets of the encoding are each char's
// original span.
function aligner(c) {
  const eachChar = { type: 'Split', pattern: { Regex: '[\\s\\S]' }, behavior: 'Isolated', invert: false };
  return tokenizer(componentJson(c), eachChar);
}

function chunkChars(k) {
  const cps = [];
  for (let cp = k * CHUNK; cp < (k + 1) * CHUNK; cp++)
    if (cp < 0xd800 || cp > 0xdfff) cps.push(String.fromCodePoint(cp));
  return cps;
}

// The fixed mapping a piece's text is expected to follow (see the header).
const byteChar = (() => {
  const m = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    m[b] = printable ? String.fromCodePoint(b) : String.fromCodePoint(256 + n++);
  }
  return m;
})();
function derive(c, slice, i) {
  if (c.json && c.json.type === 'Metaspace') {
    const r = slice.split(' ').join('\u2581');
    return i === 0 && !r.startsWith('\u2581') ? '\u2581' + r : r;
  }
  if (c.json && c.json.type === 'ByteLevel')
    return Array.from(Buffer.from(slice, 'utf8')).map((b) => byteChar[b]).join('');
  return slice;
}

// What the separator becomes between two plain letters: a chunk whose
// code points all pass unchanged comes out as them joined by this.
function separatorOutput(comp, sep) {
  const out = comp.normalizeString('x' + sep + 'x');
  if (out.length < 2 || out[0] !== 'x' || out[out.length - 1] !== 'x')
    throw new Error('the separator test "x\\nx" normalizes to ' + JSON.stringify(out));
  return out.slice(1, -1);
}

const hex = (s) => Buffer.from(s, 'utf8').toString('hex');

async function main() {
  const version = require('tokenizers/package.json').version;
  const lines = [null];
  const chunks = [];
  for (let k = 0; k < 0x110000 / CHUNK; k++) chunks.push(chunkChars(k));
  for (const c of components) {
    const comp = build(c);
    const align = c.kind === 'normalizer' ? aligner(c) : null;
    const SEP = c.sep || SEPARATOR[c.kind];
    c.sep = SEP;
    const sepOut = c.kind === 'normalizer' ? separatorOutput(comp, SEP) : null;
    c.sepOut = sepOut;
    let stored = 0;
    for (let k = 0; k < chunks.length; k++) {
      if (!chunks[k].length) continue;
      const text = chunks[k].join(SEP);
      if (c.kind === 'normalizer') {
        const out = comp.normalizeString(text);
        if (out === chunks[k].join(sepOut)) continue;
        const rec = { c: c.name, k };
        if (out.includes('\u0000')) rec.out_hex = hex(out);
        else rec.out = out;
        const offsets = (await align.encode(text, null, { addSpecialTokens: false })).getOffsets();
        if (offsets.length !== Array.from(out).length)
          throw new Error(`${c.name} chunk ${k}: ${offsets.length} pieces for ${Array.from(out).length} chars`);
        const a = [];
        let prev = 0;
        for (const [s, e] of offsets) {
          a.push(s - prev, e - s);
          prev = s;
        }
        rec.a = a.join(',');
        lines.push(JSON.stringify(rec));
        stored++;
        continue;
      }
      const chars = Array.from(text);
      const pieces = comp.preTokenizeString(text);
      const o = [], t = [];
      let prev = 0;
      pieces.forEach(([piece, [s, e]], i) => {
        o.push(s - prev, e - s);
        prev = e;
        if (piece !== derive(c, chars.slice(s, e).join(''), i))
          t.push(piece.includes('\u0000') ? [i, null, hex(piece)] : [i, piece]);
      });
      const rec = { c: c.name, k, o: o.join(',') };
      if (t.length) rec.t = t;
      lines.push(JSON.stringify(rec));
      stored++;
    }
    console.log(`${c.name}: ${stored} records`);
  }
  const header = {
    golden: 'unicode_sweep', reference: 'tokenizers (Node binding of HF tokenizers, Rust)',
    tokenizers_version: version, node: process.version, chunk: CHUNK, offsets: 'codepoints',
    components: components.map((c) => {
      const h = { name: c.name, kind: c.kind, separator: c.sep };
      if (c.json) h.json = c.json;
      else h.from = c.from;
      if (c.kind === 'normalizer') h.separator_out = c.sepOut;
      return h;
    }),
  };
  lines[0] = JSON.stringify(header);
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'sweep.jsonl.gz');
  fs.writeFileSync(file, zlib.gzipSync(lines.join('\n') + '\n', { level: 9 }));
  console.log(`${file}: ${fs.statSync(file).size} bytes`);
}
main().catch((e) => { console.error(e); process.exit(1); });
