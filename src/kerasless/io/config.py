"""Keras model config JSON (Keras 3, tf.keras 2.x, Keras 2.2) -> ModelSpec without weights."""

from __future__ import annotations

import json

from ..errors import ModelFileError, UnsafeModelError
from .spec import LayerSpec, ModelSpec

MODEL_CLASSES = ("Sequential", "Functional", "Model")
# Classes whose config holds serialized Python code or names code we would have to import.
CODE_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda")
MAX_JSON_DEPTH = 100  # real Keras configs nest ~20 deep (models in wrappers in models); every walker recurses


def load_json(data, source: str, what: str, kind: type = dict):
    """Parse JSON text from a model file: a typed error for bad text, nesting deeper than MAX_JSON_DEPTH or a
    top-level value that is not ``kind``."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelFileError(f"{source}: {what} is not valid JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    stack = [(value, 1)]
    while stack:  # iterative: a deep file must not exhaust the interpreter's stack here either
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ModelFileError(f"{source}: {what} nests deeper than {MAX_JSON_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    if not isinstance(value, kind):
        raise ModelFileError(f"{source}: {what} should be a JSON {'object' if kind is dict else kind.__name__}, "
                             f"got {type(value).__name__}")
    return value


def _name(value, source: str, what: str = "model name") -> str:
    if not isinstance(value, str):
        raise ModelFileError(f"{source}: the {what} should be a string, got {str(value)[:60]}")
    return value


def parse_model_config(config: dict, source: str, keras_version: str = "3") -> ModelSpec:
    """Turn a top-level model config (``{"class_name": ..., "config": ...}``) into a ModelSpec."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelFileError(f"{source}: model config has no 'class_name'; is this a Keras model file?")
    check_safe(config, source)
    cls = config["class_name"]
    body = config.get("config", {})
    if not isinstance(cls, str) or not isinstance(body, (dict, list)):
        raise ModelFileError(f"{source}: model config should be {{'class_name': str, 'config': object}}, got "
                             f"class_name {str(cls)[:40]} and a config of type {type(body).__name__}")
    if cls == "Sequential":
        return _sequential(body, source, keras_version)
    if cls in ("Functional", "Model"):
        return _functional(body, source, keras_version)
    raise ModelFileError(
        f"{source}: top-level object is a {cls!r}; kerasless loads Sequential and functional models "
        "(subclassed models carry Python code and cannot be loaded safely)"
    )


def check_safe(obj, source: str, where: str = "model") -> None:
    """Refuse any config node that would need code from the file or a custom class. Executes nothing."""
    if isinstance(obj, dict):
        cls = obj.get("class_name")
        name = obj.get("config", {}).get("name", where) if isinstance(obj.get("config"), dict) else where
        if cls in CODE_CLASSES:
            raise UnsafeModelError(
                f"{source}: layer {name!r} is a {cls} layer, which stores Python code; kerasless never runs "
                "code from a model file. Replace it with built-in layers and re-save the model."
            )
        if isinstance(cls, str) and ">" in cls:  # legacy files name registered custom classes "package>Name"
            raise UnsafeModelError(
                f"{source}: {where} {name!r} is the custom class {cls!r}; kerasless loads built-in Keras layers "
                "only and never imports code named by a file"
            )
        registered = obj.get("registered_name")
        module = obj.get("module")
        if isinstance(registered, str) and registered not in (cls, "function"):
            raise UnsafeModelError(
                f"{source}: {where} {name!r} uses the custom object {registered!r}; kerasless loads built-in "
                "Keras layers only and never imports code named by a file"
            )
        if isinstance(module, str) and module.split(".")[0] not in ("keras", "tf_keras", "builtins"):
            raise UnsafeModelError(
                f"{source}: {where} {name!r} is {cls!r} from module {module!r}; kerasless loads built-in Keras "
                "layers only and never imports code named by a file"
            )
        for key, value in obj.items():
            check_safe(value, source, name if key == "config" else where)
    elif isinstance(obj, list):
        for value in obj:
            check_safe(value, source, where)


def _layer_list(body, source) -> list[dict]:
    layers = body if isinstance(body, list) else body.get("layers")  # Keras 2.0 wrote a bare list
    if not isinstance(layers, list):
        raise ModelFileError(f"{source}: model config has no 'layers' list")
    for layer in layers:
        if (not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str)
                or not isinstance(layer.get("config", {}), (dict, type(None)))):
            raise ModelFileError(f"{source}: a layer entry should be {{'class_name': str, 'config': object}}, got "
                                 f"{str(layer)[:80]}")
    return layers


def _sequential(body, source, keras_version) -> ModelSpec:
    layers = _layer_list(body, source)
    name = _name(body.get("name", "sequential"), source) if isinstance(body, dict) else "sequential"
    specs: list[LayerSpec] = []
    first = layers[0] if layers else None
    if first is None:
        raise ModelFileError(f"{source}: Sequential model has no layers")
    if first.get("class_name") != "InputLayer":
        # Keras 2 put the input shape on the first layer (batch_input_shape); make the InputLayer explicit.
        cfg = first.get("config") or {}
        shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
        if shape is None and cfg.get("input_shape") is not None:
            shape = [None, *cfg["input_shape"]]
        if shape is None:
            raise ModelFileError(f"{source}: Sequential model does not record its input shape")
        specs.append(LayerSpec(f"{name}_input", "InputLayer", {"batch_shape": shape, "dtype": cfg.get("dtype")}))
    for layer in layers:
        specs.append(_layer_spec(layer, source))
    for prev, spec in zip(specs, specs[1:]):
        spec.inbound = [[(prev.name, 0, 0)]]
    spec = ModelSpec(name, specs, [(specs[0].name, 0, 0)], [(specs[-1].name, 0, 0)], keras_version, source)
    spec.sequential = True
    return spec


def _layer_spec(layer: dict, source: str) -> LayerSpec:
    cfg = dict(layer.get("config") or {})
    name = _name(layer.get("name") or cfg.get("name") or layer["class_name"].lower(), source, "layer name")
    cfg.setdefault("name", name)
    if "build_config" in layer:
        cfg["_build_config"] = layer["build_config"]
    return LayerSpec(name, layer["class_name"], cfg)


def _tensor_ref(ref, source) -> tuple[str, int, int]:
    if isinstance(ref, dict):  # Keras 3: {"class_name": "__keras_tensor__", "config": {"keras_history": [...]}}
        cfg = ref.get("config")
        ref = cfg.get("keras_history") if isinstance(cfg, dict) else None
    if (not isinstance(ref, (list, tuple)) or len(ref) < 3 or not isinstance(ref[0], str)
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ref[1:3])):
        raise ModelFileError(f"{source}: a tensor reference should be [layer name, node index, tensor index], "
                             f"got {str(ref)[:80]}")
    return (ref[0], ref[1], ref[2])


def _node_inputs(node, source) -> tuple[list[tuple[str, int, int]], dict]:
    """One call of a layer -> (positional tensor refs, flattened; keyword arguments with tensors as refs)."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        refs, const = [], []
        args, kw = node.get("args", []), node.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kw, dict):
            raise ModelFileError(f"{source}: a layer call should be {{'args': list, 'kwargs': object}}, got "
                                 f"{str(node)[:80]}")
        for pos, arg in enumerate(args):
            if isinstance(arg, (int, float)) and not isinstance(arg, bool):  # ops layers: NotEqual(x, 0.0)
                const.append((pos, arg))
                continue
            items = arg if isinstance(arg, list) else [arg]
            refs.extend(_tensor_ref(a, source) for a in items)
        # None is every optional call argument's default (mask=None, constants=None ...): not passed
        kwargs = {k: _kwarg_value(v, source, keras3=True) for k, v in kw.items() if v is not None}
        if const:
            kwargs["__const__"] = const
        return refs, kwargs
    # Keras 2: [[layer, node, tensor, kwargs], ...]; tf_keras passes RNN initial states as extra entries
    refs, kwargs = [], {}
    for entry in node:
        if isinstance(entry, list) and len(entry) > 3 and entry[3]:
            if not isinstance(entry[3], dict):
                raise ModelFileError(f"{source}: a layer call's keyword arguments should be an object, got "
                                     f"{str(entry[3])[:80]}")
            kwargs.update({k: _kwarg_value(v, source, keras3=False) for k, v in entry[3].items() if v is not None})
        refs.append(_tensor_ref(entry, source))
    return refs, kwargs


def _is_k2_ref(value) -> bool:
    return (isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str)
            and isinstance(value[1], int) and isinstance(value[2], int))


def _kwarg_value(value, source, keras3: bool):
    """A call keyword argument: tensors become ("__tensor__", ref) tuples (lists of them stay lists)."""
    if keras3 and isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return ("__tensor__", _tensor_ref(value, source))
    if not keras3 and _is_k2_ref(value):
        return ("__tensor__", _tensor_ref(value, source))
    if isinstance(value, list) and value and all(
            (isinstance(v, dict) and v.get("class_name") == "__keras_tensor__") or (not keras3 and _is_k2_ref(v))
            for v in value):
        return [_kwarg_value(v, source, keras3) for v in value]
    if _holds_tensor(value):
        raise ModelFileError(f"{source}: a layer call passes tensors in an unsupported structure: {str(value)[:80]}")
    return value


def _holds_tensor(value) -> bool:
    if isinstance(value, dict):
        return value.get("class_name") == "__keras_tensor__" or any(_holds_tensor(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_tensor(v) for v in value)
    return False


def _refs(value, source) -> tuple[list[tuple[str, int, int]], list | int]:
    """input_layers / output_layers: one [name, node, tensor], or a (possibly nested) list of them -> (flat list of
    refs, the same nesting with indices into that list: 0 for a single ref)."""
    flat: list = []

    def walk(v, depth):
        if depth > 16 or not isinstance(v, list):
            raise ModelFileError(f"{source}: input_layers/output_layers should be nested lists of "
                                 f"[layer name, node index, tensor index], got {str(v)[:80]}")
        if v and isinstance(v[0], str):  # a single [name, node, tensor]
            flat.append(_tensor_ref(v, source))
            return len(flat) - 1
        return [walk(e, depth + 1) for e in v]

    return flat, walk(value, 0)


def _structure(template):
    """Keras's output nesting, or None when predict returns one array or a flat list."""
    if isinstance(template, int) or all(isinstance(t, int) for t in template):
        return None
    return template


def _functional(body, source, keras_version) -> ModelSpec:
    if not isinstance(body, dict):
        raise ModelFileError(f"{source}: a functional model's config should be an object with layers, input_layers "
                             f"and output_layers, got a {type(body).__name__}")
    specs = []
    for layer in _layer_list(body, source):
        spec = _layer_spec(layer, source)
        inbound = layer.get("inbound_nodes", [])
        if not isinstance(inbound, list) or not all(isinstance(n, (list, dict)) for n in inbound):
            raise ModelFileError(f"{source}: layer {spec.name!r}: inbound_nodes should be a list of calls, got "
                                 f"{str(inbound)[:80]}")
        nodes = [_node_inputs(node, source) for node in inbound]
        spec.inbound = [refs for refs, _ in nodes]
        spec.call_kwargs = [kwargs for _, kwargs in nodes]
        specs.append(spec)
    if not str(keras_version).startswith("3"):
        _tfk_nested_node_offsets(specs)
    inputs, _ = _refs(body.get("input_layers", []), source)
    outputs, template = _refs(body.get("output_layers", []), source)
    if not str(keras_version).startswith("3"):
        inputs, outputs = (_shift_nested(refs, specs) for refs in (inputs, outputs))
    if not inputs or not outputs:
        raise ModelFileError(f"{source}: functional model config lacks input_layers/output_layers")
    return ModelSpec(_name(body.get("name", "model"), source), specs, inputs, outputs, keras_version, source,
                     output_structure=_structure(template))


def _skips_first_node(spec: LayerSpec) -> bool:
    """tf_keras numbers the calls of a nested model that owns an InputLayer from 1 (its node 0 is internal)."""
    if spec.class_name in ("Functional", "Model"):
        return True
    if spec.class_name == "Sequential":
        layers = spec.config.get("layers") or []
        return bool(layers) and layers[0].get("class_name") == "InputLayer"
    return False


def _shift_nested(refs, specs):
    skip = {s.name for s in specs if _skips_first_node(s)}
    return [(n, i - 1, t) if n in skip and i > 0 else (n, i, t) for n, i, t in refs]


def _shift_value(value, skip):
    if isinstance(value, tuple) and value and value[0] == "__tensor__":
        n, i, t = value[1]
        return ("__tensor__", (n, i - 1, t) if n in skip and i > 0 else (n, i, t))
    if isinstance(value, list):
        return [_shift_value(v, skip) for v in value]
    return value


def _tfk_nested_node_offsets(specs) -> None:
    skip = {s.name for s in specs if _skips_first_node(s)}
    if not skip:
        return
    for spec in specs:
        spec.inbound = [_shift_nested(refs, specs) for refs in spec.inbound]
        spec.call_kwargs = [{k: _shift_value(v, skip) for k, v in kw.items()} for kw in spec.call_kwargs]
