#!/usr/bin/env node
// Regenerates tests/data/tokenizer_parity/goldens/<name>.jsonl with the reference:
// Hugging Face `tokenizers` (the Rust library) through its official Node
// binding, pinned in tests/package.json. Never part of `make check`.
//
//   cd tests && npm ci && cd .. && node tests/gen_tokenizer_goldens.js
//
// Each golden file starts with a header line (binding version, how the C
// suite must load the tokenizer), then one line per input of
// tests/data/tokenizer_parity/texts.jsonl with the encodings with and without
// special tokens and the decodes of their ids (Rust Tokenizer::decode: no
// transformers-level clean_up_tokenization_spaces). Offsets are Unicode code
// points, as the binding reports them. Strings that contain U+0000 (which
// cJSON cannot hold) also get a "<field>_hex" copy of their UTF-8 bytes;
// for tokens, "tokens_hex" lists every token's bytes when one holds U+0000.
//
// Legacy files (vocab.txt, vocab.json + merges.txt) are converted here the
// way transformers' convert_slow_tokenizer.py does (BertConverter,
// RobertaConverter) by writing the converted tokenizer.json in memory; only
// the goldens are stored, the C suite loads the legacy files from tests/data.
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require('tokenizers');

const root = path.resolve(__dirname, '..');
const fixtures = path.resolve(root, 'tests', 'data');
const outDir = path.join(root, 'tests', 'data', 'tokenizer_parity', 'goldens');
const texts = fs
  .readFileSync(path.join(root, 'tests', 'data', 'tokenizer_parity', 'texts.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.length)
  .map((l) => JSON.parse(l));
const bindingVersion = require('tokenizers/package.json').version;

// ------------------------------------------------------------ conversions
function bertSpecial(vocab) {
  return ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => ({
    id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false,
    normalized: false, special: true,
  }));
}

// transformers' BertConverter for BertTokenizer(vocab_file, **config).
function convertBert(vocabTxt, config) {
  const vocab = {};
  fs.readFileSync(vocabTxt, 'utf8').split('\n').forEach((line, i, all) => {
    if (i === all.length - 1 && line === '') return;
    vocab[line.replace(/\r$/, '')] = i; // load_vocab: rstrip("\n"); later duplicates win
  });
  const lower = config.do_lower_case === undefined ? true : config.do_lower_case;
  const stripAccents = config.strip_accents === undefined ? null : config.strip_accents;
  const chinese = config.tokenize_chinese_chars === undefined ? true : config.tokenize_chinese_chars;
  const cls = '[CLS]', sep = '[SEP]';
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: bertSpecial(vocab),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: chinese,
                  strip_accents: stripAccents, lowercase: lower },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
               { SpecialToken: { id: sep, type_id: 0 } }],
      pair: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
             { SpecialToken: { id: sep, type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } },
             { SpecialToken: { id: sep, type_id: 1 } }],
      special_tokens: {
        [cls]: { id: cls, ids: [vocab[cls]], tokens: [cls] },
        [sep]: { id: sep, ids: [vocab[sep]], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
             max_input_chars_per_word: 100, vocab },
  };
}

// transformers' RobertaConverter for RobertaTokenizer(vocab_file, merges_file).
function convertRoberta(vocabJson, mergesTxt, config) {
  const vocab = JSON.parse(fs.readFileSync(vocabJson, 'utf8'));
  const lines = fs.readFileSync(mergesTxt, 'utf8').split('\n');
  // RobertaTokenizer: merges_handle.read().split("\n")[1:-1]
  const merges = lines.slice(1, -1).map((l) => l.split(' ')).filter((p) => p.length === 2)
    .map((p) => p.join(' '));
  const aps = config.add_prefix_space === undefined ? false : config.add_prefix_space;
  const tok = (content, lstrip) => ({
    id: vocab[content], content, single_word: false, lstrip, rstrip: false,
    normalized: false, special: true,
  });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [tok('<s>', false), tok('<pad>', false), tok('</s>', false), tok('<unk>', false),
                   tok('<mask>', true)],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: aps, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', vocab['</s>']],
                      cls: ['<s>', vocab['<s>']], trim_offsets: true, add_prefix_space: aps },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
             end_of_word_suffix: '', fuse_unk: false, byte_fallback: false,
             ignore_merges: false, vocab, merges },
  };
}

// ------------------------------------------------------------ the list
// load.file / load.dir paths are relative to tests/data. A dir entry maps
// file names to fixture paths (to be symlinked or copied into a fresh
// directory) or, for tokenizer_config.json, to an inline JSON object.
const S = (rel) => path.join(fixtures, rel);
const mbertVocab = 'tokenizers/bert-base-multilingual-cased/vocab.txt';
const list = [
  { name: 'bert-base-uncased', load: { file: 'tokenizers/bert-base-uncased/tokenizer.json' } },
  { name: 'roberta-base', load: { file: 'tokenizers/roberta-base/tokenizer.json' } },
  { name: 't5-small', load: { file: 'tokenizers/t5-small/tokenizer.json' } },
  { name: 'tiny-random-bert', load: { file: 'models/tiny-random-bert-caikit/tokenizer.json' } },
  { name: 'tiny-random-t5', load: { file: 'models/tiny-random-t5-caikit/tokenizer.json' } },
  { name: 'mbert-cased-vocab',
    note: 'BertConverter of vocab.txt with do_lower_case false (the hub config of bert-base-multilingual-cased)',
    load: { dir: { 'vocab.txt': mbertVocab, 'tokenizer_config.json': { do_lower_case: false } } },
    json: () => convertBert(S(mbertVocab), { do_lower_case: false }) },
  { name: 'mbert-vocab-defaults',
    note: 'BertConverter of vocab.txt alone: BertTokenizer defaults (do_lower_case true, strip_accents follows it)',
    load: { dir: { 'vocab.txt': mbertVocab } },
    json: () => convertBert(S(mbertVocab), {}) },
  { name: 'bert-base-uncased-vocab',
    note: 'BertConverter of bert-base-uncased vocab.txt alone',
    load: { dir: { 'vocab.txt': 'tokenizers/bert-base-uncased/vocab.txt' } },
    json: () => convertBert(S('tokenizers/bert-base-uncased/vocab.txt'), {}) },
  { name: 'roberta-base-legacy',
    note: 'RobertaConverter of vocab.json + merges.txt (+ tokenizer_config.json: model_max_length only)',
    load: { dir: { 'vocab.json': 'tokenizers/roberta-base/vocab.json',
                   'merges.txt': 'tokenizers/roberta-base/merges.txt',
                   'tokenizer_config.json': 'tokenizers/roberta-base/tokenizer_config.json' } },
    json: () => convertRoberta(S('tokenizers/roberta-base/vocab.json'),
                               S('tokenizers/roberta-base/merges.txt'), {}) },
];

// ------------------------------------------------------------ encode
const hex = (s) => Buffer.from(s, 'utf8').toString('hex');
function withHex(obj, field) {
  if (typeof obj[field] === 'string' && obj[field].includes('\u0000')) obj[field + '_hex'] = hex(obj[field]);
}

async function encodeOne(t, text, pair, addSpecial) {
  let e;
  try {
    e = await t.encode(text, pair === undefined ? null : pair, { addSpecialTokens: addSpecial });
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
  const ids = e.getIds();
  const nul = (a) => a.map((x) => (x === null || x === undefined ? -1 : x));
  const r = {
    ids,
    tokens: e.getTokens(),
    offsets: e.getOffsets(),
    word_ids: nul(e.getWordIds()),
    sequence_ids: nul(e.getSequenceIds()),
    type_ids: e.getTypeIds(),
    attention_mask: e.getAttentionMask(),
    special_tokens_mask: e.getSpecialTokensMask(),
    overflowing: e.getOverflowing().length,
    decode: await t.decode(ids, false),
    decode_skip: await t.decode(ids, true),
  };
  withHex(r, 'decode');
  withHex(r, 'decode_skip');
  if (r.tokens.some((t) => t.includes('\u0000'))) r.tokens_hex = r.tokens.map(hex);
  return r;
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const only = process.argv.slice(2);
  for (const spec of list) {
    if (only.length && !only.includes(spec.name)) continue;
    const t = spec.json ? tk.Tokenizer.fromString(JSON.stringify(spec.json()))
                        : tk.Tokenizer.fromFile(S(spec.load.file));
    const header = {
      golden: 'tokenizer', name: spec.name, reference: 'tokenizers (Node binding of HF tokenizers, Rust)',
      tokenizers_version: bindingVersion, node: process.version, load: spec.load,
      note: spec.note || null, offsets: 'codepoints', decode: 'Tokenizer::decode, no clean_up_tokenization_spaces',
      vocab_size_with_added: t.getVocabSize(true), n: texts.length,
    };
    const lines = [JSON.stringify(header)];
    for (let i = 0; i < texts.length; i++) {
      const { text, pair } = texts[i];
      const rec = { i, text };
      if (pair !== undefined) rec.pair = pair;
      withHex(rec, 'text');
      withHex(rec, 'pair');
      rec.with_special = await encodeOne(t, text, pair, true);
      rec.without_special = await encodeOne(t, text, pair, false);
      lines.push(JSON.stringify(rec));
    }
    const file = path.join(outDir, spec.name + '.jsonl');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    console.log(`${file}: ${texts.length} texts, ${fs.statSync(file).size} bytes`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
