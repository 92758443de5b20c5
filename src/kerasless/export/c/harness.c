/* Test harness for generated C models (used by `kerasless export --verify` and the test suite).
 *
 * Build:  cc -std=c99 -DKL_NAME=model -DKL_WEIGHTS_FILE=0|1 harness.c DIR/model.c -lm
 * (it declares the API itself, so one harness object links with any model exported under the same name)
 * Run:    harness IN OUT [WEIGHTS]
 *   IN : int32 in_size, out_size, n_calls; then per call int32 batch, int32 mode (0 predict, 1 predict_ws),
 *        batch*in_size float32
 *   OUT: per call int32 status, batch*out_size float32; then float32 self_test()
 * The calls run in order in one process, so a stateful model carries its state across them.
 */
#include <stdio.h>
#include <stdlib.h>

#define KL_CAT2(a, b) a##b
#define KL_CAT(a, b) KL_CAT2(a, b)
#define KL_FN(suffix) KL_CAT(KL_NAME, suffix)

/* The generated <name>.h API. */
int KL_FN(_predict)(const float *x, int batch, float *y);
size_t KL_FN(_workspace_size)(int batch);
int KL_FN(_predict_ws)(const float *x, int batch, float *y, void *workspace);
float KL_FN(_self_test)(void);
#if KL_WEIGHTS_FILE
int KL_FN(_load_weights)(const char *path);
void KL_FN(_free_weights)(void);
#endif

static int read_i32(FILE *f, int *v) { return fread(v, sizeof *v, 1, f) == 1; }

int main(int argc, char **argv)
{
    FILE *in, *out;
    int in_size, out_size, n_calls, c, rc = 0;
    float diff;
    if (argc < 3) {
        fprintf(stderr, "usage: %s IN OUT [WEIGHTS]\n", argv[0]);
        return 2;
    }
#if KL_WEIGHTS_FILE
    if (argc < 4 || KL_FN(_load_weights)(argv[3]) != 0) {
        fprintf(stderr, "cannot load weights\n");
        return 2;
    }
#endif
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (in == NULL || out == NULL || !read_i32(in, &in_size) || !read_i32(in, &out_size) || !read_i32(in, &n_calls)) {
        fprintf(stderr, "cannot read %s or write %s\n", argv[1], argv[2]);
        return 2;
    }
    for (c = 0; c < n_calls && rc == 0; ++c) {
        int batch, mode, status = -1;
        float *x, *y;
        void *ws = NULL;
        if (!read_i32(in, &batch) || !read_i32(in, &mode) || batch <= 0) {
            rc = 2;
            break;
        }
        x = (float *)malloc((size_t)batch * (size_t)in_size * sizeof(float));
        y = (float *)calloc((size_t)batch * (size_t)out_size, sizeof(float));
        if (x == NULL || y == NULL || fread(x, sizeof(float), (size_t)batch * (size_t)in_size, in) !=
                                          (size_t)batch * (size_t)in_size) {
            rc = 2;
        } else if (mode == 1) {
            ws = malloc(KL_FN(_workspace_size)(batch));
            status = ws == NULL ? -1 : KL_FN(_predict_ws)(x, batch, y, ws);
        } else {
            status = KL_FN(_predict)(x, batch, y);
        }
        if (rc == 0) {
            fwrite(&status, sizeof status, 1, out);
            fwrite(y, sizeof(float), (size_t)batch * (size_t)out_size, out);
        }
        free(ws);
        free(x);
        free(y);
    }
    diff = KL_FN(_self_test)();
    fwrite(&diff, sizeof diff, 1, out);
    fclose(in);
    if (fclose(out) != 0) rc = 2;
#if KL_WEIGHTS_FILE
    KL_FN(_free_weights)();
#endif
    return rc;
}
