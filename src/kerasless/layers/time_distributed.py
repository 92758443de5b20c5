"""TimeDistributed: apply the wrapped layer to every timestep (batch, time, ...) -> (batch, time, ...)."""

from __future__ import annotations

from ..errors import ModelFileError, UnsupportedOptionError
from ..io.spec import LayerSpec
from .base import Layer, anything
from .recurrent import RecurrentLayer


class TimeDistributedLayer(Layer):
    OPTIONS = {"layer": anything}

    def __init__(self, spec, ctx):
        super().__init__(spec, ctx)
        inner = self.config["layer"]
        self.inner = ctx.build(LayerSpec(f"{self.name}/{inner['config'].get('name', 'layer')}", inner["class_name"],
                                         dict(inner["config"]), spec.weights))

    @classmethod
    def n_weights(cls, config):
        from . import layer_class

        inner = config["layer"]
        return layer_class(inner["class_name"]).n_weights(inner.get("config", {}))

    def check_input(self, input_shape):
        if len(input_shape) < 3:
            raise ModelFileError(f"{self.where()}: needs input (batch, time, ...), got {input_shape}")
        self.inner.check_input((None, *input_shape[2:]))

    def output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], *self.inner.output_shape((None, *input_shape[2:]))[1:])

    def call(self, x, mask=None):
        if mask is not None and isinstance(self.inner, RecurrentLayer):
            raise UnsupportedOptionError(f"{self.where()}: a masked input to TimeDistributed({self.inner.class_name}) "
                                         "is not supported")
        b, t = x.shape[:2]
        y = self.inner.call(x.reshape(b * t, *x.shape[2:]))  # (batch*time, ...)
        return y.reshape(b, t, *y.shape[1:])

    def parts(self):
        return [(None, self.inner)]

    def explain_text(self, inner):
        return (f"{self.inner.class_name}{f'({inner})' if inner else ''} applied to every step k of axis 1",
                ["the same weights serve every step k: y[:, k] = inner(x[:, k])"])
