"""Layer registry: Keras class name -> implementation. The one list of what kerasless supports."""

from __future__ import annotations

from ..errors import UnsupportedLayerError
from ..io.spec import LayerSpec
from .base import Context, Layer
from .bidirectional import BidirectionalLayer
from .core import (ActivationLayer, FlattenLayer, InputLayer, MaskingLayer, NoOp, PermuteLayer, RepeatVectorLayer,
                   ReshapeLayer)
from .dense import DenseLayer
from .embedding import EmbeddingLayer
from .gru import GRULayer
from .lstm import LSTMLayer
from .simple_rnn import SimpleRNNLayer
from .time_distributed import TimeDistributedLayer

REGISTRY: dict[str, type[Layer]] = {
    "InputLayer": InputLayer,
    "LSTM": LSTMLayer,
    "GRU": GRULayer,
    "SimpleRNN": SimpleRNNLayer,
    "Bidirectional": BidirectionalLayer,
    "TimeDistributed": TimeDistributedLayer,
    "Dense": DenseLayer,
    "Embedding": EmbeddingLayer,
    "Masking": MaskingLayer,
    "Activation": ActivationLayer,
    "Flatten": FlattenLayer,
    "Reshape": ReshapeLayer,
    "RepeatVector": RepeatVectorLayer,
    "Permute": PermuteLayer,
    "Dropout": NoOp,
    "SpatialDropout1D": NoOp,
    "GaussianNoise": NoOp,
    "GaussianDropout": NoOp,
    "AlphaDropout": NoOp,
}


def layer_class(class_name: str, where: str = "") -> type[Layer]:
    try:
        return REGISTRY[class_name]
    except KeyError:
        hint = " (a nested model; nested models are not supported yet)" if class_name in (
            "Sequential", "Functional", "Model") else ""
        raise UnsupportedLayerError(
            f"{where}layer class {class_name!r} is not supported{hint}; supported: {', '.join(sorted(REGISTRY))}"
        ) from None


def build_layer(spec: LayerSpec, ctx: Context) -> Layer:
    """Build one layer object from its spec (wrappers build their inner layers through the same function)."""
    child = Context(ctx.keras_major, ctx.source)
    child.build = lambda s: build_layer(s, child)
    child.layer_class = lambda name, parent: layer_class(name, f"{parent.where()}: inner ")
    return layer_class(spec.class_name, f"{ctx.source}: layer {spec.name!r}: ")(spec, child)


__all__ = ["REGISTRY", "Context", "Layer", "build_layer", "layer_class"]
