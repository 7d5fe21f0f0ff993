"""ChurnGuard: churn prediction for any customer table, built as ports and adapters.

`from churnguard import ChurnGuard` gives the embedding API (churnguard.entrypoints.embedded);
it is imported on first use, so `import churnguard` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"
__all__ = ["ChurnGuard", "Scores", "__version__"]

if TYPE_CHECKING:
    from churnguard.entrypoints.embedded import ChurnGuard, Scores


def __getattr__(name: str) -> Any:
    if name in ("ChurnGuard", "Scores"):
        from churnguard.entrypoints import embedded

        return getattr(embedded, name)
    raise AttributeError(f"module 'churnguard' has no attribute {name!r}")
