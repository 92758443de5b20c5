"""Gate order and weight layout of every recurrent cell: the one place predict, explain and exporters read.

Keras stores each gate's weights as a contiguous block of ``units`` columns along the last axis of the kernel,
the recurrent kernel and the bias, in the order below. Also here: the arrays each layer stores (in
``get_weights()`` order), the cell equations (templates that explain fills with the layer's own activations) and
the block orders other frameworks use for the same weights (docs/weight-layouts.md is generated from them).
"""

from __future__ import annotations

from typing import NamedTuple  # records: a NamedTuple class costs ~0.2 ms to create, a frozen dataclass ~1.4


class Gate(NamedTuple):
    key: str  # symbol suffix: W_<key>, U_<key>, b_<key>
    role: str  # "input" | "forget" | "cell" | "output" | "update" | "reset" | "candidate"
    label: str  # words for people
    var: str = ""  # its name in the equations and in a trace (the cell's step returns it under this key)
    math: str = ""  # the textbook symbol, when it differs from var (c̃, h̃)
    act: str = "ra"  # which activation the gate applies: "ra" (recurrent_activation) or "a" (activation)


class Array(NamedTuple):
    """One stored weight array of a layer, in get_weights() order."""

    name: str  # Keras variable name
    symbol: str  # W, U, b, E: named pieces are <symbol>_<gate key>
    label: str  # words for people
    shape: str  # the shape in words ("n" = number of gates)


class CellLayout(NamedTuple):
    gates: tuple[Gate, ...]
    states: tuple[str, ...]  # state names in Keras order (LSTM: h, c)
    # variant -> equation lines; {a} = activation, {ra} = recurrent_activation, [ + b_x] only with use_bias.
    equations: dict

    @property
    def n_gates(self) -> int:
        return len(self.gates)

    def block(self, index: int, units: int) -> slice:
        """Columns of gate ``index`` in a kernel, recurrent kernel or bias."""
        return slice(index * units, (index + 1) * units)

    def split(self, array, units: int) -> dict:
        """{key: array[..., block]} for every gate (views, no copies)."""
        return {g.key: array[..., self.block(i, units)] for i, g in enumerate(self.gates)}

    def blocks(self, units: int) -> dict:
        """{key: slice} of every gate's columns."""
        return {g.key: self.block(i, units) for i, g in enumerate(self.gates)}


RECURRENT_ARRAYS = (
    Array("kernel", "W", "input kernel: x_t -> every gate", "(input_dim, n*units)"),
    Array("recurrent_kernel", "U", "recurrent kernel: h_{t-1} -> every gate", "(units, n*units)"),
    Array("bias", "b", "bias", "(n*units,)"),
)
# GRU(reset_after=True) stores its bias as (2, 3*units): (symbol prefix, words) of each row.
GRU_BIAS_ROWS = (("b", "input bias (added to x_t·W)"), ("br", "recurrent bias (added to h_{t-1}·U)"))
DENSE_ARRAYS = (
    Array("kernel", "W", "kernel: one column per output unit", "(input_dim, units)"),
    Array("bias", "b", "bias", "(units,)"),
)
EMBEDDING_ARRAYS = (Array("embeddings", "E", "embeddings: row k is the vector of token id k", "(input_dim, output_dim)"),)
DENSE_EQUATIONS = ("y = {a}(x·W[ + b])",)
EMBEDDING_EQUATIONS = ("y_t = E[x_t]   (row x_t of E; x_t is a token id)",)

LSTM = CellLayout(
    gates=(
        Gate("i", "input", "input gate", "i"),
        Gate("f", "forget", "forget gate", "f"),
        Gate("c", "cell", "cell candidate", "g", "c̃", "a"),
        Gate("o", "output", "output gate", "o"),
    ),
    states=("h", "c"),
    equations={"default": (
        "i_t = {ra}(x_t·W_i + h_{t-1}·U_i[ + b_i])",
        "f_t = {ra}(x_t·W_f + h_{t-1}·U_f[ + b_f])",
        "g_t = {a}(x_t·W_c + h_{t-1}·U_c[ + b_c])",
        "o_t = {ra}(x_t·W_o + h_{t-1}·U_o[ + b_o])",
        "c_t = f_t * c_{t-1} + i_t * g_t",
        "h_t = o_t * {a}(c_t)",
    )},
)
GRU = CellLayout(
    gates=(
        Gate("z", "update", "update gate", "z"),
        Gate("r", "reset", "reset gate", "r"),
        Gate("h", "candidate", "candidate state", "hh", "h̃", "a"),
    ),
    states=("h",),
    equations={
        "reset_after": (
            "z_t = {ra}(x_t·W_z[ + b_z] + h_{t-1}·U_z[ + br_z])",
            "r_t = {ra}(x_t·W_r[ + b_r] + h_{t-1}·U_r[ + br_r])",
            "hh_t = {a}(x_t·W_h[ + b_h] + r_t * (h_{t-1}·U_h[ + br_h]))",
            "h_t = z_t * h_{t-1} + (1 - z_t) * hh_t",
        ),
        "reset_before": (
            "z_t = {ra}(x_t·W_z + h_{t-1}·U_z[ + b_z])",
            "r_t = {ra}(x_t·W_r + h_{t-1}·U_r[ + b_r])",
            "hh_t = {a}(x_t·W_h + (r_t * h_{t-1})·U_h[ + b_h])",
            "h_t = z_t * h_{t-1} + (1 - z_t) * hh_t",
        ),
    },
)
SIMPLE_RNN = CellLayout(
    gates=(Gate("h", "candidate", "new state", "h", "", "a"),),
    states=("h",),
    equations={"default": ("h_t = {a}(x_t·W_h + h_{t-1}·U_h[ + b_h])",)},
)
CELLS = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SIMPLE_RNN}


class ForeignLayout(NamedTuple):
    """How another framework or an older Keras stores the same cell: its gate blocks, by our gate keys."""

    source: str
    cell: str  # key of CELLS
    order: tuple[str, ...]  # our gate keys in the foreign block order
    arrays: str  # the stored arrays, in words
    to_keras: str  # how to get the Keras 3 arrays


FOREIGN = (
    ForeignLayout("Keras 1 LSTM (consume_less='cpu'/'mem')", "LSTM", ("i", "c", "f", "o"),
                  "12 arrays W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o",
                  "kernel = concat(W_i, W_f, W_c, W_o); likewise U and b (note c before f in the file)"),
    ForeignLayout("Keras 1 GRU", "GRU", ("z", "r", "h"), "9 arrays W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h",
                  "kernel = concat(W_z, W_r, W_h); likewise U and b; GRU(reset_after=False)"),
    ForeignLayout("Keras 2 CuDNNLSTM", "LSTM", ("i", "f", "c", "o"),
                  "kernel (in, 4u), recurrent_kernel (u, 4u), bias (8u,) = input biases then recurrent biases",
                  "bias = bias[:4u] + bias[4u:]; per gate block: kernel k -> k.T.reshape(k.shape, order='F'), "
                  "recurrent k -> k.T"),
    ForeignLayout("Keras 2 CuDNNGRU", "GRU", ("z", "r", "h"),
                  "kernel (in, 3u), recurrent_kernel (u, 3u), bias (6u,) = input biases then recurrent biases",
                  "bias.reshape(2, 3u); per gate block: kernel k -> k.T.reshape(k.shape, order='F'), "
                  "recurrent k -> k.T; GRU(reset_after=True)"),
    ForeignLayout("PyTorch nn.LSTM", "LSTM", ("i", "f", "c", "o"),
                  "weight_ih_l0 (4H, I), weight_hh_l0 (4H, H), bias_ih_l0 (4H,), bias_hh_l0 (4H,); rows i, f, g, o",
                  "kernel = weight_ih.T, recurrent_kernel = weight_hh.T, bias = bias_ih + bias_hh"),
    ForeignLayout("PyTorch nn.GRU", "GRU", ("r", "z", "h"),
                  "weight_ih_l0 (3H, I), weight_hh_l0 (3H, H), bias_ih_l0 (3H,), bias_hh_l0 (3H,); rows r, z, n",
                  "swap the first two row blocks, transpose; bias = stack(bias_ih, bias_hh) reordered; "
                  "GRU(reset_after=True)"),
    ForeignLayout("PyTorch nn.RNN", "SimpleRNN", ("h",),
                  "weight_ih_l0 (H, I), weight_hh_l0 (H, H), bias_ih_l0 (H,), bias_hh_l0 (H,)",
                  "kernel = weight_ih.T, recurrent_kernel = weight_hh.T, bias = bias_ih + bias_hh"),
)
