"""Options of the Awesome Cloud simulator (constructor keyword arguments and CLI flags).

Takes: keyword arguments, flat: data and server options plus fault options (``fault_path``
scopes the faults to request targets containing it). Gives: a frozen, validated
``SimulatorOptions``. Raises ``UsageError`` for unknown names or bad values. Does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from miqspec.errors import UsageError
from miqspec.simulator.faults import FaultRule

MAX_LIMIT = 1000  # the largest page the API serves, whatever limit or page_size say


@dataclass(frozen=True)
class SimulatorOptions:
    """Everything a simulator needs; faults are the ones active from the start."""

    instances: int = 20
    flavors: int = 5
    images: int = 10
    page_size: int = 1000
    seed: int | str = 0
    access_key: str = "AKIA-SIM"
    secret_key: str = field(default="sim-secret", repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    token_ttl: float = 3600.0
    verbose: bool = False  # log each request to stderr
    operation_delay: float = 2.0  # seconds an operation or a create stays transitional
    instance_quota: int = 0  # most instances at once (0: no quota); a create past it: 409
    faults: FaultRule = field(default_factory=FaultRule)

    def __post_init__(self) -> None:
        for name in ("instances", "flavors", "images"):
            _check_int(name, getattr(self, name), 0)
        _check_int("page_size", self.page_size, 1)
        _check_int("port", self.port, 0)
        if self.port > 65535:
            raise UsageError(f"port must be at most 65535, got {self.port}")
        if isinstance(self.token_ttl, bool) or not isinstance(self.token_ttl, int | float):
            raise UsageError("token_ttl must be a number of seconds")
        if self.token_ttl <= 0:
            raise UsageError(f"token_ttl must be > 0, got {self.token_ttl}")
        _check_int("instance_quota", self.instance_quota, 0)
        if isinstance(self.operation_delay, bool) or not isinstance(
            self.operation_delay, int | float
        ):
            raise UsageError("operation_delay must be a number of seconds")
        if not 0 <= self.operation_delay <= 3600:
            raise UsageError(f"operation_delay must be 0-3600 s, got {self.operation_delay}")
        if not isinstance(self.seed, int | str) or isinstance(self.seed, bool):
            raise UsageError("seed must be an integer or a string")
        if not self.access_key or not self.secret_key:
            raise UsageError("access_key and secret_key must not be empty")
        if not isinstance(self.faults, FaultRule):
            raise UsageError("faults must be a FaultRule")

    @property
    def effective_page_size(self) -> int:
        return min(self.page_size, MAX_LIMIT)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SimulatorOptions:
        """Options from flat keyword arguments (fault names and ``fault_path`` included).

        ``None`` values mean "the default" (what click passes for flags not given).
        """
        own = {f.name for f in fields(cls)} - {"faults"}
        fault_names = {f.name for f in fields(FaultRule)} - {"path"}
        values: dict[str, Any] = {}
        fault_values: dict[str, Any] = {}
        for name, value in kwargs.items():
            if value is None and (name in own or name in fault_names or name == "fault_path"):
                continue
            if name in own:
                values[name] = value
            elif name in fault_names:
                fault_values[name] = value
            elif name == "fault_path":
                fault_values["path"] = value
            elif name == "faults" and isinstance(value, FaultRule):
                fault_values.update({f.name: getattr(value, f.name) for f in fields(FaultRule)})
            else:
                known = ", ".join(sorted(own | fault_names | {"fault_path", "faults"}))
                raise UsageError(f"unknown simulator option {name!r}; known: {known}")
        return cls(**values, faults=FaultRule(**fault_values))


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be a whole number >= {minimum}, got {value!r}")
