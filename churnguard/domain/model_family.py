"""The model families by name, and the sets of them a user chooses from (FAMILY, --family).

The one list the settings, the CLI and the training plan read; the adapters define each family
(how it fits, explains, is stored and served) under the same name, and a test holds the two to
the same names.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class FamilySet(enum.StrEnum):
    DEFAULT = "default"
    """logistic + hgb: the search's default."""
    ALL = "all"
    GBM = "gbm"
    """the original ChurnGuard's model and grid."""
    LOGISTIC = "logistic"
    HGB = "hgb"


FAMILY_NAMES: tuple[str, ...] = ("logistic", "hgb", "gbm")

FAMILY_SETS: Mapping[FamilySet, tuple[str, ...]] = {
    FamilySet.DEFAULT: ("logistic", "hgb"),
    FamilySet.ALL: FAMILY_NAMES,
    FamilySet.GBM: ("gbm",),
    FamilySet.LOGISTIC: ("logistic",),
    FamilySet.HGB: ("hgb",),
}
