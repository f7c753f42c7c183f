// Regenerates the expected values of tests/test_tokenizer_cases.h with HF's
// Node binding:  cd /tmp && npm install tokenizers && \
//   NODE_PATH=/tmp/node_modules node tests/tools/tokenizer_components.js > tests/test_tokenizer_cases.h
// Each case: a small tokenizer.json built from one component under test, a
// text (Korean in every case), and what HF gives: ids, tokens, code-point
// offsets, word ids, and decode without / with skip_special_tokens.
const {Tokenizer} = require('tokenizers');
const fs = require('fs');
const os = require('os');
const path = require('path');

const wl = (vocab, extra) => Object.assign({type: 'WordLevel', vocab, unk_token: '<unk>'}, extra || {});
const vocabOf = (list) => Object.fromEntries(list.map((t, i) => [t, i]));
const base = (o) => Object.assign({version: '1.0', truncation: null, padding: null, added_tokens: [],
  normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null}, o);

const bpeVocab = vocabOf(['<unk>', '<s>', '</s>', 'a', 'b', 'c', 'ab', 'abc', '나', '는', '나는',
  '<0xEC>', '<0x98>', '<0xA4>', '<0xEB>', '<0x8A>', '<0x98>x', '▁', '▁a', 'bc']);
const cases = [
  ['bert_normalizer_lowercase_accents', base({
    normalizer: {type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true},
    pre_tokenizer: {type: 'BertPreTokenizer'},
    model: wl(vocabOf(['<unk>', 'i̇stanbul', 'istanbul', 'unicode', 'ᄂ', '나는', '中', '.', 'σας', 'ß']))}),
   'İstanbul ÜNİCÖDÉ 나는 中文. ΣΑΣ ß\u0007\u00a0end'],
  ['bert_normalizer_keep_accents', base({
    normalizer: {type: 'BertNormalizer', clean_text: false, handle_chinese_chars: false, strip_accents: false, lowercase: true},
    pre_tokenizer: {type: 'WhitespaceSplit'},
    model: wl(vocabOf(['<unk>', 'café', '나는', '中文']))}),
   'CAFÉ 나는 中文'],
  ['nfkc_lowercase_sequence', base({
    normalizer: {type: 'Sequence', normalizers: [{type: 'NFKC'}, {type: 'Lowercase'}]},
    pre_tokenizer: {type: 'Whitespace'},
    model: wl(vocabOf(['<unk>', 'fi', 'file', '1', '나는', 'é', 'kg', '!']))}),
   'ﬁle Ｆｉ ① 나는 e\u0301 ㎏!'],
  ['nfd_strip_accents', base({
    normalizer: {type: 'Sequence', normalizers: [{type: 'NFD'}, {type: 'StripAccents'}]},
    pre_tokenizer: {type: 'WhitespaceSplit'},
    model: wl(vocabOf(['<unk>', 'Cafe', 'ᄂ', 'Viet']))}),
   'Café 나는 Việt'],
  ['replace_prepend_strip', base({
    normalizer: {type: 'Sequence', normalizers: [{type: 'Strip', strip_left: true, strip_right: true},
      {type: 'Replace', pattern: {String: ' '}, content: '▁'}, {type: 'Prepend', prepend: '▁'},
      {type: 'Replace', pattern: {Regex: '[0-9]+'}, content: '#'}]},
    pre_tokenizer: {type: 'Split', pattern: {String: '▁'}, behavior: 'MergedWithNext', invert: false},
    model: wl(vocabOf(['<unk>', '▁나는', '▁#', '▁오늘']))}),
   '  나는 123 오늘  '],
  ['metaspace_first_digits_punct', base({
    pre_tokenizer: {type: 'Sequence', pretokenizers: [
      {type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true},
      {type: 'Digits', individual_digits: true}, {type: 'Punctuation', behavior: 'Isolated'}]},
    decoder: {type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true},
    model: wl(vocabOf(['<unk>', '▁나는', '▁오늘', '1', '2', '.', '▁', '!']))}),
   '나는 오늘 12. !'],
  ['split_regex_behaviors', base({
    pre_tokenizer: {type: 'Sequence', pretokenizers: [
      {type: 'Split', pattern: {Regex: '\\s+'}, behavior: 'Removed', invert: false},
      {type: 'Split', pattern: {Regex: '[가-힣]'}, behavior: 'MergedWithPrevious', invert: false},
      {type: 'Split', pattern: {String: 'x'}, behavior: 'Contiguous', invert: false}]},
    model: wl(vocabOf(['<unk>', '나', '는', 'ab', 'xx', 'y']))}),
   '나는  abxxy 나'],
  ['split_invert_isolated', base({
    pre_tokenizer: {type: 'Split', pattern: {Regex: '[a-z]+'}, behavior: 'Isolated', invert: true},
    model: wl(vocabOf(['<unk>', 'abc', ' 나는 ', 'de']))}),
   'abc 나는 de'],
  ['bytelevel_bpe_prefix_space', base({
    pre_tokenizer: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true},
    post_processor: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true},
    decoder: {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true},
    model: {type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false,
      vocab: vocabOf(['Ġ', 'a', 'b', 'ë', 'Ĥ', 'ĺ', 'Ġa', 'ab', 'Ġab', 'ì', 'ĺ', '¤', '¨', 'Ģ', 'Ġì']),
      merges: ['Ġ a', 'a b', 'Ġa b', 'Ġ ì']}}),
   'ab 나 ab  a'],
  ['bpe_byte_fallback_fuse_unk', base({
    decoder: {type: 'Sequence', decoders: [{type: 'Replace', pattern: {String: '▁'}, content: ' '},
      {type: 'ByteFallback'}, {type: 'Fuse'}, {type: 'Strip', content: ' ', start: 1, stop: 0}]},
    pre_tokenizer: {type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false},
    model: {type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, vocab: bpeVocab,
      merges: [['a', 'b'], ['ab', 'c'], ['나', '는'], ['▁', 'a'], ['b', 'c']]}}),
   'abc 나는 오 xyz abc'],
  ['bpe_prefix_suffix_unk', base({
    decoder: {type: 'BPEDecoder', suffix: '</w>'},
    pre_tokenizer: {type: 'WhitespaceSplit'},
    model: {type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: '##', end_of_word_suffix: '</w>',
      fuse_unk: false, byte_fallback: false,
      vocab: vocabOf(['<unk>', 'a', '##b', '##c</w>', 'ab', 'abc</w>', '나', '##는</w>', '나는</w>', 'c</w>', '##b</w>']),
      merges: ['a ##b', 'ab ##c</w>', '나 ##는</w>']}}),
   'abc 나는 ab xc a'],
  ['wordpiece_unk_and_decoder', base({
    normalizer: {type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true},
    pre_tokenizer: {type: 'BertPreTokenizer'},
    decoder: {type: 'WordPiece', prefix: '##', cleanup: true},
    added_tokens: [{id: 0, content: '[UNK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true},
      {id: 1, content: '[MASK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true}],
    model: {type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 5,
      vocab: vocabOf(['[UNK]', '[MASK]', '나', '##는', 'do', '##n', "'", 't', '.', 'play', '##ing', '##s'])}}),
   "나는 [MASK] don't playing plays toolongword."],
  ['unigram_byte_fallback', base({
    pre_tokenizer: {type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true},
    decoder: {type: 'Sequence', decoders: [{type: 'Replace', pattern: {String: '▁'}, content: ' '},
      {type: 'ByteFallback'}, {type: 'Fuse'}, {type: 'Strip', content: ' ', start: 1, stop: 0}]},
    model: {type: 'Unigram', unk_id: 0, byte_fallback: true, vocab: [['<unk>', 0], ['▁', -2], ['▁나', -3], ['는', -3],
      ['▁나는', -4], ['a', -2], ['b', -2], ['ab', -3.5], ['<0xEC>', -10], ['<0x98>', -10], ['<0xA4>', -10]]}}),
   '나는 ab 오 나'],
  ['added_tokens_rules', base({
    normalizer: {type: 'Lowercase'},
    pre_tokenizer: {type: 'WhitespaceSplit'},
    post_processor: {type: 'TemplateProcessing',
      single: [{SpecialToken: {id: '<s>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}, {SpecialToken: {id: '</s>', type_id: 0}}],
      pair: [{SpecialToken: {id: '<s>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}, {SpecialToken: {id: '</s>', type_id: 0}},
        {Sequence: {id: 'B', type_id: 1}}, {SpecialToken: {id: '</s>', type_id: 1}}],
      special_tokens: {'<s>': {id: '<s>', ids: [1], tokens: ['<s>']}, '</s>': {id: '</s>', ids: [2], tokens: ['</s>']}}},
    added_tokens: [
      {id: 1, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true},
      {id: 2, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true},
      {id: 3, content: '<mask>', single_word: false, lstrip: true, rstrip: false, normalized: false, special: true},
      {id: 7, content: 'WORD', single_word: true, lstrip: false, rstrip: false, normalized: true, special: false},
      {id: 8, content: '[R]', single_word: false, lstrip: false, rstrip: true, normalized: false, special: false}],
    model: wl(vocabOf(['<unk>', '<s>', '</s>', '<mask>', '나는', 'x', 'words', 'word', '[r]']))}),
   '나는   <mask> word words xword [R]   x'],
];

const out = [];
out.push('/* Generated by tests/tools/tokenizer_components.js from HF tokenizers\' Node');
out.push(' * binding (' + require('tokenizers/package.json').version + '); do not edit. */');
out.push('static const struct component_case COMPONENT_CASES[] = {');
const cstr = (s) => '"' + Array.from(Buffer.from(s, 'utf8')).map((b) =>
  (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c && b !== 0x3f) ? String.fromCharCode(b) :
  '\\x' + b.toString(16).padStart(2, '0') + '""').join('') + '"';
(async () => {
  for (const [name, json, text] of cases) {
    const p = path.join(os.tmpdir(), 'case_' + name + '.json');
    const js = JSON.stringify(json);
    fs.writeFileSync(p, js);
    const t = Tokenizer.fromFile(p);
    const e = await t.encode(text, null, {addSpecialTokens: true});
    const ids = e.getIds();
    out.push('    {' + cstr(name) + ',');
    out.push('     ' + cstr(js) + ',');
    out.push('     ' + cstr(text) + ',');
    out.push('     ' + ids.length + ', {' + ids.join(', ') + '},');
    out.push('     {' + e.getTokens().map(cstr).join(', ') + '},');
    out.push('     {' + e.getOffsets().map((o) => o[0] + ', ' + o[1]).join(', ') + '},');
    out.push('     {' + e.getWordIds().map((w) => w === null ? -1 : w).join(', ') + '},');
    out.push('     ' + cstr(await t.decode(ids, false)) + ',');
    out.push('     ' + cstr(await t.decode(ids, true)) + '},');
  }
  out.push('};');
  console.log(out.join('\n'));
})();
