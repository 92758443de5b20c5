"""LSTM (keras/src/layers/rnn/lstm.py): blocks [i | f | c | o] in kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,).

    z = x·W + h·U + b;  i = ra(z_i)  f = ra(z_f)  g = a(z_c)  o = ra(z_o)
    c' = f*c + i*g;     h' = o*a(c')
"""

from __future__ import annotations

from types import SimpleNamespace

from . import activations, fastpath
from .activations import ACTIVATIONS
from .layout import LSTM as LAYOUT
from .recurrent import RNN_OPTIONS, RecurrentLayer


def step(xp_t, states, p):
    """One LSTM step: the reference. Every faster path (native C, fused NumPy, exports) is tested against it."""
    h, c = states  # (batch, u) each
    z = LAYOUT.split(xp_t + h @ p.U, p.units)  # gate key -> (batch, u)
    i, f, g, o = p.ra(z["i"]), p.ra(z["f"]), p.a(z["c"]), p.ra(z["o"])
    c = f * c + i * g
    h = o * p.a(c)
    return h, (h, c), {"i": i, "f": f, "g": g, "o": o}


class LSTMLayer(RecurrentLayer):
    LAYOUT = LAYOUT
    OPTIONS = RNN_OPTIONS
    step = staticmethod(step)

    def setup(self):
        u, n = self.units, LAYOUT.n_gates
        shapes = [(None, n * u), (u, n * u)] + ([(n * u,)] if self.use_bias else [])
        self.expect_weights(shapes)
        self.recurrent_activation = activations.resolve(
            self.config.get("recurrent_activation", "sigmoid"), self.ctx.keras_major, self.name, "recurrent_activation"
        )
        self.input_bias = self.weights[2] if self.use_bias else None
        self.params = SimpleNamespace(
            units=u, U=self.weights[1], a=ACTIVATIONS[self.activation], ra=ACTIVATIONS[self.recurrent_activation],
            fast=fastpath.cell("lstm", u, self.activation, self.recurrent_activation, self.weights[1],
                               W=self.weights[0], bx=self.input_bias),
        )
