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


class InvalidSchema(ChurnGuardError, ValueError):
    """A table declaration that cannot be used; carries every problem as (key path, message)."""

    def __init__(self, name: str, problems: list[tuple[str, str]]) -> None:
        lines = "; ".join(f"{path}: {message}" for path, message in problems)
        super().__init__(f"schema {name!r}: {lines}")
        self.problems = tuple(problems)


class SchemaMismatch(ChurnGuardError):
    """A table or schema that is not the one a stored model was trained with."""


class NothingToImpute(ChurnGuardError):
    """A field imputes its missing cells from the training split, but every one is missing there."""
