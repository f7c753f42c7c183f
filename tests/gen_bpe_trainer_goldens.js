#!/usr/bin/env node
// Regenerates the fixtures of the bpe_trainer suite with the reference:
// Hugging Face `tokenizers` (Rust) through its Node binding (tests/package.json).
// Never part of `make check`.
//
//   cd tests && npm ci && cd .. && node tests/gen_bpe_trainer_goldens.js
//
// The binding's Tokenizer.train(files) takes no trainer options: it uses the
// model's default trainer (BpeTrainer / WordPieceTrainer defaults: vocab
// 30000, min_frequency 0, no special tokens, no limit_alphabet, no initial
// alphabet). It reads each file line by line keeping the line endings
// (Rust's lines_with_ending) and counts the normalized, pre-tokenized words;
// we count the same words here with the binding's own normalizer and
// pre-tokenizer so that the C test can train from exactly what HF saw.
//
// Written to tests/data/bpe_trainer/ (gzip):
//   <corpus>.bytelevel.counts.gz   "count\tword" lines (ByteLevel words)
//   <corpus>.bytelevel.vocab.gz    HF's BPE vocabulary, one token per line, in id order
//   <corpus>.bytelevel.merges.gz   HF's merges, "left right" per line, in rank order
//   <corpus>.bert.counts.gz        words after BertNormalizer + BertPreTokenizer
//   <corpus>.bert.wordpiece.vocab.gz   HF's WordPiece vocabulary, in id order
//   README.txt                     versions and sizes
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const tk = require('tokenizers');

const root = path.resolve(__dirname, '..');
const corpus = path.resolve(root, 'tests', 'data', 'corpora', 'wikitext-2-raw', 'wiki.valid.raw');
const name = 'wikitext2-valid';
const outDir = path.join(root, 'tests', 'data', 'bpe_trainer');
const version = require('tokenizers/package.json').version;

function linesWithEnding(text) {
  const out = text.split(/(?<=\n)/);
  return out.filter((l) => l.length > 0);
}

function countWords(lines, normalizer, preTokenizer) {
  const counts = new Map();
  for (const line of lines) {
    const n = normalizer ? normalizer.normalizeString(line) : line;
    for (const [w] of preTokenizer.preTokenizeString(n)) counts.set(w, (counts.get(w) || 0) + 1);
  }
  return counts;
}

function writeGz(file, lines) {
  const data = zlib.gzipSync(Buffer.from(lines.join('\n') + '\n', 'utf8'), { level: 9 });
  fs.writeFileSync(path.join(outDir, file), data);
  return data.length;
}

function modelOf(tok) {
  const tmp = path.join(os.tmpdir(), `mlm-gen-${process.pid}.json`);
  tok.save(tmp, false);
  const j = JSON.parse(fs.readFileSync(tmp, 'utf8'));
  fs.unlinkSync(tmp);
  return j.model;
}

function vocabLines(model) {
  const byId = [];
  for (const [t, id] of Object.entries(model.vocab)) byId[id] = t;
  for (let i = 0; i < byId.length; i++) if (byId[i] === undefined) throw new Error(`hole at id ${i}`);
  return byId;
}

function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const text = fs.readFileSync(corpus, 'utf8');
  const lines = linesWithEnding(text);
  const sizes = {};

  // ---- ByteLevel BPE (RoBERTa/GPT-2 style words)
  const bl = tk.byteLevelPreTokenizer();
  const blCounts = countWords(lines, null, bl);
  for (const w of blCounts.keys()) if (/[\t\n]/.test(w)) throw new Error('tab/newline in a word');
  sizes.bl_counts = writeGz(`${name}.bytelevel.counts.gz`,
    [...blCounts].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([w, c]) => `${c}\t${w}`));
  const bpe = new tk.Tokenizer(tk.BPE.empty());
  bpe.setPreTokenizer(tk.byteLevelPreTokenizer());
  bpe.train([corpus]);
  const bm = modelOf(bpe);
  const bv = vocabLines(bm);
  sizes.bl_vocab = writeGz(`${name}.bytelevel.vocab.gz`, bv);
  const merges = bm.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  for (const m of merges) if (m.split(' ').length !== 2) throw new Error('space inside a merge part');
  sizes.bl_merges = writeGz(`${name}.bytelevel.merges.gz`, merges);

  // ---- WordPiece (BERT style words)
  const bn = tk.bertNormalizer();
  const bp = tk.bertPreTokenizer();
  const bertCounts = countWords(lines, bn, bp);
  for (const w of bertCounts.keys()) if (/[\t\n]/.test(w)) throw new Error('tab/newline in a word');
  sizes.bert_counts = writeGz(`${name}.bert.counts.gz`,
    [...bertCounts].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([w, c]) => `${c}\t${w}`));
  const wp = new tk.Tokenizer(tk.WordPiece.empty());
  wp.setNormalizer(tk.bertNormalizer());
  wp.setPreTokenizer(tk.bertPreTokenizer());
  wp.train([corpus]);
  const wv = vocabLines(modelOf(wp));
  sizes.wp_vocab = writeGz(`${name}.bert.wordpiece.vocab.gz`, wv);
  // HF's WordPiece training is not deterministic (HashMap order decides the
  // ids of "##x" tokens and the ties they break): measure it against itself.
  const wp2 = new tk.Tokenizer(tk.WordPiece.empty());
  wp2.setNormalizer(tk.bertNormalizer());
  wp2.setPreTokenizer(tk.bertPreTokenizer());
  wp2.train([corpus]);
  const wv2 = new Set(vocabLines(modelOf(wp2)));
  const selfOverlap = wv.filter((t) => wv2.has(t)).length / wv.length;

  const readme = [
    `Fixtures of the bpe_trainer suite, written by tests/gen_bpe_trainer_goldens.js.`,
    `reference: tokenizers ${version} (Node binding of HF tokenizers), node ${process.version}`,
    `corpus: tests/data/corpora/wikitext-2-raw/wiki.valid.raw (${Buffer.byteLength(text)} bytes, ${lines.length} lines with endings)`,
    `trainers: the binding's defaults (vocab_size 30000, min_frequency 0, no special tokens)`,
    `bytelevel: ByteLevel(add_prefix_space=true, use_regex=true) words: ${blCounts.size} distinct; ` +
      `HF BPE: ${bv.length} tokens, ${merges.length} merges`,
    `bert: BertNormalizer(defaults) + BertPreTokenizer words: ${bertCounts.size} distinct; ` +
      `HF WordPiece: ${wv.length} tokens; two HF runs share ${(100 * selfOverlap).toFixed(2)}% of their vocabularies`,
    `gzip sizes: ${JSON.stringify(sizes)}`,
  ];
  fs.writeFileSync(path.join(outDir, 'README.txt'), readme.join('\n') + '\n');
  console.log(readme.join('\n'));
}
main();
