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

#include "runtime.h"

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

#ifdef __cplusplus
}
#endif

#endif /* MODEL_H_ */
