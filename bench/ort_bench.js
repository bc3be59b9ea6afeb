// ONNX Runtime peer: load, inference latency and peak memory of one model in this process.
// Usage: node ort_bench.js ORT_PREFIX MODEL.onnx INPUT.npy THREADS RUNS [infer]
// Prints one JSON object: create_ms (session creation = what changing a weight costs ORT),
// infer_ms (all timed runs), peak_rss_kb, output_head (first values, for a sanity check); with
// `infer`, only infer_ms.
'use strict';
const fs = require('fs');
const path = require('path');

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + headerLen);
  if (!header.includes("'<f4'")) throw new Error(file + ': only float32 .npy is supported');
  const shape = header.match(/\(([^)]*)\)/)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const start = 10 + headerLen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length));
  return { shape, data };
}

function peakRssKb() {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+)/);
  return m ? Number(m[1]) : -1;
}

async function main() {
  const [prefix, model, input, threads, runs, only] = process.argv.slice(2);
  const ort = require(path.join(prefix, 'node_modules', 'onnxruntime-node'));
  const opts = { intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionMode: 'sequential',
                 graphOptimizationLevel: 'all' };
  const x = readNpy(input);
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, opts);
  const createMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
  let out;
  for (let i = 0; i < 5; ++i) out = await session.run(feeds);
  const times = [];
  for (let i = 0; i < Number(runs); ++i) {
    const s = process.hrtime.bigint();
    out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const y = out[session.outputNames[0]].data;
  if (only === 'infer') {  // another round of inference timings alone
    console.log(JSON.stringify({ infer_ms: times }));
    return;
  }
  const peak = peakRssKb();  // before the second session below
  // A second session measures what a weight change costs ORT (it has no in-place refresh).
  const t1 = process.hrtime.bigint();
  const again = await ort.InferenceSession.create(model, opts);
  const recreateMs = Number(process.hrtime.bigint() - t1) / 1e6;
  await again.release();
  console.log(JSON.stringify({ create_ms: createMs, recreate_ms: recreateMs, infer_ms: times,
                               peak_rss_kb: peak, output_head: Array.from(y.slice(0, 8)) }));
}

main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
