// Token ids of the seq2seq preprocessing goldens (tests/data/goldens/seq2seq/
// tokenized.json), made with Hugging Face's tokenizers (the Rust library's
// Node binding, tests/node_modules/tokenizers) and t5-small's tokenizer.json,
// as transformers' fast tokenizer runs it for
//
//     tokenizer(prefix + article, truncation=True, max_length=S, padding=P)
//     tokenizer(text_target=summary, truncation=True, max_length=T, padding=P)
//
// (transformers sets the backend's truncation {max_length, longest_first,
// stride 0, right} and padding for the call; text_target is the same
// tokenizer for T5). Never part of make check:
//
//     (cd tests && npm ci)          # once
//     node tests/reference/seq2seq_tokenize.js
//     /usr/bin/python3 tests/reference/seq2seq_collator.py   # the batches
//
// Cases: "seed" (the seed's preprocess_function: no prefix, 128 / 32, no
// padding), "prefix" (run_summarization.py's source_prefix "summarize: ",
// 24 / 8), "pad_max_length" (pad_to_max_length with 24 / 8 and the seed's
// pad = eos: labels' padding -> -100 by attention mask, and as
// run_summarization.py's `l != pad_token_id` test, which also hits real
// EOS tokens), and "skip_empty" (run_summarization.py keeps a row only `if
// examples[text_column][i] and examples[summary_column][i]`).
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { Tokenizer } = require(path.join(__dirname, "..", "node_modules", "tokenizers"));

const ROOT = path.join(__dirname, "..", "..");
const TOKENIZER = "tests/data/tokenizers/t5-small/tokenizer.json";
const OUT = path.join(ROOT, "tests", "data", "goldens", "seq2seq", "tokenized.json");

const LONG = "The committee met for the third time this month to discuss the proposal, which " +
  "would extend the railway line from the harbour to the new industrial park, add four stations " +
  "along the way, replace the old signalling system, build a maintenance depot near the river, " +
  "and double the number of trains that run during the morning and evening rush hours, while " +
  "keeping fares at their current level for at least two more years according to the mayor.";

// The seed's two records first, then English, Korean (t5-small's vocabulary
// has almost no Hangul: <unk> pieces), mixed, long (truncated at 128 and 32)
// and empty texts.
const RECORDS = [
  { article: "The first human went into space and orbited the Earth on April 12, 1961.",
    summary: "First human in space on April 12, 1961." },
  { article: "Apollo 11 was the first mission to land humans on the Moon.",
    summary: "Apollo 11 first humans on Moon." },
  { article: "서울 시의회는 월요일에 새 예산안을 승인했다. 학교 예산이 크게 늘었다.",
    summary: "서울 예산 승인." },
  { article: LONG + " " + LONG,
    summary: "The committee discussed extending the railway line, adding four stations, " +
      "replacing the signals, building a depot and doubling rush-hour trains without " +
      "raising fares for two years." },
  { article: "비가 많이 와서 경기가 취소되었다. The match will be played next week in Busan.",
    summary: "Match moved to next week." },
  { article: "A local bakery started giving away unsold bread every evening to a shelter.",
    summary: "" },
  { article: "Researchers built a robot that folds laundry faster than most people 🤖.",
    summary: "로봇이 빨래를 갠다 (robot folds laundry)." },
  { article: "",
    summary: "Nothing happened." },
  { article: "Café owners in Zürich said the naïve plan would cost €2 million.",
    summary: "Zürich café plan costs €2M." },
  { article: "한국어 문장과 English words mixed together: 오늘은 날씨가 맑고 따뜻합니다.",
    summary: "날씨 맑음." },
];

const CASES = {
  seed: { source_prefix: null, max_source_length: 128, max_target_length: 32, padding: false },
  prefix: { source_prefix: "summarize: ", max_source_length: 24, max_target_length: 8,
            padding: false },
  pad_max_length: { source_prefix: "summarize: ", max_source_length: 24, max_target_length: 8,
                    padding: "max_length", pad_token: "</s>" },
  skip_empty: { source_prefix: "summarize: ", max_source_length: 128, max_target_length: 32,
                padding: false, skip_empty: true },
};

async function encodeAll(tok, texts, maxLength, padding, padToken) {
  tok.setTruncation(maxLength);
  if (padding === "max_length")
    tok.setPadding({ maxLength, padId: tok.tokenToId(padToken), padToken });
  else
    tok.disablePadding();
  const out = [];
  for (const t of texts) out.push(await tok.encode(t, null, { addSpecialTokens: true }));
  return out;
}

async function main() {
  const file = path.join(ROOT, TOKENIZER);
  const sha = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  const out = {
    generated_by: "tests/reference/seq2seq_tokenize.js",
    tokenizers_package: require(path.join(__dirname, "..", "node_modules", "tokenizers",
                                          "package.json")).version,
    tokenizer: TOKENIZER, sha256: sha, records: RECORDS, cases: {},
  };
  for (const [name, c] of Object.entries(CASES)) {
    const tok = Tokenizer.fromFile(file);
    // Python truthiness of str: non-empty
    const kept = RECORDS.map((r, i) => i)
      .filter((i) => !c.skip_empty || (RECORDS[i].article && RECORDS[i].summary));
    const src = kept.map((i) => (c.source_prefix || "") + RECORDS[i].article);
    const tgt = kept.map((i) => RECORDS[i].summary);
    const es = await encodeAll(tok, src, c.max_source_length, c.padding, c.pad_token);
    const et = await encodeAll(tok, tgt, c.max_target_length, c.padding, c.pad_token);
    const rec = Object.assign({}, c, {
      rows: kept,
      input_ids: es.map((e) => e.getIds()),
      attention_mask: es.map((e) => e.getAttentionMask()),
      labels: et.map((e) => e.getIds()),
    });
    if (c.padding === "max_length") {
      const pad = tok.tokenToId(c.pad_token);
      // ignore_pad_token_for_loss: libmlm's default (padding by attention
      // mask) and run_summarization.py's (every id equal to pad)
      rec.labels = et.map((e) => e.getIds().map((id, j) => (e.getAttentionMask()[j] ? id : -100)));
      rec.labels_hf_eos_compat = et.map((e) => e.getIds().map((id) => (id === pad ? -100 : id)));
    }
    out.cases[name] = rec;
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(out) + "\n");
}
main();
