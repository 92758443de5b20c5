/* model.h: Keras model 'm' exported by kerasless (target c). Generated: do not edit.
 * Input  x: float32 (batch, 3, 2) C order, flattened
 * Output y: float32 (batch, 3, 2)
 * Returns KL_OK (0), or KL_ERR_ARGS / KL_ERR_TOKEN / KL_ERR_WEIGHTS (runtime.h).
 * model_predict uses a static workspace (not thread-safe, batch <= MODEL_MAX_BATCH: raise it with
 * -DMODEL_MAX_BATCH=n when compiling model.c); model_predict_ws uses yours and has no such limit.
 */
#ifndef MODEL_H_
#define MODEL_H_

#include <stddef.h>

#ifndef KL_RUNTIME_H
#define KL_RUNTIME_H

/* Status codes returned by <name>_predict and friends. */
#define KL_OK 0
#define KL_ERR_ARGS 1    /* NULL pointer, batch <= 0, batch > max batch, or batch != a stateful model's batch */
#define KL_ERR_TOKEN 2   /* a token id is not a finite number in [0, vocab) */
#define KL_ERR_WEIGHTS 3 /* weights-file build: <name>_load_weights() has not succeeded */

/* An activation applied in place to one row of n floats (softmax-like ones normalise over the row). */
typedef void (*kl_act)(float *x, int n);

/* Bidirectional merge modes. */
enum kl_merge { KL_MERGE_CONCAT = 0, KL_MERGE_SUM = 1, KL_MERGE_MUL = 2, KL_MERGE_AVE = 3 };

#endif /* KL_RUNTIME_H */

#ifdef __cplusplus
extern "C" {
#endif

#define MODEL_INPUT_SIZE 6 /* floats per sample */
#define MODEL_OUTPUT_SIZE 6 /* floats per sample */
#ifndef MODEL_MAX_BATCH
#define MODEL_MAX_BATCH 64
#endif

/* y[batch * OUTPUT_SIZE] = model(x[batch * INPUT_SIZE]); 0 on success. */
int model_predict(const float *x, int batch, float *y);
/* Bytes of workspace _predict_ws needs for `batch` rows (0 if batch <= 0). */
size_t model_workspace_size(int batch);
/* Same as _predict with a caller-provided workspace (thread-safe unless the model is stateful). */
int model_predict_ws(const float *x, int batch, float *y, void *workspace);
/* Zero the recurrent states carried between calls (stateful models; a no-op otherwise). */
void model_reset_states(void);
/* Run the embedded test vector; returns the max abs difference to the expected output
 * (INFINITY on failure). Resets the states of a stateful model. */
float model_self_test(void);

/* Streaming: feed one timestep of one sample at a time, O(1) work per step; step t returns what
 * model_predict returns for timestep t (return_sequences) or for the prefix x[:t+1] (last output).
 * The state holds everything (recurrent states and workspace): no allocation, one state per stream;
 * zero it with model_stream_reset before the first step (or declare it static / = {0}). */
#define MODEL_STEP_INPUT_SIZE 2 /* floats of x_t */
#define MODEL_STEP_OUTPUT_SIZE 2 /* floats of y_t */
typedef struct model_state {
    float t2_state[4]; /* l1 (LSTM): h, c */
    float t2_prev[2]; /* its previous output (masked steps repeat it) */
    float ws[35]; /* per-step buffers + recurrent scratch */
} model_state;
/* Zero every state (start a new sequence). */
void model_stream_reset(model_state *s);
/* y_t[MODEL_STEP_OUTPUT_SIZE] = model step on x_t[MODEL_STEP_INPUT_SIZE]; KL_OK (0) or an error code. */
int model_stream_step(model_state *s, const float *x_t, float *y_t);

#ifdef __cplusplus
}
#endif

#endif /* MODEL_H_ */
