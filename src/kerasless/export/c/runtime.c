/* kerasless C runtime: the kernels of kerasless/export/plan.py KERNELS, float32, C99, no allocation.
 *
 * The c target copies the blocks a model uses into the generated <name>.c as static functions (`KL_API` becomes
 * `static`), so the model is one translation unit with no unused code; on its own this file compiles with every
 * kernel (extern), for linting:  cc -std=c99 -Wall -Wextra -Werror -pedantic -c runtime.c
 * Layout: every `//@block NAME [needs DEP ...]` line starts a block that runs to the next marker (the same markers
 * as js/runtime.js); a block is included when the plan uses kernel / activation NAME (`act_<name>`), plus the
 * blocks it needs. Text before the first marker (this prologue) is never copied.
 * Buffers are flat float arrays in C order; `batch` is the number of samples in the call, every other size
 * comes from the plan. Semantics follow kerasless.layers (activations.py, recurrent.run) operation for operation.
 */
#include "runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KL_API
#define KL_API
#endif

//@block vecmat

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

//@block matmul_bias needs vecmat
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

//@block dense needs matmul_bias
/* y (rows, units) = act(x (rows, n_in) . W (n_in, units) + b); b may be NULL, act may be NULL (linear). */
KL_API void kl_dense(const float *x, int rows, int n_in, int units, const float *W, const float *b, kl_act act,
                     float *y)
{
    int r;
    kl_matmul_bias(x, rows, n_in, W, units, b, y);
    if (act != NULL)
        for (r = 0; r < rows; ++r) act(y + (size_t)r * (size_t)units, units);
}

//@block activation
/* y (rows, n) = act(x) row by row */
KL_API void kl_activation(const float *x, int rows, int n, kl_act act, float *y)
{
    int r;
    memcpy(y, x, (size_t)rows * (size_t)n * sizeof(float));
    for (r = 0; r < rows; ++r) act(y + (size_t)r * (size_t)n, n);
}

//@block rnn needs matmul_bias
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

//@block rnn_stream needs rnn
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

//@block lstm needs rnn
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

KL_API void kl_lstm(const kl_rnn *p, const float *x, const float *mask, float *y, float *state, float *scratch,
                    int batch)
{
    kl_rnn_run(p, kl_lstm_step, 2, x, mask, y, state, scratch, batch);
}

//@block lstm_stream needs lstm rnn_stream
KL_API void kl_lstm_stream(const kl_rnn *p, const float *x_t, const float *mask_t, float *y_t, float *state,
                            float *prev, float *scratch)
{
    kl_rnn_stream(p, kl_lstm_step, 2, x_t, mask_t, y_t, state, prev, scratch);
}

//@block gru needs rnn
/* reset_after: hu = h.U + br; z=ra(xz+hu_z) r=ra(xr+hu_r) hh=a(xh + r*hu_h)
 * else:        hu = h.U_zr;   z=ra(xz+hu_z) r=ra(xr+hu_r) hh=a(xh + (r*h).U_h)
 * h' = z*h + (1-z)*hh */
static void kl_gru_step(const kl_rnn *p, const float *xp_t, const float *st, float *nst, float *tmp)
{
    const int u = p->units;
    const float *h = st;
    float *hu = tmp, *z = tmp + 3 * u, *r = tmp + 4 * u, *hh = tmp + 5 * u;
    int j;
    if (p->reset_after) {
        kl_vecmat(h, u, p->U, 3 * u, 3 * u, hu);
        if (p->br != NULL)
            for (j = 0; j < 3 * u; ++j) hu[j] += p->br[j];
    } else {
        kl_vecmat(h, u, p->U, 3 * u, 2 * u, hu);
    }
    for (j = 0; j < u; ++j) {
        z[j] = xp_t[j] + hu[j];
        r[j] = xp_t[u + j] + hu[u + j];
    }
    p->ract(z, u);
    p->ract(r, u);
    if (p->reset_after) {
        for (j = 0; j < u; ++j) hh[j] = xp_t[2 * u + j] + r[j] * hu[2 * u + j];
    } else {
        float *rh = hu; /* hu's first u floats are no longer needed */
        for (j = 0; j < u; ++j) rh[j] = r[j] * h[j];
        kl_vecmat(rh, u, p->U + 2 * u, 3 * u, u, hh);
        for (j = 0; j < u; ++j) hh[j] = xp_t[2 * u + j] + hh[j];
    }
    p->act(hh, u);
    for (j = 0; j < u; ++j) nst[j] = z[j] * h[j] + (1.0f - z[j]) * hh[j];
}

KL_API void kl_gru(const kl_rnn *p, const float *x, const float *mask, float *y, float *state, float *scratch,
                   int batch)
{
    kl_rnn_run(p, kl_gru_step, 1, x, mask, y, state, scratch, batch);
}

//@block gru_stream needs gru rnn_stream
KL_API void kl_gru_stream(const kl_rnn *p, const float *x_t, const float *mask_t, float *y_t, float *state,
                           float *prev, float *scratch)
{
    kl_rnn_stream(p, kl_gru_step, 1, x_t, mask_t, y_t, state, prev, scratch);
}

//@block simple_rnn needs rnn
/* h' = a(xp_t + h.U) */
static void kl_simple_rnn_step(const kl_rnn *p, const float *xp_t, const float *st, float *nst, float *tmp)
{
    const int u = p->units;
    int j;
    kl_vecmat(st, u, p->U, u, u, tmp);
    for (j = 0; j < u; ++j) nst[j] = xp_t[j] + tmp[j];
    p->act(nst, u);
}

KL_API void kl_simple_rnn(const kl_rnn *p, const float *x, const float *mask, float *y, float *state,
                          float *scratch, int batch)
{
    kl_rnn_run(p, kl_simple_rnn_step, 1, x, mask, y, state, scratch, batch);
}

//@block simple_rnn_stream needs simple_rnn rnn_stream
KL_API void kl_simple_rnn_stream(const kl_rnn *p, const float *x_t, const float *mask_t, float *y_t, float *state,
                                  float *prev, float *scratch)
{
    kl_rnn_stream(p, kl_simple_rnn_step, 1, x_t, mask_t, y_t, state, prev, scratch);
}

//@block embedding
/* y (n, dim) = E[trunc(ids)]; returns KL_ERR_TOKEN for an id that is not a number in [0, vocab) */
KL_API int kl_embedding(const float *ids, int n, const float *E, int vocab, int dim, float *y)
{
    int i;
    for (i = 0; i < n; ++i) {
        const float v = ids[i];
        long id;
        if (!(v > -1.0f && v < 2147483647.0f)) return KL_ERR_TOKEN;
        id = (long)v; /* truncates toward zero, like numpy astype(int64) */
        if (id >= (long)vocab) return KL_ERR_TOKEN;
        memcpy(y + (size_t)i * (size_t)dim, E + (size_t)id * (size_t)dim, (size_t)dim * sizeof(float));
    }
    return KL_OK;
}

//@block mask_tokens
/* mask[i] = ids[i] != 0 (the raw value: 0.5 is a valid step that embeds as token 0) */
KL_API void kl_mask_tokens(const float *ids, int n, float *mask)
{
    int i;
    for (i = 0; i < n; ++i) mask[i] = ids[i] != 0.0f ? 1.0f : 0.0f;
}

//@block mask_values
/* mask (rows) = any(x[r, :] != value) */
KL_API void kl_mask_values(const float *x, int rows, int features, float value, float *mask)
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

//@block apply_mask
/* y[r, :] = x[r, :] * mask[r] */
KL_API void kl_apply_mask(const float *x, const float *mask, int rows, int features, float *y)
{
    int r, f;
    for (r = 0; r < rows; ++r)
        for (f = 0; f < features; ++f)
            y[(size_t)r * (size_t)features + f] = x[(size_t)r * (size_t)features + f] * mask[r];
}

//@block reverse_time
/* y[b, t] = x[b, steps-1-t], rows of `features` */
KL_API void kl_reverse_time(const float *x, int batch, int steps, int features, float *y)
{
    int b, t;
    const size_t row = (size_t)features * sizeof(float);
    for (b = 0; b < batch; ++b)
        for (t = 0; t < steps; ++t)
            memcpy(y + ((size_t)b * (size_t)steps + (size_t)t) * (size_t)features,
                   x + ((size_t)b * (size_t)steps + (size_t)(steps - 1 - t)) * (size_t)features, row);
}

//@block merge
/* rows of a (a_dim) and b (b_dim): concat [a | b], sum, mul, ave (a + b) / 2 */
KL_API void kl_merge(const float *a, const float *b, int rows, int a_dim, int b_dim, int mode, float *y)
{
    int r, j;
    for (r = 0; r < rows; ++r) {
        const float *ar = a + (size_t)r * (size_t)a_dim, *br = b + (size_t)r * (size_t)b_dim;
        if (mode == KL_MERGE_CONCAT) {
            float *yr = y + (size_t)r * (size_t)(a_dim + b_dim);
            memcpy(yr, ar, (size_t)a_dim * sizeof(float));
            memcpy(yr + a_dim, br, (size_t)b_dim * sizeof(float));
            continue;
        }
        for (j = 0; j < a_dim; ++j) {
            float *yj = y + (size_t)r * (size_t)a_dim + j;
            if (mode == KL_MERGE_SUM) *yj = ar[j] + br[j];
            else if (mode == KL_MERGE_MUL) *yj = ar[j] * br[j];
            else *yj = (ar[j] + br[j]) / 2.0f;
        }
    }
}

//@block permute
#define KL_MAX_RANK 8
/* Per sample: y = transpose(x, dims); shape is the input's per-sample shape (rank <= KL_MAX_RANK). */
KL_API void kl_permute(const float *x, int batch, int rank, const int *shape, const int *dims, float *y)
{
    size_t in_stride[KL_MAX_RANK], size = 1, i;
    int idx[KL_MAX_RANK], d, b;
    for (d = rank - 1; d >= 0; --d) {
        in_stride[d] = size;
        size *= (size_t)shape[d];
    }
    for (b = 0; b < batch; ++b) {
        const float *xb = x + (size_t)b * size;
        float *yb = y + (size_t)b * size;
        for (d = 0; d < rank; ++d) idx[d] = 0;
        for (i = 0; i < size; ++i) { /* idx walks the output in C order; output axis d is input axis dims[d] */
            size_t src = 0;
            for (d = 0; d < rank; ++d) src += (size_t)idx[d] * in_stride[dims[d]];
            yb[i] = xb[src];
            for (d = rank - 1; d >= 0; --d) {
                if (++idx[d] < shape[dims[d]]) break;
                idx[d] = 0;
            }
        }
    }
}

//@block repeat
/* y (batch, n, features): x (batch, features) repeated n times */
KL_API void kl_repeat(const float *x, int batch, int n, int features, float *y)
{
    int b, k;
    for (b = 0; b < batch; ++b)
        for (k = 0; k < n; ++k)
            memcpy(y + ((size_t)b * (size_t)n + (size_t)k) * (size_t)features, x + (size_t)b * (size_t)features,
                   (size_t)features * sizeof(float));
}

//@block max_diff
/* Max abs difference of n outputs to the expected ones; INFINITY when NaN or inf positions (or signs) differ. */
KL_API float kl_max_diff(const float *y, const float *want, int n)
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

//@block load_blob
/* Read a weights file of exactly `bytes` little-endian float32 into a new malloc'ed blob (*out; free() it).
 * KL_ERR_ARGS for a NULL path, KL_ERR_WEIGHTS when the file is missing, short, long or unreadable. */
KL_API int kl_load_blob(const char *path, size_t bytes, float **out)
{
    const unsigned int one = 1;
    unsigned char *b;
    float *blob;
    long size;
    size_t i;
    FILE *f;
    if (path == NULL || out == NULL) return KL_ERR_ARGS;
    f = fopen(path, "rb");
    if (f == NULL) return KL_ERR_WEIGHTS;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (unsigned long)size != (unsigned long)bytes) {
        fclose(f);
        return KL_ERR_WEIGHTS;
    }
    blob = (float *)malloc(bytes + 4u);
    if (blob == NULL || fread(blob, 1, bytes, f) != bytes) {
        free(blob);
        fclose(f);
        return KL_ERR_WEIGHTS;
    }
    fclose(f);
    b = (unsigned char *)blob;
    if (*(const unsigned char *)&one == 0) /* big-endian host: the file is little-endian */
        for (i = 0; i + 3 < bytes; i += 4) {
            unsigned char t = b[i];
            b[i] = b[i + 3];
            b[i + 3] = t;
            t = b[i + 1];
            b[i + 1] = b[i + 2];
            b[i + 2] = t;
        }
    *out = blob;
    return KL_OK;
}
