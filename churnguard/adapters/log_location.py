"""Which engine a prediction-log location names: a `postgresql://` URL, else a SQLite path.

Kept apart from the engines' modules so that choosing one imports neither driver.
"""

from __future__ import annotations

URL_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str | None) -> bool:
    return location is not None and location.startswith(URL_SCHEMES)
