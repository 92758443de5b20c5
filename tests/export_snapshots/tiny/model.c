/* model.c: Keras model 'm' (<memory>, Keras 3.15.1) exported
 * by kerasless (target c). Generated: regenerate instead of editing. API and contract: see model.h.
 * Compile this file only (it includes runtime.c): cc -std=c99 -O2 -c model.c
 */
#define KL_USE_DENSE
#define KL_USE_LSTM
#define KL_USE_MASK_VALUES
#define KL_USE_APPLY_MASK
#define KL_USE_ACT_SIGMOID
#define KL_USE_ACT_SOFTMAX
#define KL_USE_ACT_TANH
#define KL_USE_STREAM

#include "runtime.c"
#include "model.h"

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
    float diff = 0.0f;
    int i, rc;
    model_reset_states();
    rc = model_predict_ws(kl_test_x, KL_TEST_BATCH, y, ws);
    if (rc != KL_OK)
        return INFINITY;
    for (i = 0; i < KL_TEST_BATCH * MODEL_OUTPUT_SIZE; ++i) {
        const float d = fabsf(y[i] - kl_test_y[i]);
        if (y[i] != y[i] || kl_test_y[i] != kl_test_y[i]) {
            if ((y[i] != y[i]) != (kl_test_y[i] != kl_test_y[i])) return INFINITY;
        } else if (d > diff) {
            diff = d;
        }
    }
    return diff;
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
    /* l0 (Masking): mask_values (3, 2) -> (3,) */
    kl_mask_values(x, batch * 1, 2, 0.0f, m1);
    /* l0 (Masking): apply_mask (3, 2) -> (3, 2) */
    kl_apply_mask(x, m1, batch * 1, 2, t1);
    /* l1 (LSTM): lstm, one step */
    {
        const kl_rnn p = {.seqs = 1, .steps = 1, .input_dim = 2, .units = 2, .gates = 4,
                          .W = w0_l1_kernel, .U = w1_l1_recurrent_kernel, .b = w2_l1_bias, .br = NULL,
                          .act = kl_act_tanh, .ract = kl_act_sigmoid,
                          .reset_after = 0, .go_backwards = 0, .return_sequences = 1, .zero_output_for_mask = 0};
        kl_lstm_stream(&p, t1, m1, t2, s->t2_state, s->t2_prev, scratch);
    }
    /* l2 (Dense): dense (3, 2) -> (3, 2) */
    kl_dense(t2, batch * 1, 2, 2, w3_l2_kernel, w4_l2_bias, kl_act_softmax, t3);
    memcpy(y_t, t3, 2 * sizeof(float));
    return KL_OK;
}
