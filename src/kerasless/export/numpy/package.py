"""The NumPy folder's README: the exact commands for this model (the tests run them as written)."""

from __future__ import annotations

from ..plan import Plan


def readme(plan: Plan, name: str) -> str:
    shape = ", ".join(map(str, plan.input_shape))
    return f"""# {name}: Keras model `{plan.name}` as one NumPy script (kerasless target numpy)

`{name}_numpy.py` (imports only NumPy; the layer equations spelled out) reads `{name}_weights.npz` beside it.
`predict(x)` takes float32 `(batch, {shape})` and returns `(batch, {', '.join(map(str, plan.output_shape))})`.

```sh
python -c "import {name}_numpy as m; print('self-test max abs diff:', m.self_test())"
```
"""
