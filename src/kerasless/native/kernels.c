/* kerasless native kernels: the whole recurrent time loop (LSTM, GRU, SimpleRNN) in one C call.
 *
 * Same math as kerasless/layers/{lstm,gru,simple_rnn}.py and the loop in layers/recurrent.py (masks,
 * go_backwards, return_sequences, zero_output_for_mask), float32 throughout. Built at first use by
 * kerasless/native/__init__.py with the system C compiler and loaded with ctypes; rows of the batch are
 * independent, so large batches are split over threads that each run the full time loop on their rows.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { ACT_LINEAR = 0, ACT_TANH = 1, ACT_SIGMOID = 2, ACT_HARD_SIGMOID = 3, ACT_HARD_SIGMOID_K2 = 4, ACT_RELU = 5 };
enum { KIND_LSTM = 0, KIND_GRU = 1, KIND_GRU_V1 = 2, KIND_SIMPLE = 3 };

/* exp(x) for float32, branch-free so loops vectorize: 2^n * p(r), |r| <= ln2/2 (Cephes coefficients, ~1 ulp).
 * Below the smallest normal it is 0 (not 1.2e-38): sigmoid(-inf) must be exactly 0, so that 0 * inf is NaN as in
 * Keras. */
static inline float kl_exp(float x)
{
    const float x0 = x;
    x = x < -87.33654f ? -87.33654f : x;
    x = x > 88.72283f ? 88.72283f : x;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding and subtracting rounds to nearest, vectorizes */
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x0 < -87.33654f ? 0.0f : p * scale;
}

static inline float kl_sigmoid(float x) /* split by sign like activations._sigmoid: exp never overflows */
{
    float e = kl_exp(-fabsf(x));
    float d = 1.0f / (1.0f + e);
    return x >= 0.0f ? d : e * d;
}

static inline float kl_tanh(float x) /* (1 - e) / (1 + e), e = exp(-2|x|); absolute error ~1e-7 */
{
    float e = kl_exp(-2.0f * fabsf(x));
    float t = (1.0f - e) / (1.0f + e);
    return x < 0.0f ? -t : t;
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
/* The same formulas 8 lanes at a time (what the compiler makes of the scalar ones is ~20% slower). Operand order
 * keeps NaN: max(c, NaN) and min(c, NaN) return the NaN. */
static inline __m256 v_exp(__m256 x)
{
    const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ); /* exp is 0 there (NaN: false) */
    x = _mm256_min_ps(_mm256_set1_ps(88.72283f), _mm256_max_ps(_mm256_set1_ps(-87.33654f), x));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    const __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic), magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

static int v_sigmoid(float *x, int n) /* returns how many it did (a multiple of 8) */
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 e = v_exp(_mm256_or_ps(v, sign)); /* exp(-|x|) */
        const __m256 d = _mm256_div_ps(one, _mm256_add_ps(one, e));
        _mm256_storeu_ps(x + i, _mm256_blendv_ps(d, _mm256_mul_ps(e, d), v)); /* x < 0 (sign bit): e*d */
    }
    return i;
}

static int v_tanh(float *x, int n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 e = v_exp(_mm256_mul_ps(two, _mm256_or_ps(v, sign))); /* exp(-2|x|) */
        const __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
        _mm256_storeu_ps(x + i, _mm256_or_ps(t, _mm256_and_ps(v, sign))); /* t >= 0: takes x's sign */
    }
    return i;
}
#else
static int v_sigmoid(float *x, int n) { (void)x; (void)n; return 0; }
static int v_tanh(float *x, int n) { (void)x; (void)n; return 0; }
#endif

static void act_apply(int act, float *restrict x, int n)
{
    int i;
    switch (act) {
    case ACT_TANH: for (i = v_tanh(x, n); i < n; i++) x[i] = kl_tanh(x[i]); break;
    case ACT_SIGMOID: for (i = v_sigmoid(x, n); i < n; i++) x[i] = kl_sigmoid(x[i]); break;
    case ACT_HARD_SIGMOID:
        for (i = 0; i < n; i++) { float v = x[i] / 6.0f + 0.5f; x[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }
        break;
    case ACT_HARD_SIGMOID_K2:
        for (i = 0; i < n; i++) { float v = 0.2f * x[i] + 0.5f; x[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }
        break;
    case ACT_RELU: for (i = 0; i < n; i++) x[i] = x[i] < 0.0f ? 0.0f : x[i]; break;  /* NaN stays NaN, as in Keras */
    default: break;
    }
}

/* Weights are packed at load (kerasless/native/__init__.py: pack) into 16-column panels, each gate padded to a
 * multiple of 16 columns with zeros: element (k, j) of a panel run sits at P[(j/16)*16*K + k*16 + j%16], so a
 * product streams contiguous memory. pm_<NR>: Z[r, :N] += H[r, :K] @ P for NR rows; N is a multiple of 16. */
#define PANEL 16
#if defined(__AVX2__) && defined(__FMA__)
#define LD(p) _mm256_loadu_ps(p)
#define ST(p, v) _mm256_storeu_ps(p, v)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define BC(p) _mm256_broadcast_ss(p)
/* NR rows x one panel: 2*NR accumulators; 2 loads + NR broadcasts per 2*NR FMAs (NR = 6: the classic 6x16) */
#define KL_PM(NR)                                                                                              \
    static void pm_##NR(const float *restrict H, long ldh, int K, const float *restrict P, int N,             \
                        float *restrict Z, long ldz)                                                          \
    {                                                                                                          \
        for (int j = 0; j < N; j += PANEL) {                                                                   \
            __m256 a[NR], b[NR];                                                                               \
            for (int r = 0; r < NR; r++) { a[r] = LD(Z + r * ldz + j); b[r] = LD(Z + r * ldz + j + 8); }        \
            const float *u = P + (long)j * K;                                                                  \
            for (int k = 0; k < K; k++, u += PANEL) {                                                          \
                const __m256 u0 = LD(u), u1 = LD(u + 8);                                                       \
                for (int r = 0; r < NR; r++) {                                                                 \
                    const __m256 hv = BC(H + r * ldh + k);                                                     \
                    a[r] = FMA(hv, u0, a[r]);                                                                  \
                    b[r] = FMA(hv, u1, b[r]);                                                                  \
                }                                                                                              \
            }                                                                                                  \
            for (int r = 0; r < NR; r++) { ST(Z + r * ldz + j, a[r]); ST(Z + r * ldz + j + 8, b[r]); }         \
        }                                                                                                      \
    }
KL_PM(6)
KL_PM(4)
KL_PM(2)
/* one row (a matrix-vector product, memory bound): four panels at once for 8 independent chains */
static void pm_1(const float *restrict H, long ldh, int K, const float *restrict P, int N, float *restrict Z,
                 long ldz)
{
    (void)ldh; (void)ldz;
    int j = 0;
    for (; j + 4 * PANEL <= N; j += 4 * PANEL) {
        __m256 a[8];
        for (int c = 0; c < 8; c++) a[c] = LD(Z + j + 8 * c);
        const float *u = P + (long)j * K;
        const long s = (long)PANEL * K;
        for (int k = 0; k < K; k++, u += PANEL) {
            const __m256 hv = BC(H + k);
            a[0] = FMA(hv, LD(u), a[0]); a[1] = FMA(hv, LD(u + 8), a[1]);
            a[2] = FMA(hv, LD(u + s), a[2]); a[3] = FMA(hv, LD(u + s + 8), a[3]);
            a[4] = FMA(hv, LD(u + 2 * s), a[4]); a[5] = FMA(hv, LD(u + 2 * s + 8), a[5]);
            a[6] = FMA(hv, LD(u + 3 * s), a[6]); a[7] = FMA(hv, LD(u + 3 * s + 8), a[7]);
        }
        for (int c = 0; c < 8; c++) ST(Z + j + 8 * c, a[c]);
    }
    for (; j < N; j += PANEL) {
        __m256 a0 = LD(Z + j), b0 = LD(Z + j + 8);
        const float *u = P + (long)j * K;
        for (int k = 0; k < K; k++, u += PANEL) {
            const __m256 hv = BC(H + k);
            a0 = FMA(hv, LD(u), a0); b0 = FMA(hv, LD(u + 8), b0);
        }
        ST(Z + j, a0); ST(Z + j + 8, b0);
    }
}
#else
#define KL_PM(NR)                                                                                              \
    static void pm_##NR(const float *restrict H, long ldh, int K, const float *restrict P, int N,             \
                        float *restrict Z, long ldz)                                                          \
    {                                                                                                          \
        for (int j = 0; j < N; j += PANEL) {                                                                   \
            float acc[NR][PANEL];                                                                              \
            for (int r = 0; r < NR; r++)                                                                       \
                for (int c = 0; c < PANEL; c++) acc[r][c] = Z[r * ldz + j + c];                                \
            const float *u = P + (long)j * K;                                                                  \
            for (int k = 0; k < K; k++, u += PANEL)                                                            \
                for (int r = 0; r < NR; r++) {                                                                 \
                    const float hv = H[r * ldh + k];                                                           \
                    for (int c = 0; c < PANEL; c++) acc[r][c] += hv * u[c];                                    \
                }                                                                                              \
            for (int r = 0; r < NR; r++)                                                                       \
                for (int c = 0; c < PANEL; c++) Z[r * ldz + j + c] = acc[r][c];                                \
        }                                                                                                      \
    }
KL_PM(1)
KL_PM(2)
KL_PM(4)
KL_PM(6)
#endif

static void pm_rows(const float *H, long ldh, int nr, int K, const float *P, int N, float *Z, long ldz)
{
    while (nr >= 6) { pm_6(H, ldh, K, P, N, Z, ldz); H += 6 * ldh; Z += 6 * ldz; nr -= 6; }
    if (nr >= 4) { pm_4(H, ldh, K, P, N, Z, ldz); H += 4 * ldh; Z += 4 * ldz; nr -= 4; }
    if (nr >= 2) { pm_2(H, ldh, K, P, N, Z, ldz); H += 2 * ldh; Z += 2 * ldz; nr -= 2; }
    if (nr == 1) pm_1(H, ldh, K, P, N, Z, ldz);
}

/* The panels of gate g of P (K rows; each gate padded to up columns). */
static inline const float *panels(const float *P, int K, int up, int g)
{
    return P + (long)g * up * K;
}

typedef struct {
    int kind, B, T, u, F, act, ract, go_backwards, zero_out;
    const float *x;    /* x[b*xb + t*xt + f], f < F: raw inputs (W != NULL) or projected x·W + b (W == NULL, F = G) */
    long xb, xt;
    const float *W;    /* packed input kernel (F rows, ng gates), or NULL */
    const float *bx;   /* (G) input bias, or NULL */
    const float *U;    /* packed recurrent kernel (u rows, ng gates; GRU_V1: z, r only) */
    const float *U2;   /* GRU_V1: packed U_h (u rows, 1 gate) */
    const float *rb;   /* GRU: recurrent bias (G) or NULL */
    float *h, *c;      /* (B, u) states, updated in place; c only for LSTM */
    const uint8_t *mask; /* mask[b*mb + t*mt] or NULL */
    long mb, mt;
    float *seq;        /* (B, T, u) outputs in processing order, or NULL */
    float *last;       /* (B, u): last output (zeros on entry) */
    float *gseq;       /* trace, or NULL: (B, T, NG*u) gates after activation (LSTM i f g o; GRU z r hh) */
    float *hseq, *cseq; /* trace, or NULL: (B, T, u) states after each step (c: LSTM only) */
    int sparse;        /* W has no inf/NaN: rows of x with few nonzeros (one-hot) may skip the zeros exactly */
} kl_job;

#define RB 6 /* rows per block (the widest register tile) */

static int n_gates(int kind) { return kind == KIND_LSTM ? 4 : kind == KIND_SIMPLE ? 1 : 3; }
static int padded(int n) { return (n + PANEL - 1) / PANEL * PANEL; }

/* A run's shared state: the job, the two state buffers (hb[k % 2] is read at step k, hb[(k+1) % 2] written),
 * and the tasks: ntasks blocks of `chunk` batch rows, each through the whole sequence, claimed by the threads. */
typedef struct {
    const kl_job *p;
    float *hb[2];
    int ntasks, chunk;
    int claimed; /* atomic */
} kl_run;

static void input_part(const kl_job *p, int t, int r0, int nr, int ng, float *Zx, long ldz)
{
    const int u = p->u, up = padded(u);
    const float *x0 = p->x + (long)r0 * p->xb + (long)t * p->xt;
    for (int r = 0; r < nr; r++)
        for (int g = 0; g < ng; g++) {
            float *z = Zx + r * ldz + g * up;
            const float *src = p->W ? p->bx : x0 + r * p->xb; /* no W: x is already x·W + b */
            if (src) memcpy(z, src + g * u, sizeof(float) * u);
            else memset(z, 0, sizeof(float) * u);
            memset(z + u, 0, sizeof(float) * (up - u));
        }
    if (!p->W) return;
    int sparse = p->sparse;
    for (int r = 0; r < nr && sparse; r++) { /* sparse (e.g. one-hot) rows: at most F/4 nonzeros */
        const float *x = x0 + r * p->xb;
        int nnz = 0;
        for (int f = 0; f < p->F; f++) nnz += x[f] != 0.0f;
        sparse = 4 * nnz <= p->F;
    }
    if (!sparse) {
        for (int g = 0; g < ng; g++) pm_rows(x0, p->xb, nr, p->F, panels(p->W, p->F, up, g), up, Zx + g * up, ldz);
        return;
    }
    for (int r = 0; r < nr; r++) {
        const float *x = x0 + r * p->xb;
        for (int f = 0; f < p->F; f++) {
            if (x[f] == 0.0f) continue; /* exact: W is finite, so 0*w adds nothing */
            const float v = x[f];
            for (int g = 0; g < ng; g++) {
                const float *w = panels(p->W, p->F, up, g) + f * PANEL;
                float *z = Zx + r * ldz + g * up;
                for (int q = 0; q < up; q += PANEL, w += (long)PANEL * p->F)
                    for (int j = 0; j < PANEL; j++) z[q + j] += v * w[j];
            }
        }
    }
}

/* Step k for rows [b0, b1). Z (nr, ng*up) holds gate g at columns g*up (up: the units padded to whole panels;
 * the padding columns stay zero). work: this thread's scratch. */
static void step_block(const kl_run *run, int k, int b0, int b1, float *work)
{
    const kl_job *p = run->p;
    const int u = p->u, up = padded(u), ng = n_gates(p->kind), G = ng * u;
    const long ldz = (long)ng * up;
    float *Z = work;                 /* RB x ng*up: x part (+ h part for LSTM/SimpleRNN) */
    float *Zh = Z + RB * ldz;        /* RB x ng*up: GRU h part */
    float *hn = Zh + RB * ldz;       /* RB x up */
    float *cn = hn + RB * up;        /* RB x up */
    float *tmp = cn + RB * up;       /* RB x up */
    const int t = p->go_backwards ? p->T - 1 - k : k;
    const float *hr = run->hb[k & 1];
    float *hw = run->hb[(k + 1) & 1];
    for (int r0 = b0; r0 < b1; r0 += RB) {
        const int nr = b1 - r0 < RB ? b1 - r0 : RB;
        const float *H = hr + (long)r0 * u;
        input_part(p, t, r0, nr, ng, Z, ldz);
        if (p->kind == KIND_LSTM || p->kind == KIND_SIMPLE) {
            for (int g = 0; g < ng; g++) pm_rows(H, u, nr, u, panels(p->U, u, up, g), up, Z + g * up, ldz);
        } else { /* GRU: h·U (+ recurrent bias) kept apart; GRU_V1 only z, r here */
            const int nh = p->kind == KIND_GRU ? 3 : 2;
            for (int r = 0; r < nr; r++)
                for (int g = 0; g < nh; g++) {
                    float *zh = Zh + r * ldz + g * up;
                    if (p->rb) memcpy(zh, p->rb + g * u, sizeof(float) * u);
                    else memset(zh, 0, sizeof(float) * u);
                    memset(zh + u, 0, sizeof(float) * (up - u));
                }
            for (int g = 0; g < nh; g++) pm_rows(H, u, nr, u, panels(p->U, u, up, g), up, Zh + g * up, ldz);
        }
        for (int r = 0; r < nr; r++) {
            const int b = r0 + r;
            float *z = Z + r * ldz, *zh = Zh + r * ldz, *hnr = hn + r * up;
            const float *h = hr + (long)b * u;
            if (p->kind == KIND_LSTM) { /* i f g o at z + 0, up, 2up, 3up */
                const float *c = p->c + (long)b * u;
                float *cr = cn + r * up, *tr = tmp + r * up;
                const float *zi = z, *zf = z + up, *zg = z + 2 * up, *zo = z + 3 * up;
                act_apply(p->ract, z, 2 * up);
                act_apply(p->act, z + 2 * up, up);
                act_apply(p->ract, z + 3 * up, up);
                for (int j = 0; j < u; j++) cr[j] = zf[j] * c[j] + zi[j] * zg[j];
                memcpy(tr, cr, sizeof(float) * u);
                act_apply(p->act, tr, u);
                for (int j = 0; j < u; j++) hnr[j] = zo[j] * tr[j];
            } else if (p->kind == KIND_GRU) {
                for (int j = 0; j < 2 * up; j++) z[j] += zh[j];
                act_apply(p->ract, z, 2 * up);
                float *hh = z + 2 * up; /* becomes the hh gate (the trace reads it there) */
                for (int j = 0; j < u; j++) hh[j] += z[up + j] * zh[2 * up + j];
                act_apply(p->act, hh, u);
                for (int j = 0; j < u; j++) hnr[j] = z[j] * h[j] + (1.0f - z[j]) * hh[j];
            } else if (p->kind == KIND_GRU_V1) {
                for (int j = 0; j < 2 * up; j++) z[j] += zh[j];
                act_apply(p->ract, z, 2 * up);
                for (int j = 0; j < u; j++) cn[r * up + j] = z[up + j] * h[j]; /* r*h */
            } else { /* SimpleRNN */
                memcpy(hnr, z, sizeof(float) * u);
                act_apply(p->act, hnr, u);
            }
        }
        if (p->kind == KIND_GRU_V1) { /* hh = a(x_h + (r*h)·U_h) */
            for (int r = 0; r < nr; r++) memcpy(tmp + r * up, Z + r * ldz + 2 * up, sizeof(float) * up);
            pm_rows(cn, up, nr, u, p->U2, up, tmp, up);
            for (int r = 0; r < nr; r++) {
                float *z = Z + r * ldz, *tr = tmp + r * up, *hnr = hn + r * up;
                const float *h = hr + (long)(r0 + r) * u;
                act_apply(p->act, tr, u);
                for (int j = 0; j < u; j++) hnr[j] = z[j] * h[j] + (1.0f - z[j]) * tr[j];
                memcpy(z + 2 * up, tr, sizeof(float) * u);
            }
        }
        for (int r = 0; r < nr; r++) { /* Keras's mask rule, then outputs */
            const long b = r0 + r, off = b * u;
            float *last = p->last + off;
            const int keep = !p->mask || p->mask[b * p->mb + t * p->mt];
            if (keep) {
                memcpy(hw + off, hn + r * up, sizeof(float) * u);
                if (p->kind == KIND_LSTM) memcpy(p->c + off, cn + r * up, sizeof(float) * u);
                memcpy(last, hn + r * up, sizeof(float) * u);
            } else {
                memcpy(hw + off, hr + off, sizeof(float) * u);
                if (p->zero_out) memset(last, 0, sizeof(float) * u);
            }
            const long bt = b * p->T + k;
            if (p->seq) memcpy(p->seq + bt * u, last, sizeof(float) * u);
            if (p->gseq)
                for (int g = 0; g < ng; g++)
                    memcpy(p->gseq + bt * G + g * u, Z + r * ldz + g * up, sizeof(float) * u);
            if (p->hseq) memcpy(p->hseq + bt * u, hw + off, sizeof(float) * u);
            if (p->cseq) memcpy(p->cseq + bt * u, p->c + off, sizeof(float) * u);
        }
    }
}

typedef struct { kl_run *run; float *work; } kl_worker;

/* Claim row blocks (each through the whole sequence) until none is left: a thread the OS does not schedule
 * delays only the block it is running; the calling thread takes the rest. */
static void *work_loop(void *arg)
{
    const kl_worker *w = (const kl_worker *)arg;
    kl_run *run = w->run;
    const kl_job *p = run->p;
    for (;;) {
        const int n = __atomic_fetch_add(&run->claimed, 1, __ATOMIC_ACQ_REL);
        if (n >= run->ntasks) break;
        const int b0 = n * run->chunk, b1 = b0 + run->chunk < p->B ? b0 + run->chunk : p->B;
        for (int k = 0; k < p->T; k++) step_block(run, k, b0, b1, w->work);
    }
    return NULL;
}

/* Run the whole sequence, the batch rows split into blocks over up to `threads` threads (the caller is one).
 * Returns 0, or -1 when out of memory. */
int kl_rnn_run(const kl_job *p, int threads)
{
    const int u = p->u, ng = n_gates(p->kind);
    if (threads > 16) threads = 16;
    if (threads < 1) threads = 1;
    kl_run run = {p, {p->h, NULL}, 1, p->B, 0};
    if (threads > 1) { /* a few blocks per thread, so a late thread's share gets taken over */
        run.chunk = (p->B / (4 * threads) + RB - 1) / RB * RB;
        run.chunk = run.chunk < RB ? RB : run.chunk;
        run.ntasks = (p->B + run.chunk - 1) / run.chunk;
        if (threads > run.ntasks) threads = run.ntasks;
    }
    const long per = 2L * RB * ng * padded(u) + 3L * RB * padded(u);
    float *work = (float *)malloc(sizeof(float) * (per * threads + (long)p->B * u));
    if (!work) return -1;
    run.hb[1] = work + per * threads;
    pthread_t tid[16];
    kl_worker workers[16];
    int started = 0;
    for (int i = 0; i < threads; i++) {
        workers[i] = (kl_worker){&run, work + per * i};
        if (i > 0 && pthread_create(&tid[i], NULL, work_loop, &workers[i]) == 0) started |= 1 << i;
    }
    work_loop(&workers[0]);
    for (int i = 1; i < threads; i++)
        if (started & (1 << i)) pthread_join(tid[i], NULL);
    if (p->T & 1) memcpy(p->h, run.hb[1], sizeof(float) * p->B * u); /* the last write went to buffer 1 */
    free(work);
    return 0;
}

/* out (rows, N) = act(X (rows, K) @ W + b), W packed (K rows, one gate of N): Dense layers, split by rows.
 * Returns 0, or -1 when out of memory. */
enum { ACT_SOFTMAX = 6 }; /* over each row (the last axis) */
typedef struct { const float *X, *W, *b; float *out; long r0, r1; int K, N, act; } kl_proj;

static void softmax_row(float *x, int n) /* tf.nn.softmax: a NaN or +inf entry -> NaN there, 0 elsewhere */
{
    int bad = 0;
    for (int j = 0; j < n; j++) bad |= (x[j] != x[j]) | (x[j] == INFINITY);
    if (bad) {
        for (int j = 0; j < n; j++) x[j] = (x[j] != x[j] || x[j] == INFINITY) ? NAN : 0.0f;
        return;
    }
    float m = x[0], s = 0.0f;
    for (int j = 1; j < n; j++) m = x[j] > m ? x[j] : m;
    for (int j = 0; j < n; j++) { x[j] = kl_exp(x[j] - m); s += x[j]; }
    for (int j = 0; j < n; j++) x[j] /= s;
}

static void *proj_part(void *arg)
{
    const kl_proj *q = (const kl_proj *)arg;
    const int N = q->N, Np = padded(N);
    float *tmp = (float *)malloc(sizeof(float) * RB * Np);
    if (!tmp) return (void *)1;
    for (long r = q->r0; r < q->r1; r += RB) {
        const int nr = q->r1 - r < RB ? (int)(q->r1 - r) : RB;
        for (int i = 0; i < nr; i++) {
            if (q->b) memcpy(tmp + i * Np, q->b, sizeof(float) * N);
            else memset(tmp + i * Np, 0, sizeof(float) * N);
            memset(tmp + i * Np + N, 0, sizeof(float) * (Np - N));
        }
        pm_rows(q->X + r * q->K, q->K, nr, q->K, q->W, Np, tmp, Np);
        for (int i = 0; i < nr; i++) {
            float *o = q->out + (r + i) * N;
            memcpy(o, tmp + i * Np, sizeof(float) * N);
            if (q->act == ACT_SOFTMAX) softmax_row(o, N);
            else act_apply(q->act, o, N);
        }
    }
    free(tmp);
    return NULL;
}

int kl_dense(const float *X, long rows, int K, const float *W, int N, const float *b, int act, float *out,
             int threads)
{
    if (threads > 16) threads = 16;
    if (threads < 1 || rows < 64 * threads) threads = 1;
    pthread_t tid[16];
    kl_proj parts[16];
    int started = 0, rc = 0;
    long per = (rows / threads + RB - 1) / RB * RB;
    for (int i = 0; i < threads; i++) {
        long r0 = i * per, r1 = i == threads - 1 ? rows : (i + 1) * per;
        if (r0 > rows) r0 = rows;
        if (r1 > rows) r1 = rows;
        parts[i] = (kl_proj){X, W, b, out, r0, r1, K, N, act};
        if (i == 0) continue;
        if (pthread_create(&tid[i], NULL, proj_part, &parts[i]) != 0) rc |= proj_part(&parts[i]) != NULL;
        else started |= 1 << i;
    }
    rc |= proj_part(&parts[0]) != NULL;
    for (int i = 1; i < threads; i++)
        if (started & (1 << i)) {
            void *res;
            pthread_join(tid[i], &res);
            rc |= res != NULL;
        }
    return rc ? -1 : 0;
}

int kl_abi_version(void) { return 5; }
