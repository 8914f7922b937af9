"""A trained network bundled with the package: an MLP on scikit-learn's digits (issue 18 item 5).

``lipsdp/data/digits.npz`` is written by ``python experiments/digits.py --bundle
lipsdp/data/digits.npz``: the 64-32-32-10 ReLU network trained there with weight decay (plain
NumPy, Adam, seeded), its weights ``W0..W2`` and biases ``b0..b2``, and the 540 held-out test
images of that script's split as raw pixels 0..16 (``test_pixels``, flattened) with their labels
(``test_labels``). :func:`lipsdp.load_weights` reads the weights and skips the rest (1-D arrays),
so the file is also a plain weights file (``lipsdp solve lipsdp/data/digits.npz``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from .network import Network

__all__ = ["ExampleModel", "digits_model", "digits_network"]

#: Pixel values of the digits data run 0..16; the network was trained on ``pixels / 16``.
_DIGITS_PIXEL_MAX = 16.0


@dataclass(frozen=True, eq=False)
class ExampleModel:
    """A trained classifier: the network, what it needs besides its weights, and test data.

    Attributes
    ----------
    network : Network
        Weights and slopes (ReLU ``(0, 1)``).
    biases : tuple of ndarray
        ``b_0 ... b_l`` (read-only), as :func:`lipsdp.certified_radius` and
        :func:`lipsdp.forward` take them.
    activation : str
        The hidden activation's name in :data:`lipsdp.ACTIVATIONS`.
    x_test : ndarray, shape (n_test, n_0)
        Held-out inputs (read-only), scaled as in training.
    y_test : ndarray of int, shape (n_test,)
        Their labels (read-only).
    """

    network: Network
    biases: tuple[np.ndarray, ...]
    activation: str
    x_test: np.ndarray
    y_test: np.ndarray


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def digits_model() -> ExampleModel:
    """The bundled digits classifier (64-32-32-10, ReLU) with its biases and 540 test images.

    Returns
    -------
    ExampleModel

    Examples
    --------
    >>> import lipsdp
    >>> m = lipsdp.digits_model()
    >>> m.network.widths, m.x_test.shape
    ((64, 32, 32, 10), (540, 64))
    >>> res = lipsdp.certified_radius(m.network, m.x_test, m.y_test, biases=m.biases)
    >>> res.certified
    True
    """
    ref = resources.files("lipsdp") / "data" / "digits.npz"
    with resources.as_file(ref) as p, np.load(p, allow_pickle=False) as data:
        n_layers = sum(1 for k in data.files if k.startswith("W"))
        weights = [data[f"W{k}"] for k in range(n_layers)]
        biases = tuple(_read_only(data[f"b{k}"].astype(np.float64)) for k in range(n_layers))
        pixels = data["test_pixels"].astype(np.float64)
        labels = data["test_labels"].astype(np.intp)
    n0 = weights[0].shape[1]
    x = pixels.reshape(-1, n0) / _DIGITS_PIXEL_MAX
    return ExampleModel(network=Network(weights), biases=biases, activation="relu",
                        x_test=_read_only(x), y_test=_read_only(labels))


def digits_network() -> Network:
    """The bundled digits classifier's :class:`Network` (64-32-32-10, ReLU; LMI side 96).

    The same weights as ``lipsdp.load_network`` reads from ``lipsdp/data/digits.npz``; see
    :func:`digits_model` for its biases and test images.
    """
    return digits_model().network
