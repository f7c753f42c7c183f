#!/usr/bin/env node
// The HF peer of the tokenization benchmark: Hugging Face `tokenizers`
// (Rust, through its Node binding) encoding WikiText-2 valid, one line per
// text, with encodeBatch (no special tokens added), for bert-base-uncased and
// roberta-base, with 1 and 2 rayon threads. Prints MB/s (UTF-8 input bytes)
// and tokens/s, the median of 5 timed runs after one warm-up.
//
//   node bench/tokenize_hf.js            (needs tests/node_modules: cd tests && npm ci)
//   node bench/tokenize_hf.js --child NAME [CORPUS]
//                                        one JSON line for one tokenizer (used by
//                                        bench/tokenize.sh), on CORPUS if given
//
// The binding parallelises encodeBatch with rayon, whose global pool reads
// RAYON_NUM_THREADS once per process; the parent therefore runs one child
// process per setting. TOKENIZERS_PARALLELISM=false makes HF skip rayon
// altogether (the "off" row), which should match 1 thread.
//
// Measured (tokenizers 0.23.2, node v20.20.2, 2 x AMD EPYC vCPU, Debian 12):
//   tokenizer          threads   MB/s   Mtok/s   tokens
//   bert-base-uncased  off       3.56   0.744    238656
//   bert-base-uncased  1         3.67   0.767
//   bert-base-uncased  2         7.02   1.466
//   roberta-base       off       3.06   0.659    246127
//   roberta-base       1         3.31   0.712
//   roberta-base       2         6.89   1.484
// (1.22 MB in 3761 lines; RAYON_NUM_THREADS does control the pool.)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

function loadTokenizers() {
  try {
    return require('tokenizers');
  } catch (e) {
    return require(path.join(__dirname, '..', 'tests', 'node_modules', 'tokenizers'));
  }
}

const root = path.resolve(__dirname, '..');
const shared = path.resolve(root, '..', 'shared', 'data');
const corpus = path.join(shared, 'corpora', 'wikitext-2-raw', 'wiki.valid.raw');
const models = {
  'bert-base-uncased': path.join(shared, 'tokenizers', 'bert-base-uncased', 'tokenizer.json'),
  'roberta-base': path.join(shared, 'tokenizers', 'roberta-base', 'tokenizer.json'),
};
const RUNS = 5;

async function child(name, file) {
  const tk = loadTokenizers();
  const t = tk.Tokenizer.fromFile(models[name]);
  const lines = fs.readFileSync(file || corpus, 'utf8').split('\n');
  const bytes = lines.reduce((a, l) => a + Buffer.byteLength(l, 'utf8'), 0);
  const opts = { addSpecialTokens: false };
  let tokens = 0;
  (await t.encodeBatch(lines, opts)).forEach((e) => (tokens += e.getLength())); // warm-up
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    const encs = await t.encodeBatch(lines, opts);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (encs.length !== lines.length) throw new Error('short batch');
    times.push(dt);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(RUNS / 2)];
  process.stdout.write(JSON.stringify({ name, lines: lines.length, bytes, tokens, median_s: med,
                                        min_s: times[0], max_s: times[RUNS - 1] }) + '\n');
}

function main() {
  if (process.argv[2] === '--child') return child(process.argv[3], process.argv[4]);
  if (!fs.existsSync(corpus)) {
    console.log(`skip: ${corpus} is absent`);
    return;
  }
  const tkVersion = (() => {
    try {
      return require(path.join(path.dirname(require.resolve('tokenizers', { paths: [__dirname, path.join(root, 'tests')] })), 'package.json')).version;
    } catch (e) {
      return '?';
    }
  })();
  const cpus = os.cpus();
  console.log(`machine: ${cpus.length} x ${cpus[0] ? cpus[0].model : '?'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
              `${os.type()} ${os.release()} ${os.arch()}, node ${process.version}, tokenizers ${tkVersion}`);
  console.log(`corpus: ${path.relative(root, corpus)} (lines as texts, addSpecialTokens false), median of ${RUNS}`);
  console.log('tokenizer            threads        MB/s     Mtok/s   tokens   median s  (min-max)');
  const settings = [
    { label: 'off', env: { TOKENIZERS_PARALLELISM: 'false' } },
    { label: '1', env: { TOKENIZERS_PARALLELISM: 'true', RAYON_NUM_THREADS: '1' } },
    { label: '2', env: { TOKENIZERS_PARALLELISM: 'true', RAYON_NUM_THREADS: '2' } },
  ];
  for (const name of Object.keys(models)) {
    for (const s of settings) {
      const env = Object.assign({}, process.env, s.env);
      if (!s.env.RAYON_NUM_THREADS) delete env.RAYON_NUM_THREADS;
      const out = execFileSync(process.execPath, [__filename, '--child', name], { env, encoding: 'utf8' });
      const r = JSON.parse(out.trim().split('\n').pop());
      const mbs = r.bytes / 1e6 / r.median_s;
      const tps = r.tokens / r.median_s / 1e6;
      console.log(`${name.padEnd(20)} ${s.label.padEnd(8)} ${mbs.toFixed(2).padStart(10)} ${tps.toFixed(3).padStart(10)} ` +
                  `${String(r.tokens).padStart(8)} ${r.median_s.toFixed(4).padStart(10)}  (${r.min_s.toFixed(4)}-${r.max_s.toFixed(4)})`);
    }
  }
}
main();
