"""SimpleRNN (keras/src/layers/rnn/simple_rnn.py): kernel (in, u), recurrent_kernel (u, u), bias (u,);
h' = a(x·W + b + h·U)."""

from __future__ import annotations

from types import SimpleNamespace

from . import fastpath
from .activations import ACTIVATIONS
from .layout import SIMPLE_RNN as LAYOUT
from .recurrent import RNN_OPTIONS, RecurrentLayer


def step(xp_t, states, p):
    """One SimpleRNN step: the reference every faster path is tested against."""
    (h,) = states  # (batch, u)
    h = p.a(xp_t + h @ p.U)
    return h, (h,), {}


class SimpleRNNLayer(RecurrentLayer):
    LAYOUT = LAYOUT
    OPTIONS = {k: v for k, v in RNN_OPTIONS.items() if k != "recurrent_activation"}
    step = staticmethod(step)

    def setup(self):
        u = self.units
        self.expect_weights([(None, u), (u, u)] + ([(u,)] if self.use_bias else []))
        self.input_bias = self.weights[2] if self.use_bias else None
        self.params = SimpleNamespace(units=u, U=self.weights[1], a=ACTIVATIONS[self.activation],
                                      fast=fastpath.cell("simple_rnn", u, self.activation, None, self.weights[1],
                                                        W=self.weights[0], bx=self.input_bias))
