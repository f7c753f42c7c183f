#!/usr/bin/env node
// Builds tests/data/tokenizer_parity/texts.jsonl: the curated inputs of the
// tokenizer parity suite (edge cases written out below) plus short excerpts
// sampled deterministically from the corpora in ../shared. Run once from the
// repository root (`node tests/make_tokenizer_texts.js`); the output is
// committed, so ../shared is not needed afterwards.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const shared = path.resolve(root, '..', 'shared', 'data', 'corpora');
const out = path.join(root, 'tests', 'data', 'tokenizer_parity', 'texts.jsonl');

const cur = [];
const T = (text, pair) => cur.push(pair === undefined ? { text } : { text, pair });

// --- English prose, questions, punctuation
[
  'Hello, world!',
  'The quick brown fox jumps over the lazy dog.',
  "Hello, y'all! How are you 😁 ?",
  'What is the capital of France?',
  "I can't believe it's not butter; they'd've known, wouldn't they?",
  "She said: \"Don't go.\" He replied -- 'I won't.'",
  'UNwant\u00E9d,running',
  'The Eiffel Tower is 330 metres (1,083 ft) tall.',
  'e.g. i.e. etc. Mr. Smith vs. Dr. Jones, Ph.D.',
  '...!!!???;;;:::---___***',
  '(parentheses) [brackets] {braces} <angles>',
  '@user #hashtag $100 50% a&b a|b a^b ~tilde `backtick`',
  'Transformers is a library of pretrained models for NLP, vision and audio.',
  'Paris is the [MASK] of France.',
  'Paris is the <mask> of France.',
  'The goal of life is <mask>.',
  'HuggingFace is creating a tool that the community uses to solve NLP tasks.',
  'ALL CAPS SENTENCE WITH SOME lower case WORDS.',
  'camelCaseIdentifier and snake_case_identifier and kebab-case-identifier',
  "rock 'n' roll, o'clock, ma'am, 'tis, y'know",
  "He's, she'll, we've, they're, I'm, you'd, it's, IT'S, He'S",
].forEach((s) => T(s));

// --- Korean
[
  '나는 오늘 아침에 [MASK] 먹었다.',
  '나는 오늘 아침에 <mask> 먹었다.',
  '우리 은하와 가장 가까운 은하는 안드로메다 은하이다.',
  '대한민국의 수도는 서울이다.',
  '안녕하세요? 만나서 반갑습니다!',
  '한국어 형태소 분석은 어렵다.',
  '가나다라마바사아자차카타파하',
  '\u1100\u1161\u11A8 (conjoining jamo) vs \uAC01',
  'ㄱㄴㄷㄹ ㅏㅑㅓㅕ',
  '서울특별시 강남구 테헤란로 123, 4층 (우: 06234)',
].forEach((s) => T(s));

// --- CJK and other scripts
[
  '我爱北京天安门。',
  '今天天气很好，我们去公园散步吧！',
  '東京は日本の首都です。',
  'ひらがなとカタカナと漢字が混ざった文章です。',
  'ｶﾀｶﾅ half-width katakana',
  'Ελληνικά: ΣΊΣΥΦΟΣ σίσυφος ΟΔΥΣΣΕΥΣ',
  'Σ',
  'ΑΣ ΑΣ. ΑΣ1',
  'Русский текст: Привет, мир! Ёлка.',
  'العربية: مرحبا بالعالم',
  'עברית: שלום עולם',
  'हिन्दी: नमस्ते दुनिया',
  'ภาษาไทย สวัสดีครับ',
  'Tiếng Việt: Cửa Việt, Hà Nội, Đà Nẵng',
  'Cửa Việt',
  'Mixed: English 한국어 中文 日本語 Русский 123 !!!',
  'Hello안녕你好こんにちは',
  'ＡＢＣ１２３ full-width ＡＢＣ',
  '㍿ ㈱ ① ⅻ ﬁ ﬀ ẞ ß',
].forEach((s) => T(s));

// --- accents: precomposed and decomposed, case mappings
[
  'café résumé naïve façade Ångström',
  'cafe\u0301 re\u0301sume\u0301 nai\u0308ve fac\u0327ade A\u030Angstro\u0308m',
  'Crème brûlée à la mode',
  '\u00C9cole \u0045\u0301cole',
  'İstanbul',
  'İ',
  'I\u0307 i\u0307',
  'ıIiİ DİYARBAKIR',
  'ǅ ǈ ǋ ǲ',
  'Straße STRASSE',
  'ﬁnancial ﬂow',
  'Ǆemal',
  '\u0301\u0301 leading combining marks',
  'a\u0300\u0301\u0302\u0303\u0304 stacked',
].forEach((s) => T(s));

// --- emoji
[
  '😀',
  '👍🏽 thumbs up with skin tone',
  '👨‍👩‍👧‍👦 family ZWJ sequence',
  '🏳️‍🌈 rainbow flag',
  '🇰🇷🇺🇸 flags',
  'I ❤️ NLP ✨🚀',
  'emoji😀glued😀together',
  '1️⃣ keycap',
  '🧑🏿‍💻 developer',
].forEach((s) => T(s));

// --- control, zero-width, unusual spaces
[
  'a\u0000b',
  'a\u0001b\u0007c\u001Fd',
  'a\u007Fb\u0085c',
  'zero\u200Bwidth\u200Cnon\u200Djoiner',
  'word\u2060joiner',
  '\uFEFF//',
  '\uFEFFhello',
  'soft\u00ADhyphen',
  'non\u00A0breaking\u00A0space',
  'em\u2003space en\u2002space thin\u2009space',
  'ideographic\u3000space',
  'narrow\u202Fnbsp figure\u2007space',
  'line\u2028separator paragraph\u2029separator',
  'replacement \uFFFD char',
  'bidi \u202Eoverride\u202C marks \u200E\u200F',
  'variation selector \uFE0F alone',
  'private use \uE000\uF8FF',
  'astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚',
  'a\na',
  'a\r\nb\rc',
  'tab\tseparated\tvalues',
  '\t\tleading tabs',
  'trailing newline\n',
  '\n\nleading newlines',
  'multiple   spaces    between',
  ' leading space',
  'trailing space ',
  '   ',
  '\t',
  '\n',
  ' \t\n\r ',
  '\u00A0',
  '\u3000',
  '',
].forEach((s) => T(s));

// --- long words
const long101 = 'a'.repeat(101);
const long250 = 'supercalifragilisticexpialidocious'.repeat(8);
T(long101);
T('x' + 'abc'.repeat(70));
T(long250);
T('word ' + long250 + ' word');
T('한'.repeat(120));
T('Pneumonoultramicroscopicsilicovolcanoconiosis and ' +
  'Lopadotemachoselachogaleokranioleipsanodrimhypotrimmatosilphiokarabomelitokatakechymenokichlepikossyphophattoperisteralektryonoptekephalliokigklopeleiolagoiosiraiobaphetraganopterygon');
T('😀'.repeat(60));

// --- numbers, URLs, code
[
  '0 1 12 123 1234 12345 123456789 3.14159 -2.5e-10 1,000,000',
  '２０２４年１２月３１日',
  'Phone: +82-10-1234-5678, ZIP 06234',
  'Version v1.2.3-rc.1+build.5',
  'https://huggingface.co/docs/transformers/index?x=1&y=2#section',
  'Email me at john.doe+test@example.com',
  'C:\\Users\\name\\file.txt and /usr/local/bin',
  'int main(void) { return 0; }',
  'def f(x):\n    return x ** 2  # square\n',
  'for (i = 0; i < n; i++) { sum += a[i]; }',
  '<div class="x">Hello</div>',
  '{"key": "value", "n": [1, 2, 3]}',
  'SELECT * FROM users WHERE id = 42;',
  '$ ls -la | grep foo > out.txt 2>&1',
].forEach((s) => T(s));

// --- literal special tokens
[
  '[MASK]', '<mask>', '<s>', '</s>', '[CLS]', '[SEP]', '[PAD]', '[UNK]', '<unk>', '<pad>',
  'a [MASK] b', 'a<mask>b', 'a <mask> b', 'a  <mask>  b', '<mask>start', 'end<mask>',
  'a[MASK]b', '[MASK][MASK] [MASK]', '<mask><mask> <mask>',
  '<s> hello </s>', '<s>hello</s>', '[CLS] hello [SEP] world [SEP]',
  '[cls] lower [mask]', '[ MASK ]', '< mask >', '<MASK>', '</s> <pad> <unk>',
  '</s>trailing', 'x </s> y <extra_id_0> z <extra_id_99>',
  '\t[MASK]\n', '\u00A0<mask>\u00A0',
].forEach((s) => T(s));

// --- pairs
T('What is the capital of France?', 'Paris is the capital of France.');
T('How old are you?', "I'm 6 years old.");
T('나는 오늘 아침에 [MASK] 먹었다.', '밥을 먹었다.');
T('우리 은하와 가장 가까운 은하는?', '안드로메다 은하이다.');
T('', 'empty first');
T('empty second', '');
T('', '');
T('   ', '\t');
T('[MASK]', '<mask>');
T('café', 'cafe\u0301');
T('😀', '👨‍👩‍👧‍👦');
T('İstanbul', 'ΣΊΣΥΦΟΣ');
T('a\na', 'b\tb');
T(long250, 'short');
T('Hello world', 'Hello world');
T('我爱北京', '東京');
T('The man went to the store.', 'He bought a gallon of milk.');
T('\uFEFF//', 'Cửa Việt');

// --- samples from the corpora (short excerpts)
function readLines(rel) {
  const p = path.join(shared, rel);
  if (!fs.existsSync(p)) {
    console.error('skipping absent ' + p);
    return [];
  }
  return fs.readFileSync(p, 'utf8').split('\n');
}
function clip(s, max) {
  const cps = Array.from(s);
  return cps.length > max ? cps.slice(0, max).join('') : s;
}
function sample(arr, n) {
  const step = Math.max(1, Math.floor(arr.length / n));
  const outv = [];
  for (let i = 0; i < arr.length && outv.length < n; i += step) outv.push(arr[i]);
  return outv;
}

const samples = [];
// WikiText-2: non-empty, non-heading lines, raw (keeps the leading space and
// the trailing newline the training files have).
const wiki = readLines('wikitext-2-raw/wiki.valid.raw').filter((l) => l.trim() && !/^ =/.test(l));
sample(wiki, 30).forEach((l) => samples.push({ text: clip(l, 400) }));
// Headings and a raw line with its newline, as the trainer sees them.
const heads = readLines('wikitext-2-raw/wiki.valid.raw').filter((l) => /^ = /.test(l));
sample(heads, 4).forEach((l) => samples.push({ text: l + '\n' }));
// Tiny Shakespeare
const shk = readLines('tiny-shakespeare/input.txt').filter((l) => l.trim());
sample(shk, 10).forEach((l) => samples.push({ text: l }));
// KorSTS: sentence pairs
const sts = readLines('korsts/sts-train.tsv').slice(1).filter((l) => l.split('\t').length >= 7);
sample(sts, 25).forEach((l) => {
  const f = l.split('\t');
  samples.push({ text: f[5], pair: f[6] });
});
// KorNLI
const nli = readLines('kornli/xnli.dev.ko.tsv').slice(1).filter((l) => l.split('\t').length >= 2);
sample(nli, 15).forEach((l) => samples.push({ text: clip(l.split('\t')[0], 300) }));
// Korean chatbot data
const chat = readLines('korean-chatbot-data/ChatbotData.csv').slice(1).filter((l) => l.trim());
sample(chat, 10).forEach((l) => samples.push({ text: l.split(',')[0] }));

// --- U+0000, noncharacters, the last code point, recent and unassigned code
// points (issue #11). Kept after the samples so that the records before them
// keep their index (tests name records by index).
const late = [];
const L = (text, pair) => late.push(pair === undefined ? { text } : { text, pair });
[
  '\u0000',
  '\u0000\u0000\u0000',
  '\u0000 leading NUL',
  'trailing NUL\u0000',
  'a \u0000 b \u0000\u0000 c',
  '한국어\u0000텍스트 안녕\u0000하세요',
  '[MASK]\u0000<mask>\u0000[SEP]',
  '\u0000[MASK] <mask>\u0000',
  '\uFDD0 \uFDEF \uFFFE \uFFFF',
  'a\uFDD0b\uFFFEc',
  'x\u{1FFFE}\u{1FFFF}\u{2FFFE}\u{EFFFF}\u{10FFFE}\u{10FFFF}y',
  '\u{10FFFF}',
  '한국어 \uFDD0 텍스트 \u{10FFFF} 끝',
  'private \u{F0000}\u{FFFFD} non \u{FFFFE}\u{FFFFF} private \u{100000}\u{10FFFD}',
  'unassigned \u0378\u0530 \u{E0080} \u{3FFFD}',
  'Unicode 16: \u1C89\u1C8A \uA7CB\uA7DC \u{10D50}\u{10D40}\u{10D49} \u{16D70}',
  'CJK \u{2B820}\u{2B91F}\u{2B920}\u{2CEAF}',
  'a\u0301\u0323 e\u0323\u0302 \u1EA1\u0301 \u0915\u093C\u0951',
  '\u00B2\u00B3\u00BD x\u00B2 \u2460\u24B6 \u0F73',
  '\u0903\u0488 \u0900\u0902',
].forEach((s) => L(s));
L('a\u0000', '\u0000b');
L('한국어\u0000', '\uFFFF\u{10FFFF}');

const all = cur.concat(samples, late);
fs.writeFileSync(out, all.map((o) => JSON.stringify(o)).join('\n') + '\n');
console.log(`${out}: ${all.length} lines (${cur.length} curated, ${samples.length} sampled, ` +
            `${late.length} curated later)`);
