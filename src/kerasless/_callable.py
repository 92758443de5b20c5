"""Callable modules: ``kerasless.export(...)`` and ``kerasless.explain(...)`` are functions and packages at once,
loaded on first use so ``import kerasless`` stays light (cold start)."""

from __future__ import annotations

import sys
import types


def make_callable(module_name: str, fn) -> None:
    """Calling module ``module_name`` calls ``fn``; it stays an ordinary module for imports and attributes."""
    sys.modules[module_name].__class__ = type("CallableModule", (types.ModuleType,),
                                              {"__call__": lambda self, *a, **k: fn(*a, **k), "__doc__": fn.__doc__})
