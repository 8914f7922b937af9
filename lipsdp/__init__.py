"""lipsdp: certified upper bounds on the Lipschitz constant of feed-forward neural networks.

>>> import lipsdp
>>> net = lipsdp.Network(weights, slopes=(0.0, 1.0))
>>> res = lipsdp.solve(net, variant="full", multipliers="neuron", solver="clarabel")
>>> res.value, res.certified
"""

from .api import MULTIPLIERS, solve
from .bounds import (
    ACTIVATIONS,
    Activation,
    BracketResult,
    LowerBoundResult,
    bracket,
    lower_bound,
)
from .certify import certify
from .closed_form import CLOSED_FORM_METHODS, closed_form, naive_bound
from .conv import Conv2d, LayerNormResult, layer_norm_bound
from .examples import ExampleModel, digits_model, digits_network
from .io import example_network, load, load_affine, load_network, load_weights, save
from .memory import MemoryEstimate, MemoryLimitError, estimate_memory
from .network import RELU, Network
from .result import Certificate, LipschitzResult, Status
from .robustness import (
    RadiusResult,
    certified_accuracy,
    certified_radius,
    forward,
    margin_network,
    select_outputs,
)
from .solver_choice import choose_solver, choose_solver_for_side
from .variants import VARIANTS

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "CLOSED_FORM_METHODS",
    "MULTIPLIERS",
    "RELU",
    "VARIANTS",
    "Activation",
    "BracketResult",
    "Certificate",
    "Conv2d",
    "ExampleModel",
    "LayerNormResult",
    "LipschitzResult",
    "LowerBoundResult",
    "MemoryEstimate",
    "MemoryLimitError",
    "Network",
    "RadiusResult",
    "Status",
    "bracket",
    "certified_accuracy",
    "certified_radius",
    "certify",
    "choose_solver",
    "choose_solver_for_side",
    "closed_form",
    "digits_model",
    "digits_network",
    "estimate_memory",
    "example_network",
    "forward",
    "layer_norm_bound",
    "load",
    "load_affine",
    "load_network",
    "load_weights",
    "lower_bound",
    "margin_network",
    "naive_bound",
    "save",
    "select_outputs",
    "solve",
]
