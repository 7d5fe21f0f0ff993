"""The pure core: table schemas and customer profiles, features, the promotion policy,
attribution, versions.

Standard library and numpy only; no I/O and no framework imports.
"""

from churnguard.domain.attribution import Contribution, leave_one_out, leave_one_out_rows
from churnguard.domain.customer import (
    FIELD_RULES,
    ORIGINAL_SCHEMA,
    RAW_FIELDS,
    TARGET,
    CustomerProfile,
    FieldKind,
    FieldRule,
)
from churnguard.domain.errors import ChurnGuardError, InvalidProfile
from churnguard.domain.features import DERIVED_FEATURES, MODEL_FEATURES, model_matrix
from churnguard.domain.model_version import ModelVersion, fingerprint
from churnguard.domain.quality_gate import GateDecision, QualityGate
from churnguard.domain.schema import Feature, Field, Imputation, Kind, LabelColumn, TableSchema

__all__ = [
    "DERIVED_FEATURES",
    "FIELD_RULES",
    "MODEL_FEATURES",
    "ORIGINAL_SCHEMA",
    "RAW_FIELDS",
    "TARGET",
    "ChurnGuardError",
    "Contribution",
    "CustomerProfile",
    "Feature",
    "Field",
    "FieldKind",
    "FieldRule",
    "GateDecision",
    "Imputation",
    "InvalidProfile",
    "Kind",
    "LabelColumn",
    "ModelVersion",
    "QualityGate",
    "TableSchema",
    "fingerprint",
    "leave_one_out",
    "leave_one_out_rows",
    "model_matrix",
]
