/* kerasless C runtime, part 2: every activation by its kerasless canonical name, as `//@block act_<name>` blocks
 * (same markers and rules as runtime.c; the c target copies the ones a model uses into <name>.c).
 *
 * kl_act_<name>(x, n) works in place on one row of n floats, float32, formula for formula the same as
 * kerasless/layers/activations.py. Lint on its own:  cc -std=c99 -Wall -Wextra -Werror -pedantic -c runtime_activations.c
 */
#include "runtime.h"

#include <math.h>

#ifndef KL_API
#define KL_API
#endif

//@block sigmoidf
static inline float kl_sigmoidf(float x) /* split by sign: exp never overflows */
{
    const float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

//@block softplusf
static inline float kl_softplusf(float x) /* numpy logaddexp(x, 0) for float32 */
{
    if (x == 0.0f) return 0.6931472f;
    if (x > 0.0f) return x + log1pf(expf(-x));
    if (x <= 0.0f) return log1pf(expf(x));
    return x; /* NaN */
}

//@block hard_sigmoidf
static inline float kl_hard_sigmoidf(float x) /* Keras 3: clip(x/6 + 0.5, 0, 1) */
{
    const float v = x / 6.0f + 0.5f;
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

//@block eluf
static inline float kl_eluf(float x, float alpha) { return x >= 0.0f ? x : alpha * expm1f(x); }

//@block clipf
static inline float kl_clipf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

//@block elementwise
#define KL_ELEMENTWISE(name, expr)                                                                             \
    KL_API void kl_act_##name(float *x, int n)                                                                 \
    {                                                                                                          \
        int i;                                                                                                 \
        for (i = 0; i < n; ++i) {                                                                              \
            const float v = x[i];                                                                              \
            x[i] = (expr);                                                                                     \
        }                                                                                                      \
    }

//@block act_linear
KL_API void kl_act_linear(float *x, int n) { (void)x; (void)n; }
//@block act_tanh needs elementwise
KL_ELEMENTWISE(tanh, tanhf(v))
//@block act_sigmoid needs elementwise sigmoidf
KL_ELEMENTWISE(sigmoid, kl_sigmoidf(v))
//@block act_hard_sigmoid needs elementwise hard_sigmoidf
KL_ELEMENTWISE(hard_sigmoid, kl_hard_sigmoidf(v))
//@block act_hard_sigmoid_k2 needs elementwise clipf
/* Keras <= 2: clip(0.2x + 0.5) */
KL_ELEMENTWISE(hard_sigmoid_k2, kl_clipf(0.2f * v + 0.5f, 0.0f, 1.0f))
//@block act_relu needs elementwise
KL_ELEMENTWISE(relu, v < 0.0f ? 0.0f : v)
//@block act_relu6 needs elementwise
KL_ELEMENTWISE(relu6, v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v))
//@block act_leaky_relu needs elementwise
KL_ELEMENTWISE(leaky_relu, v < 0.2f * v ? 0.2f * v : v)
//@block act_elu needs elementwise eluf
KL_ELEMENTWISE(elu, kl_eluf(v, 1.0f))
//@block act_selu needs elementwise eluf
KL_ELEMENTWISE(selu, 1.050701f * kl_eluf(v, 1.6732632f))
//@block act_celu needs elementwise
KL_ELEMENTWISE(celu, (v < 0.0f ? 0.0f : v) + expm1f(v < 0.0f ? v : 0.0f))
//@block act_softplus needs elementwise softplusf
KL_ELEMENTWISE(softplus, kl_softplusf(v))
//@block act_softsign needs elementwise
KL_ELEMENTWISE(softsign, v / (1.0f + fabsf(v)))
//@block act_silu needs elementwise sigmoidf
KL_ELEMENTWISE(silu, v * kl_sigmoidf(v))
//@block act_hard_silu needs elementwise hard_sigmoidf
KL_ELEMENTWISE(hard_silu, v * kl_hard_sigmoidf(v))
//@block act_gelu needs elementwise
/* exact: erf in double, rounded like numpy */
KL_ELEMENTWISE(gelu, (v * ((float)erf((double)v / 1.4142135623730951) + 1.0f)) / 2.0f)
//@block act_exponential needs elementwise
KL_ELEMENTWISE(exponential, expf(v))
//@block act_mish needs elementwise softplusf
KL_ELEMENTWISE(mish, v * tanhf(kl_softplusf(v)))
//@block act_log_sigmoid needs elementwise softplusf
KL_ELEMENTWISE(log_sigmoid, -kl_softplusf(-v))
//@block act_hard_tanh needs elementwise clipf
KL_ELEMENTWISE(hard_tanh, kl_clipf(v, -1.0f, 1.0f))
//@block act_tanh_shrink needs elementwise
KL_ELEMENTWISE(tanh_shrink, v - tanhf(v))
//@block act_soft_shrink needs elementwise
KL_ELEMENTWISE(soft_shrink, v > 0.5f ? v - 0.5f : (v < -0.5f ? v + 0.5f : 0.0f))
//@block act_hard_shrink needs elementwise
KL_ELEMENTWISE(hard_shrink, fabsf(v) > 0.5f ? v : 0.0f)
//@block act_squareplus needs elementwise
KL_ELEMENTWISE(squareplus, (v + sqrtf(v * v + 4.0f)) / 2.0f)
//@block act_sparse_plus needs elementwise
KL_ELEMENTWISE(sparse_plus, v <= -1.0f ? 0.0f : (v < 1.0f ? 0.25f * ((v + 1.0f) * (v + 1.0f)) : v))
//@block act_sparse_sigmoid needs elementwise clipf
KL_ELEMENTWISE(sparse_sigmoid, kl_clipf(0.5f * (v + 1.0f), 0.0f, 1.0f))

//@block act_softmax
KL_API void kl_act_softmax(float *x, int n) /* e = exp(x - max); e / sum(e); tf.nn.softmax's non-finite rule */
{
    int i, bad = 0;
    float m = x[0], s = 0.0f;
    for (i = 0; i < n; ++i) bad |= (x[i] != x[i]) | (x[i] == INFINITY);
    if (bad) { /* a NaN or +inf entry: NaN there, 0 at the others */
        for (i = 0; i < n; ++i) x[i] = (x[i] != x[i] || x[i] == INFINITY) ? NAN : 0.0f;
        return;
    }
    for (i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
    for (i = 0; i < n; ++i) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    for (i = 0; i < n; ++i) x[i] = x[i] / s;
}
//@block act_log_softmax
KL_API void kl_act_log_softmax(float *x, int n) /* s = x - max; s - log(sum(exp(s))) */
{
    int i;
    float m = x[0], s = 0.0f, l;
    for (i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
    for (i = 0; i < n; ++i) {
        x[i] = x[i] - m;
        s += expf(x[i]);
    }
    l = logf(s);
    for (i = 0; i < n; ++i) x[i] = x[i] - l;
}
//@block act_sparsemax
/* Position p (0-based) of the descending order, found without scratch memory: the largest value below the
 * previous one, ties by index. Returns the index of that element; *pv / *pi carry the previous pick. */
static int kl_next_desc(const float *x, int n, float *pv, int *pi, int first)
{
    int i, best = -1;
    for (i = 0; i < n; ++i) {
        const int after = first || x[i] < *pv || (x[i] == *pv && i > *pi);
        if (after && (best < 0 || x[i] > x[best])) best = i;
    }
    if (best < 0) best = 0; /* only with NaNs */
    *pv = x[best];
    *pi = best;
    return best;
}

/* Keras's formula (keras/src/backend/numpy/nn.py and the other backends): z = sort(x) descending, cum = cumsum(z), r = 1..n;
 * support = z - (cum - 1) / r > 0; k = count(support); tau = (sum of cum over the support - 1) / k;
 * y = max(x - tau, 0). One pass over the descending order, O(n^2), no scratch. */
KL_API void kl_act_sparsemax(float *x, int n)
{
    int p, k = 0, pi = 0;
    float pv = 0.0f, cum = 0.0f, cum_support = 0.0f, tau;
    for (p = 0; p < n; ++p) {
        const float z = x[kl_next_desc(x, n, &pv, &pi, p == 0)];
        cum += z;
        if (z - (cum - 1.0f) / (float)(p + 1) > 0.0f) {
            k += 1;
            cum_support += cum;
        }
    }
    tau = (cum_support - 1.0f) / (float)k;
    for (p = 0; p < n; ++p) x[p] = x[p] - tau < 0.0f ? 0.0f : x[p] - tau;
}
