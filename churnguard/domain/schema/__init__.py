"""A customer table as a declaration: its fields, their domains, the label, engineered features.

Every path that reads customers (validation of a whole table, offline scoring, one profile)
goes through `TableSchema.check`, which checks and encodes a batch of raw columns in one
vectorized pass: a field's rule is written here once. The model sees `model_matrix(raw)`:
the encoded fields in declared order, then the engineered features in declared order.

Encoding: binary and category labels become their position in the declared labels (the
first of a binary field's two labels is 0, the second 1; for the original schema, whose
labels are the codes 0, 1, 2..., a code is its own position); an unseen category label mapped
to "other" becomes `len(labels)`; numbers stay numbers. A missing cell is NaN until the
imputation fitted on the training split fills it (`Imputation`).

One module per concept: `fields` (the value rules), `features` (engineered features), `table`
(the table and its check), `consistency` (a declaration's own checks), `codec` (the plain form),
`fitted` (statistics fitted on a training split: facts about a model, not the table).
"""

from churnguard.domain.schema.codec import schema_from_mapping, schema_to_mapping
from churnguard.domain.schema.consistency import field_problems, schema_problems
from churnguard.domain.schema.features import FLAG_OPERATIONS, Feature, Operation
from churnguard.domain.schema.fields import (
    MISSING_RULE,
    OTHER,
    BoolArray,
    Field,
    FieldKind,
    FloatArray,
    Kind,
    Label,
    Missing,
    MissingPolicy,
    UnseenPolicy,
    label_text,
)
from churnguard.domain.schema.fitted import Imputation, most_frequent
from churnguard.domain.schema.table import (
    CheckedRows,
    LabelColumn,
    PassThrough,
    Quality,
    RowViolation,
    Survival,
    TableSchema,
    TimeSplit,
)

__all__ = [
    "FLAG_OPERATIONS",
    "MISSING_RULE",
    "OTHER",
    "BoolArray",
    "CheckedRows",
    "Feature",
    "Field",
    "FieldKind",
    "FloatArray",
    "Imputation",
    "Kind",
    "Label",
    "LabelColumn",
    "Missing",
    "MissingPolicy",
    "Operation",
    "PassThrough",
    "Quality",
    "RowViolation",
    "Survival",
    "TableSchema",
    "TimeSplit",
    "UnseenPolicy",
    "field_problems",
    "label_text",
    "most_frequent",
    "schema_from_mapping",
    "schema_problems",
    "schema_to_mapping",
]
