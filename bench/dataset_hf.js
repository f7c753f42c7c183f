#!/usr/bin/env node
// The HF peer of bench/dataset_bench.c: tokenize + group_texts a text file
// with Hugging Face `tokenizers` (Rust, through its Node binding), streaming
// as libmlm does: lines read with readline, encodeBatch on 1000 lines at a
// time (special tokens added), and run_mlm's group_texts in JS over
// input_ids, attention_mask, special_tokens_mask and word_ids, the remainder
// carried across batches. One run. Prints
//   hf SECONDS BYTES TOKENS BLOCKS PEAK_RSS_MB CPU_SECONDS
//
//   RAYON_NUM_THREADS=2 node bench/dataset_hf.js CORPUS TOKENIZER_JSON [BLOCK]
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

function loadTokenizers() {
  try {
    return require('tokenizers');
  } catch (e) {
    return require(path.join(__dirname, '..', 'tests', 'node_modules', 'tokenizers'));
  }
}

async function main() {
  const [corpus, tokPath, blockArg] = process.argv.slice(2);
  const block = Number(blockArg || 128);
  let tk;
  try {
    tk = loadTokenizers();
  } catch (e) {
    console.log('skip: the tokenizers Node package is not installed');
    return;
  }
  const tok = tk.Tokenizer.fromFile(tokPath);
  const opts = { addSpecialTokens: true };
  const t0 = process.hrtime.bigint();
  const rl = readline.createInterface({
    input: fs.createReadStream(corpus, { highWaterMark: 1 << 17 }),
    crlfDelay: Infinity,
  });
  const bytes = fs.statSync(corpus).size;
  let tokens = 0;
  let blocks = 0;
  // carried values, one array per column
  let carry = [[], [], [], []];
  const flush = async (lines) => {
    const encs = await tok.encodeBatch(lines, opts);
    for (const e of encs) {
      const cols = [e.getIds(), e.getAttentionMask(), e.getSpecialTokensMask(),
                    e.getWordIds().map((w) => (w === undefined || w === null ? -1 : w))];
      tokens += cols[0].length;
      for (let k = 0; k < 4; k++) for (const v of cols[k]) carry[k].push(v);
      let used = 0;
      while (carry[0].length - used >= block) {
        for (let k = 0; k < 4; k++) Int32Array.from(carry[k].slice(used, used + block));
        used += block;
        blocks++;
      }
      if (used) carry = carry.map((c) => c.slice(used));
    }
  };
  let batch = [];
  for await (const line of rl) {
    batch.push(line);
    if (batch.length === 1000) {
      await flush(batch);
      batch = [];
    }
  }
  if (batch.length) await flush(batch);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const ru = process.resourceUsage();
  const cpu = (ru.userCPUTime + ru.systemCPUTime) / 1e6;
  console.log(`hf ${secs} ${bytes} ${tokens} ${blocks} ${ru.maxRSS / 1024} ${cpu}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
