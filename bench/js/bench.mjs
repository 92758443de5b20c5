// Bench-only: the kerasless js export vs TF.js (@tensorflow/tfjs, pure-JS "cpu" backend) in ONE node process,
// on the same LSTM(units) + Dense(features, softmax) weights. Driven by bench/bench_js.py:
//   node bench/js/bench.mjs config.json result.json
// config: {module, weights (float32 LE: lstm kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u), dense kernel
//          (u, out), dense bias (out)), units, features, outputs, steps, budget_ms,
//          cases: [{batch, x, y}] (float32 LE files; y = kerasless predict), stream: bool}
// result: {tfjs_version, backend, cases: [{batch, runtimes: {name: {times_ms, max_abs_diff}}}], stream: {...}}
// Timing is Float32Array in -> Float32Array out for both (TF.js: tensor creation, predict, dataSync, dispose).
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

const T0 = performance.now();
const dbg = (m) => { if (process.env.BENCH_DEBUG) process.stderr.write(`${m} ${(performance.now() - T0).toFixed(0)} ms\n`); };
const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const f32 = (path) => {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

// TF.js logs a "use tfjs-node" hint and initializer warnings: silence the console (results go to a file).
console.log = console.warn = console.info = () => {};
const tf = await import("@tensorflow/tfjs");
await tf.setBackend("cpu");
await tf.ready();
const mod = await import(pathToFileURL(cfg.module).href);

// -- same weights in TF.js ------------------------------------------------------------------------------------
const { units: u, features: nIn, outputs: nOut, steps: T } = cfg;
const blob = f32(cfg.weights);
let off = 0;
const take = (shape) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = tf.tensor(blob.subarray(off, off + n), shape, "float32");
  off += n;
  return t;
};
const W = [take([nIn, 4 * u]), take([u, 4 * u]), take([4 * u]), take([u, nOut]), take([nOut])];
if (off !== blob.length) throw new Error(`weights: read ${off} of ${blob.length} floats`);

function tfModel(batchInputShape, stateful) {
  const m = tf.sequential();
  // Keras defaults, but TF.js defaults recurrentActivation to hardSigmoid (Keras 3: sigmoid). Zero initializers:
  // the weights are set below, and TF.js's orthogonal initializer takes ~45 s on a 128x512 matrix.
  const init = { kernelInitializer: "zeros", recurrentInitializer: "zeros", biasInitializer: "zeros" };
  m.add(tf.layers.lstm({ units: u, batchInputShape, stateful, recurrentActivation: "sigmoid", ...init }));
  m.add(tf.layers.dense({ units: nOut, activation: "softmax", kernelInitializer: "zeros" }));
  m.setWeights(W);
  return m;
}

// -- timing (same rules as bench_predict.timeit) --------------------------------------------------------------
function timeit(fn, budgetMs, minN = 5, maxN = 300) {
  fn();
  const times = [];
  const start = performance.now();
  while (times.length < minN || (performance.now() - start < budgetMs && times.length < maxN)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times;
}

const maxDiff = (a, b) => {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

// -- predict --------------------------------------------------------------------------------------------------
dbg("setup");
const tfPredict = tfModel([null, null, nIn], false);
const result = { tfjs_version: tf.version.tfjs, backend: tf.getBackend(), node: process.version, cases: [] };
for (const c of cfg.cases) {
  const x = f32(c.x), y = f32(c.y), b = c.batch;
  const runs = {
    "kerasless js export": () => mod.predict(x, b),
    "tfjs (cpu)": () => tf.tidy(() => tfPredict.predict(tf.tensor3d(x, [b, T, nIn])).dataSync()),
  };
  const rows = {};
  for (const [name, fn] of Object.entries(runs)) {
    const d = maxDiff(fn(), y);
    rows[name] = { max_abs_diff: d, times_ms: timeit(fn, cfg.budget_ms, b > 1 ? 3 : 5) };
  }
  dbg(`batch ${b}`);
  result.cases.push({ batch: b, runtimes: rows });
}

// -- streaming step, batch 1: one 40-step sequence per sample, reset before it ----------------------------------
if (cfg.stream && mod.CAN_STREAM) {
  const c = cfg.cases.find((k) => k.batch === 1);
  const x = f32(c.x), y = f32(c.y);
  const s = mod.createStream(1);
  const tfStream = tfModel([1, 1, nIn], true);
  const seq = {
    "kerasless js export": () => {
      s.reset();
      let out;
      for (let t = 0; t < T; t++) out = s.step(x.subarray(t * nIn, (t + 1) * nIn));
      return out;
    },
    "tfjs (cpu)": () => {
      tfStream.resetStates();
      let out;
      for (let t = 0; t < T; t++) {
        out = tf.tidy(() => tfStream.predict(tf.tensor3d(x.subarray(t * nIn, (t + 1) * nIn), [1, 1, nIn])).dataSync());
      }
      return out;
    },
  };
  result.stream = {};
  for (const [name, fn] of Object.entries(seq)) {
    const d = maxDiff(fn(), y); // last step's output = predict on the whole sequence
    const per = timeit(fn, cfg.budget_ms, 3).map((ms) => ms / T);
    result.stream[name] = { max_abs_diff: d, times_ms: per };
  }
}
dbg("done");
writeFileSync(process.argv[3], JSON.stringify(result));
