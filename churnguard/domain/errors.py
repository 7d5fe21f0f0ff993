"""Domain exceptions: raised by the domain and use-cases, mapped to exit/HTTP codes by entrypoints."""

from __future__ import annotations


class ChurnGuardError(Exception):
    """Base of every error ChurnGuard raises on purpose."""


class InvalidProfile(ChurnGuardError, ValueError):
    """A customer field breaks its rule; names the field and the rule."""

    def __init__(self, field: str, rule: str, value: object) -> None:
        super().__init__(f"{field}: {rule} (got {value!r})")
        self.field = field
        self.rule = rule
        self.value = value
