// ONNX Runtime peer for bench/run_model_bench.sh: the reference model
// exported by torch_peer.py --export, run by onnxruntime-node (CPU EP) on the
// same inputs as bench/fill_mask_bench.c. Times the await of session.run()
// only. Note for the batch: the Node binding copies large outputs into JS
// (about 0.7 s for 8x128x50265 logits, measured earlier) and that copy is
// inside run() when ORT allocates the output. Passing a pre-allocated output
// tensor as fetches lets ORT write into it directly (no copy): that is the
// figure compared (`batch_ms`); `batch_ms_with_copy` is the plain run().
//
//   node ort_peer.js PREFIX --threads N --ids 0,...,2 --mask-pos K [--reps R] [--int8]
//
// PREFIX-masked.onnx: encoder + head at the given positions (fill-mask);
// PREFIX-full.onnx: every position's logits (the batch). Prints one JSON line.
// --int8: PREFIX-masked-int8.onnx (bench/onnx_quantize.py: dynamic int8
// quantization) for fill-mask only.
'use strict';
const ort = require('onnxruntime-node');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
};
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const rssMb = () => process.resourceUsage().maxRSS / 1024;

async function timed(fn, reps, warmup) {
  for (let i = 0; i < warmup; i++) await fn();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = nowMs();
    await fn();
    t.push(nowMs() - t0);
  }
  return median(t);
}

function softmaxTopk(x, k) {
  let mx = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > mx) mx = x[i];
  let s = 0;
  const p = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) s += (p[i] = Math.exp(x[i] - mx));
  const idx = [];
  for (let j = 0; j < k; j++) {
    let b = -1;
    for (let i = 0; i < p.length; i++) if (!idx.includes(i) && (b < 0 || p[i] > p[b])) b = i;
    idx.push(b);
  }
  return idx.map((i) => [i, p[i] / s]);
}

const i64 = (a, dims) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), dims);

async function main() {
  const prefix = process.argv[2];
  const threads = Number(arg('--threads', '1'));
  const reps = Number(arg('--reps', '7'));
  const batchReps = Number(arg('--batch-reps', '5'));
  const ids = arg('--ids', '').split(',').map(Number);
  const maskPos = Number(arg('--mask-pos', '0'));
  const B = 8, T = 128, V = Number(arg('--vocab', '50265'));
  const int8 = process.argv.includes('--int8');
  const opts = {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', executionProviders: ['cpu'],
  };
  const runtimeRss = rssMb();
  const loads = [];
  let masked;
  for (let i = 0; i < 3; i++) {
    if (masked) await masked.release();
    const t0 = nowMs();
    masked = await ort.InferenceSession.create(prefix + (int8 ? '-masked-int8.onnx' : '-masked.onnx'), opts);
    loads.push(nowMs() - t0);
  }
  const feeds = {
    input_ids: i64(ids, [1, ids.length]),
    attention_mask: i64(ids.map(() => 1), [1, ids.length]),
    positions: i64([maskPos], [1]),
  };
  const res = {
    impl: int8 ? 'onnxruntime-int8' : 'onnxruntime', load_ms: median(loads),
    config: { threads, ort: require('onnxruntime-node/package.json').version, graphOptimizationLevel: 'all',
              intraOpNumThreads: threads, interOpNumThreads: 1 },
  };
  res.fill_ms_masked_head = await timed(async () => {
    const r = await masked.run(feeds);
    softmaxTopk(r.logits.data, 5);
  }, reps, 3);
  res.peak_rss_mb = rssMb();
  res.runtime_rss_mb = runtimeRss;
  await masked.release();
  if (int8) {
    console.log(JSON.stringify(res));
    return;
  }

  const full = await ort.InferenceSession.create(prefix + '-full.onnx', opts);
  const small = { input_ids: feeds.input_ids, attention_mask: feeds.attention_mask };
  res.fill_ms_all_logits = await timed(async () => {
    const r = await full.run(small);
    softmaxTopk(r.logits.data.subarray(maskPos * V, (maskPos + 1) * V), 5);
  }, reps, 2);
  const big = [];
  for (let r = 0; r < B; r++)
    for (let t = 0; t < T; t++) {
      const i = r * T + t;
      big.push(t === 0 ? 0 : t === T - 1 ? 2 : 4 + ((i * 7919 + 13) % (V - 10)));
    }
  const bfeeds = { input_ids: i64(big, [B, T]), attention_mask: i64(big.map(() => 1), [B, T]) };
  res.batch_ms_with_copy = await timed(() => full.run(bfeeds), batchReps, 1);
  const out = new ort.Tensor('float32', new Float32Array(B * T * V), [B, T, V]);
  res.batch_ms = await timed(() => full.run(bfeeds, { logits: out }), batchReps, 1);
  console.log(JSON.stringify(res));
}

main().catch((e) => { console.error(e); process.exit(1); });
