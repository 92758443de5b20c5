/* kerasless C runtime: status codes and types shared by the runtime blocks and the generated model code.
 *
 * Every generated <name>.h carries this block verbatim (from #ifndef on), so an export folder needs no other
 * header and two models' headers can be included together.
 */
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
