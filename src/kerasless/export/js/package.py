"""The JS folder's packaging: ``package.json`` (ES module, ``exports`` and ``types`` for bundlers) and ``README.md``
with the exact commands for this model (the tests run them as written)."""

from __future__ import annotations

import json

from ..plan import Plan


def package_json(name: str, plan: Plan) -> str:
    return json.dumps({"name": name.lower().replace("_", "-"), "version": "1.0.0", "private": True,
                       "description": f"Keras model {plan.name!r} exported by kerasless (target js)",
                       "type": "module", "main": f"./{name}.js", "types": f"./{name}.d.ts",
                       "exports": {".": {"types": f"./{name}.d.ts", "default": f"./{name}.js"}},
                       "files": [f"{name}.js", f"{name}.d.ts", f"{name}.weights.bin"],
                       "engines": {"node": ">=18"}}, indent=2) + "\n"


def readme(plan: Plan, name: str, weights_file: bool, can_stream: bool) -> str:
    batch = plan.fixed_batch or 2
    imports = ["predict", "selfTest", "INPUT_SIZE"] + (["createStream", "STEP_SIZE"] if can_stream else []) + \
        (["load"] if weights_file else [])
    lines = [f'import {{ {", ".join(imports)} }} from "./{name}.js";', ""]
    if weights_file:
        lines += [f"await load(); // {name}.weights.bin beside the module (fs in Node, fetch in browsers)"]
    lines += [f"const y = predict(new Float32Array({batch} * INPUT_SIZE), {batch}); // {batch} samples, C order",
              "console.log(`predict: ${y.length} floats`);"]
    if can_stream:
        lines += ["const stream = createStream(1); // one timestep of one sample per step",
                  "const yT = stream.step(new Float32Array(STEP_SIZE));",
                  "console.log(`stream step: ${yT.length} floats`);"]
    lines += ["console.log(`self-test max abs diff: ${selfTest()}`);"]
    example = "\n".join(lines)
    return f"""# {name}: Keras model `{plan.name}` as a JavaScript ES module (kerasless target js)

`{name}.js` has no dependencies (Node >= 18, browsers, bundlers); `{name}.d.ts` types it; `package.json` exports
it. Input: a Float32Array of `batch * INPUT_SIZE` floats, `(batch, {', '.join(map(str, plan.input_shape))})` C
order; output `batch * OUTPUT_SIZE` floats, `(batch, {', '.join(map(str, plan.output_shape))})`.

```js use.mjs
{example}
```

```sh
node use.mjs
```

In an npm project: `npm install ./path/to/this/folder`, then `import {{ predict }} from "{name.lower().replace('_', '-')}"`.
"""
