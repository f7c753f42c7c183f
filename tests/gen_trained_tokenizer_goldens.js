#!/usr/bin/env node
// Fixtures of the tokenizer_trainer suite, made with the reference: Hugging
// Face `tokenizers` (Rust) through its Node binding (tests/package.json).
// Never part of `make check`'s required path.
//
//   cd tests && npm ci && cd .. && node tests/gen_trained_tokenizer_goldens.js [--t5]
//
// HF trains two tokenizers on WikiText-2 valid with its own trainers (the
// binding's Tokenizer.train(files): the model's default trainer, i.e. vocab
// 30000, min_frequency 0, no special tokens, no initial alphabet, no
// limit_alphabet), in the pipelines libmlm's trainer builds for that setting:
//   bytebpe    ByteLevel(add_prefix_space=false) pre-tokenizer, BPE, ByteLevel
//              post-processor (trim_offsets) and decoder: RoBERTa's pipeline
//              without <s>/</s> (there are no special tokens to add);
//   wordpiece  BertNormalizer(lowercase), BertPreTokenizer, WordPiece
//              ([UNK] as unk_token, not in the vocabulary since there are no
//              special tokens), WordPiece decoder.
// Written to tests/data/trained_tokenizer/:
//   hf-<name>.json(.gz)   HF's trained tokenizer.json (gzip when >= 2 MB)
//   hf-<name>.jsonl       its encodings of tests/data/tokenizer_parity/texts.jsonl,
//                         in the format of tests/data/tokenizer_parity/goldens/
//   README.txt            versions
//
// The C suite checks (a) that libmlm's trainer, given the same settings,
// produces a tokenizer whose encodings equal hf-bytebpe.jsonl (BPE training
// is deterministic in HF; WordPiece is not, see gen_bpe_trainer_goldens.js),
// and (b) that both HF files load in libmlm and encode like HF.
//
// Also (alone with --t5, leaving the others as they are) T5's conventions on a
// trained byte-level BPE, as a Python user builds them:
//   tokenizer = Tokenizer(BPE()); tokenizer.pre_tokenizer = ByteLevel(add_prefix_space=False)
//   tokenizer.train(files, BpeTrainer(special_tokens=["<pad>", "</s>", "<unk>"]))
//   tokenizer.post_processor = TemplateProcessing(single="$A </s>",
//       pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
// on KorSTS (Korean) and the CNN/DailyMail sample (English). The binding's
// train() takes no special tokens, so HF trains without them and the
// special tokens are put first, every other id moving up by 3: what
// BpeTrainer::do_train does with them (step 1 "Add all special tokens to
// the vocabulary", then the alphabet and the merges, which special tokens
// never take part in), with vocab_size grown by 3 (the C test sets it so).
// The post-processor is the binding's own templateProcessing(), set with
// setPostProcessor and serialized by HF:
//   hf-t5bpe.json, hf-t5bpe.jsonl   the tokenizer and its encodings (pairs
//                                   use the pair template)
//
// Second mode, used by the C suite when node and tests/node_modules exist:
//   node tests/gen_trained_tokenizer_goldens.js --encode tokenizer.json out.jsonl
// loads a tokenizer.json (one libmlm saved) in HF and writes its encodings of
// texts.jsonl in the same format, for the suite to compare with libmlm's.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function loadTokenizers() {
  try {
    return require('tokenizers');
  } catch (e) {
    return require(path.join(__dirname, 'node_modules', 'tokenizers'));
  }
}
const tk = loadTokenizers();

const root = path.resolve(__dirname, '..');
const corpus = path.resolve(root, 'tests', 'data', 'corpora', 'wikitext-2-raw', 'wiki.valid.raw');
const outDir = path.join(root, 'tests', 'data', 'trained_tokenizer');
const textsFile = path.join(root, 'tests', 'data', 'tokenizer_parity', 'texts.jsonl');
const version = require(path.join(path.dirname(require.resolve('tokenizers')), 'package.json')).version;

const byteLevel = (aps) => ({ type: 'ByteLevel', add_prefix_space: aps, trim_offsets: true, use_regex: true });
const pipelines = {
  bytebpe: {
    version: '1.0', truncation: null, padding: null, added_tokens: [],
    normalizer: null,
    pre_tokenizer: byteLevel(false),
    post_processor: byteLevel(false),
    decoder: byteLevel(true),
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
             end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
             vocab: {}, merges: [] },
  },
  wordpiece: {
    version: '1.0', truncation: null, padding: null, added_tokens: [],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
                  strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
             max_input_chars_per_word: 100, vocab: {} },
  },
};

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
  return r;
}

async function goldens(t, name, note) {
  const texts = fs.readFileSync(textsFile, 'utf8').split('\n').filter((l) => l.length)
    .map((l) => JSON.parse(l));
  const header = {
    golden: 'tokenizer', name, reference: 'tokenizers (Node binding of HF tokenizers, Rust)',
    tokenizers_version: version, node: process.version, load: { trained: name }, note,
    offsets: 'codepoints', decode: 'Tokenizer::decode, no clean_up_tokenization_spaces',
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
  return lines.join('\n') + '\n';
}

const t5Corpora = [
  path.resolve(root, 'tests', 'data', 'corpora', 'korsts', 'sts-train.tsv'),
  path.resolve(root, 'tests', 'data', 'corpora', 'cnn-dailymail-sample', 'train_sample.csv'),
];

// T5's conventions (see the top); returns its README lines.
async function t5Convention() {
  const spec = JSON.parse(JSON.stringify(pipelines.bytebpe));
  const t = tk.Tokenizer.fromString(JSON.stringify(spec));
  t.train(t5Corpora);
  const tmp = path.join(outDir, 'hf-t5bpe.json.tmp');
  t.save(tmp, false);
  const trained = JSON.parse(fs.readFileSync(tmp, 'utf8'));
  const specials = ['<pad>', '</s>', '<unk>'];
  const vocab = {};
  specials.forEach((s, i) => { vocab[s] = i; });
  for (const [tok, id] of Object.entries(trained.model.vocab)) {
    if (tok in vocab) throw new Error(`special token ${tok} was trained as a word`);
    vocab[tok] = id + specials.length;
  }
  trained.model.vocab = vocab;
  trained.added_tokens = specials.map((s, i) => ({
    id: i, content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const t5 = tk.Tokenizer.fromString(JSON.stringify(trained));
  t5.setPostProcessor(tk.templateProcessing('$A </s>', '$A </s> $B </s>', [['</s>', 1]]));
  t5.save(tmp, false);
  const json = fs.readFileSync(tmp);
  fs.unlinkSync(tmp);
  fs.writeFileSync(path.join(outDir, 'hf-t5bpe.json'), json);
  const loaded = tk.Tokenizer.fromString(json.toString('utf8'));
  const note = 'T5 conventions on an HF-trained byte-level BPE (hf-t5bpe.json)';
  fs.writeFileSync(path.join(outDir, 'hf-t5bpe.jsonl'), await goldens(loaded, 'hf-t5bpe', note));
  return [
    `t5 corpus: ${t5Corpora.map((f) => `${path.relative(root, f)} (${fs.statSync(f).size} bytes)`).join(', ')}`,
    `hf-t5bpe.json: ${loaded.getVocabSize(true)} tokens, ${json.length} bytes of JSON`,
  ];
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--t5') {
    const readme = path.join(outDir, 'README.txt');
    const kept = fs.readFileSync(readme, 'utf8').split('\n').filter((l) => l && !/^(t5 corpus|hf-t5bpe)/.test(l));
    const lines = kept.concat(await t5Convention());
    fs.writeFileSync(readme, lines.join('\n') + '\n');
    console.log(lines.join('\n'));
    return;
  }
  if (args[0] === '--encode') {
    if (args.length !== 3) throw new Error('usage: --encode tokenizer.json out.jsonl');
    const t = tk.Tokenizer.fromFile(args[1]);
    fs.writeFileSync(args[2], await goldens(t, path.basename(args[1]), 'HF encoding a libmlm-saved tokenizer'));
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const readme = [
    'Fixtures of the tokenizer_trainer suite, written by tests/gen_trained_tokenizer_goldens.js.',
    `reference: tokenizers ${version} (Node binding of HF tokenizers), node ${process.version}`,
    `corpus: tests/data/corpora/wikitext-2-raw/wiki.valid.raw (${fs.statSync(corpus).size} bytes)`,
    "trainer: the binding's Tokenizer.train(files) defaults (vocab 30000, min_frequency 0, no special tokens)",
  ];
  for (const [name, spec] of Object.entries(pipelines)) {
    const t = tk.Tokenizer.fromString(JSON.stringify(spec));
    t.train([corpus]);
    const tmp = path.join(outDir, `hf-${name}.json.tmp`);
    t.save(tmp, false);
    const json = fs.readFileSync(tmp);
    fs.unlinkSync(tmp);
    for (const f of [`hf-${name}.json`, `hf-${name}.json.gz`]) fs.rmSync(path.join(outDir, f), { force: true });
    let file = `hf-${name}.json`;
    if (json.length >= 2 * 1024 * 1024) {
      file += '.gz';
      fs.writeFileSync(path.join(outDir, file), zlib.gzipSync(json, { level: 9 }));
    } else {
      fs.writeFileSync(path.join(outDir, file), json);
    }
    const loaded = tk.Tokenizer.fromString(json.toString('utf8'));
    const note = `HF-trained ${name} (${file})`;
    fs.writeFileSync(path.join(outDir, `hf-${name}.jsonl`), await goldens(loaded, `hf-${name}`, note));
    readme.push(`${file}: ${loaded.getVocabSize(true)} tokens, ${json.length} bytes of JSON`);
  }
  readme.push(...(await t5Convention()));
  fs.writeFileSync(path.join(outDir, 'README.txt'), readme.join('\n') + '\n');
  console.log(readme.join('\n'));
}
main().catch((e) => { console.error(e); process.exit(1); });
