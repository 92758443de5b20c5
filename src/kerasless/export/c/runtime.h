/* kerasless C runtime: types and status codes shared by runtime.c and the generated model code.
 *
 * A generated <name>.c defines KL_USE_<KERNEL> / KL_USE_ACT_<NAME> for the kernels its model needs and then
 * #includes "runtime.c" (which includes runtime_activations.c), so every kernel is a static function of the model's translation unit (two exported
 * models link together without clashes) and unused kernels are never compiled.
 * Lint the whole runtime on its own with:  gcc -std=c99 -Wall -Wextra -Werror -pedantic -DKL_LINT -c runtime.c
 */
#ifndef KL_RUNTIME_H
#define KL_RUNTIME_H

#include <stddef.h>

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
