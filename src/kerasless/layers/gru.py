"""GRU (keras/src/layers/rnn/gru.py): blocks [z | r | h] in kernel (in, 3u), recurrent_kernel (u, 3u).

reset_after=True (Keras >= 2.3 default): bias (2, 3u), row 0 input bias, row 1 recurrent bias;
    hh = a(x·W_h + b0_h + r * (h·U_h + b1_h))
reset_after=False: bias (3u,);  hh = a(x·W_h + b_h + (r*h)·U_h)
both: z = ra(x·W_z + h·U_z + b_z), r = ra(x·W_r + h·U_r + b_r), h' = z*h + (1-z)*hh
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from . import activations, fastpath
from .activations import ACTIVATIONS
from .base import boolean
from .layout import GRU as LAYOUT
from .recurrent import RNN_OPTIONS, RecurrentLayer


def step(xp_t, states, p):
    """One GRU step: the reference every faster path is tested against."""
    (h,) = states  # (batch, u)
    x = LAYOUT.split(xp_t, p.units)  # gate key -> (batch, u): x·W (+ input bias)
    if p.reset_after:
        hu = h @ p.U  # (batch, 3u)
        if p.recurrent_bias is not None:
            hu += p.recurrent_bias
        rec = LAYOUT.split(hu, p.units)  # gate key -> h·U (+ recurrent bias)
        z = p.ra(x["z"] + rec["z"])
        r = p.ra(x["r"] + rec["r"])
        hh = p.a(x["h"] + r * rec["h"])
    else:
        hz, hr = np.split(h @ p.U_zr, 2, axis=-1)  # U_zr = [U_z | U_r] (setup)
        z = p.ra(x["z"] + hz)
        r = p.ra(x["r"] + hr)
        hh = p.a(x["h"] + (r * h) @ p.U_h)
    h = z * h + (1 - z) * hh
    return h, (h,), {"z": z, "r": r, "hh": hh}


class GRULayer(RecurrentLayer):
    LAYOUT = LAYOUT
    OPTIONS = {**RNN_OPTIONS, "reset_after": boolean}
    step = staticmethod(step)

    def setup(self):
        u, n = self.units, LAYOUT.n_gates
        # Every writer since Keras 2.1 stores reset_after; files older than that predate it (False).
        self.reset_after = self.config.get("reset_after", False)
        bias_shape = [(2, n * u) if self.reset_after else (n * u,)] if self.use_bias else []
        self.expect_weights([(None, n * u), (u, n * u)] + bias_shape)
        self.recurrent_activation = activations.resolve(
            self.config.get("recurrent_activation", "sigmoid"), self.ctx.keras_major, self.name, "recurrent_activation"
        )
        U = self.weights[1]
        bias = self.weights[2] if self.use_bias else None
        self.input_bias = None if bias is None else (bias[0] if self.reset_after else bias)
        blocks = LAYOUT.split(U, u)
        self.params = SimpleNamespace(
            units=u, reset_after=self.reset_after, U=U,
            U_zr=np.concatenate([blocks["z"], blocks["r"]], axis=-1), U_h=np.ascontiguousarray(blocks["h"]),
            recurrent_bias=bias[1] if (bias is not None and self.reset_after) else None,
            a=ACTIVATIONS[self.activation], ra=ACTIVATIONS[self.recurrent_activation],
        )
        p = self.params
        self.params.fast = (fastpath.cell("gru", u, self.activation, self.recurrent_activation, U, rb=p.recurrent_bias,
                                          W=self.weights[0], bx=self.input_bias)
                            if self.reset_after else
                            fastpath.cell("gru_v1", u, self.activation, self.recurrent_activation, p.U_zr, p.U_h,
                                          W=self.weights[0], bx=self.input_bias))
