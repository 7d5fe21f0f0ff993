"""The command line's exit codes and its own usage error, shared by the parser and the commands."""

from __future__ import annotations

from churnguard.domain.errors import ChurnGuardError

EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_INTEGRITY, EXIT_UNAVAILABLE, EXIT_PORT_IN_USE = 0, 1, 2, 3, 4, 5


class UsageError(ChurnGuardError):
    """A command-line argument or input file the command cannot use."""
