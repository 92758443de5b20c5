// kerasless JS runtime: the kernels of kerasless/export/plan.py KERNELS as plain ES2020, no dependencies.
//
// The js target copies the blocks a model uses into the generated module (dropping `export`); on its own this
// file is a valid ES module, so it can be linted (`node --check runtime.js`, eslint) and unit-tested.
// Layout: every `//@block NAME [needs DEP ...]` line starts a block that runs to the next marker; the generator
// includes a block when the model's plan uses kernel/activation NAME (activations are `act_<name>`), plus the
// blocks it needs. Buffers are flat Float32Arrays in C order; `batch` is the number of samples in the call.
// Arithmetic runs in float64 and is rounded to float32 when stored into Float32Array buffers (states, outputs),
// which keeps every result within 1e-5 of kerasless's float32 NumPy. Semantics follow kerasless.layers
// (activations.py, recurrent.run) and the C runtime (export/c/runtime.c) operation for operation.

//@block vecmat
// y[yo + j] = sum_i x[xo + i] * W[wo + i*ld + j] for j < nOut (float64 accumulation in y when y is a Float64Array).
// Four rows of W per pass keep y[j] in a register (like runtime.c's kl_vecmat).
export function klVecmat(x, xo, nIn, W, wo, ld, nOut, y, yo) {
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

//@block act_linear
export function act_linear(x, o, n) { /* identity */ }

//@block act_tanh
export function act_tanh(x, o, n) { for (let i = o; i < o + n; i++) x[i] = Math.tanh(x[i]); }

//@block sigmoidf
export function klSigmoid(v) { // split by sign: exp never overflows
  const e = Math.exp(-Math.abs(v));
  return v >= 0 ? 1 / (1 + e) : (v < 0 ? e / (1 + e) : v);
}

//@block act_sigmoid needs sigmoidf
export function act_sigmoid(x, o, n) { for (let i = o; i < o + n; i++) x[i] = klSigmoid(x[i]); }

//@block hard_sigmoidf
export function klHardSigmoid(v) { // Keras 3: clip(x/6 + 0.5, 0, 1)
  const r = v / 6 + 0.5;
  return r < 0 ? 0 : (r > 1 ? 1 : r);
}

//@block act_hard_sigmoid needs hard_sigmoidf
export function act_hard_sigmoid(x, o, n) { for (let i = o; i < o + n; i++) x[i] = klHardSigmoid(x[i]); }

//@block clipf
export function klClip(v, lo, hi) { return v < lo ? lo : (v > hi ? hi : v); }

//@block act_hard_sigmoid_k2 needs clipf
export function act_hard_sigmoid_k2(x, o, n) { // Keras <= 2: clip(0.2x + 0.5, 0, 1), 0.2 as float32
  for (let i = o; i < o + n; i++) x[i] = klClip(Math.fround(0.2) * x[i] + 0.5, 0, 1);
}

//@block act_relu
export function act_relu(x, o, n) { for (let i = o; i < o + n; i++) x[i] = x[i] < 0 ? 0 : x[i]; }

//@block act_relu6
export function act_relu6(x, o, n) {
  for (let i = o; i < o + n; i++) x[i] = x[i] < 0 ? 0 : (x[i] > 6 ? 6 : x[i]);
}

//@block act_leaky_relu
export function act_leaky_relu(x, o, n) {
  const a = Math.fround(0.2);
  for (let i = o; i < o + n; i++) x[i] = x[i] < a * x[i] ? a * x[i] : x[i];
}

//@block eluf
export function klElu(v, alpha) { return v >= 0 ? v : alpha * Math.expm1(v); }

//@block act_elu needs eluf
export function act_elu(x, o, n) { for (let i = o; i < o + n; i++) x[i] = klElu(x[i], 1); }

//@block act_selu needs eluf
export function act_selu(x, o, n) {
  const scale = Math.fround(1.050701), alpha = Math.fround(1.6732632);
  for (let i = o; i < o + n; i++) x[i] = scale * klElu(x[i], alpha);
}

//@block act_celu
export function act_celu(x, o, n) {
  for (let i = o; i < o + n; i++) { const v = x[i]; x[i] = (v < 0 ? 0 : v) + Math.expm1(v < 0 ? v : 0); }
}

//@block softplusf
export function klSoftplus(v) { // numpy logaddexp(x, 0)
  if (v === 0) return Math.LN2;
  if (v > 0) return v + Math.log1p(Math.exp(-v));
  if (v < 0) return Math.log1p(Math.exp(v));
  return v; // NaN
}

//@block act_softplus needs softplusf
export function act_softplus(x, o, n) { for (let i = o; i < o + n; i++) x[i] = klSoftplus(x[i]); }

//@block act_softsign
export function act_softsign(x, o, n) { for (let i = o; i < o + n; i++) x[i] = x[i] / (1 + Math.abs(x[i])); }

//@block act_silu needs sigmoidf
export function act_silu(x, o, n) { for (let i = o; i < o + n; i++) x[i] = x[i] * klSigmoid(x[i]); }

//@block act_hard_silu needs hard_sigmoidf
export function act_hard_silu(x, o, n) { for (let i = o; i < o + n; i++) x[i] = x[i] * klHardSigmoid(x[i]); }

//@block erf
const KL_ERFC_COF = [-1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
  -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5, -1.624290004647e-6,
  1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9, 5.059343495e-9, -9.91364156e-10,
  -2.27365122e-10, 9.6467911e-11, 2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16,
  7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17];

// erfc(z) for z >= 0 by a Chebyshev expansion (Numerical Recipes 3rd ed. 6.2.2; relative error ~1e-16).
export function klErfcPos(z) {
  const t = 2 / (2 + z), ty = 4 * t - 2;
  let d = 0, dd = 0;
  for (let j = KL_ERFC_COF.length - 1; j > 0; j--) { const tmp = d; d = ty * d - dd + KL_ERFC_COF[j]; dd = tmp; }
  return t * Math.exp(-z * z + 0.5 * (KL_ERFC_COF[0] + ty * d) - dd);
}

// erf in float64: Maclaurin series for |x| < 0.5 (full relative precision near 0), else 1 - erfc.
export function klErf(x) {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  if (a < 0.5) {
    const x2 = x * x;
    let term = x, sum = x;
    for (let n = 1; n < 40; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return sum * 1.1283791670955126; // 2 / sqrt(pi)
  }
  const r = 1 - klErfcPos(a);
  return x < 0 ? -r : r;
}

//@block act_gelu needs erf
export function act_gelu(x, o, n) { // exact: x * (erf(x / sqrt 2) + 1) / 2, erf in float64 rounded to float32
  for (let i = o; i < o + n; i++) {
    const v = x[i];
    x[i] = (v * (Math.fround(klErf(v / 1.4142135623730951)) + 1)) / 2;
  }
}

//@block act_exponential
export function act_exponential(x, o, n) { for (let i = o; i < o + n; i++) x[i] = Math.exp(x[i]); }

//@block act_mish needs softplusf
export function act_mish(x, o, n) { for (let i = o; i < o + n; i++) x[i] = x[i] * Math.tanh(klSoftplus(x[i])); }

//@block act_log_sigmoid needs softplusf
export function act_log_sigmoid(x, o, n) { for (let i = o; i < o + n; i++) x[i] = -klSoftplus(-x[i]); }

//@block act_hard_tanh needs clipf
export function act_hard_tanh(x, o, n) { for (let i = o; i < o + n; i++) x[i] = klClip(x[i], -1, 1); }

//@block act_tanh_shrink
export function act_tanh_shrink(x, o, n) { for (let i = o; i < o + n; i++) x[i] = x[i] - Math.tanh(x[i]); }

//@block act_soft_shrink
export function act_soft_shrink(x, o, n) {
  for (let i = o; i < o + n; i++) { const v = x[i]; x[i] = v > 0.5 ? v - 0.5 : (v < -0.5 ? v + 0.5 : 0); }
}

//@block act_hard_shrink
export function act_hard_shrink(x, o, n) { for (let i = o; i < o + n; i++) x[i] = Math.abs(x[i]) > 0.5 ? x[i] : 0; }

//@block act_squareplus
export function act_squareplus(x, o, n) {
  for (let i = o; i < o + n; i++) { const v = x[i]; x[i] = (v + Math.sqrt(v * v + 4)) / 2; }
}

//@block act_sparse_plus
export function act_sparse_plus(x, o, n) {
  for (let i = o; i < o + n; i++) { const v = x[i]; x[i] = v <= -1 ? 0 : (v < 1 ? 0.25 * (v + 1) * (v + 1) : v); }
}

//@block act_sparse_sigmoid needs clipf
export function act_sparse_sigmoid(x, o, n) { for (let i = o; i < o + n; i++) x[i] = klClip(0.5 * (x[i] + 1), 0, 1); }

//@block act_softmax
export function act_softmax(x, o, n) { // e = exp(x - max); e / sum(e); tf.nn.softmax's non-finite rule
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

//@block act_log_softmax
export function act_log_softmax(x, o, n) { // s = x - max; s - log(sum(exp(s)))
  let m = x[o], s = 0;
  for (let i = o + 1; i < o + n; i++) m = x[i] > m ? x[i] : m;
  for (let i = o; i < o + n; i++) { x[i] = x[i] - m; s += Math.exp(x[i]); }
  const l = Math.log(s);
  for (let i = o; i < o + n; i++) x[i] = x[i] - l;
}

//@block act_sparsemax
export function act_sparsemax(x, o, n) { // Keras: z = sort desc, cum = cumsum(z); support z - (cum-1)/r > 0
  const z = Array.from(x.subarray(o, o + n)).sort((a, b) => b - a);
  let cum = 0, cumSupport = 0, k = 0;
  for (let p = 0; p < n; p++) {
    cum += z[p];
    if (z[p] - (cum - 1) / (p + 1) > 0) { k += 1; cumSupport += cum; }
  }
  const tau = (cumSupport - 1) / k;
  for (let i = o; i < o + n; i++) x[i] = x[i] - tau < 0 ? 0 : x[i] - tau;
}

//@block dense needs vecmat
// y (rows, units) = act(x (rows, nIn) . W + b); b may be null, act null for linear.
export function klDense(x, rows, nIn, units, W, b, act, y) {
  const acc = new Float64Array(units);
  for (let r = 0; r < rows; r++) {
    klVecmat(x, r * nIn, nIn, W, 0, units, units, acc, 0);
    if (b !== null) for (let j = 0; j < units; j++) acc[j] += b[j];
    if (act !== null) act(acc, 0, units);
    y.set(acc, r * units);
  }
}

//@block activation
// y (rows, n) = act(x) row by row
export function klActivation(x, rows, n, act, y) {
  const row = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) row[j] = x[r * n + j];
    act(row, 0, n);
    y.set(row, r * n);
  }
}

//@block rnn needs vecmat
// Run `step` over batch*seqs sequences exactly like kerasless.layers.recurrent.run (and runtime.c kl_rnn_run):
//   x (batch*seqs, steps, inputDim); mask (batch, steps) or null; state (batch*seqs, nStates*units) or null, read
//   at the start and written back at the end; prev (batch*seqs, units) or null: the previous output carried in
//   from an earlier call (streams), else zeros. A masked step keeps the states and repeats the previous output, or
//   outputs zeros with zeroOutputForMask. goBackwards consumes t = steps-1 .. 0 and emits outputs in that order.
//   y is (batch*seqs, steps, units) with returnSequences, else (batch*seqs, units).
export function klRnnRun(p, step, nStates, x, mask, y, state, prev, batch) {
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

//@block lstm needs rnn
// z = xp_t + h.U; i=ra(z_i) f=ra(z_f) g=a(z_c) o=ra(z_o); c' = f*c + i*g; h' = o*a(c')
export function klLstmStep(p, xp, xo, st, nst, tmp) {
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

export function klLstm(p, x, mask, y, state, prev, batch) { klRnnRun(p, klLstmStep, 2, x, mask, y, state, prev, batch); }

//@block gru needs rnn
// reset_after: hu = h.U + br; z=ra(xz+hu_z) r=ra(xr+hu_r) hh=a(xh + r*hu_h)
// else:        hu = h.U_zr;   z=ra(xz+hu_z) r=ra(xr+hu_r) hh=a(xh + (r*h).U_h);   h' = z*h + (1-z)*hh
export function klGruStep(p, xp, xo, st, nst, tmp) {
  const u = p.units, hu = tmp, z = 3 * u, r = 4 * u, hh = 5 * u, rh = 6 * u;
  if (p.resetAfter) {
    klVecmat(st, 0, u, p.U, 0, 3 * u, 3 * u, hu, 0);
    if (p.br !== null) for (let j = 0; j < 3 * u; j++) hu[j] += p.br[j];
  } else {
    klVecmat(st, 0, u, p.U, 0, 3 * u, 2 * u, hu, 0);
  }
  for (let j = 0; j < u; j++) { tmp[z + j] = xp[xo + j] + hu[j]; tmp[r + j] = xp[xo + u + j] + hu[u + j]; }
  p.ract(tmp, z, u);
  p.ract(tmp, r, u);
  if (p.resetAfter) {
    for (let j = 0; j < u; j++) tmp[hh + j] = xp[xo + 2 * u + j] + tmp[r + j] * hu[2 * u + j];
  } else {
    for (let j = 0; j < u; j++) tmp[rh + j] = Math.fround(tmp[r + j] * st[j]);
    klVecmat(tmp, rh, u, p.U, 2 * u, 3 * u, u, tmp, hh);
    for (let j = 0; j < u; j++) tmp[hh + j] += xp[xo + 2 * u + j];
  }
  p.act(tmp, hh, u);
  for (let j = 0; j < u; j++) nst[j] = tmp[z + j] * st[j] + (1 - tmp[z + j]) * tmp[hh + j];
}

export function klGru(p, x, mask, y, state, prev, batch) { klRnnRun(p, klGruStep, 1, x, mask, y, state, prev, batch); }

//@block simple_rnn needs rnn
// h' = a(xp_t + h.U)
export function klSimpleRnnStep(p, xp, xo, st, nst, tmp) {
  const u = p.units;
  klVecmat(st, 0, u, p.U, 0, u, u, tmp, 0);
  for (let j = 0; j < u; j++) tmp[j] += xp[xo + j];
  p.act(tmp, 0, u);
  for (let j = 0; j < u; j++) nst[j] = tmp[j];
}

export function klSimpleRnn(p, x, mask, y, state, prev, batch) {
  klRnnRun(p, klSimpleRnnStep, 1, x, mask, y, state, prev, batch);
}

//@block embedding
// y (n, dim) = E[trunc(ids)]; throws for an id that is not a number in [0, vocab)
export function klEmbedding(ids, n, E, vocab, dim, y) {
  for (let i = 0; i < n; i++) {
    const v = ids[i];
    const id = Math.trunc(v);
    if (!(v > -1 && v < 2147483647) || id >= vocab) {
      throw new RangeError(`embedding: token id ${v} at position ${i} is not in [0, ${vocab})`);
    }
    y.set(E.subarray(id * dim, (id + 1) * dim), i * dim);
  }
}

//@block mask_tokens
// mask[i] = ids[i] != 0 (the raw value: 0.5 is a valid step that embeds as token 0)
export function klMaskTokens(ids, n, mask) { for (let i = 0; i < n; i++) mask[i] = ids[i] !== 0 ? 1 : 0; }

//@block mask_values
// mask (rows) = any(x[r, :] != value)
export function klMaskValues(x, rows, features, value, mask) {
  for (let r = 0; r < rows; r++) {
    let keep = 0;
    for (let f = 0; f < features; f++) if (x[r * features + f] !== value) keep = 1;
    mask[r] = keep;
  }
}

//@block apply_mask
// y[r, :] = x[r, :] * mask[r]
export function klApplyMask(x, mask, rows, features, y) {
  for (let r = 0; r < rows; r++) for (let f = 0; f < features; f++) y[r * features + f] = x[r * features + f] * mask[r];
}

//@block reverse_time
// y[b, t] = x[b, steps-1-t], rows of `features`
export function klReverseTime(x, batch, steps, features, y) {
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < steps; t++) {
      const src = (b * steps + steps - 1 - t) * features;
      y.set(x.subarray(src, src + features), (b * steps + t) * features);
    }
  }
}

//@block merge
// rows of a (aDim) and b (bDim): "concat" [a | b], "sum", "mul", "ave" (a + b) / 2
export function klMerge(a, b, rows, aDim, bDim, mode, y) {
  for (let r = 0; r < rows; r++) {
    if (mode === "concat") {
      y.set(a.subarray(r * aDim, (r + 1) * aDim), r * (aDim + bDim));
      y.set(b.subarray(r * bDim, (r + 1) * bDim), r * (aDim + bDim) + aDim);
      continue;
    }
    for (let j = 0; j < aDim; j++) {
      const i = r * aDim + j;
      y[i] = mode === "sum" ? a[i] + b[i] : (mode === "mul" ? a[i] * b[i] : (a[i] + b[i]) / 2);
    }
  }
}

//@block permute
// Per sample: y = transpose(x, dims); shape is the input's per-sample shape.
export function klPermute(x, batch, shape, dims, y) {
  const rank = shape.length, stride = new Array(rank);
  let size = 1;
  for (let d = rank - 1; d >= 0; d--) { stride[d] = size; size *= shape[d]; }
  const idx = new Array(rank);
  for (let b = 0; b < batch; b++) {
    idx.fill(0);
    for (let i = 0; i < size; i++) { // idx walks the output in C order; output axis d is input axis dims[d]
      let src = 0;
      for (let d = 0; d < rank; d++) src += idx[d] * stride[dims[d]];
      y[b * size + i] = x[b * size + src];
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d] < shape[dims[d]]) break;
        idx[d] = 0;
      }
    }
  }
}

//@block repeat
// y (batch, n, features): x (batch, features) repeated n times
export function klRepeat(x, batch, n, features, y) {
  for (let b = 0; b < batch; b++) {
    const row = x.subarray(b * features, (b + 1) * features);
    for (let k = 0; k < n; k++) y.set(row, (b * n + k) * features);
  }
}

//@block max_diff
// Max abs difference of y to the expected values; Infinity when NaN or inf positions (or signs) differ.
export function klMaxDiff(y, want) {
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

//@block load_blob
// `floats` little-endian float32 from a path or file: URL in Node (fs), or a URL in browsers (fetch).
export async function klLoadBlob(src, floats) {
  let bytes;
  const isNode = typeof process !== "undefined" && process.versions != null && process.versions.node != null;
  if (isNode && !/^(https?|data|blob):/.test(String(src))) {
    const fs = await import("node:fs/promises");
    const { fileURLToPath } = await import("node:url");
    const path = String(src).startsWith("file:") ? fileURLToPath(String(src)) : String(src);
    const buf = await fs.readFile(path);
    bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } else {
    const res = await fetch(src);
    if (!res.ok) throw new Error(`load: fetching ${src} failed: HTTP ${res.status}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  }
  if (bytes.byteLength !== floats * 4) {
    throw new Error(`load: ${src} has ${bytes.byteLength} bytes, expected ${floats * 4}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blob = new Float32Array(floats);
  for (let i = 0; i < floats; i++) blob[i] = view.getFloat32(4 * i, true);
  return blob;
}
