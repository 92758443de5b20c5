// model.js: Keras model 'm' (<memory>, Keras 3.15.1) exported by kerasless (target js).
// Generated: regenerate instead of editing. An ES module with no dependencies (Node >= 18, browsers).
//   Input  x: Float32Array of batch * 6 floats, (batch, 3, 2) C order
//   Output y: Float32Array of batch * 6 floats, (batch, 3, 2)
//   import { predict, selfTest } from "./model.js"; const y = predict(x, batch);
// Math runs in float64 and is stored as float32: outputs match kerasless predict within 1e-5.
/* eslint-disable camelcase, no-unused-vars */

export const INPUT_SHAPE = Object.freeze([3, 2]); // per sample
export const OUTPUT_SHAPE = Object.freeze([3, 2]); // per sample
export const INPUT_SIZE = 6;
export const OUTPUT_SIZE = 6;
export const FIXED_BATCH = null; // stateful models accept only this batch
export const INPUT_VOCAB = null; // Embedding input: token ids in [0, vocab)
export const CAN_STREAM = true;
export const STREAM_REFUSAL = null;

// ---- runtime (the runtime.js blocks this model uses) ----
// y[yo + j] = sum_i x[xo + i] * W[wo + i*ld + j] for j < nOut (float64 accumulation in y when y is a Float64Array).
// Four rows of W per pass keep y[j] in a register (like runtime.c's kl_vecmat).
function klVecmat(x, xo, nIn, W, wo, ld, nOut, y, yo) {
  for (let j = 0; j < nOut; j++) y[yo + j] = 0;
  let i = 0;
  for (; i + 4 <= nIn; i += 4) {
    const x0 = x[xo + i], x1 = x[xo + i + 1], x2 = x[xo + i + 2], x3 = x[xo + i + 3];
    const r0 = wo + i * ld, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld;
    for (let j = 0; j < nOut; j++) {
      y[yo + j] += x0 * W[r0 + j] + x1 * W[r1 + j] + x2 * W[r2 + j] + x3 * W[r3 + j];
    }
  }
  for (; i < nIn; i++) {
    const xi = x[xo + i];
    const row = wo + i * ld;
    for (let j = 0; j < nOut; j++) y[yo + j] += xi * W[row + j];
  }
}

function act_tanh(x, o, n) { for (let i = o; i < o + n; i++) x[i] = Math.tanh(x[i]); }

function klSigmoid(v) { // split by sign: exp never overflows
  const e = Math.exp(-Math.abs(v));
  return v >= 0 ? 1 / (1 + e) : (v < 0 ? e / (1 + e) : v);
}

function act_sigmoid(x, o, n) { for (let i = o; i < o + n; i++) x[i] = klSigmoid(x[i]); }

function act_softmax(x, o, n) { // e = exp(x - max); e / sum(e); tf.nn.softmax's non-finite rule
  let bad = false;
  for (let i = o; i < o + n; i++) bad = bad || Number.isNaN(x[i]) || x[i] === Infinity;
  if (bad) { // a NaN or +inf entry: NaN there, 0 at the others
    for (let i = o; i < o + n; i++) x[i] = (Number.isNaN(x[i]) || x[i] === Infinity) ? NaN : 0;
    return;
  }
  let m = x[o], s = 0;
  for (let i = o + 1; i < o + n; i++) m = x[i] > m ? x[i] : m;
  for (let i = o; i < o + n; i++) { x[i] = Math.exp(x[i] - m); s += x[i]; }
  for (let i = o; i < o + n; i++) x[i] = x[i] / s;
}

// y (rows, units) = act(x (rows, nIn) . W + b); b may be null, act null for linear.
function klDense(x, rows, nIn, units, W, b, act, y) {
  const acc = new Float64Array(units);
  for (let r = 0; r < rows; r++) {
    klVecmat(x, r * nIn, nIn, W, 0, units, units, acc, 0);
    if (b !== null) for (let j = 0; j < units; j++) acc[j] += b[j];
    if (act !== null) act(acc, 0, units);
    y.set(acc, r * units);
  }
}

// Run `step` over batch*seqs sequences exactly like kerasless.layers.recurrent.run (and runtime.c kl_rnn_run):
//   x (batch*seqs, steps, inputDim); mask (batch, steps) or null; state (batch*seqs, nStates*units) or null, read
//   at the start and written back at the end; prev (batch*seqs, units) or null: the previous output carried in
//   from an earlier call (streams), else zeros. A masked step keeps the states and repeats the previous output, or
//   outputs zeros with zeroOutputForMask. goBackwards consumes t = steps-1 .. 0 and emits outputs in that order.
//   y is (batch*seqs, steps, units) with returnSequences, else (batch*seqs, units).
function klRnnRun(p, step, nStates, x, mask, y, state, prev, batch) {
  const u = p.units, g = p.gates * u, ns = nStates * u, T = p.steps;
  const xp = new Float64Array(T * g), st = new Float32Array(ns), nst = new Float32Array(ns);
  const out = new Float32Array(u), tmp = new Float64Array(3 * g);
  for (let s = 0; s < batch * p.seqs; s++) {
    const mo = Math.floor(s / p.seqs) * T;
    const yo = s * u * (p.returnSequences ? T : 1);
    for (let t = 0; t < T; t++) {
      klVecmat(x, (s * T + t) * p.inputDim, p.inputDim, p.W, 0, g, g, xp, t * g);
      if (p.b !== null) for (let j = 0; j < g; j++) xp[t * g + j] += p.b[j];
    }
    if (state !== null) st.set(state.subarray(s * ns, (s + 1) * ns)); else st.fill(0);
    if (prev !== null) out.set(prev.subarray(s * u, (s + 1) * u)); else out.fill(0);
    for (let k = 0; k < T; k++) {
      const t = p.goBackwards ? T - 1 - k : k;
      step(p, xp, t * g, st, nst, tmp);
      if (mask === null || mask[mo + t] !== 0) {
        st.set(nst);
        out.set(st.subarray(0, u));
      } else if (p.zeroOutputForMask) {
        out.fill(0);
      }
      if (p.returnSequences) y.set(out, yo + k * u);
    }
    if (!p.returnSequences) y.set(out, yo);
    if (state !== null) state.set(st, s * ns);
    if (prev !== null) prev.set(out, s * u);
  }
}

// z = xp_t + h.U; i=ra(z_i) f=ra(z_f) g=a(z_c) o=ra(z_o); c' = f*c + i*g; h' = o*a(c')
function klLstmStep(p, xp, xo, st, nst, tmp) {
  const u = p.units;
  klVecmat(st, 0, u, p.U, 0, 4 * u, 4 * u, tmp, 0);
  for (let j = 0; j < 4 * u; j++) tmp[j] += xp[xo + j];
  p.ract(tmp, 0, u);
  p.ract(tmp, u, u);
  p.act(tmp, 2 * u, u);
  p.ract(tmp, 3 * u, u);
  for (let j = 0; j < u; j++) nst[u + j] = tmp[u + j] * st[u + j] + tmp[j] * tmp[2 * u + j];
  const ac = tmp.subarray(4 * u, 5 * u);
  for (let j = 0; j < u; j++) ac[j] = nst[u + j];
  p.act(ac, 0, u);
  for (let j = 0; j < u; j++) nst[j] = tmp[3 * u + j] * ac[j];
}

function klLstm(p, x, mask, y, state, prev, batch) { klRnnRun(p, klLstmStep, 2, x, mask, y, state, prev, batch); }

// mask (rows) = any(x[r, :] != value)
function klMaskValues(x, rows, features, value, mask) {
  for (let r = 0; r < rows; r++) {
    let keep = 0;
    for (let f = 0; f < features; f++) if (x[r * features + f] !== value) keep = 1;
    mask[r] = keep;
  }
}

// y[r, :] = x[r, :] * mask[r]
function klApplyMask(x, mask, rows, features, y) {
  for (let r = 0; r < rows; r++) for (let f = 0; f < features; f++) y[r * features + f] = x[r * features + f] * mask[r];
}

// Max abs difference of y to the expected values; Infinity when NaN or inf positions (or signs) differ.
function klMaxDiff(y, want) {
  let diff = 0;
  for (let i = 0; i < want.length; i++) {
    const a = y[i], b = want[i];
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) return Infinity;
    } else if (a !== b) {
      diff = Math.max(diff, Math.abs(a - b));
    }
  }
  return diff;
}

// ---- weights (Keras layout, row-major, float32) ----
let W0 = null, W1 = null, W2 = null, W3 = null, W4 = null;
let P = null; // recurrent call parameters, bound with the weights
function bind(blob) {
  W0 = blob.subarray(0, 16); // l1/kernel (2, 8)
  W1 = blob.subarray(16, 32); // l1/recurrent_kernel (2, 8)
  W2 = blob.subarray(32, 40); // l1/bias (8,)
  W3 = blob.subarray(40, 44); // l2/kernel (2, 2)
  W4 = blob.subarray(44, 46); // l2/bias (2,)
  P = {
    c_t2: {seqs: 1, steps: 3, inputDim: 2, units: 2, gates: 4, W: W0, U: W1, b: W2, br: null, act: act_tanh, ract: act_sigmoid, resetAfter: false, goBackwards: false, returnSequences: true, zeroOutputForMask: false},
    s_t2: {seqs: 1, steps: 1, inputDim: 2, units: 2, gates: 4, W: W0, U: W1, b: W2, br: null, act: act_tanh, ract: act_sigmoid, resetAfter: false, goBackwards: false, returnSequences: true, zeroOutputForMask: false},
  };
}

const WEIGHTS = new Float32Array([
  0.0006150767, 0.14937277, -0.13706893, -0.44529593, -0.2273354, -0.49582326, 0.0300718, 0.6701076, -0.24610326, -0.31023744,
  0.24492103, 0.1784435, 0.052707125, -0.465234, -0.014625912, 0.3476516, -0.6721073, -0.22880788, -0.95061135, -0.6447689,
  -0.9208675, -0.11754557, -0.63372326, 0.13563217, 0.07837554, -0.09346547, -1.2583798, -0.26934645, -0.024250472, 0.056654494,
  -0.7650679, -0.23887664, -0.48925954, -0.40441862, 0.53044933, -0.40376735, -0.016260853, 0.44219494, -0.29180023, -0.055850975,
  0.05523207, 0.031890888, -0.6125279, 0.038070116, 0.6794117, -0.7735723
]);
bind(WEIGHTS);

/** Weights are embedded in this module: nothing to load (kept for API symmetry). */
export async function load() {}

// ---- test vector: kerasless predict(TEST_X) == TEST_Y ----
const TEST_BATCH = 2;
const TEST_X = new Float32Array([
  0.0, 0.0, 0.64042264, 0.104900114, -0.5356694, 0.36159506, 1.304, 0.94708097, -0.70373523, -1.2654215,
  0.0, 0.0
]);
const TEST_Y = new Float32Array([ ... ]);

// ---- recurrent states carried between predict calls (stateful layers) ----
const STATE = {};

/** Zero the recurrent states carried between predict calls (a no-op for stateless models). */
export function resetStates() {
  for (const k of Object.keys(STATE)) STATE[k].fill(0);
}

/** Alias of resetStates(). */
export function reset() {
  resetStates();
}

function makeWorkspace(batch) {
  return {batch, m1: new Float32Array(batch * 3), t1: new Float32Array(batch * 6), t2: new Float32Array(batch * 6), t3: new Float32Array(batch * 6)};
}
let WS = null;

function checkArgs(x, batch, size, what) {
  if (P === null) throw new Error("weights are not loaded: await load() first");
  if (!Number.isInteger(batch) || batch <= 0) throw new RangeError(`${what}: batch must be a positive integer, got ${batch}`);
  if (x == null || x.length !== batch * size) {
    throw new RangeError(`${what}: expected ${batch} * ${size} floats, got ${x == null ? x : x.length}`);
  }
  return x instanceof Float32Array ? x : Float32Array.from(x);
}

/** y = model(x): x has batch * INPUT_SIZE floats (C order), y batch * OUTPUT_SIZE. Stateful models
 *  carry their states to the next call (resetStates() zeroes them). Throws on bad arguments. */
export function predict(xIn, batch) {
  const x = checkArgs(xIn, batch, INPUT_SIZE, "predict");
  if (WS === null || WS.batch !== batch) WS = makeWorkspace(batch);
  const ws = WS;
  // l0 (Masking): mask_values (3, 2) -> (3,)
  klMaskValues(x, batch * 3, 2, 0.0, ws.m1);
  // l0 (Masking): apply_mask (3, 2) -> (3, 2)
  klApplyMask(x, ws.m1, batch * 3, 2, ws.t1);
  // l1 (LSTM): lstm (3, 2) -> (3, 2)
  klLstm(P.c_t2, ws.t1, ws.m1, ws.t2, null, null, batch);
  // l2 (Dense): dense (3, 2) -> (3, 2)
  klDense(ws.t2, batch * 3, 2, 2, W3, W4, act_softmax, ws.t3);
  return ws.t3.slice(0, batch * OUTPUT_SIZE);
}

function makeStreamWorkspace(batch) {
  return {batch, m1: new Float32Array(batch * 1), t1: new Float32Array(batch * 2), t2: new Float32Array(batch * 2), t3: new Float32Array(batch * 2)};
}

export const STEP_SIZE = 2; // input floats per sample and timestep
export const STEP_OUTPUT_SIZE = 2; // output floats per sample and timestep
/** One timestep at a time, carrying every recurrent state (like kerasless.stream): step(x_t) with
 *  batch * STEP_SIZE floats returns the model output for that step (batch * STEP_OUTPUT_SIZE);
 *  stepping x[:, t] for t = 0.. gives at each t what predict gives on the prefix x[:, :t+1]. */
export function createStream(batch = 1) {
  checkArgs(new Float32Array(batch * STEP_SIZE), batch, STEP_SIZE, "createStream");
  const ws = makeStreamWorkspace(batch);
  const carry = {s_t2: {state: new Float32Array(batch * 4), prev: new Float32Array(batch * 2)}};
  return {
    batch, stepSize: STEP_SIZE, outputSize: STEP_OUTPUT_SIZE,
    step(xIn) {
      const x = checkArgs(xIn, batch, STEP_SIZE, "step");
      // l0 (Masking): mask_values
      klMaskValues(x, batch * 1, 2, 0.0, ws.m1);
      // l0 (Masking): apply_mask
      klApplyMask(x, ws.m1, batch * 1, 2, ws.t1);
      // l1 (LSTM): lstm
      klLstm(P.s_t2, ws.t1, ws.m1, ws.t2, carry.s_t2.state, carry.s_t2.prev, batch);
      // l2 (Dense): dense
      klDense(ws.t2, batch * 1, 2, 2, W3, W4, act_softmax, ws.t3);
      return ws.t3.slice(0, batch * STEP_OUTPUT_SIZE);
    },
    reset() {
      for (const k of Object.keys(carry)) { carry[k].state.fill(0); carry[k].prev.fill(0); }
    },
  };
}

/** Max abs difference between predict(TEST_X) and kerasless's output (Infinity on failure). Resets
 *  the states of a stateful model. */
export function selfTest() {
  resetStates();
  let y;
  try {
    y = predict(TEST_X, TEST_BATCH);
  } catch (e) {
    return Infinity;
  } finally {
    resetStates();
  }
  return klMaxDiff(y, TEST_Y);
}

