"""Layer registry: Keras class name -> implementation. The one list of what kerasless supports."""

from __future__ import annotations

from ..errors import KeraslessError, ModelFileError, UnsupportedLayerError
from ..io.spec import LayerSpec
from .advanced_activations import ELULayer, LeakyReLULayer, PReLULayer, ReLULayer, SoftmaxLayer, ThresholdedReLULayer
from .attention import AdditiveAttentionLayer, AttentionLayer, MultiHeadAttentionLayer
from .base import Context, Layer
from .bidirectional import BidirectionalLayer
from .conv_lstm import ConvLSTM1DLayer, ConvLSTM2DLayer, ConvLSTM3DLayer
from .conv_transpose import Conv1DTransposeLayer, Conv2DTransposeLayer, Conv3DTransposeLayer
from .convolutional import (
    AdaptiveAveragePooling1DLayer,
    AdaptiveMaxPooling1DLayer,
    AveragePooling1DLayer,
    Conv1DLayer,
    Cropping1DLayer,
    GlobalAveragePooling1DLayer,
    GlobalMaxPooling1DLayer,
    MaxPooling1DLayer,
    SeparableConv1DLayer,
    UpSampling1DLayer,
    ZeroPadding1DLayer,
)
from .core import (
    ActivationLayer,
    FlattenLayer,
    InputLayer,
    MaskingLayer,
    NoOp,
    PermuteLayer,
    RepeatVectorLayer,
    ReshapeLayer,
)
from .dense import DenseLayer, EinsumDenseLayer
from .embedding import EmbeddingLayer
from .gru import GRULayer
from .lstm import LSTMLayer
from .merging import (
    AddLayer,
    AverageLayer,
    ConcatenateLayer,
    DotLayer,
    MaximumLayer,
    MinimumLayer,
    MultiplyLayer,
    SubtractLayer,
)
from .normalization import BatchNormalizationLayer, LayerNormalizationLayer, UnitNormalizationLayer
from .op_activations import OPS, OpActivationLayer
from .ops import AllOp, AnyOp, EqualOp, LogicalAndOp, LogicalOrOp, NotEqualOp
from .pooling_nd import (
    AveragePooling2DLayer,
    AveragePooling3DLayer,
    Cropping2DLayer,
    Cropping3DLayer,
    GlobalAveragePooling2DLayer,
    GlobalAveragePooling3DLayer,
    GlobalMaxPooling2DLayer,
    GlobalMaxPooling3DLayer,
    MaxPooling2DLayer,
    MaxPooling3DLayer,
    UpSampling2DLayer,
    UpSampling3DLayer,
    ZeroPadding2DLayer,
    ZeroPadding3DLayer,
)
from .preprocessing import (
    CategoryEncodingLayer,
    DiscretizationLayer,
    GroupNormalizationLayer,
    NormalizationLayer,
    RescalingLayer,
    RMSNormalizationLayer,
)
from .simple_rnn import SimpleRNNLayer
from .spatial import Conv2DLayer, Conv3DLayer, DepthwiseConv1DLayer, DepthwiseConv2DLayer, SeparableConv2DLayer
from .time_distributed import TimeDistributedLayer
from .wrappers import NestedModelLayer, RNNLayer

REGISTRY: dict[str, type[Layer]] = {
    "InputLayer": InputLayer,
    "LSTM": LSTMLayer,
    "GRU": GRULayer,
    "SimpleRNN": SimpleRNNLayer,
    "Bidirectional": BidirectionalLayer,
    "TimeDistributed": TimeDistributedLayer,
    "Dense": DenseLayer,
    "EinsumDense": EinsumDenseLayer,
    "Embedding": EmbeddingLayer,
    "Masking": MaskingLayer,
    "Activation": ActivationLayer,
    "Flatten": FlattenLayer,
    "Reshape": ReshapeLayer,
    "RepeatVector": RepeatVectorLayer,
    "Permute": PermuteLayer,
    "Dropout": NoOp,
    "SpatialDropout1D": NoOp,
    "SpatialDropout2D": NoOp,
    "SpatialDropout3D": NoOp,
    "Identity": NoOp,
    "ActivityRegularization": NoOp,
    "GaussianNoise": NoOp,
    "GaussianDropout": NoOp,
    "AlphaDropout": NoOp,
    "RNN": RNNLayer,
    "Sequential": NestedModelLayer,
    "Functional": NestedModelLayer,
    "Model": NestedModelLayer,
    "Concatenate": ConcatenateLayer,
    "Add": AddLayer,
    "Subtract": SubtractLayer,
    "Multiply": MultiplyLayer,
    "Average": AverageLayer,
    "Maximum": MaximumLayer,
    "Minimum": MinimumLayer,
    "Dot": DotLayer,
    "Conv1D": Conv1DLayer,
    "SeparableConv1D": SeparableConv1DLayer,
    "MaxPooling1D": MaxPooling1DLayer,
    "AveragePooling1D": AveragePooling1DLayer,
    "GlobalMaxPooling1D": GlobalMaxPooling1DLayer,
    "GlobalAveragePooling1D": GlobalAveragePooling1DLayer,
    "ZeroPadding1D": ZeroPadding1DLayer,
    "Cropping1D": Cropping1DLayer,
    "UpSampling1D": UpSampling1DLayer,
    "AdaptiveAveragePooling1D": AdaptiveAveragePooling1DLayer,
    "AdaptiveMaxPooling1D": AdaptiveMaxPooling1DLayer,
    "Conv2D": Conv2DLayer,
    "Conv3D": Conv3DLayer,
    "Conv1DTranspose": Conv1DTransposeLayer,
    "Conv2DTranspose": Conv2DTransposeLayer,
    "Conv3DTranspose": Conv3DTransposeLayer,
    "DepthwiseConv1D": DepthwiseConv1DLayer,
    "DepthwiseConv2D": DepthwiseConv2DLayer,
    "SeparableConv2D": SeparableConv2DLayer,
    "MaxPooling2D": MaxPooling2DLayer,
    "MaxPooling3D": MaxPooling3DLayer,
    "AveragePooling2D": AveragePooling2DLayer,
    "AveragePooling3D": AveragePooling3DLayer,
    "GlobalMaxPooling2D": GlobalMaxPooling2DLayer,
    "GlobalMaxPooling3D": GlobalMaxPooling3DLayer,
    "GlobalAveragePooling2D": GlobalAveragePooling2DLayer,
    "GlobalAveragePooling3D": GlobalAveragePooling3DLayer,
    "ZeroPadding2D": ZeroPadding2DLayer,
    "ZeroPadding3D": ZeroPadding3DLayer,
    "Cropping2D": Cropping2DLayer,
    "Cropping3D": Cropping3DLayer,
    "UpSampling2D": UpSampling2DLayer,
    "UpSampling3D": UpSampling3DLayer,
    "ConvLSTM1D": ConvLSTM1DLayer,
    "ConvLSTM2D": ConvLSTM2DLayer,
    "ConvLSTM3D": ConvLSTM3DLayer,
    "BatchNormalization": BatchNormalizationLayer,
    "LayerNormalization": LayerNormalizationLayer,
    "UnitNormalization": UnitNormalizationLayer,
    "GroupNormalization": GroupNormalizationLayer,
    "RMSNormalization": RMSNormalizationLayer,
    "Normalization": NormalizationLayer,
    "Rescaling": RescalingLayer,
    "Discretization": DiscretizationLayer,
    "CategoryEncoding": CategoryEncodingLayer,
    "Attention": AttentionLayer,
    "AdditiveAttention": AdditiveAttentionLayer,
    "MultiHeadAttention": MultiHeadAttentionLayer,
    "ReLU": ReLULayer,
    "LeakyReLU": LeakyReLULayer,
    "PReLU": PReLULayer,
    "ELU": ELULayer,
    "ThresholdedReLU": ThresholdedReLULayer,
    "Softmax": SoftmaxLayer,
    "NotEqual": NotEqualOp,
    "Equal": EqualOp,
    "Any": AnyOp,
    "All": AllOp,
    "LogicalAnd": LogicalAndOp,
    "LogicalOr": LogicalOrOp,
    **{name: OpActivationLayer for name in OPS},  # keras.activations.<op>(x) in a functional model
}
# Keras 2 / tf_keras names of the same classes.
ALIASES = {"Convolution1D": "Conv1D", "SeparableConvolution1D": "SeparableConv1D", "MaxPool1D": "MaxPooling1D",
           "AvgPool1D": "AveragePooling1D", "GlobalMaxPool1D": "GlobalMaxPooling1D",
           "GlobalAvgPool1D": "GlobalAveragePooling1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
           "SeparableConvolution2D": "SeparableConv2D", "MaxPool2D": "MaxPooling2D", "MaxPool3D": "MaxPooling3D",
           "AvgPool2D": "AveragePooling2D", "AvgPool3D": "AveragePooling3D", "GlobalMaxPool2D": "GlobalMaxPooling2D",
           "GlobalMaxPool3D": "GlobalMaxPooling3D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
           "GlobalAvgPool3D": "GlobalAveragePooling3D", "Convolution2DTranspose": "Conv2DTranspose",
           "Deconvolution2D": "Conv2DTranspose", "Convolution3DTranspose": "Conv3DTranspose",
           "Deconvolution3D": "Conv3DTranspose"}


def layer_class(class_name: str, where: str = "") -> type[Layer]:
    try:
        return REGISTRY[ALIASES.get(class_name, class_name)]
    except KeyError:
        raise UnsupportedLayerError(
            f"{where}layer class {class_name!r} is not supported; supported: {', '.join(sorted(REGISTRY))}"
        ) from None


def build_layer(spec: LayerSpec, ctx: Context) -> Layer:
    """Build one layer object from its spec (wrappers build their inner layers through the same function)."""
    child = Context(ctx.keras_major, ctx.source, model=ctx.model)
    child.build = lambda s: build_layer(s, child)
    child.layer_class = lambda name, parent: layer_class(name, f"{parent.where()}: inner ")
    cls = layer_class(spec.class_name, f"{ctx.source}: layer {spec.name!r}: ")
    try:
        return cls(spec, child)
    except KeraslessError as exc:
        if ctx.source and ctx.source not in str(exc):  # an activation or cell check that did not know the file
            raise type(exc)(f"{ctx.source}: layer {spec.name!r} ({spec.class_name}): {exc}") from None
        raise
    except (TypeError, KeyError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        # A config value of the wrong type or a missing key that no explicit check named: still the file's fault.
        raise ModelFileError(f"{ctx.source}: layer {spec.name!r} ({spec.class_name}): malformed config or weights "
                             f"({type(exc).__name__}: {str(exc)[:160]})") from exc


def supported_table() -> str:
    """The README's supported-layers table (markdown), generated from REGISTRY and each class's OPTIONS_DOC.

    Example:
        >>> print(kerasless.layers.supported_table())
    """
    by_impl: dict = {}
    for name, cls in REGISTRY.items():
        by_impl.setdefault(cls, []).append(name)
    rows = ["| Keras layer | Implementation | Options / notes |", "|---|---|---|"]
    for name in sorted(REGISTRY, key=str.lower):
        cls = REGISTRY[name]
        doc = cls.OPTIONS_DOC or ", ".join(k for k in sorted(cls.OPTIONS) if not k.endswith(("initializer",
                                           "regularizer", "constraint")))
        if cls is NoOp:
            doc = "identity at inference"
        rows.append(f"| `{name}` | `{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}` | {doc or '—'} |")
    return "\n".join(rows) + "\n"


__all__ = ["REGISTRY", "Context", "Layer", "build_layer", "layer_class", "supported_table"]
