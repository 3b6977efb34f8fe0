"""The process registry: every forward process by name, and ``ProcessSpec`` (name + options).

``@register_process("name")`` on a process class makes it available everywhere that takes a
process name: ``make_process``, ``TrainConfig``, the CLI's choices, the widgets' dropdown and the
evaluation order. A process's options are the keyword arguments of its ``__init__`` after the
schedule (``ExactMaskedSmooth(schedule, blur_width=2.0, noise_floor=0.02)`` takes ``blur_width``
and ``noise_floor``), stored on the instance under the same names.

    @mrs.register_process("half_rate")
    class HalfRate(mrs.Process):
        def rate(self, mask):
            return 0.5 + 0.5 * mask
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

from .schedule import Schedule

__all__ = ["register_process", "process_names", "process_class", "process_options",
           "option_defaults", "make_process", "ProcessSpec"]

_REGISTRY: dict = {}   # name -> (order, class)


def register_process(name: str, *, order: float | None = None):
    """Class decorator: register a process class under ``name``.

    Args:
        name: the process's name (``proc.name``; also the key in checkpoints and the CLI).
        order: position in listings and in the evaluation order (built-ins use 10..50; by default
            a new process comes after every registered one).
    """
    from .process_base import BaseProcess

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a process name must be an identifier-like string, got {name!r}")

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, BaseProcess)):
            raise ValueError(f"@register_process({name!r}) needs a subclass of mrs.Process "
                             f"(or mrs.BaseProcess), got {cls!r}")
        if name in _REGISTRY and _REGISTRY[name][1].__qualname__ != cls.__qualname__:
            raise ValueError(f"process name {name!r} is taken by {_REGISTRY[name][1].__qualname__}")
        pos = order if order is not None else max([100.0] + [o + 1 for o, _ in _REGISTRY.values()])
        cls.name = name
        _REGISTRY[name] = (float(pos), cls)
        return cls

    return decorate


def process_names() -> tuple:
    """The registered process names in their order (built-ins first)."""
    return tuple(n for n, _ in sorted(_REGISTRY.items(), key=lambda kv: (kv[1][0], kv[0])))


def process_order(name: str) -> float:
    """The position of ``name`` in ``process_names`` (for sorting checkpoints by process)."""
    return _REGISTRY[name][0] if name in _REGISTRY else math.inf


def process_class(name: str):
    """The class registered as ``name`` (``ValueError`` listing the names otherwise)."""
    if name not in _REGISTRY:
        raise ValueError(f"process name must be one of {process_names()}, got {name!r}")
    return _REGISTRY[name][1]


def option_defaults(name: str) -> dict:
    """The options process ``name`` takes, with their defaults: ``{"blur_width": 2.0, ...}``."""
    params = list(inspect.signature(process_class(name).__init__).parameters.values())[2:]
    return {p.name: p.default for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def process_options(name: str, **available) -> dict:
    """The subset of ``available`` options that process ``name`` takes:
    ``make_process(name, sch, **process_options(name, **settings))``."""
    takes = option_defaults(name)
    return {k: v for k, v in available.items() if k in takes}


def make_process(name: str, schedule: Schedule, **options):
    """Build a registered process by name (``process_names()`` lists them) with its options."""
    takes = option_defaults(name)
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for process {name!r} "
                         f"(allowed: {', '.join(takes) or 'none'})")
    return process_class(name)(schedule, **options)


@dataclass(frozen=True)
class ProcessSpec:
    """A process by name and options: what ``TrainConfig``, the widgets and checkpoints store.

    ``ProcessSpec("emmd_smooth", {"noise_floor": 0.05})``; options not given take the class's
    defaults, and ``spec.options`` always holds all of them, so two specs of the same process
    compare equal exactly when they build the same process.
    """

    name: str = "emmd_smooth"                      # a registered process name
    options: dict = field(default_factory=dict)    # its keyword options (all of them, filled in)

    def __post_init__(self):
        if not isinstance(self.options, dict):
            raise ValueError(f"options must be a dict, got {type(self.options).__name__}")
        defaults = option_defaults(self.name)      # ValueError for an unknown name
        unknown = sorted(set(self.options) - set(defaults))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for process {self.name!r} "
                             f"(allowed: {', '.join(defaults) or 'none'})")
        object.__setattr__(self, "options", {**defaults, **self.options})

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.options.items()))))

    @classmethod
    def of(cls, name: str, **options) -> "ProcessSpec":
        """``ProcessSpec.of("mvd", blur_width=2.0)``; options the process does not take are
        dropped, so one settings dict serves every process."""
        return cls(name, process_options(name, **options))

    def build(self, schedule: Schedule):
        """The process on ``schedule``."""
        return make_process(self.name, schedule, **self.options)

    def to_dict(self) -> dict:
        return {"name": self.name, "options": dict(self.options)}

    @classmethod
    def from_dict(cls, d) -> "ProcessSpec":
        if isinstance(d, str):
            return cls(d)
        if not isinstance(d, dict) or set(d) - {"name", "options"}:
            raise ValueError(f"a process spec must be {{'name': ..., 'options': {{...}}}}, got {d!r}")
        return cls(d["name"], dict(d.get("options", {})))
