#!/usr/bin/env node
// Regenerates tests/data/goldens/fill_mask/<model>.json: what transformers'
// FillMaskPipeline (pipelines/fill_mask.py) returns for the committed random
// checkpoints tests/data/models/tiny-roberta-50k (with roberta-base's
// tokenizer.json) and tiny-bert-30k (with bert-base-uncased's). Never part of
// `make check`; needs `npm ci` in tests/, and /usr/bin/python3
// with torch.
//
//   cd tests && npm ci && cd .. && node tests/gen_fill_mask_goldens.js
//
// The tokenizer half is HF's Rust tokenizer through its Node binding (pinned
// in tests/package.json); the model half is the PyTorch reference
// (tests/reference/fill_mask_reference.py: softmax per mask in float32,
// targets, topk). What transformers adds on top is emulated here:
//   - decode(ids, skip) = the binding's decode + clean_up_tokenization when
//     the tokenizer's clean_up_tokenization_spaces is on;
//   - token_str = decode([p], false);
//   - sequence  = decode(input ids with mask i replaced by p, pad ids dropped,
//                        skip_special_tokens = (exactly one mask));
//   - targets: get_vocab() lookup, else the first id of the target tokenized
//     without special tokens, with logger.warning (recorded under
//     "warnings"); an empty tokenization is ignored with its own warning;
//     duplicates removed; top_k capped at their number.
//
// clean_up_tokenization_spaces: BertTokenizer(Fast) pass True explicitly, so
// bert-base-uncased cleans up. roberta-base's tokenizer_config.json does not
// set it, and RobertaTokenizer(Fast) leave it to PreTrainedTokenizerBase,
// whose default is False since transformers 4.45 (True before, with a
// deprecation warning). We follow >= 4.45: RoBERTa does not clean up. That is
// also what libmlm decides with clean_up_spaces = -1 (on for WordPiece
// tokenizers unless tokenizer_config.json says otherwise, off for BPE).
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const tk = require('tokenizers');

const root = path.resolve(__dirname, '..');
const tokenizers = path.resolve(root, 'tests', 'data', 'tokenizers');
const outDir = path.join(root, 'tests', 'data', 'goldens', 'fill_mask');
const helper = path.join(root, 'tests', 'reference', 'fill_mask_reference.py');

// transformers' PreTrainedTokenizerBase.clean_up_tokenization.
function cleanUp(s) {
  return s
    .split(' .').join('.').split(' ?').join('?').split(' !').join('!').split(' ,').join(',')
    .split(" ' ").join("'").split(" n't").join("n't").split(" 'm").join("'m")
    .split(" 's").join("'s").split(" 've").join("'ve").split(" 're").join("'re");
}

const MODELS = [
  {
    name: 'tiny-roberta-50k',
    tokenizer: 'roberta-base',
    cleanUp: false,
    mask: '<mask>',
    pad: '<pad>',
    cases: [
      { name: 'milky_way', text: 'The Milky Way is a <mask> galaxy.', top_k: 5 },
      { name: 'start', text: '<mask> is the capital of France.', top_k: 5 },
      { name: 'end', text: 'Paris is the capital of <mask>', top_k: 3 },
      { name: 'end_punct', text: 'Paris is the capital of <mask>.', top_k: 3 },
      { name: 'no_spaces', text: 'The<mask>is here.', top_k: 5 },
      { name: 'space_before_only', text: 'I like <mask>!', top_k: 4 },
      { name: 'alone', text: '<mask>', top_k: 5 },
      { name: 'top1', text: 'Hello <mask>, how are you?', top_k: 1 },
      { name: 'two_masks', text: 'The <mask> sat on the <mask>.', top_k: 3 },
      { name: 'three_masks_adjacent', text: '<mask><mask> and <mask>', top_k: 2 },
      { name: 'contractions', text: "I can't believe it's <mask> , isn't it ?", top_k: 5 },
      { name: 'korean', text: '나는 오늘 아침에 <mask> 먹었다.', top_k: 5 },
      { name: 'korean_no_space', text: '서울은<mask>의 수도이다.', top_k: 3 },
      { name: 'emoji_accents', text: 'Café 🙂 <mask> naïve', top_k: 3 },
      {
        name: 'targets',
        text: 'The Milky Way is a <mask> galaxy.',
        top_k: 10,
        // ' big' is not a vocabulary entry: it tokenizes to 'Ġbig' (warning),
        // which duplicates the next target; 'zzyzxq' becomes its first piece;
        // '' tokenizes to nothing and is ignored (warning).
        targets: [' big', 'Ġbig', 'Ġsmall', 'spiral', 'zzyzxq', ''],
      },
      { name: 'targets_top2', text: 'The <mask> sat on the <mask>.', top_k: 2,
        targets: ['Ġcat', 'Ġdog', 'Ġmat', 'Ġcat'] },
    ],
  },
  {
    name: 'tiny-bert-30k',
    tokenizer: 'bert-base-uncased',
    cleanUp: true,
    mask: '[MASK]',
    pad: '[PAD]',
    cases: [
      { name: 'milky_way', text: 'The Milky Way is a [MASK] galaxy.', top_k: 5 },
      { name: 'start', text: '[MASK] is the capital of France.', top_k: 5 },
      { name: 'end', text: 'Paris is the capital of [MASK]', top_k: 3 },
      { name: 'no_spaces', text: 'hello[MASK]world', top_k: 5 },
      { name: 'alone', text: '[MASK]', top_k: 5 },
      { name: 'top1', text: 'Hello [MASK], how are you?', top_k: 1 },
      { name: 'two_masks', text: 'The [MASK] sat on the [MASK].', top_k: 3 },
      { name: 'three_masks_adjacent', text: '[MASK][MASK] and [MASK]', top_k: 2 },
      { name: 'contractions', text: "I can't believe it's [MASK], isn't it?", top_k: 5 },
      { name: 'korean', text: '나는 오늘 아침에 [MASK] 먹었다.', top_k: 5 },
      { name: 'korean_no_space', text: '서울은[MASK]의 수도이다.', top_k: 3 },
      { name: 'accents_upper', text: 'CAFÉ Naïve [MASK] ÜBER', top_k: 3 },
      {
        name: 'targets',
        text: 'The Milky Way is a [MASK] galaxy.',
        top_k: 10,
        // 'SMALL' is not in the (lowercase) vocabulary: it tokenizes to
        // 'small' (warning), a duplicate; 'supercalifragilistic' becomes its
        // first piece; '' is ignored (warning).
        targets: ['big', 'small', 'SMALL', 'spiral', 'supercalifragilistic', 'big', ''],
      },
      { name: 'targets_top2', text: 'The [MASK] sat on the [MASK].', top_k: 2,
        targets: ['cat', 'dog', 'mat'] },
    ],
  },
];

async function build(m) {
  const tokPath = path.join(tokenizers, m.tokenizer, 'tokenizer.json');
  const tok = tk.Tokenizer.fromFile(tokPath);
  const maskId = tok.tokenToId(m.mask);
  const padId = tok.tokenToId(m.pad);
  const decode = async (ids, skip) => {
    const s = await tok.decode(ids, skip);
    return m.cleanUp ? cleanUp(s) : s;
  };
  const cases = [];
  for (const c of m.cases) {
    const enc = await tok.encode(c.text, null, { addSpecialTokens: true });
    const ids = enc.getIds();
    let targetIds = null;
    const warnings = [];
    if (c.targets) {
      targetIds = [];
      for (const t of c.targets) {
        let id = tok.tokenToId(t);
        if (id === null || id === undefined) {
          const te = await tok.encode(t, null, { addSpecialTokens: false });
          const tids = te.getIds();
          if (tids.length === 0) {
            warnings.push(`The specified target token \`${t}\` does not exist in the model ` +
                          'vocabulary. We cannot replace it with anything meaningful, ignoring it');
            continue;
          }
          id = tids[0];
          warnings.push(`The specified target token \`${t}\` does not exist in the model ` +
                        `vocabulary. Replacing with \`${tok.idToToken(id)}\`.`);
        }
        targetIds.push(id);
      }
    }
    cases.push({ c, ids, tokens: enc.getTokens(), targetIds, warnings });
  }
  const req = {
    mask_id: maskId,
    items: cases.map((x) => ({ ids: x.ids, top_k: x.c.top_k, target_ids: x.targetIds })),
  };
  const res = JSON.parse(execFileSync('/usr/bin/python3', [helper, path.join(root, 'tests', 'data', 'models', m.name)],
                                      { input: JSON.stringify(req), maxBuffer: 1 << 26 }));
  let minGap = Infinity, noise = 0;
  const out = [];
  for (let i = 0; i < cases.length; i++) {
    const { c, ids, tokens, targetIds, warnings } = cases[i];
    const r = res.items[i];
    minGap = Math.min(minGap, r.min_logit_gap);
    noise = Math.max(noise, r.f32_vs_f64);
    const maskPos = ids.map((id, j) => (id === maskId ? j : -1)).filter((j) => j >= 0);
    const single = maskPos.length === 1;
    const predictions = [];
    for (let mi = 0; mi < maskPos.length; mi++) {
      const row = [];
      for (let k = 0; k < r.k; k++) {
        const p = r.predictions[mi][k];
        const t = ids.slice();
        t[maskPos[mi]] = p;
        const kept = t.filter((x) => x !== padId);
        row.push({
          score: r.values[mi][k],
          token: p,
          token_str: await decode([p], false),
          sequence: await decode(kept, single),
        });
      }
      predictions.push(row);
    }
    const item = {
      name: c.name,
      text: c.text,
      top_k: c.top_k,
      input_ids: ids,
      input_tokens: tokens,
      mask_positions: maskPos,
    };
    if (c.targets) {
      item.targets = c.targets;
      item.target_ids = r.target_ids;
      item.warnings = warnings;
    }
    item.min_logit_gap = r.min_logit_gap;
    item.score_f32_vs_f64 = r.f32_vs_f64;
    // Exactly FillMaskPipeline's return value: a flat list for one mask.
    item.output = single ? predictions[0] : predictions;
    out.push(item);
  }
  if (!(minGap > 1e-4)) throw new Error(`${m.name}: ranked logits too close (${minGap})`);
  if (!(noise < 1e-6)) throw new Error(`${m.name}: float32 scores too noisy (${noise})`);
  const doc = {
    model: m.name,
    model_dir: `tests/data/models/${m.name}`,
    tokenizer: `tests/data/tokenizers/${m.tokenizer}/tokenizer.json`,
    tokenizer_binding: `tokenizers ${require('tokenizers/package.json').version} (Node)`,
    mask_token: m.mask,
    mask_id: maskId,
    pad_id: padId,
    clean_up_tokenization_spaces: m.cleanUp,
    min_logit_gap: minGap,
    score_f32_vs_f64: noise,
    notes: 'transformers FillMaskPipeline semantics; scores are float32 values; ' +
           'output is the pipeline return value (flat list for one mask, list of lists ' +
           'for several); see tests/gen_fill_mask_goldens.js',
    cases: out,
  };
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${m.name}.json`);
  fs.writeFileSync(file, JSON.stringify(doc, null, 1) + '\n');
  console.log(`${file}: ${out.length} cases, min logit gap ${minGap}`);
}

(async () => {
  for (const m of MODELS) await build(m);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
