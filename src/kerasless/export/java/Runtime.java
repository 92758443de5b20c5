/* kerasless Java runtime: the kernels of kerasless/export/plan.py KERNELS, float32, Java 8, no dependencies.
 *
 * The java target copies the `//@block NAME [needs A B]` blocks a model uses (the markers of c/runtime.c and
 * js/runtime.js; a block runs to the next marker or `//@end`) into every generated <Name>.java as the nested class
 * `Rt`, so one file is the whole model. Activations are one switch over codes, in `core`. Lint it on its own with:  javac --release 8 -Xlint:all -Werror -d /tmp Runtime.java
 *
 * Conventions (same as c/runtime.c, operation for operation): buffers are float[] with an int offset, C order;
 * all weights live in one float[] blob `w` addressed by offsets (an absent bias is offset -1); `batch` is the
 * number of samples in the call, every other size comes from the plan. Arithmetic is float32 (Java never fuses or
 * widens float operations); exp/log/tanh go through double and round once, like C's expf & co. within an ulp.
 */
final class Runtime {
    private Runtime() {
    }

    //@block core
    /** Activation codes (kerasless canonical names). */
    static final int ACT_LINEAR = 0, ACT_TANH = 1, ACT_SIGMOID = 2, ACT_HARD_SIGMOID = 3, ACT_HARD_SIGMOID_K2 = 4,
            ACT_RELU = 5, ACT_RELU6 = 6, ACT_LEAKY_RELU = 7, ACT_ELU = 8, ACT_SELU = 9, ACT_CELU = 10,
            ACT_SOFTPLUS = 11, ACT_SOFTSIGN = 12, ACT_SILU = 13, ACT_HARD_SILU = 14, ACT_GELU = 15,
            ACT_EXPONENTIAL = 16, ACT_MISH = 17, ACT_LOG_SIGMOID = 18, ACT_HARD_TANH = 19, ACT_TANH_SHRINK = 20,
            ACT_SOFT_SHRINK = 21, ACT_HARD_SHRINK = 22, ACT_SQUAREPLUS = 23, ACT_SPARSE_PLUS = 24,
            ACT_SPARSE_SIGMOID = 25, ACT_SOFTMAX = 26, ACT_LOG_SOFTMAX = 27, ACT_SPARSEMAX = 28;

    static float sigmoid(float x) { // split by sign: exp never overflows
        final float e = (float) Math.exp(-Math.abs(x));
        return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }

    static float softplus(float x) { // numpy logaddexp(x, 0) for float32
        if (x == 0.0f) return 0.6931472f;
        if (x > 0.0f) return x + (float) Math.log1p((float) Math.exp(-x));
        if (x <= 0.0f) return (float) Math.log1p((float) Math.exp(x));
        return x; // NaN
    }

    static float hardSigmoid(float x) { // Keras 3: clip(x/6 + 0.5, 0, 1)
        final float v = x / 6.0f + 0.5f;
        return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    }

    static float elu(float x, float alpha) {
        return x >= 0.0f ? x : alpha * (float) Math.expm1(x);
    }

    static float clip(float v, float lo, float hi) {
        return v < lo ? lo : (v > hi ? hi : v);
    }

    /** erf in double, relative error ~1e-15: erf(x) = 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (2n+1)!!
     *  (all terms positive: no cancellation); |x| >= 6 rounds to +-1 in double. */
    static double erf(double x) {
        if (Double.isNaN(x)) return x;
        final double a = Math.abs(x);
        if (a >= 6.0) return x > 0 ? 1.0 : -1.0;
        final double q = 2.0 * a * a;
        double term = a, sum = a;
        for (int n = 1; n < 500; ++n) {
            term *= q / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17) break;
        }
        final double r = 1.1283791670955126 * Math.exp(-a * a) * sum;
        return x < 0 ? -r : r;
    }

    static float scalar(int code, float v) {
        switch (code) {
            case ACT_TANH: return (float) Math.tanh(v);
            case ACT_SIGMOID: return sigmoid(v);
            case ACT_HARD_SIGMOID: return hardSigmoid(v);
            case ACT_HARD_SIGMOID_K2: return clip(0.2f * v + 0.5f, 0.0f, 1.0f); // Keras <= 2
            case ACT_RELU: return v < 0.0f ? 0.0f : v;
            case ACT_RELU6: return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
            case ACT_LEAKY_RELU: return v < 0.2f * v ? 0.2f * v : v;
            case ACT_ELU: return elu(v, 1.0f);
            case ACT_SELU: return 1.050701f * elu(v, 1.6732632f);
            case ACT_CELU: return (v < 0.0f ? 0.0f : v) + (float) Math.expm1(v < 0.0f ? v : 0.0f);
            case ACT_SOFTPLUS: return softplus(v);
            case ACT_SOFTSIGN: return v / (1.0f + Math.abs(v));
            case ACT_SILU: return v * sigmoid(v);
            case ACT_HARD_SILU: return v * hardSigmoid(v);
            case ACT_GELU: return (v * ((float) erf((double) v / 1.4142135623730951) + 1.0f)) / 2.0f; // exact
            case ACT_EXPONENTIAL: return (float) Math.exp(v);
            case ACT_MISH: return v * (float) Math.tanh(softplus(v));
            case ACT_LOG_SIGMOID: return -softplus(-v);
            case ACT_HARD_TANH: return clip(v, -1.0f, 1.0f);
            case ACT_TANH_SHRINK: return v - (float) Math.tanh(v);
            case ACT_SOFT_SHRINK: return v > 0.5f ? v - 0.5f : (v < -0.5f ? v + 0.5f : 0.0f);
            case ACT_HARD_SHRINK: return Math.abs(v) > 0.5f ? v : 0.0f;
            case ACT_SQUAREPLUS: return (v + (float) Math.sqrt(v * v + 4.0f)) / 2.0f;
            case ACT_SPARSE_PLUS: return v <= -1.0f ? 0.0f : (v < 1.0f ? 0.25f * ((v + 1.0f) * (v + 1.0f)) : v);
            case ACT_SPARSE_SIGMOID: return clip(0.5f * (v + 1.0f), 0.0f, 1.0f);
            default: throw new IllegalArgumentException("activation code " + code);
        }
    }

    /** In place on one row x[o .. o+n) (softmax-like activations normalise the row). */
    static void act(int code, float[] x, int o, int n) {
        switch (code) {
            case ACT_LINEAR:
                return;
            case ACT_SOFTMAX: { // e = exp(x - max); e / sum(e); tf.nn.softmax's non-finite rule
                boolean bad = false;
                for (int i = 0; i < n; ++i) bad |= Float.isNaN(x[o + i]) || x[o + i] == Float.POSITIVE_INFINITY;
                if (bad) { // a NaN or +inf entry: NaN there, 0 at the others
                    for (int i = 0; i < n; ++i) {
                        final float v = x[o + i];
                        x[o + i] = (Float.isNaN(v) || v == Float.POSITIVE_INFINITY) ? Float.NaN : 0.0f;
                    }
                    return;
                }
                float m = x[o], s = 0.0f;
                for (int i = 1; i < n; ++i) m = x[o + i] > m ? x[o + i] : m;
                for (int i = 0; i < n; ++i) {
                    x[o + i] = (float) Math.exp(x[o + i] - m);
                    s += x[o + i];
                }
                for (int i = 0; i < n; ++i) x[o + i] = x[o + i] / s;
                return;
            }
            case ACT_LOG_SOFTMAX: { // s = x - max; s - log(sum(exp(s)))
                float m = x[o], s = 0.0f;
                for (int i = 1; i < n; ++i) m = x[o + i] > m ? x[o + i] : m;
                for (int i = 0; i < n; ++i) {
                    x[o + i] = x[o + i] - m;
                    s += (float) Math.exp(x[o + i]);
                }
                final float l = (float) Math.log(s);
                for (int i = 0; i < n; ++i) x[o + i] = x[o + i] - l;
                return;
            }
            case ACT_SPARSEMAX:
                sparsemax(x, o, n);
                return;
            default:
                for (int i = o; i < o + n; ++i) x[i] = scalar(code, x[i]);
        }
    }

    /** Keras's sparsemax (see c/runtime_activations.c): walk the descending order without scratch memory. */
    static void sparsemax(float[] x, int o, int n) {
        int k = 0, pi = 0;
        float pv = 0.0f, cum = 0.0f, cumSupport = 0.0f;
        for (int p = 0; p < n; ++p) {
            int best = -1;
            for (int i = 0; i < n; ++i) {
                final boolean after = p == 0 || x[o + i] < pv || (x[o + i] == pv && i > pi);
                if (after && (best < 0 || x[o + i] > x[o + best])) best = i;
            }
            if (best < 0) best = 0; // only with NaNs
            pv = x[o + best];
            pi = best;
            final float z = pv;
            cum += z;
            if (z - (cum - 1.0f) / (float) (p + 1) > 0.0f) {
                k += 1;
                cumSupport += cum;
            }
        }
        final float tau = (cumSupport - 1.0f) / (float) k;
        for (int p = 0; p < n; ++p) x[o + p] = x[o + p] - tau < 0.0f ? 0.0f : x[o + p] - tau;
    }

    /** y[yo .. yo+nOut) = x[xo .. xo+nIn) . W (row stride ld, at w[wo]); every y[j] sums over i in order. */
    static void vecmat(float[] x, int xo, int nIn, float[] w, int wo, int ld, int nOut, float[] y, int yo) {
        for (int j = 0; j < nOut; ++j) y[yo + j] = 0.0f;
        for (int i = 0; i < nIn; ++i) {
            final float xi = x[xo + i];
            final int r = wo + i * ld;
            for (int j = 0; j < nOut; ++j) y[yo + j] += xi * w[r + j];
        }
    }

    /** y (rows, nOut) = x (rows, nIn) . W (nIn, nOut) (+ b at bo unless bo < 0) */
    static void matmulBias(float[] x, int xo, int rows, int nIn, float[] w, int wo, int nOut, int bo, float[] y,
                           int yo) {
        for (int r = 0; r < rows; ++r) {
            final int yr = yo + r * nOut;
            vecmat(x, xo + r * nIn, nIn, w, wo, nOut, nOut, y, yr);
            if (bo >= 0) for (int j = 0; j < nOut; ++j) y[yr + j] += w[bo + j];
        }
    }
    //@block dense needs core
    /** y (rows, units) = act(x (rows, nIn) . W + b) */
    static void dense(float[] x, int rows, int nIn, int units, float[] w, int wo, int bo, int act, float[] y) {
        matmulBias(x, 0, rows, nIn, w, wo, units, bo, y, 0);
        if (act != ACT_LINEAR) for (int r = 0; r < rows; ++r) act(act, y, r * units, units);
    }
    //@block activation needs core
    /** y (rows, n) = act(x) row by row */
    static void activation(float[] x, int rows, int n, int act, float[] y) {
        System.arraycopy(x, 0, y, 0, rows * n);
        for (int r = 0; r < rows; ++r) act(act, y, r * n, n);
    }
    //@block recurrent needs core
    static final int LSTM = 0, GRU = 1, SIMPLE_RNN = 2;

    /** A recurrent call's parameters (weights are offsets into the blob; b / br are -1 when absent). */
    static final class Rnn {
        final int kind, seqs, steps, inputDim, units, gates, nStates, wW, wU, wb, wbr, act, ract;
        final boolean resetAfter, goBackwards, returnSequences, zeroOutputForMask;

        Rnn(int kind, int seqs, int steps, int inputDim, int units, int wW, int wU, int wb, int wbr, int act,
            int ract, boolean resetAfter, boolean goBackwards, boolean returnSequences, boolean zeroOutputForMask) {
            this.kind = kind;
            this.seqs = seqs;
            this.steps = steps;
            this.inputDim = inputDim;
            this.units = units;
            this.gates = kind == LSTM ? 4 : (kind == GRU ? 3 : 1);
            this.nStates = kind == LSTM ? 2 : 1;
            this.wW = wW;
            this.wU = wU;
            this.wb = wb;
            this.wbr = wbr;
            this.act = act;
            this.ract = ract;
            this.resetAfter = resetAfter;
            this.goBackwards = goBackwards;
            this.returnSequences = returnSequences;
            this.zeroOutputForMask = zeroOutputForMask;
        }
    }

    /** One timestep: st (nStates*units, at so) -> nst; nst[0:units] is the new h. tmp: 2*gates*units floats. */
    static void step(Rnn p, float[] w, float[] xp, int xo, float[] st, int so, float[] nst, float[] tmp) {
        final int u = p.units;
        if (p.kind == LSTM) { // z = xp + h.U; i=ra(z_i) f=ra(z_f) g=a(z_c) o=ra(z_o); c' = f*c + i*g; h' = o*a(c')
            vecmat(st, so, u, w, p.wU, 4 * u, 4 * u, tmp, 0);
            for (int j = 0; j < 4 * u; ++j) tmp[j] = xp[xo + j] + tmp[j];
            act(p.ract, tmp, 0, u);
            act(p.ract, tmp, u, u);
            act(p.act, tmp, 2 * u, u);
            act(p.ract, tmp, 3 * u, u);
            for (int j = 0; j < u; ++j) nst[u + j] = tmp[u + j] * st[so + u + j] + tmp[j] * tmp[2 * u + j];
            System.arraycopy(nst, u, tmp, 4 * u, u);
            act(p.act, tmp, 4 * u, u);
            for (int j = 0; j < u; ++j) nst[j] = tmp[3 * u + j] * tmp[4 * u + j];
        } else if (p.kind == GRU) { // h' = z*h + (1-z)*hh
            final int z = 3 * u, r = 4 * u, hh = 5 * u; // tmp: hu (3u) | z | r | hh
            if (p.resetAfter) {
                vecmat(st, so, u, w, p.wU, 3 * u, 3 * u, tmp, 0);
                if (p.wbr >= 0) for (int j = 0; j < 3 * u; ++j) tmp[j] += w[p.wbr + j];
            } else {
                vecmat(st, so, u, w, p.wU, 3 * u, 2 * u, tmp, 0);
            }
            for (int j = 0; j < u; ++j) {
                tmp[z + j] = xp[xo + j] + tmp[j];
                tmp[r + j] = xp[xo + u + j] + tmp[u + j];
            }
            act(p.ract, tmp, z, u);
            act(p.ract, tmp, r, u);
            if (p.resetAfter) {
                for (int j = 0; j < u; ++j) tmp[hh + j] = xp[xo + 2 * u + j] + tmp[r + j] * tmp[2 * u + j];
            } else {
                for (int j = 0; j < u; ++j) tmp[j] = tmp[r + j] * st[so + j]; // r*h into hu's first block
                vecmat(tmp, 0, u, w, p.wU + 2 * u, 3 * u, u, tmp, hh);
                for (int j = 0; j < u; ++j) tmp[hh + j] = xp[xo + 2 * u + j] + tmp[hh + j];
            }
            act(p.act, tmp, hh, u);
            for (int j = 0; j < u; ++j) nst[j] = tmp[z + j] * st[so + j] + (1.0f - tmp[z + j]) * tmp[hh + j];
        } else { // h' = a(xp + h.U)
            vecmat(st, so, u, w, p.wU, u, u, tmp, 0);
            for (int j = 0; j < u; ++j) nst[j] = xp[xo + j] + tmp[j];
            act(p.act, nst, 0, u);
        }
    }

    /** The recurrent loop, exactly like kerasless.layers.recurrent.run (see c/runtime.c kl_rnn_run):
     *  x (batch*seqs, steps, inputDim); mask (batch, steps) or null; state (batch*seqs, nStates*units) or null. */
    static void rnn(Rnn p, float[] w, float[] x, float[] mask, float[] y, float[] state, int batch) {
        final int u = p.units, g = p.gates * u, ns = p.nStates * u;
        final float[] xp = new float[p.steps * g], st = new float[ns], nst = new float[ns], prev = new float[u];
        final float[] tmp = new float[2 * g + 2 * u];
        for (int s = 0; s < batch * p.seqs; ++s) {
            final int m = s / p.seqs * p.steps;
            final int out = s * u * (p.returnSequences ? p.steps : 1);
            matmulBias(x, s * p.steps * p.inputDim, p.steps, p.inputDim, w, p.wW, g, p.wb, xp, 0);
            if (state != null) System.arraycopy(state, s * ns, st, 0, ns);
            else java.util.Arrays.fill(st, 0.0f);
            java.util.Arrays.fill(prev, 0.0f);
            for (int k = 0; k < p.steps; ++k) {
                final int t = p.goBackwards ? p.steps - 1 - k : k;
                step(p, w, xp, t * g, st, 0, nst, tmp);
                if (mask == null || mask[m + t] != 0.0f) {
                    System.arraycopy(nst, 0, st, 0, ns);
                    System.arraycopy(st, 0, prev, 0, u);
                } else if (p.zeroOutputForMask) {
                    java.util.Arrays.fill(prev, 0.0f);
                }
                if (p.returnSequences) System.arraycopy(prev, 0, y, out + k * u, u);
            }
            if (!p.returnSequences) System.arraycopy(prev, 0, y, out, u);
            if (state != null) System.arraycopy(st, 0, state, s * ns, ns);
        }
    }
    //@block stream needs recurrent
    /** One timestep of one sequence (kerasless Stream.step): state (nStates*units) and prev (units) persist;
     *  xp (gates*units), nst (nStates*units) and tmp (2*gates*units + 2*units) are scratch. */
    static void rnnStream(Rnn p, float[] w, float[] x, float[] mask, float[] y, float[] state, float[] prev,
                          float[] xp, float[] nst, float[] tmp) {
        final int u = p.units, g = p.gates * u, ns = p.nStates * u;
        matmulBias(x, 0, 1, p.inputDim, w, p.wW, g, p.wb, xp, 0);
        step(p, w, xp, 0, state, 0, nst, tmp);
        if (mask == null || mask[0] != 0.0f) {
            System.arraycopy(nst, 0, state, 0, ns);
            System.arraycopy(state, 0, prev, 0, u);
        } else if (p.zeroOutputForMask) {
            java.util.Arrays.fill(prev, 0.0f);
        }
        System.arraycopy(prev, 0, y, 0, u);
    }
    //@block embedding needs core
    /** y (n, dim) = E[trunc(ids)]; an id that is not a number in [0, vocab) is an IllegalArgumentException. */
    static void embedding(float[] ids, int n, float[] w, int eo, int vocab, int dim, float[] y) {
        for (int i = 0; i < n; ++i) {
            final float v = ids[i];
            if (!(v > -1.0f && v < 2147483647.0f) || (long) v >= vocab)
                throw new IllegalArgumentException("token id " + v + " is not in [0, " + vocab + ")");
            System.arraycopy(w, eo + (int) v * dim, y, i * dim, dim);
        }
    }
    //@block mask_tokens
    /** mask[i] = ids[i] != 0 (the raw value) */
    static void maskTokens(float[] ids, int n, float[] mask) {
        for (int i = 0; i < n; ++i) mask[i] = ids[i] != 0.0f ? 1.0f : 0.0f;
    }
    //@block mask_values
    /** mask (rows) = any(x[r, :] != value) */
    static void maskValues(float[] x, int rows, int features, float value, float[] mask) {
        for (int r = 0; r < rows; ++r) {
            float keep = 0.0f;
            for (int f = 0; f < features; ++f) if (x[r * features + f] != value) keep = 1.0f;
            mask[r] = keep;
        }
    }
    //@block apply_mask
    /** y[r, :] = x[r, :] * mask[r] */
    static void applyMask(float[] x, float[] mask, int rows, int features, float[] y) {
        for (int r = 0; r < rows; ++r)
            for (int f = 0; f < features; ++f) y[r * features + f] = x[r * features + f] * mask[r];
    }
    //@block reverse_time
    /** y[b, t] = x[b, steps-1-t], rows of `features` */
    static void reverseTime(float[] x, int batch, int steps, int features, float[] y) {
        for (int b = 0; b < batch; ++b)
            for (int t = 0; t < steps; ++t)
                System.arraycopy(x, (b * steps + steps - 1 - t) * features, y, (b * steps + t) * features, features);
    }
    //@block merge
    static final int CONCAT = 0, SUM = 1, MUL = 2, AVE = 3;

    /** rows of a (aDim) and b (bDim): concat [a | b], sum, mul, ave (a + b) / 2 */
    static void merge(float[] a, float[] b, int rows, int aDim, int bDim, int mode, float[] y) {
        for (int r = 0; r < rows; ++r) {
            if (mode == CONCAT) {
                System.arraycopy(a, r * aDim, y, r * (aDim + bDim), aDim);
                System.arraycopy(b, r * bDim, y, r * (aDim + bDim) + aDim, bDim);
                continue;
            }
            for (int j = 0; j < aDim; ++j) {
                final float av = a[r * aDim + j], bv = b[r * bDim + j];
                y[r * aDim + j] = mode == SUM ? av + bv : (mode == MUL ? av * bv : (av + bv) / 2.0f);
            }
        }
    }
    //@block permute
    /** Per sample: y = transpose(x, dims); shape is the input's per-sample shape. */
    static void permute(float[] x, int batch, int[] shape, int[] dims, float[] y) {
        final int rank = shape.length;
        final int[] inStride = new int[rank], idx = new int[rank];
        int size = 1;
        for (int d = rank - 1; d >= 0; --d) {
            inStride[d] = size;
            size *= shape[d];
        }
        for (int b = 0; b < batch; ++b) {
            java.util.Arrays.fill(idx, 0);
            for (int i = 0; i < size; ++i) { // idx walks the output in C order; output axis d is input axis dims[d]
                int src = 0;
                for (int d = 0; d < rank; ++d) src += idx[d] * inStride[dims[d]];
                y[b * size + i] = x[b * size + src];
                for (int d = rank - 1; d >= 0; --d) {
                    if (++idx[d] < shape[dims[d]]) break;
                    idx[d] = 0;
                }
            }
        }
    }
    //@block repeat
    /** y (batch, n, features): x (batch, features) repeated n times */
    static void repeat(float[] x, int batch, int n, int features, float[] y) {
        for (int b = 0; b < batch; ++b)
            for (int k = 0; k < n; ++k) System.arraycopy(x, b * features, y, (b * n + k) * features, features);
    }
    //@block max_diff
    /** Max abs difference of y to the expected values; +Infinity when NaN or inf positions (or signs) differ. */
    static float maxDiff(float[] y, float[] want) {
        float diff = 0.0f;
        for (int i = 0; i < want.length; ++i) {
            final boolean a = Float.isNaN(y[i]), b = Float.isNaN(want[i]);
            if (a || b) {
                if (a != b) return Float.POSITIVE_INFINITY;
            } else if (Float.isInfinite(y[i]) || Float.isInfinite(want[i])) {
                if (y[i] != want[i]) return Float.POSITIVE_INFINITY;
            } else if (Math.abs(y[i] - want[i]) > diff) {
                diff = Math.abs(y[i] - want[i]);
            }
        }
        return diff;
    }

    //@block load_blob
    /** Exactly `floats` little-endian float32 from the file at `path`. */
    static float[] loadBlob(String path, int floats) throws java.io.IOException {
        final byte[] bytes = java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(path));
        if (bytes.length != 4 * floats)
            throw new java.io.IOException(path + ": expected " + 4 * floats + " bytes, got " + bytes.length);
        final float[] a = new float[floats];
        java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(a);
        return a;
    }

    //@block lstm needs recurrent
    //@block gru needs recurrent
    //@block simple_rnn needs recurrent
    //@block lstm_stream needs lstm stream
    //@block gru_stream needs gru stream
    //@block simple_rnn_stream needs simple_rnn stream
    //@end
}
