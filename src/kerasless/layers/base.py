"""Layer base class: config validation that refuses unknown options, weight checks, shape inference."""

from __future__ import annotations

import numpy as np

from ..errors import ModelFileError, UnsupportedOptionError
from ..io.spec import LayerSpec

# Config keys that never change inference results.
INERT = {
    "name", "trainable", "dtype", "_build_config", "batch_input_shape", "batch_shape", "input_shape", "input_dim",
    "input_length", "kernel_initializer", "recurrent_initializer", "bias_initializer", "embeddings_initializer",
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
    "embeddings_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "embeddings_constraint",
    "unit_forget_bias", "seed", "lora_rank", "lora_alpha", "quantization_config", "gamma_initializer",
}
FLOAT32 = ("float32", None)


def dtype_name(value) -> str | None:
    if isinstance(value, dict):  # Keras 3 DTypePolicy
        return value.get("config", {}).get("name")
    return value


class Context:
    """What a layer needs to know about the file it came from. (A plain class: see io/spec.py.)"""

    __slots__ = ("keras_major", "source", "build", "layer_class", "model")

    def __init__(self, keras_major: int = 3, source: str = "<memory>", build=None, layer_class=None, model=None):
        self.keras_major, self.source = keras_major, source
        self.build = build  # callable(LayerSpec) -> Layer, for wrappers that hold layers
        self.layer_class = layer_class  # callable(class_name, parent) -> Layer subclass
        self.model = model  # callable(ModelSpec) -> Model, for a model used as a layer (graph.Model sets it)


class Layer:
    """One Keras layer. Subclasses declare OPTIONS (config key -> allowed values, or a predicate) and implement
    ``call(x, mask)``; ``compute_mask`` passes the mask on unless ``supports_masking`` is False."""

    OPTIONS: dict = {}
    DTYPES = FLOAT32  # accepted compute dtypes
    supports_masking = True
    LIST_INPUT = False  # called on a list of tensors (merges, Attention): call gets lists of arrays and masks
    CALL_KWARGS = frozenset({"training", "mask"})  # keyword arguments a call may carry in the model config
    # One line for the README's supported-layers table (options worth naming); the class docstring otherwise.
    OPTIONS_DOC = ""

    def __init__(self, spec: LayerSpec, ctx: Context):
        self.name = spec.name
        self.class_name = spec.class_name
        self.config = spec.config
        self.ctx = ctx
        self.weight_names = [n for n, _ in spec.weights]
        self.weights = [np.ascontiguousarray(w, dtype=np.float32) for _, w in spec.weights]
        for name, w in zip(self.weight_names, self.weights):
            if 0 in w.shape:  # no Keras layer has an empty weight (units, filters, vocabularies are positive)
                raise ModelFileError(f"{self.where()}: weight {name!r} has the empty shape {w.shape}")
        self._check_options()

    # -- validation -------------------------------------------------------------------------------------------
    def where(self) -> str:
        return f"{self.ctx.source}: layer {self.name!r} ({self.class_name})"

    # -- the layer tree and carried state (what graph, trace, explain and export walk) -----------------------------
    stateful = False  # carries state between predict calls (recurrent layers: from their config)

    def parts(self) -> list[tuple[str | None, Layer]]:
        """The layers this one runs, each with the prefix its weights take in explain and named_weights
        (Bidirectional: forward/backward; stacked cells: cell_k; TimeDistributed: None, the inner layer's own)."""
        return []

    def children(self) -> list[Layer]:
        """The layers this one runs: Bidirectional's halves, TimeDistributed's inner layer, a nested model's layers."""
        return [layer for _, layer in self.parts()]

    def walk(self):
        """This layer, then every layer under it, depth first."""
        yield self
        for child in self.children():
            yield from child.walk()

    # -- what explain reads -------------------------------------------------------------------------------------
    ARRAYS: tuple = ()  # layout.Array records of the stored weights, in get_weights() order
    EQUATIONS: tuple = ()  # equation templates ({a} = the layer's activation; [ + b] only with a bias)

    def named_weights(self) -> dict[str, np.ndarray]:
        """Named pieces of the real weights (W, b, E; W_i, U_f ... for recurrent cells), views not copies."""
        if self.parts():
            return {f"{p}/{k}" if p else k: v for p, layer in self.parts() for k, v in layer.named_weights().items()}
        return {a.symbol: w for a, w in zip(self.ARRAYS, self.weights)}

    def explain_text(self, inner: str) -> tuple[str, list[str]]:
        """(one-line summary, notes) for explain; ``inner`` is the summary of the parts, when there are any."""
        return inner or ("no weights" if not self.weights else f"{len(self.weights)} weight arrays"), []

    def reset_states(self) -> None:
        """Forget carried state (Keras ``reset_state()``), here and below."""
        for child in self.children():
            child.reset_states()

    def _check_options(self) -> None:
        dtype = dtype_name(self.config.get("dtype"))
        if dtype not in self.DTYPES:
            raise UnsupportedOptionError(f"{self.where()}: dtype={dtype!r} is not supported (float32 only)")
        for key, value in self.config.items():
            if key in INERT:
                continue
            if key not in self.OPTIONS:
                raise UnsupportedOptionError(
                    f"{self.where()}: option {key}={value!r} is not understood by kerasless; refusing rather than "
                    "guessing what it does"
                )
            allowed = self.OPTIONS[key]
            ok = allowed(value) if callable(allowed) else (allowed is None or value in allowed)
            if not ok:
                raise UnsupportedOptionError(f"{self.where()}: option {key}={value!r} is not supported")

    def expect_weights(self, shapes: list[tuple]) -> None:
        """Check the stored weights against the shapes the config implies (None = any size)."""
        got = [w.shape for w in self.weights]
        ok = len(got) == len(shapes) and all(
            len(g) == len(s) and all(e is None or e == d for e, d in zip(s, g)) for g, s in zip(got, shapes)
        )
        if not ok:
            raise ModelFileError(f"{self.where()}: expected weights of shapes {shapes}, the file has {got}")

    def check_call_kwargs(self, kwargs: dict) -> None:
        """Refuse (at load) a call keyword argument this layer does not implement."""
        for key, value in kwargs.items():
            if key not in self.CALL_KWARGS:
                raise UnsupportedOptionError(f"{self.where()}: the call passes {key}={str(value)[:60]}, which kerasless "
                                             "does not support for this layer")

    @classmethod
    def n_weights(cls, config: dict) -> int:
        """How many arrays the layer stores (to split a nested model's flat weight list)."""
        return 0

    # -- inference ----------------------------------------------------------------------------------------------
    def compute_mask(self, x, mask):
        return mask if self.supports_masking else None

    def output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    def check_input(self, input_shape: tuple) -> None:
        """Raise ModelFileError when the incoming shape cannot work with the weights (called at load)."""


def keep_masked(keep, y, new, prev, old, zero_output_for_mask=False):
    """Keras's mask rule for one recurrent step, where ``keep`` (batch,) is False: every state keeps its old value
    and the output repeats the previous one (zeros with zero_output_for_mask). Returns (y, new states)."""
    keep = keep.reshape(-1, *(1,) * (y.ndim - 1))  # (batch, 1) (ConvLSTM: (batch, 1, 1, 1))
    y = np.where(keep, y, np.float32(0) if zero_output_for_mask else prev)
    return y, tuple(np.where(keep, n, o) for n, o in zip(new, old))


def matmul_last(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x (..., k) · w (k, n) -> (..., n) as ONE 2-D BLAS call (a stacked 3-D matmul is many small ones)."""
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[1])


def positive_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def boolean(v) -> bool:
    return isinstance(v, bool)


def anything(v) -> bool:
    return True
