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

/* exp(x) for float32, branch-free so loops vectorize: 2^n * p(r), |r| <= ln2/2 (Cephes coefficients, ~1 ulp). */
static inline float kl_exp(float x)
{
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
    return p * scale;
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

static void act_apply(int act, float *restrict x, int n)
{
    int i;
    switch (act) {
    case ACT_TANH: for (i = 0; i < n; i++) x[i] = kl_tanh(x[i]); break;
    case ACT_SIGMOID: for (i = 0; i < n; i++) x[i] = kl_sigmoid(x[i]); break;
    case ACT_HARD_SIGMOID:
        for (i = 0; i < n; i++) { float v = x[i] / 6.0f + 0.5f; x[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }
        break;
    case ACT_HARD_SIGMOID_K2:
        for (i = 0; i < n; i++) { float v = 0.2f * x[i] + 0.5f; x[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }
        break;
    case ACT_RELU: for (i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f; break;
    default: break;
    }
}

/* Z[r, :N] += H[r, :K] @ U[:K, :N] for NR rows; register tiles of NR x NC with NR*NC/8 = 8 vector accumulators. */
#define KL_MM(NR, NC)                                                                                          \
    static void mm_##NR(const float *restrict H, long ldh, int K, const float *restrict U, int N,             \
                        float *restrict Z, long ldz)                                                          \
    {                                                                                                          \
        int j = 0;                                                                                             \
        for (; j + NC <= N; j += NC) {                                                                         \
            float acc[NR][NC];                                                                                 \
            for (int r = 0; r < NR; r++)                                                                       \
                for (int c = 0; c < NC; c++) acc[r][c] = Z[r * ldz + j + c];                                   \
            for (int k = 0; k < K; k++) {                                                                      \
                const float *u = U + (long)k * N + j;                                                          \
                for (int r = 0; r < NR; r++) {                                                                 \
                    const float hv = H[r * ldh + k];                                                           \
                    for (int c = 0; c < NC; c++) acc[r][c] += hv * u[c];                                       \
                }                                                                                              \
            }                                                                                                  \
            for (int r = 0; r < NR; r++)                                                                       \
                for (int c = 0; c < NC; c++) Z[r * ldz + j + c] = acc[r][c];                                   \
        }                                                                                                      \
        for (; j < N; j++)                                                                                     \
            for (int r = 0; r < NR; r++) {                                                                     \
                float s = Z[r * ldz + j];                                                                      \
                for (int k = 0; k < K; k++) s += H[r * ldh + k] * U[(long)k * N + j];                          \
                Z[r * ldz + j] = s;                                                                            \
            }                                                                                                  \
    }
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
/* AVX2 register tiles: NR rows x 16 columns (2 vectors a row); 1 row uses 64 columns for 8 independent chains. */
#define LD(p) _mm256_loadu_ps(p)
#define ST(p, v) _mm256_storeu_ps(p, v)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define BC(p) _mm256_broadcast_ss(p)
static void mm_tail(const float *restrict H, long ldh, int nr, int K, const float *restrict U, int N,
                    float *restrict Z, long ldz, int j)
{
    for (; j < N; j++)
        for (int r = 0; r < nr; r++) {
            float s = Z[r * ldz + j];
            for (int k = 0; k < K; k++) s += H[r * ldh + k] * U[(long)k * N + j];
            Z[r * ldz + j] = s;
        }
}
static void mm_4(const float *restrict H, long ldh, int K, const float *restrict U, int N, float *restrict Z,
                 long ldz)
{
    int j = 0;
    const float *h0 = H, *h1 = H + ldh, *h2 = H + 2 * ldh, *h3 = H + 3 * ldh;
    float *z0 = Z, *z1 = Z + ldz, *z2 = Z + 2 * ldz, *z3 = Z + 3 * ldz;
    for (; j + 16 <= N; j += 16) {
        __m256 a0 = LD(z0 + j), b0 = LD(z0 + j + 8), a1 = LD(z1 + j), b1 = LD(z1 + j + 8);
        __m256 a2 = LD(z2 + j), b2 = LD(z2 + j + 8), a3 = LD(z3 + j), b3 = LD(z3 + j + 8);
        const float *u = U + j;
        for (int k = 0; k < K; k++, u += N) {
            const __m256 u0 = LD(u), u1 = LD(u + 8);
            __m256 hv = BC(h0 + k); a0 = FMA(hv, u0, a0); b0 = FMA(hv, u1, b0);
            hv = BC(h1 + k); a1 = FMA(hv, u0, a1); b1 = FMA(hv, u1, b1);
            hv = BC(h2 + k); a2 = FMA(hv, u0, a2); b2 = FMA(hv, u1, b2);
            hv = BC(h3 + k); a3 = FMA(hv, u0, a3); b3 = FMA(hv, u1, b3);
        }
        ST(z0 + j, a0); ST(z0 + j + 8, b0); ST(z1 + j, a1); ST(z1 + j + 8, b1);
        ST(z2 + j, a2); ST(z2 + j + 8, b2); ST(z3 + j, a3); ST(z3 + j + 8, b3);
    }
    mm_tail(H, ldh, 4, K, U, N, Z, ldz, j);
}
static void mm_6(const float *restrict H, long ldh, int K, const float *restrict U, int N, float *restrict Z,
                 long ldz)
{ /* 6 x 16: 12 accumulators hide the FMA latency; 2 loads + 6 broadcasts per 12 FMAs */
    int j = 0;
    const float *h0 = H, *h1 = H + ldh, *h2 = H + 2 * ldh, *h3 = H + 3 * ldh, *h4 = H + 4 * ldh, *h5 = H + 5 * ldh;
    float *z0 = Z, *z1 = Z + ldz, *z2 = Z + 2 * ldz, *z3 = Z + 3 * ldz, *z4 = Z + 4 * ldz, *z5 = Z + 5 * ldz;
    for (; j + 16 <= N; j += 16) {
        __m256 a0 = LD(z0 + j), b0 = LD(z0 + j + 8), a1 = LD(z1 + j), b1 = LD(z1 + j + 8);
        __m256 a2 = LD(z2 + j), b2 = LD(z2 + j + 8), a3 = LD(z3 + j), b3 = LD(z3 + j + 8);
        __m256 a4 = LD(z4 + j), b4 = LD(z4 + j + 8), a5 = LD(z5 + j), b5 = LD(z5 + j + 8);
        const float *u = U + j;
        for (int k = 0; k < K; k++, u += N) {
            const __m256 u0 = LD(u), u1 = LD(u + 8);
            __m256 hv = BC(h0 + k); a0 = FMA(hv, u0, a0); b0 = FMA(hv, u1, b0);
            hv = BC(h1 + k); a1 = FMA(hv, u0, a1); b1 = FMA(hv, u1, b1);
            hv = BC(h2 + k); a2 = FMA(hv, u0, a2); b2 = FMA(hv, u1, b2);
            hv = BC(h3 + k); a3 = FMA(hv, u0, a3); b3 = FMA(hv, u1, b3);
            hv = BC(h4 + k); a4 = FMA(hv, u0, a4); b4 = FMA(hv, u1, b4);
            hv = BC(h5 + k); a5 = FMA(hv, u0, a5); b5 = FMA(hv, u1, b5);
        }
        ST(z0 + j, a0); ST(z0 + j + 8, b0); ST(z1 + j, a1); ST(z1 + j + 8, b1);
        ST(z2 + j, a2); ST(z2 + j + 8, b2); ST(z3 + j, a3); ST(z3 + j + 8, b3);
        ST(z4 + j, a4); ST(z4 + j + 8, b4); ST(z5 + j, a5); ST(z5 + j + 8, b5);
    }
    mm_tail(H, ldh, 6, K, U, N, Z, ldz, j);
}
static void mm_1(const float *restrict H, long ldh, int K, const float *restrict U, int N, float *restrict Z,
                 long ldz)
{
    (void)ldh; (void)ldz;
    int j = 0;
    for (; j + 64 <= N; j += 64) {
        __m256 a[8];
        for (int c = 0; c < 8; c++) a[c] = LD(Z + j + 8 * c);
        const float *u = U + j;
        for (int k = 0; k < K; k++, u += N) {
            const __m256 hv = BC(H + k);
            for (int c = 0; c < 8; c++) a[c] = FMA(hv, LD(u + 8 * c), a[c]);
        }
        for (int c = 0; c < 8; c++) ST(Z + j + 8 * c, a[c]);
    }
    for (; j + 16 <= N; j += 16) {
        __m256 a0 = LD(Z + j), b0 = LD(Z + j + 8);
        const float *u = U + j;
        for (int k = 0; k < K; k++, u += N) {
            const __m256 hv = BC(H + k);
            a0 = FMA(hv, LD(u), a0); b0 = FMA(hv, LD(u + 8), b0);
        }
        ST(Z + j, a0); ST(Z + j + 8, b0);
    }
    mm_tail(H, ldh, 1, K, U, N, Z, ldz, j);
}
static void mm_2(const float *restrict H, long ldh, int K, const float *restrict U, int N, float *restrict Z,
                 long ldz)
{
    mm_1(H, ldh, K, U, N, Z, ldz);
    mm_1(H + ldh, ldh, K, U, N, Z + ldz, ldz);
}
#else
KL_MM(1, 64)
KL_MM(2, 32)
KL_MM(4, 16)
KL_MM(6, 16)
#endif

static void mm_rows(const float *H, long ldh, int nr, int K, const float *U, int N, float *Z, long ldz)
{
    while (nr >= 6) { mm_6(H, ldh, K, U, N, Z, ldz); H += 6 * ldh; Z += 6 * ldz; nr -= 6; }
    if (nr >= 4) { mm_4(H, ldh, K, U, N, Z, ldz); H += 4 * ldh; Z += 4 * ldz; nr -= 4; }
    if (nr >= 2) { mm_2(H, ldh, K, U, N, Z, ldz); H += 2 * ldh; Z += 2 * ldz; nr -= 2; }
    if (nr == 1) mm_1(H, ldh, K, U, N, Z, ldz);
}

typedef struct {
    int kind, B, T, u, G, act, ract, go_backwards, zero_out;
    const float *xp;   /* xp[b*xb + t*xt + g], g < G */
    long xb, xt;
    const float *U;    /* (u, G); GRU_V1: (u, 2u) */
    const float *U2;   /* GRU_V1: (u, u) */
    const float *rb;   /* GRU: recurrent bias (G) or NULL */
    float *h, *c;      /* (B, u) states, updated in place; c only for LSTM */
    const uint8_t *mask; /* mask[b*mb + t*mt] or NULL */
    long mb, mt;
    float *seq;        /* (B, T, u) outputs in processing order, or NULL */
    float *last;       /* (B, u): last output (zeros on entry) */
    float *gseq;       /* trace, or NULL: (B, T, NG*u) gates after activation (LSTM i f g o; GRU z r hh) */
    float *hseq, *cseq; /* trace, or NULL: (B, T, u) states after each step (c: LSTM only) */
} kl_job;

#define RB 6 /* rows per block (the widest register tile) */

static void run_rows(const kl_job *p, int b0, int b1, float *work)
{
    const int u = p->u, G = p->G;
    float *Z = work;               /* RB x G */
    float *hn = Z + RB * G;        /* RB x u */
    float *cn = hn + RB * u;       /* RB x u */
    float *tmp = cn + RB * u;      /* RB x u */
    for (int k = 0; k < p->T; k++) {
        const int t = p->go_backwards ? p->T - 1 - k : k;
        for (int r0 = b0; r0 < b1; r0 += RB) {
            const int nr = b1 - r0 < RB ? b1 - r0 : RB;
            const int zc = p->kind == KIND_GRU_V1 ? 2 * u : G; /* columns of the recurrent product */
            for (int r = 0; r < nr; r++) {
                if (p->rb) memcpy(Z + r * G, p->rb, sizeof(float) * G);
                else memset(Z + r * G, 0, sizeof(float) * zc);
            }
            mm_rows(p->h + (long)r0 * u, u, nr, u, p->U, zc, Z, G);
            for (int r = 0; r < nr; r++) {
                const int b = r0 + r;
                const float *x = p->xp + b * p->xb + t * p->xt;
                float *z = Z + r * G, *h = p->h + (long)b * u, *hr = hn + r * u;
                if (p->kind == KIND_LSTM) {
                    float *c = p->c + (long)b * u, *cr = cn + r * u, *tr = tmp + r * u;
                    for (int j = 0; j < G; j++) z[j] += x[j];
                    act_apply(p->ract, z, 2 * u);
                    act_apply(p->act, z + 2 * u, u);
                    act_apply(p->ract, z + 3 * u, u);
                    for (int j = 0; j < u; j++) cr[j] = z[u + j] * c[j] + z[j] * z[2 * u + j];
                    memcpy(tr, cr, sizeof(float) * u);
                    act_apply(p->act, tr, u);
                    for (int j = 0; j < u; j++) hr[j] = z[3 * u + j] * tr[j];
                } else if (p->kind == KIND_GRU) {
                    float *tr = tmp + r * u;
                    for (int j = 0; j < 2 * u; j++) z[j] += x[j];
                    act_apply(p->ract, z, 2 * u);
                    for (int j = 0; j < u; j++) tr[j] = x[2 * u + j] + z[u + j] * z[2 * u + j];
                    act_apply(p->act, tr, u);
                    for (int j = 0; j < u; j++) hr[j] = z[j] * h[j] + (1.0f - z[j]) * tr[j];
                    if (p->gseq) memcpy(z + 2 * u, tr, sizeof(float) * u); /* hh, for the trace only */
                } else if (p->kind == KIND_GRU_V1) {
                    for (int j = 0; j < 2 * u; j++) z[j] += x[j];
                    act_apply(p->ract, z, 2 * u);
                    for (int j = 0; j < u; j++) cn[r * u + j] = z[u + j] * h[j]; /* r*h */
                } else { /* SimpleRNN */
                    for (int j = 0; j < u; j++) hr[j] = z[j] + x[j];
                    act_apply(p->act, hr, u);
                }
            }
            if (p->kind == KIND_GRU_V1) { /* hh = a(x_h + (r*h)·U_h) */
                memset(tmp, 0, sizeof(float) * nr * u);
                mm_rows(cn, u, nr, u, p->U2, u, tmp, u);
                for (int r = 0; r < nr; r++) {
                    const int b = r0 + r;
                    const float *x = p->xp + b * p->xb + t * p->xt;
                    float *z = Z + r * G, *h = p->h + (long)b * u, *tr = tmp + r * u, *hr = hn + r * u;
                    for (int j = 0; j < u; j++) tr[j] += x[2 * u + j];
                    act_apply(p->act, tr, u);
                    for (int j = 0; j < u; j++) hr[j] = z[j] * h[j] + (1.0f - z[j]) * tr[j];
                    if (p->gseq) memcpy(z + 2 * u, tr, sizeof(float) * u);
                }
            }
            for (int r = 0; r < nr; r++) { /* Keras's mask rule, then outputs */
                const int b = r0 + r;
                float *last = p->last + (long)b * u;
                const int keep = !p->mask || p->mask[b * p->mb + t * p->mt];
                if (keep) {
                    memcpy(p->h + (long)b * u, hn + r * u, sizeof(float) * u);
                    if (p->kind == KIND_LSTM) memcpy(p->c + (long)b * u, cn + r * u, sizeof(float) * u);
                    memcpy(last, hn + r * u, sizeof(float) * u);
                } else if (p->zero_out) {
                    memset(last, 0, sizeof(float) * u);
                }
                if (p->seq) memcpy(p->seq + ((long)b * p->T + k) * u, last, sizeof(float) * u);
                if (p->gseq) {
                    const int ng = p->kind == KIND_LSTM ? 4 * u : 3 * u;
                    memcpy(p->gseq + ((long)b * p->T + k) * ng, Z + r * G, sizeof(float) * ng);
                }
                if (p->hseq) memcpy(p->hseq + ((long)b * p->T + k) * u, p->h + (long)b * u, sizeof(float) * u);
                if (p->cseq) memcpy(p->cseq + ((long)b * p->T + k) * u, p->c + (long)b * u, sizeof(float) * u);
            }
        }
    }
}

typedef struct { const kl_job *p; int b0, b1; float *work; } kl_part;

static void *run_part(void *arg)
{
    kl_part *q = (kl_part *)arg;
    run_rows(q->p, q->b0, q->b1, q->work);
    return NULL;
}

/* Run the whole sequence; threads > 1 splits the batch (multiples of RB rows) over that many threads. */
int kl_rnn_run(const kl_job *p, int threads)
{
    const long per = (long)RB * (p->G + 3 * p->u);
    if (threads > p->B / RB) threads = p->B / RB;
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    float *work = (float *)malloc(sizeof(float) * per * threads);
    if (!work) return -1;
    if (threads == 1) {
        run_rows(p, 0, p->B, work);
        free(work);
        return 0;
    }
    pthread_t tid[16];
    kl_part parts[16];
    int rows = (p->B / threads + 3) / 4 * 4, started = 0, rc = 0;
    for (int i = 0; i < threads; i++) {
        int b0 = i * rows, b1 = i == threads - 1 ? p->B : (i + 1) * rows;
        if (b1 > p->B) b1 = p->B;
        parts[i] = (kl_part){p, b0, b1, work + per * i};
        if (i == 0) continue;
        if (pthread_create(&tid[i], NULL, run_part, &parts[i]) != 0) { run_part(&parts[i]); tid[i] = 0; rc = 1; }
        else started |= 1 << i;
    }
    run_part(&parts[0]);
    for (int i = 1; i < threads; i++)
        if (started & (1 << i)) pthread_join(tid[i], NULL);
    free(work);
    (void)rc;
    return 0;
}

/* out (rows, N) = X (rows, K) @ W (K, N) + b: the input projection of every timestep at once, split by rows. */
typedef struct { const float *X, *W, *b; float *out; long r0, r1; int K, N; } kl_proj;

static void *proj_part(void *arg)
{
    const kl_proj *q = (const kl_proj *)arg;
    for (long r = q->r0; r < q->r1; r += 64) {
        const long nr = q->r1 - r < 64 ? q->r1 - r : 64;
        float *o = q->out + r * q->N;
        for (long i = 0; i < nr; i++) {
            if (q->b) memcpy(o + i * q->N, q->b, sizeof(float) * q->N);
            else memset(o + i * q->N, 0, sizeof(float) * q->N);
        }
        mm_rows(q->X + r * q->K, q->K, (int)nr, q->K, q->W, q->N, o, q->N);
    }
    return NULL;
}

int kl_project(const float *X, long rows, int K, const float *W, int N, const float *b, float *out, int threads)
{
    if (threads > 16) threads = 16;
    if (threads < 1 || rows < 64 * threads) threads = 1;
    pthread_t tid[16];
    kl_proj parts[16];
    int started = 0;
    long per = (rows / threads + 3) / 4 * 4;
    for (int i = 0; i < threads; i++) {
        long r0 = i * per, r1 = i == threads - 1 ? rows : (i + 1) * per;
        if (r0 > rows) r0 = rows;
        if (r1 > rows) r1 = rows;
        parts[i] = (kl_proj){X, W, b, out, r0, r1, K, N};
        if (i == 0) continue;
        if (pthread_create(&tid[i], NULL, proj_part, &parts[i]) != 0) proj_part(&parts[i]);
        else started |= 1 << i;
    }
    proj_part(&parts[0]);
    for (int i = 1; i < threads; i++)
        if (started & (1 << i)) pthread_join(tid[i], NULL);
    return 0;
}

int kl_abi_version(void) { return 3; }
