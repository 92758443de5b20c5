"""Keras model config JSON (Keras 3, tf.keras 2.x, Keras 2.2) -> ModelSpec without weights."""

from __future__ import annotations

from ..errors import ModelFileError, UnsafeModelError
from .spec import LayerSpec, ModelSpec

MODEL_CLASSES = ("Sequential", "Functional", "Model")
# Classes whose config holds serialized Python code or names code we would have to import.
CODE_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda")


def parse_model_config(config: dict, source: str, keras_version: str = "3") -> ModelSpec:
    """Turn a top-level model config (``{"class_name": ..., "config": ...}``) into a ModelSpec."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelFileError(f"{source}: model config has no 'class_name'; is this a Keras model file?")
    check_safe(config, source)
    cls = config["class_name"]
    body = config.get("config", {})
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
    return layers


def _sequential(body, source, keras_version) -> ModelSpec:
    layers = _layer_list(body, source)
    name = body.get("name", "sequential") if isinstance(body, dict) else "sequential"
    specs: list[LayerSpec] = []
    first = layers[0] if layers else None
    if first is None:
        raise ModelFileError(f"{source}: Sequential model has no layers")
    if first.get("class_name") != "InputLayer":
        # Keras 2 put the input shape on the first layer (batch_input_shape); make the InputLayer explicit.
        cfg = first.get("config", {})
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
    return ModelSpec(name, specs, [(specs[0].name, 0, 0)], [(specs[-1].name, 0, 0)], keras_version, source)


def _layer_spec(layer: dict, source: str) -> LayerSpec:
    if not isinstance(layer, dict) or "class_name" not in layer:
        raise ModelFileError(f"{source}: malformed layer entry in model config: {str(layer)[:80]}")
    cfg = dict(layer.get("config") or {})
    name = layer.get("name") or cfg.get("name") or layer["class_name"].lower()
    cfg.setdefault("name", name)
    if "build_config" in layer:
        cfg["_build_config"] = layer["build_config"]
    return LayerSpec(name, layer["class_name"], cfg)


def _tensor_ref(ref, source) -> tuple[str, int, int]:
    if isinstance(ref, dict):  # Keras 3: {"class_name": "__keras_tensor__", "config": {"keras_history": [...]}}
        ref = ref.get("config", {}).get("keras_history")
    if not isinstance(ref, (list, tuple)) or len(ref) < 3:
        raise ModelFileError(f"{source}: cannot read a tensor reference {str(ref)[:80]}")
    return (str(ref[0]), int(ref[1]), int(ref[2]))


def _node_inputs(node, source) -> tuple[list[tuple[str, int, int]], dict]:
    """One call of a layer -> (positional tensor refs, flattened; keyword arguments with tensors as refs)."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        refs, const = [], []
        for pos, arg in enumerate(node.get("args", [])):
            if isinstance(arg, (int, float)) and not isinstance(arg, bool):  # ops layers: NotEqual(x, 0.0)
                const.append((pos, arg))
                continue
            items = arg if isinstance(arg, list) else [arg]
            refs.extend(_tensor_ref(a, source) for a in items)
        kwargs = {k: _kwarg_value(v, source, keras3=True) for k, v in (node.get("kwargs") or {}).items()}
        if const:
            kwargs["__const__"] = const
        return refs, kwargs
    # Keras 2: [[layer, node, tensor, kwargs], ...]; tf_keras passes RNN initial states as extra entries
    refs, kwargs = [], {}
    for entry in node:
        if len(entry) > 3 and entry[3]:
            kwargs.update({k: _kwarg_value(v, source, keras3=False) for k, v in entry[3].items()})
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


def _refs(value, source) -> list[tuple[str, int, int]]:
    """input_layers / output_layers: one [name, node, tensor], or a (possibly nested) list of them -> flat list."""
    if value and isinstance(value[0], str):  # a single [name, node, tensor]
        return [_tensor_ref(value, source)]
    out = []
    for v in value:
        out.extend(_refs(v, source) if isinstance(v, list) and v and isinstance(v[0], list) else
                   [_tensor_ref(v, source)])
    return out


def _functional(body, source, keras_version) -> ModelSpec:
    specs = []
    for layer in _layer_list(body, source):
        spec = _layer_spec(layer, source)
        nodes = [_node_inputs(node, source) for node in layer.get("inbound_nodes", [])]
        spec.inbound = [refs for refs, _ in nodes]
        spec.call_kwargs = [kwargs for _, kwargs in nodes]
        specs.append(spec)
    if not str(keras_version).startswith("3"):
        _tfk_nested_node_offsets(specs)
    inputs = _refs(body.get("input_layers", []), source)
    outputs = _refs(body.get("output_layers", []), source)
    if not str(keras_version).startswith("3"):
        inputs, outputs = (_shift_nested(refs, specs) for refs in (inputs, outputs))
    if not inputs or not outputs:
        raise ModelFileError(f"{source}: functional model config lacks input_layers/output_layers")
    return ModelSpec(body.get("name", "model"), specs, inputs, outputs, keras_version, source)


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
