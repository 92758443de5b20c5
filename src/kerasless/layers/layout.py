"""Gate order and weight layout of every recurrent cell: the one place predict, explain and exporters read.

Keras stores each gate's weights as a contiguous block of ``units`` columns along the last axis of the kernel,
the recurrent kernel and the bias, in the order below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gate:
    key: str  # symbol suffix: W_<key>, U_<key>, b_<key>
    role: str  # "input" | "forget" | "cell" | "output" | "update" | "reset" | "candidate"
    label: str  # words for people


@dataclass(frozen=True)
class CellLayout:
    gates: tuple[Gate, ...]
    states: tuple[str, ...]  # state names in Keras order (LSTM: h, c)

    @property
    def n_gates(self) -> int:
        return len(self.gates)

    def block(self, index: int, units: int) -> slice:
        """Columns of gate ``index`` in a kernel, recurrent kernel or bias."""
        return slice(index * units, (index + 1) * units)

    def split(self, array, units: int) -> dict:
        """{key: array[..., block]} for every gate."""
        return {g.key: array[..., self.block(i, units)] for i, g in enumerate(self.gates)}


LSTM = CellLayout(
    gates=(
        Gate("i", "input", "input gate"),
        Gate("f", "forget", "forget gate"),
        Gate("c", "cell", "cell candidate"),
        Gate("o", "output", "output gate"),
    ),
    states=("h", "c"),
)
GRU = CellLayout(
    gates=(
        Gate("z", "update", "update gate"),
        Gate("r", "reset", "reset gate"),
        Gate("h", "candidate", "candidate state"),
    ),
    states=("h",),
)
SIMPLE_RNN = CellLayout(gates=(Gate("h", "candidate", "new state"),), states=("h",))
