"""The Java folder's README: the exact commands for this model (the tests run them as written), and Kotlin."""

from __future__ import annotations

from ..plan import Plan


def readme(plan: Plan, cls: str, package: str | None, weights_file: bool, can_stream: bool) -> str:
    batch = plan.fixed_batch or 2
    where = f"{package.replace('.', '/')}/" if package else ""
    qualified = f"{package}.{cls}" if package else cls
    body = []
    if weights_file:
        body += [f'        {cls}.loadWeights("{where}{cls}.weights.bin");']
    body += [f"        float[] y = {cls}.predict(new float[{batch} * {cls}.INPUT_SIZE], {batch}); // C order",
             '        System.out.println("predict: " + y.length + " floats");']
    if can_stream:
        body += [f"        float[] yT = new {cls}.Stream().step(new float[{cls}.STEP_INPUT_SIZE]); // one timestep",
                 '        System.out.println("stream step: " + yT.length + " floats");']
    body += [f'        System.out.println("self-test max abs diff: " + {cls}.selfTest());']
    main = "\n".join(([f"import {qualified};", ""] if package else []) +
                     ["public final class Main {", "    public static void main(String[] args) throws Exception {",
                      *body, "    }", "}"])
    return f"""# {cls}: Keras model `{plan.name}` as Java (kerasless target java)

`{where}{cls}.java`: one class, Java 8 source level, no dependencies (Android, any JVM). Input: `float[]` of
`batch * {cls}.INPUT_SIZE` floats, `(batch, {', '.join(map(str, plan.input_shape))})` C order; output
`(batch, {', '.join(map(str, plan.output_shape))})`.

```java Main.java
{main}
```

```sh
javac --release 8 -d classes Main.java {where}{cls}.java && java -cp classes Main
```

Android: copy `{where}{cls}.java` under `app/src/main/java/`{f" (the package is `{package}`)" if package else ""}.
From Kotlin:

```kotlin
val y: FloatArray = {qualified}.predict(FloatArray({batch} * {qualified}.INPUT_SIZE), {batch})
```
"""
