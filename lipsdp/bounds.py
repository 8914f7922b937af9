"""Lower bounds and brackets (docs/math.md §6): a re-export of :mod:`lipsdp.activations`,
:mod:`lipsdp.lower_bounds` and :mod:`lipsdp.bracketing`, where they are defined."""

from .activations import ACTIVATIONS, Activation
from .bracketing import bracket, supports_gap_tol
from .lower_bounds import LOWER_BOUND_METHODS, lower_bound
from .result import BracketResult, LowerBoundResult

__all__ = [
    "ACTIVATIONS",
    "LOWER_BOUND_METHODS",
    "Activation",
    "BracketResult",
    "LowerBoundResult",
    "bracket",
    "lower_bound",
    "supports_gap_tol",
]
