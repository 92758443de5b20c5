/* model.c: Keras model 'm' (<memory>, Keras 3.15.1) exported
 * by kerasless (target c). Generated: regenerate instead of editing. API and contract: see model.h.
 * One translation unit (C99, link -lm): cc -std=c99 -O2 -c model.c
 */
#include "model.h"

#include <math.h>
#include <string.h>

/* ---- runtime: the kerasless/export/c runtime blocks this model uses ---- */
/* y[0:n_out] = x[0:n_in] . W[:, 0:n_out], W row-major with row stride ld. Every y[j] sums over i in order
 * (four rows of W per pass keep y[j] in a register; the rounding is the same as one row at a time). */
static inline void kl_vecmat(const float *restrict x, int n_in, const float *restrict W, int ld, int n_out,
                             float *restrict y)
{
    int i = 0, j;
    const size_t s = (size_t)ld;
    for (j = 0; j < n_out; ++j) y[j] = 0.0f;
    for (; i + 4 <= n_in; i += 4) {
        const float x0 = x[i], x1 = x[i + 1], x2 = x[i + 2], x3 = x[i + 3];
        const float *restrict w0 = W + (size_t)i * s;
        const float *restrict w1 = w0 + s;
        const float *restrict w2 = w1 + s;
        const float *restrict w3 = w2 + s;
        for (j = 0; j < n_out; ++j) {
            float acc = y[j];
            acc += x0 * w0[j];
            acc += x1 * w1[j];
            acc += x2 * w2[j];
            acc += x3 * w3[j];
            y[j] = acc;
        }
    }
    for (; i < n_in; ++i) {
        const float xi = x[i];
        const float *restrict w = W + (size_t)i * s;
        for (j = 0; j < n_out; ++j) y[j] += xi * w[j];
    }
}

/* y (rows, n_out) = x (rows, n_in) . W (n_in, n_out) (+ b) */
static inline void kl_matmul_bias(const float *x, int rows, int n_in, const float *W, int n_out, const float *b,
                                  float *y)
{
    int r, j;
    for (r = 0; r < rows; ++r) {
        float *yr = y + (size_t)r * (size_t)n_out;
        kl_vecmat(x + (size_t)r * (size_t)n_in, n_in, W, n_out, n_out, yr);
        if (b != NULL)
            for (j = 0; j < n_out; ++j) yr[j] += b[j];
    }
}

/* y (rows, units) = act(x (rows, n_in) . W (n_in, units) + b); b may be NULL, act may be NULL (linear). */
static void kl_dense(const float *x, int rows, int n_in, int units, const float *W, const float *b, kl_act act,
                     float *y)
{
    int r;
    kl_matmul_bias(x, rows, n_in, W, units, b, y);
    if (act != NULL)
        for (r = 0; r < rows; ++r) act(y + (size_t)r * (size_t)units, units);
}

typedef struct {
    int seqs, steps, input_dim, units, gates; /* seqs: independent sequences per sample (TimeDistributed) */
    const float *W, *U, *b, *br;              /* (input_dim, gates*units), (units, gates*units), (gates*units,) */
    kl_act act, ract;                          /* activation, recurrent_activation (NULL for SimpleRNN) */
    int reset_after, go_backwards, return_sequences, zero_output_for_mask;
} kl_rnn;

/* Floats of scratch a recurrent call needs (independent of batch). */
#define KL_RNN_SCRATCH(steps, gates, units) (((steps) + 2) * (gates) * (units) + 6 * (units))

/* One timestep: st (n_states*units) -> nst; nst[0:units] is the new h (the step output). tmp: 2*gates*units. */
typedef void (*kl_step)(const kl_rnn *p, const float *xp_t, const float *st, float *nst, float *tmp);

/* Run `step` over every sequence, exactly like kerasless.layers.recurrent.run:
 *   x (batch*seqs, steps, input_dim); mask (batch, steps) or NULL; state (batch*seqs, n_states*units) or NULL.
 *   A masked step keeps the states and repeats the previous output (zeros before the first valid step), or
 *   outputs zeros with zero_output_for_mask. go_backwards consumes t = steps-1 .. 0 and emits outputs in that
 *   processing order. y is (batch*seqs, steps, units) with return_sequences, else (batch*seqs, units). */
static void kl_rnn_run(const kl_rnn *p, kl_step step, int n_states, const float *x, const float *mask, float *y,
                       float *state, float *scratch, int batch)
{
    const int u = p->units, g = p->gates * p->units, ns = n_states * p->units;
    float *xp = scratch;                           /* (steps, g) input projection */
    float *st = xp + (size_t)p->steps * (size_t)g; /* (ns) states */
    float *nst = st + 2 * u;                       /* (ns) new states */
    float *prev = nst + 2 * u;                     /* (u) previous output */
    float *tmp = prev + u;                         /* (2g) step temporaries */
    int s, k, j;
    for (s = 0; s < batch * p->seqs; ++s) {
        const float *m = mask != NULL ? mask + (size_t)(s / p->seqs) * (size_t)p->steps : NULL;
        float *out = y + (size_t)s * (size_t)u * (size_t)(p->return_sequences ? p->steps : 1);
        kl_matmul_bias(x + (size_t)s * (size_t)p->steps * (size_t)p->input_dim, p->steps, p->input_dim, p->W, g,
                       p->b, xp);
        if (state != NULL) memcpy(st, state + (size_t)s * (size_t)ns, (size_t)ns * sizeof(float));
        else memset(st, 0, (size_t)ns * sizeof(float));
        memset(prev, 0, (size_t)u * sizeof(float));
        for (k = 0; k < p->steps; ++k) {
            const int t = p->go_backwards ? p->steps - 1 - k : k;
            step(p, xp + (size_t)t * (size_t)g, st, nst, tmp);
            if (m == NULL || m[t] != 0.0f) {
                memcpy(st, nst, (size_t)ns * sizeof(float));
                memcpy(prev, st, (size_t)u * sizeof(float));
            } else if (p->zero_output_for_mask) {
                memset(prev, 0, (size_t)u * sizeof(float));
            }
            if (p->return_sequences)
                for (j = 0; j < u; ++j) out[(size_t)k * (size_t)u + j] = prev[j];
        }
        if (!p->return_sequences) memcpy(out, prev, (size_t)u * sizeof(float));
        if (state != NULL) memcpy(state + (size_t)s * (size_t)ns, st, (size_t)ns * sizeof(float));
    }
}

/* Floats of scratch one streamed timestep needs: xp (g), new states (2u), step temporaries (2g). */
#define KL_RNN_STREAM_SCRATCH(gates, units) (3 * (gates) * (units) + 2 * (units))

/* One timestep of one sequence, exactly like one iteration of kl_rnn_run (and kerasless Stream.step):
 * x_t (input_dim); mask_t (1) or NULL; state (n_states*units) and prev (units, the previous output) persist
 * between calls (zeros at the start); y_t (units) = the step's output. */
static void kl_rnn_stream(const kl_rnn *p, kl_step step, int n_states, const float *x_t, const float *mask_t,
                          float *y_t, float *state, float *prev, float *scratch)
{
    const int u = p->units, g = p->gates * p->units, ns = n_states * p->units;
    float *xp = scratch, *nst = xp + g, *tmp = nst + 2 * u;
    kl_matmul_bias(x_t, 1, p->input_dim, p->W, g, p->b, xp);
    step(p, xp, state, nst, tmp);
    if (mask_t == NULL || mask_t[0] != 0.0f) {
        memcpy(state, nst, (size_t)ns * sizeof(float));
        memcpy(prev, state, (size_t)u * sizeof(float));
    } else if (p->zero_output_for_mask) {
        memset(prev, 0, (size_t)u * sizeof(float));
    }
    memcpy(y_t, prev, (size_t)u * sizeof(float));
}

/* z = xp_t + h.U; i=ra(z_i) f=ra(z_f) g=a(z_c) o=ra(z_o); c' = f*c + i*g; h' = o*a(c') */
static void kl_lstm_step(const kl_rnn *p, const float *xp_t, const float *st, float *nst, float *tmp)
{
    const int u = p->units;
    const float *h = st, *c = st + u;
    float *z = tmp, *ac = tmp + 4 * u, *nh = nst, *nc = nst + u;
    int j;
    kl_vecmat(h, u, p->U, 4 * u, 4 * u, z);
    for (j = 0; j < 4 * u; ++j) z[j] = xp_t[j] + z[j];
    p->ract(z, u);
    p->ract(z + u, u);
    p->act(z + 2 * u, u);
    p->ract(z + 3 * u, u);
    for (j = 0; j < u; ++j) nc[j] = z[u + j] * c[j] + z[j] * z[2 * u + j];
    memcpy(ac, nc, (size_t)u * sizeof(float));
    p->act(ac, u);
    for (j = 0; j < u; ++j) nh[j] = z[3 * u + j] * ac[j];
}

static void kl_lstm(const kl_rnn *p, const float *x, const float *mask, float *y, float *state, float *scratch,
                    int batch)
{
    kl_rnn_run(p, kl_lstm_step, 2, x, mask, y, state, scratch, batch);
}

static void kl_lstm_stream(const kl_rnn *p, const float *x_t, const float *mask_t, float *y_t, float *state,
                            float *prev, float *scratch)
{
    kl_rnn_stream(p, kl_lstm_step, 2, x_t, mask_t, y_t, state, prev, scratch);
}

/* mask (rows) = any(x[r, :] != value) */
static void kl_mask_values(const float *x, int rows, int features, float value, float *mask)
{
    int r, f;
    for (r = 0; r < rows; ++r) {
        const float *xr = x + (size_t)r * (size_t)features;
        float keep = 0.0f;
        for (f = 0; f < features; ++f)
            if (xr[f] != value) keep = 1.0f;
        mask[r] = keep;
    }
}

/* y[r, :] = x[r, :] * mask[r] */
static void kl_apply_mask(const float *x, const float *mask, int rows, int features, float *y)
{
    int r, f;
    for (r = 0; r < rows; ++r)
        for (f = 0; f < features; ++f)
            y[(size_t)r * (size_t)features + f] = x[(size_t)r * (size_t)features + f] * mask[r];
}

/* Max abs difference of n outputs to the expected ones; INFINITY when NaN or inf positions (or signs) differ. */
static float kl_max_diff(const float *y, const float *want, int n)
{
    float diff = 0.0f;
    int i;
    for (i = 0; i < n; ++i) {
        const int nan_y = y[i] != y[i], nan_w = want[i] != want[i];
        if (nan_y || nan_w) {
            if (nan_y != nan_w) return INFINITY;
        } else if (isinf(y[i]) || isinf(want[i])) {
            if (y[i] != want[i]) return INFINITY;
        } else if (fabsf(y[i] - want[i]) > diff) {
            diff = fabsf(y[i] - want[i]);
        }
    }
    return diff;
}

static inline float kl_sigmoidf(float x) /* split by sign: exp never overflows */
{
    const float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

#define KL_ELEMENTWISE(name, expr)                                                                             \
    static void kl_act_##name(float *x, int n)                                                                 \
    {                                                                                                          \
        int i;                                                                                                 \
        for (i = 0; i < n; ++i) {                                                                              \
            const float v = x[i];                                                                              \
            x[i] = (expr);                                                                                     \
        }                                                                                                      \
    }

KL_ELEMENTWISE(tanh, tanhf(v))

KL_ELEMENTWISE(sigmoid, kl_sigmoidf(v))

static void kl_act_softmax(float *x, int n) /* e = exp(x - max); e / sum(e); tf.nn.softmax's non-finite rule */
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

#define KL_WS_PER_SAMPLE 21 /* floats of intermediate buffers per sample */
#define KL_WS_SCRATCH 52 /* floats of recurrent scratch per call */
#define KL_BATCH_LIMIT 102261126 /* keeps every size below INT_MAX */
#define KL_TEST_BATCH 2

/* ---- weights (Keras layout, row-major) ---- */
/* l1/kernel (2, 8) */
static const float w0_l1_kernel[16] = {
    0.0006150767f, 0.14937277f, -0.13706893f, -0.44529593f, -0.2273354f, -0.49582326f, 0.0300718f, 0.6701076f,
    -0.24610326f, -0.31023744f, 0.24492103f, 0.1784435f, 0.052707125f, -0.465234f, -0.014625912f, 0.3476516f
};
/* l1/recurrent_kernel (2, 8) */
static const float w1_l1_recurrent_kernel[16] = {
    -0.6721073f, -0.22880788f, -0.95061135f, -0.6447689f, -0.9208675f, -0.11754557f, -0.63372326f, 0.13563217f,
    0.07837554f, -0.09346547f, -1.2583798f, -0.26934645f, -0.024250472f, 0.056654494f, -0.7650679f, -0.23887664f
};
/* l1/bias (8,) */
static const float w2_l1_bias[8] = {
    -0.48925954f, -0.40441862f, 0.53044933f, -0.40376735f, -0.016260853f, 0.44219494f, -0.29180023f, -0.055850975f
};
/* l2/kernel (2, 2) */
static const float w3_l2_kernel[4] = {
    0.05523207f, 0.031890888f, -0.6125279f, 0.038070116f
};
/* l2/bias (2,) */
static const float w4_l2_bias[2] = {
    0.6794117f, -0.7735723f
};

/* ---- test vector: kerasless predict(kl_test_x) == kl_test_y ---- */
static const float kl_test_x[12] = {
    0.0f, 0.0f, 0.64042264f, 0.104900114f, -0.5356694f, 0.36159506f, 1.304f, 0.94708097f,
    -0.70373523f, -1.2654215f, 0.0f, 0.0f
};
static const float kl_test_y[12] = { ... };


void model_reset_states(void)
{
    /* not stateful */
}

size_t model_workspace_size(int batch)
{
    if (batch <= 0) return 0;
    return ((size_t)batch * KL_WS_PER_SAMPLE + KL_WS_SCRATCH) * sizeof(float);
}

int model_predict_ws(const float *x, int batch, float *y, void *workspace)
{
    float *ws = (float *)workspace;
    float *m1 = ws + (size_t)batch * 0; /* (3,) */
    float *t1 = ws + (size_t)batch * 3; /* (3, 2) */
    float *t2 = ws + (size_t)batch * 9; /* (3, 2) */
    float *t3 = ws + (size_t)batch * 15; /* (3, 2) */
    float *scratch = ws + (size_t)batch * KL_WS_PER_SAMPLE;
    if (x == NULL || y == NULL || ws == NULL || batch <= 0 || batch > KL_BATCH_LIMIT)
        return KL_ERR_ARGS;
    /* l0 (Masking): mask_values (3, 2) -> (3,) */
    kl_mask_values(x, batch * 3, 2, 0.0f, m1);
    /* l0 (Masking): apply_mask (3, 2) -> (3, 2) */
    kl_apply_mask(x, m1, batch * 3, 2, t1);
    /* l1 (LSTM): lstm (3, 2) -> (3, 2) */
    {
        const kl_rnn p = {.seqs = 1, .steps = 3, .input_dim = 2, .units = 2, .gates = 4,
                          .W = w0_l1_kernel, .U = w1_l1_recurrent_kernel, .b = w2_l1_bias, .br = NULL,
                          .act = kl_act_tanh, .ract = kl_act_sigmoid,
                          .reset_after = 0, .go_backwards = 0, .return_sequences = 1, .zero_output_for_mask = 0};
        kl_lstm(&p, t1, m1, t2, NULL, scratch, batch);
    }
    /* l2 (Dense): dense (3, 2) -> (3, 2) */
    kl_dense(t2, batch * 3, 2, 2, w3_l2_kernel, w4_l2_bias, kl_act_softmax, t3);
    memcpy(y, t3, (size_t)batch * 6 * sizeof(float));
    return KL_OK;
}

static float kl_ws[(size_t)MODEL_MAX_BATCH * KL_WS_PER_SAMPLE + KL_WS_SCRATCH + 1];

int model_predict(const float *x, int batch, float *y)
{
    if (batch <= 0 || batch > MODEL_MAX_BATCH)
        return KL_ERR_ARGS;
    return model_predict_ws(x, batch, y, kl_ws);
}

float model_self_test(void)
{
    static float y[KL_TEST_BATCH * MODEL_OUTPUT_SIZE];
    static float ws[KL_TEST_BATCH * KL_WS_PER_SAMPLE + KL_WS_SCRATCH + 1]; /* any MAX_BATCH */
    int rc;
    model_reset_states();
    rc = model_predict_ws(kl_test_x, KL_TEST_BATCH, y, ws);
    return rc != KL_OK ? INFINITY : kl_max_diff(y, kl_test_y, KL_TEST_BATCH * MODEL_OUTPUT_SIZE);
}

void model_stream_reset(model_state *s)
{
    if (s != NULL)
        memset(s, 0, sizeof *s);
}

int model_stream_step(model_state *s, const float *x_t, float *y_t)
{
    const int batch = 1;
    const float *x = x_t;
    float *scratch;
    float *m1;
    float *t1;
    float *t2;
    float *t3;
    if (s == NULL || x_t == NULL || y_t == NULL)
        return KL_ERR_ARGS;
    m1 = s->ws + 0; /* 1 float(s) per step */
    t1 = s->ws + 1; /* 2 float(s) per step */
    t2 = s->ws + 3; /* 2 float(s) per step */
    t3 = s->ws + 5; /* 2 float(s) per step */
    scratch = s->ws + 7;
    /* l0 (Masking): mask_values */
    kl_mask_values(x, batch * 1, 2, 0.0f, m1);
    /* l0 (Masking): apply_mask */
    kl_apply_mask(x, m1, batch * 1, 2, t1);
    /* l1 (LSTM): lstm */
    {
        const kl_rnn p = {.seqs = 1, .steps = 1, .input_dim = 2, .units = 2, .gates = 4,
                          .W = w0_l1_kernel, .U = w1_l1_recurrent_kernel, .b = w2_l1_bias, .br = NULL,
                          .act = kl_act_tanh, .ract = kl_act_sigmoid,
                          .reset_after = 0, .go_backwards = 0, .return_sequences = 1, .zero_output_for_mask = 0};
        kl_lstm_stream(&p, t1, m1, t2, s->t2_state, s->t2_prev, scratch);
    }
    /* l2 (Dense): dense */
    kl_dense(t2, batch * 1, 2, 2, w3_l2_kernel, w4_l2_bias, kl_act_softmax, t3);
    memcpy(y_t, t3, 2 * sizeof(float));
    return KL_OK;
}
