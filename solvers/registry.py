"""Which backends exist, whether they are installed, and what to install when they are not.

Names are ``"clarabel"``, ``"scs"``, ``"cvxpy:<NAME>"`` for any cvxpy solver that handles
semidefinite constraints (``NAME`` case-insensitive, normalised to upper case), and whatever
:func:`register` added.  Nothing here imports a solver: installation is checked with
:func:`importlib.util.find_spec`, so :func:`check_solver` is cheap.  Only :func:`available`
imports cvxpy, to ask it which of its solvers are installed.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

__all__ = [
    "BackendSpec",
    "Capabilities",
    "SolverNotInstalledError",
    "UnknownSolverError",
    "available",
    "capabilities",
    "check_solver",
    "get_spec",
    "is_installed",
    "known",
    "register",
]


class UnknownSolverError(ValueError):
    """The name is not a known backend (a typo, or a solver cvxpy has never heard of)."""


class SolverNotInstalledError(ImportError, ValueError):
    """The backend is known but cannot be imported here; the message says what to install."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond ``solve(problem, options, warm_start)``.

    Attributes
    ----------
    callback : bool
        Takes ``options["callback"]``, a function ``callback(x, info) -> bool`` called after
        every iteration; returning True stops the solve (an anytime method) with status
        ``OPTIMAL_INACCURATE`` and native status :data:`solvers.result.STOPPED_BY_CALLBACK`.
    warm_start : bool
        Uses the ``warm_start`` point (the others ignore it).
    dual_on_pattern : bool
        Returns the dual on its sparsity pattern, ``info["dual_banded"]`` (a
        :class:`~solvers.problem.BandedMatrix`), for a single-block problem.
    schur_callback : bool
        Takes ``options["schur_callback"]``, a function ``schur_callback(iteration, H, info)``
        shown every Newton (Schur) matrix the method factors.
    single_thread_max_side : int or None
        Threading policy: LMIs whose largest block side is at most this are solved on one BLAS
        thread (:meth:`blas_threads`); None where the backend declares no such limit.
    """

    callback: bool = False
    warm_start: bool = False
    dual_on_pattern: bool = False
    schur_callback: bool = False
    single_thread_max_side: int | None = None

    def __post_init__(self) -> None:
        for attr in ("callback", "warm_start", "dual_on_pattern", "schur_callback"):
            if not isinstance(getattr(self, attr), bool):
                raise TypeError(
                    f"Capabilities.{attr} is {getattr(self, attr)!r}; expected True or False"
                )
        side = self.single_thread_max_side
        if side is not None and (isinstance(side, bool) or not isinstance(side, int) or side < 1):
            raise ValueError(
                f"Capabilities.single_thread_max_side is {side!r}; expected a positive integer "
                "or None"
            )

    def blas_threads(self, side: int) -> int | None:
        """BLAS threads for an LMI of this (largest block) side: 1 up to
        ``single_thread_max_side``, else None (the caller's setting)."""
        limit = self.single_thread_max_side
        return 1 if limit is not None and side <= limit else None


@dataclass(frozen=True)
class BackendSpec:
    """How to reach one backend.

    Attributes
    ----------
    name : str
        Normalised registry name.
    module : str
        Dotted path of the module exposing ``solve(problem, options, warm_start)``.
    requires : tuple of str
        Top-level modules that must be importable for the backend to work.
    pip_hint : str
        What to run (or obtain) to install it.
    cvxpy_solver : str or None
        For ``cvxpy:<NAME>`` backends, the cvxpy solver name, passed to the module's ``solve``
        as ``solver=``.
    capabilities : Capabilities
        What the backend can do besides solving (none declared by default).
    """

    name: str
    module: str
    requires: tuple[str, ...]
    pip_hint: str
    cvxpy_solver: str | None = None
    capabilities: Capabilities = Capabilities()

    def __post_init__(self) -> None:
        for attr in ("name", "module", "pip_hint"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"BackendSpec.{attr} is {value!r}; expected a non-empty string")
        if not _MODULE_RE.fullmatch(self.module):
            raise ValueError(
                f"BackendSpec.module is {self.module!r}; expected a dotted module path "
                "such as 'mypackage.my_backend'"
            )
        object.__setattr__(self, "requires", tuple(self.requires))
        if not isinstance(self.capabilities, Capabilities):
            raise TypeError(
                f"BackendSpec.capabilities is a {type(self.capabilities).__name__}; "
                "expected a Capabilities"
            )

    def is_installed(self) -> bool:
        """Whether every required module can be found (nothing is imported)."""
        return all(_findable(module) for module in self.requires)


_MODULE_RE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_CVXPY_PREFIX = "cvxpy:"
_CVXPY_BACKEND = "lipsdp_solvers.backends.cvxpy_backend"

_REGISTRY: dict[str, BackendSpec] = {
    "clarabel": BackendSpec(
        name="clarabel",
        module="lipsdp_solvers.backends.clarabel_backend",
        requires=("clarabel",),
        pip_hint="pip install clarabel",
    ),
    "scs": BackendSpec(
        name="scs",
        module="lipsdp_solvers.backends.scs_backend",
        requires=("scs",),
        pip_hint="pip install scs",
        capabilities=Capabilities(warm_start=True),
    ),
    "banded-ipm": BackendSpec(
        name="banded-ipm",
        module="lipsdp_solvers.backends.banded_backend",
        requires=("scipy", "threadpoolctl"),
        pip_hint="pip install scipy threadpoolctl",
        # Its kernels always run on one BLAS thread (the Schur factor on the caller's): no
        # side limit to declare.
        capabilities=Capabilities(callback=True, warm_start=True, dual_on_pattern=True,
                                  schur_callback=True),
    ),
    "lowrank-ipm": BackendSpec(
        name="lowrank-ipm",
        module="lipsdp_solvers.backends.ipm_backend",
        requires=("scipy", "threadpoolctl"),
        pip_hint="pip install scipy threadpoolctl",
        # Small dense kernels gain little from BLAS threads and lose badly when the cores are
        # busy (measured: 0.3 s on one thread against 14 s on two for a side-140 LMI on a
        # loaded 2-core machine).
        capabilities=Capabilities(callback=True, warm_start=True, schur_callback=True,
                                  single_thread_max_side=800),
    ),
}

#: Every solver name cvxpy 1.9 knows (``cvxpy.settings.SOLVERS``).  A name outside this list is
#: looked up in the installed cvxpy itself, so newer cvxpy versions still work.
_CVXPY_KNOWN = frozenset(
    """CLARABEL ECOS CVXOPT GLOP GLPK GLPK_MI SCS SDPA GUROBI OSQP CPLEX MOSEK MOREAU CBC COPT
    XPRESS PIQP PROXQP QOCO QPALM NAG PDLP SCIP SCIPY DAQP HIGHS MPAX CUCLARABEL CUOPT KNITRO
    COSMO PDCS IPOPT UNO""".split()
)

#: cvxpy solvers that accept PSD constraints: the module whose presence means "installed", and
#: how to get it.  (cvxpy 1.9: SUPPORTED_CONSTRAINTS contains PSD or SvecPSD.)
_CVXPY_SDP: dict[str, tuple[str, str]] = {
    "CLARABEL": ("clarabel", "pip install clarabel"),
    "SCS": ("scs", "pip install scs"),
    "CVXOPT": ("cvxopt", "pip install cvxopt"),
    "SDPA": ("sdpap", "pip install sdpa-python"),
    "MOSEK": (
        "mosek",
        "pip install mosek, plus a MOSEK licence (free for academics: "
        "https://www.mosek.com/products/academic-licenses/)",
    ),
    "COPT": ("coptpy", "pip install coptpy, plus a COPT licence"),
    "KNITRO": ("knitro", "pip install knitro, plus an Artelys Knitro licence"),
    "COSMO": ("cosmopy", "pip install cosmopy"),
    "CUCLARABEL": (
        "cupy",
        "a CUDA GPU, pip install cupy juliacall and the Julia package CuClarabel "
        "(see https://www.cvxpy.org/install/)",
    ),
}


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package, or a broken __spec__
        return False


def known() -> list[str]:
    """Names of the registered backends, plus the ``cvxpy:<NAME>`` pattern's SDP solvers.

    Returns
    -------
    list of str
        Sorted; installation is not checked (see :func:`available`).
    """
    return sorted(_REGISTRY) + [_CVXPY_PREFIX + name for name in sorted(_CVXPY_SDP)]


def _known_message() -> str:
    return (
        f"known backends are {', '.join(sorted(_REGISTRY))} and 'cvxpy:<NAME>' for a cvxpy "
        f"solver that handles semidefinite constraints ({', '.join(sorted(_CVXPY_SDP))}, ...)"
    )


def _cvxpy_spec(raw: str, solver: str) -> BackendSpec:
    """Spec for ``cvxpy:<solver>``; raises UnknownSolverError for a solver cvxpy does not know."""
    if not solver:
        raise UnknownSolverError(f"solver {raw!r} names no cvxpy solver; {_known_message()}")
    if solver in _CVXPY_SDP:
        module, hint = _CVXPY_SDP[solver]
        return BackendSpec(
            name=_CVXPY_PREFIX + solver,
            module=_CVXPY_BACKEND,
            requires=("cvxpy", module),
            pip_hint=hint if _findable("cvxpy") else f"pip install cvxpy; {hint}",
            cvxpy_solver=solver,
        )
    if solver in _CVXPY_KNOWN:
        raise UnknownSolverError(
            f"solver {raw!r}: cvxpy's {solver} cannot solve semidefinite programs; "
            f"cvxpy solvers that can: {', '.join(sorted(_CVXPY_SDP))}"
        )
    return _cvxpy_spec_dynamic(raw, solver)


def _cvxpy_spec_dynamic(raw: str, solver: str) -> BackendSpec:
    """Ask the installed cvxpy about a solver name the static tables do not list (slow path)."""
    if not _findable("cvxpy"):
        raise UnknownSolverError(
            f"solver {raw!r}: {solver} is not a cvxpy solver this package knows, and cvxpy is "
            f"not installed to ask; {_known_message()}"
        )
    import cvxpy
    from cvxpy.reductions.solvers.defines import SOLVER_MAP_CONIC

    if solver not in cvxpy.settings.SOLVERS:
        raise UnknownSolverError(
            f"solver {raw!r}: cvxpy {cvxpy.__version__} knows no solver {solver!r}; "
            f"{_known_message()}"
        )
    inst = SOLVER_MAP_CONIC.get(solver)
    constraints = {c.__name__ for c in getattr(inst, "SUPPORTED_CONSTRAINTS", ())}
    if not constraints & {"PSD", "SvecPSD"}:
        raise UnknownSolverError(
            f"solver {raw!r}: cvxpy's {solver} cannot solve semidefinite programs; "
            f"cvxpy solvers that can: {', '.join(sorted(_CVXPY_SDP))}"
        )
    hint = f"install cvxpy's {solver} solver (see https://www.cvxpy.org/install/)"
    if not inst.is_installed():
        raise SolverNotInstalledError(
            f"solver '{_CVXPY_PREFIX}{solver}' is known but cvxpy reports it not installed; "
            f"fix: {hint}"
        )
    return BackendSpec(
        name=_CVXPY_PREFIX + solver,
        module=_CVXPY_BACKEND,
        requires=("cvxpy",),
        pip_hint=hint,
        cvxpy_solver=solver,
    )


def _lookup(name: object) -> BackendSpec:
    if not isinstance(name, str):
        raise TypeError(f"solver is a {type(name).__name__}; expected a backend name (str)")
    raw = name
    name = name.strip()
    if name.lower().startswith(_CVXPY_PREFIX):
        return _cvxpy_spec(raw, name[len(_CVXPY_PREFIX) :].strip().upper())
    spec = _REGISTRY.get(name.lower())
    if spec is None:
        raise UnknownSolverError(f"solver {raw!r} is not a known backend; {_known_message()}")
    return spec


def get_spec(name: str) -> BackendSpec:
    """The spec of an installed backend.

    Parameters
    ----------
    name : str
        Backend name, e.g. ``"clarabel"`` or ``"cvxpy:cvxopt"``.

    Returns
    -------
    BackendSpec

    Raises
    ------
    UnknownSolverError
        If ``name`` is not a known backend.
    SolverNotInstalledError
        If it is known but not installed.
    TypeError
        If ``name`` is not a string.
    """
    spec = _lookup(name)
    if not spec.is_installed():
        missing = [m for m in spec.requires if not _findable(m)]
        raise SolverNotInstalledError(
            f"solver {spec.name!r} is known but not installed here (cannot import "
            f"{', '.join(missing)}); fix: {spec.pip_hint}",
            name=missing[0],
        )
    return spec


def capabilities(name: str) -> Capabilities:
    """What a known backend can do (installed or not).

    Parameters
    ----------
    name : str
        Backend name, e.g. ``"banded-ipm"``.

    Returns
    -------
    Capabilities

    Raises
    ------
    UnknownSolverError
        If ``name`` is not a known backend.
    TypeError
        If ``name`` is not a string.

    Examples
    --------
    >>> capabilities("lowrank-ipm").blas_threads(100)
    1
    """
    return _lookup(name).capabilities


def check_solver(name: str) -> str:
    """Validate a backend name without importing any solver.

    Parameters
    ----------
    name : str
        Backend name; case-insensitive (``"CLARABEL"``, ``"cvxpy:cvxopt"``).

    Returns
    -------
    str
        The normalised name: ``"clarabel"``, ``"scs"``, ``"cvxpy:CVXOPT"``, ...

    Raises
    ------
    UnknownSolverError
        If ``name`` is not a known backend; the message lists the known ones.
    SolverNotInstalledError
        If it is known but not installed; the message says which ``pip install`` fixes it.
    TypeError
        If ``name`` is not a string.

    Examples
    --------
    >>> check_solver("CLARABEL")
    'clarabel'
    """
    return get_spec(name).name


def is_installed(name: str) -> bool:
    """Whether a known backend is installed.

    Raises
    ------
    UnknownSolverError
        If ``name`` is not a known backend (so that a typo is not mistaken for "missing").
    """
    try:
        get_spec(name)
    except SolverNotInstalledError:
        return False
    return True


def available() -> list[str]:
    """Names of the installed backends.

    Returns
    -------
    list of str
        Registered backends whose modules can be found, then ``"cvxpy:<NAME>"`` for every
        solver that the installed cvxpy reports installed and that accepts PSD constraints.

    Notes
    -----
    Imports cvxpy (about a second) when it is installed.
    """
    names = [name for name, spec in sorted(_REGISTRY.items()) if spec.is_installed()]
    if _findable("cvxpy"):
        from cvxpy.reductions.solvers.defines import INSTALLED_SOLVERS, SOLVER_MAP_CONIC

        for solver in INSTALLED_SOLVERS:
            inst = SOLVER_MAP_CONIC.get(solver)
            constraints = {c.__name__ for c in getattr(inst, "SUPPORTED_CONSTRAINTS", ())}
            if constraints & {"PSD", "SvecPSD"}:
                names.append(_CVXPY_PREFIX + solver)
    return names


def register(name: str, module_path: str, pip_hint: str) -> None:
    """Add a third-party backend.

    Parameters
    ----------
    name : str
        Registry name (case-insensitive, stored lower case); must not start with ``"cvxpy:"``.
    module_path : str
        Dotted path of a module exposing
        ``solve(problem, options, warm_start) -> SolverResult``.  It is not imported here.
        ``options`` is a private dict (common keys ``tol``, ``max_iter``, ``time_limit``,
        ``verbose`` untranslated; see :func:`solvers.options.split_options`); ``warm_start`` is
        ``None``, a finite ndarray of shape ``(n,)`` or a previous
        :class:`~solvers.result.SolverResult`.  It should return a result, not raise, when the
        solver fails.
    pip_hint : str
        What installs it, shown when the module cannot be found.

    Raises
    ------
    ValueError
        If ``name`` is empty, uses the ``cvxpy:`` prefix, or is already registered to a
        different module; or if ``module_path`` is not a dotted module path.
    TypeError
        If an argument is not a string.

    Examples
    --------
    >>> register("mysolver", "mypackage.lmi_backend", "pip install mypackage")  # doctest: +SKIP
    """
    for label, value in (("name", name), ("module_path", module_path), ("pip_hint", pip_hint)):
        if not isinstance(value, str):
            raise TypeError(f"{label} is a {type(value).__name__}; expected a string")
    key = name.strip().lower()
    if not key or key.startswith(_CVXPY_PREFIX):
        raise ValueError(
            f"name is {name!r}; expected a non-empty name not starting with {_CVXPY_PREFIX!r}"
        )
    # Only the top-level package is looked up: finding a submodule would import its parent.
    top = module_path.split(".", 1)[0]
    spec = BackendSpec(name=key, module=module_path, requires=(top,), pip_hint=pip_hint)
    existing = _REGISTRY.get(key)
    if existing is not None and existing.module != module_path:
        raise ValueError(
            f"backend {key!r} is already registered to module {existing.module!r}; "
            f"expected a new name, or the same module path"
        )
    _REGISTRY[key] = spec
