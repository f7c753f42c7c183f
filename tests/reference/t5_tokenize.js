// Token ids of the T5 reference's input texts, made once with Hugging Face's
// tokenizers (the Rust library's Node binding, tests/node_modules/tokenizers)
// and stored in tests/reference/t5_inputs.json, so that make_t5.py needs no
// Node at test time.
//
//     (cd tests && npm ci)          # once
//     node tests/reference/t5_tokenize.js
//
// For each tokenizer: the sha256 of its tokenizer.json (make_t5.py picks the
// ids of the tokenizer whose file a model folder carries), the ids of every
// source text (with the </s> the post-processor appends), of every target
// text (the labels of the forward golden), and a 128-token input for the
// bench (sources joined until 127 ids, cut, then </s>).
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { Tokenizer } = require(path.join(__dirname, "..", "node_modules", "tokenizers"));

const ROOT = path.join(__dirname, "..", "..");
const TOKENIZERS = {
  "t5-small": "tests/data/tokenizers/t5-small/tokenizer.json",
  "tiny-random-t5-caikit": "tests/data/models/tiny-random-t5-caikit/tokenizer.json",
};

// Summarization inputs: English, Korean (t5-small's vocabulary has no
// Hangul: <unk>), and mixed; lengths vary so that batches are padded.
const SOURCES = [
  "summarize: The city council approved the new budget on Monday after a long debate about school funding and road repairs.",
  "summarize: 서울 시의회는 월요일에 새 예산안을 승인했다.",
  "summarize: Scientists found that the small fish can recognise its own reflection in a mirror.",
  "summarize: The storm closed two airports, cancelled hundreds of flights and left thousands of homes without power for most of the weekend.",
  "summarize: 비가 많이 와서 경기가 취소되었다. The match will be played next week.",
  "summarize: A local bakery started giving away unsold bread every evening to a shelter.",
  "summarize: The company reported higher profits, but warned that rising costs could slow growth next year.",
  "summarize: Researchers at the university built a robot that folds laundry faster than most people.",
  "summarize: 오늘은 날씨가 맑고 따뜻합니다.",
  "summarize: The museum will reopen in June with a larger gallery for modern art and a new cafe.",
  "summarize: Volunteers planted more than five thousand trees along the river to reduce flooding.",
  "summarize: After three years of work, the bridge connecting the two towns finally opened to traffic on Friday morning, cutting the journey from forty minutes to ten.",
  "summarize: The library now lends tools as well as books.",
  "summarize: 한국어 문장과 English words mixed together in one input.",
  "summarize: Doctors recommend at least seven hours of sleep a night for adults.",
];
// (short: the tiny tokenizer is nearly character-level, and the logits of
// the forward golden are [3, target length, vocab])
const TARGETS = [
  "The bread.",
  "Storm ends.",
  "맑다.",
];

async function main() {
  const out = { generated_by: "tests/reference/t5_tokenize.js", tokenizers_package: require(path.join(__dirname, "..", "node_modules", "tokenizers", "package.json")).version,
                sources: SOURCES, targets: TARGETS, tokenizers: {} };
  for (const [name, rel] of Object.entries(TOKENIZERS)) {
    const file = path.join(ROOT, rel);
    const sha = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    const tok = Tokenizer.fromFile(file);
    const enc = async (t) => (await tok.encode(t, null, { addSpecialTokens: true })).getIds();
    const src = [];
    for (const s of SOURCES) src.push(await enc(s));
    const tgt = [];
    for (const s of TARGETS) tgt.push(await enc(s));
    const bench = [];
    for (const ids of src) for (const id of ids.slice(0, -1)) bench.push(id);
    while (bench.length < 127) bench.push(...bench.slice(0, 127 - bench.length));
    const eos = src[0][src[0].length - 1];
    out.tokenizers[name] = { file: rel, sha256: sha, sources: src, targets: tgt,
                             bench_128: bench.slice(0, 127).concat([eos]) };
  }
  fs.writeFileSync(path.join(__dirname, "t5_inputs.json"), JSON.stringify(out, null, 1) + "\n");
}
main();
