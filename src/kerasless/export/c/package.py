"""The C folder's packaging: ``CMakeLists.txt`` (a static library named after the model) and ``README.md`` with the
exact build and call commands for this model's names and sizes (the tests run them as written)."""

from __future__ import annotations

from pathlib import Path

from ..plan import Plan

CMAKE = """# Keras model {model!r} exported by kerasless (target c): the static library `{n}`.
# In an app (Android NDK, any CMake build): add_subdirectory(path/to/this/folder) and link `{n}`.
cmake_minimum_required(VERSION 3.10)
project({n} C)
add_library({n} STATIC {n}.c)
target_include_directories({n} PUBLIC ${{CMAKE_CURRENT_SOURCE_DIR}})
set_target_properties({n} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
find_library(KL_LIBM m)
if(KL_LIBM)
  target_link_libraries({n} PUBLIC ${{KL_LIBM}})
endif()
"""


def example_main(plan: Plan, name: str, weights_file: bool, stream) -> str:
    """A complete main.c calling this model (predict, the self-test, and streaming when the model streams)."""
    up, batch = name.upper(), plan.fixed_batch or 2
    shape = ", ".join(map(str, plan.input_shape))
    lines = ["#include <stdio.h>", f'#include "{name}.h"', "", "int main(void)", "{",
             f"    static float x[{batch} * {up}_INPUT_SIZE]; /* {batch} samples of ({shape}), C order: your data */",
             f"    static float y[{batch} * {up}_OUTPUT_SIZE];", "    int rc;"]
    if weights_file:
        lines += [f'    if ({name}_load_weights("{name}.weights.bin") != KL_OK)', "        return 1;"]
    lines += [f"    rc = {name}_predict(x, {batch}, y); /* KL_OK (0) on success */",
              '    printf("predict: %d, y[0] = %g\\n", rc, (double)y[0]);',
              f'    printf("self-test max abs diff: %g\\n", (double){name}_self_test());']
    if not isinstance(stream, str):
        lines += ["    {", f"        static {name}_state st; /* one per stream: no allocation */",
                  f"        float y_t[{up}_STEP_OUTPUT_SIZE];", "        int t;",
                  f"        {name}_stream_reset(&st);",
                  f"        for (t = 0; t < {plan.input_shape[0]} && rc == KL_OK; ++t) /* timestep t of sample 0 */",
                  f"            rc = {name}_stream_step(&st, x + t * {up}_STEP_INPUT_SIZE, y_t);",
                  '        printf("stream: %d, last y_t[0] = %g\\n", rc, (double)y_t[0]);', "    }"]
    return "\n".join(lines + ["    return rc;", "}", ""])


def readme(plan: Plan, name: str, weights_file: bool, stream) -> str:
    up = name.upper()
    files = f"`{name}.h`, `{name}.c`" + (f", `{name}.weights.bin` (+ `.json` manifest)" if weights_file else "")
    token = f" Token ids (0..{plan.input_vocab - 1}) are passed as float values." if plan.input_vocab else ""
    fixed = f" Stateful: every call must have batch {plan.fixed_batch}." if plan.fixed_batch else ""
    streams = (f"`{name}_stream_step` runs one timestep of one sample ({up}_STEP_INPUT_SIZE floats in, "
               f"{up}_STEP_OUTPUT_SIZE out) with the state in a `{name}_state` you own."
               if not isinstance(stream, str) else f"No streaming API: {stream}.")
    return f"""# {name}: Keras model `{plan.name}` as C99 (kerasless target c)

{files}: one translation unit, no allocation in the predict path, C99 + libm. Input: float32
`(batch, {', '.join(map(str, plan.input_shape))})` C order, `{up}_INPUT_SIZE` floats per sample; output:
`(batch, {', '.join(map(str, plan.output_shape))})`, `{up}_OUTPUT_SIZE` floats per sample.{token}{fixed}
Every function returns `KL_OK` (0) or an error code; the API is documented in `{name}.h`. {streams}

## Build and run

Save this as `main.c` beside `{name}.c`:

```c main.c
{example_main(plan, name, weights_file, stream)}```

```sh
cc -std=c99 -O2 -o main main.c {name}.c -lm && ./main
```

With CMake (the folder's `CMakeLists.txt` builds the static library `{name}`):

```sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build
```

In an app's CMake build (Android NDK: `app/src/main/cpp/CMakeLists.txt`), add this folder and link the library:

```cmake
add_subdirectory({name})   # the path of this folder
target_link_libraries(app PRIVATE {name})
```

Compiling every `.c` in the folder (Xcode, SwiftPM, `file(GLOB ... *.c)`) builds the same single file.
Swift apps: `kerasless export MODEL --target swift` writes a Swift package around this same C code.
"""


def write(plan: Plan, out_dir: Path, name: str, weights_file: bool, stream) -> list[Path]:
    files = [out_dir / "CMakeLists.txt", out_dir / "README.md"]
    files[0].write_text(CMAKE.format(model=plan.name, n=name))
    files[1].write_text(readme(plan, name, weights_file, stream))
    return files
