"""Hypothesis strategies for table schemas ChurnGuard has never seen, and tables that follow them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from churnguard.domain.schema import (
    Feature,
    Field,
    Kind,
    LabelColumn,
    Missing,
    MissingPolicy,
    Operation,
    Survival,
    TableSchema,
    UnseenPolicy,
)

ID_COLUMN = "customer_ref"
LABEL_CHOICES: tuple[tuple[tuple[Any, ...], tuple[Any, ...]], ...] = (
    ((1,), (0,)),
    (("Yes",), ("No",)),
    (("churned",), ("stayed", "paused")),
)
BINARY_LABELS = ((0, 1), ("No", "Yes"), ("Female", "Male"), ("n", "y"))
names = st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True).filter(
    lambda name: name not in ("churn", "label", ID_COLUMN)
)


@st.composite
def fields(draw: st.DrawFn, name: str) -> Field:
    kind = draw(st.sampled_from(Kind))
    missing = Missing()
    if kind is Kind.BINARY:
        spec = Field(name, kind, labels=draw(st.sampled_from(BINARY_LABELS)))
    elif kind is Kind.CATEGORY:
        count = draw(st.integers(2, 5))
        if draw(st.booleans()):
            labels: tuple[Any, ...] = tuple(sorted(draw(st.sets(st.integers(0, 20), min_size=count, max_size=count))))
        else:
            labels = tuple(draw(st.lists(st.sampled_from("ABCDEFGH"), min_size=count, max_size=count, unique=True)))
            labels = tuple(f"{label}-{name}" for label in labels)
        spec = Field(name, kind, labels=labels, unseen=draw(st.sampled_from(UnseenPolicy)))
    else:
        low = draw(st.integers(-50, 100))
        width = draw(st.integers(1, 500))
        if kind is Kind.NUMBER and draw(st.booleans()):
            spec = Field(name, kind, minimum=low + 0.5, maximum=low + width + 0.25, minimum_inclusive=False)
        else:
            spec = Field(name, kind, minimum=low, maximum=low + width)
    policy = draw(st.sampled_from(MissingPolicy))
    if policy is MissingPolicy.MEDIAN and spec.has_labels:
        policy = MissingPolicy.MODE
    if policy is MissingPolicy.CONSTANT:
        assert spec.has_labels or (spec.minimum is not None and spec.maximum is not None)
        value = spec.labels[0] if spec.has_labels else (math.ceil(spec.minimum) + math.floor(spec.maximum)) // 2  # type: ignore[arg-type]
        missing = Missing(policy, value)
    elif policy is not MissingPolicy.REFUSE:
        missing = Missing(policy)
    return Field(**{**{k: getattr(spec, k) for k in Field.__dataclass_fields__}, "missing": missing})


@st.composite
def table_schemas(draw: st.DrawFn) -> TableSchema:
    field_names = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    specs = [draw(fields(name)) for name in field_names]
    numeric = [s.name for s in specs if s.kind in (Kind.INTEGER, Kind.NUMBER, Kind.BINARY)]
    labelled = [s for s in specs if s.has_labels]
    features: list[Feature] = []
    coin: st.SearchStrategy[bool] = st.booleans()
    if len(numeric) >= 2 and draw(coin):
        features.append(Feature("f_product", Operation.PRODUCT, (numeric[0], numeric[1])))
        features.append(Feature("f_ratio", Operation.RATIO, (numeric[0], numeric[1]), floor=1.0, scale=12.0))
    if len(numeric) > 0 and draw(coin):
        features.append(Feature("f_flag", Operation.AT_LEAST, (numeric[0],), threshold=0.0))
    if len(labelled) > 0 and draw(coin):
        target = labelled[0]
        features.append(
            Feature("f_count", Operation.COUNT_EQUAL, tuple(s.name for s in labelled), value=target.labels[0])
        )
    positive, negative = draw(st.sampled_from(LABEL_CHOICES))
    # time to churn where two fields can count periods and value: a duration and a value per period
    durations = [
        s.name
        for s in specs
        if s.kind in (Kind.INTEGER, Kind.NUMBER) and not s.has_labels and s.minimum is not None and s.minimum >= 0
    ]
    survival: Survival | None = None
    if len(durations) > 0 and draw(coin):
        value = durations[1] if len(durations) > 1 and draw(coin) else None
        others = [s.name for s in specs if s.name not in (durations[0], value)]
        exclude = tuple(draw(st.lists(st.sampled_from(others), unique=True, max_size=2))) if others else ()
        survival = Survival(
            durations[0], value, draw(st.integers(1, 60)), draw(st.sampled_from(["period", "month"])), exclude
        )
    return TableSchema(
        name="generated",
        label=LabelColumn("churn", positive, negative),
        fields=tuple(specs),
        features=tuple(features),
        id_column=ID_COLUMN if draw(st.booleans()) else None,
        survival=survival,
    )


def valid_values(spec: Field, rows: int, rng: np.random.Generator) -> list[Any]:
    """Values inside the field's domain (and, where it imputes, some empty cells)."""
    if spec.has_labels:
        values: list[Any] = [spec.labels[i] for i in rng.integers(0, len(spec.labels), rows)]
    else:
        assert spec.minimum is not None
        assert spec.maximum is not None
        low = math.ceil(spec.minimum) if spec.kind is Kind.INTEGER else spec.minimum
        high = math.floor(spec.maximum) if spec.kind is Kind.INTEGER else spec.maximum
        if spec.kind is Kind.INTEGER:
            values = rng.integers(int(low), int(high) + 1, rows).tolist()
        else:  # strictly inside, whichever bounds are exclusive (every generated width is >= 0.75)
            values = np.clip(rng.uniform(low, high, rows).round(4), low + 1e-3, high - 1e-3).tolist()
    if spec.missing.policy is not MissingPolicy.REFUSE:
        for index in rng.choice(rows, size=max(1, rows // 20), replace=False):
            values[int(index)] = None
    return values


def table_for(schema: TableSchema, rows: int, seed: int) -> pd.DataFrame:
    """A table that follows `schema`, with a learnable signal in the label (the first field)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    if schema.id_column:
        columns[schema.id_column] = [f"C{seed}-{i:06d}" for i in range(rows)]
    for spec in schema.fields:
        columns[spec.name] = valid_values(spec, rows, rng)
    checked = schema.check({name: np.asarray(columns[name], dtype=object) for name in schema.raw_fields})
    first = np.nan_to_num(checked.raw[:, 0], nan=0.0)
    spread = first.std() or 1.0
    logits = (first - first.mean()) / spread + rng.normal(0, 1, rows)
    churn = logits > np.quantile(logits, 0.65)
    churn[:5], churn[5:10] = True, False  # both classes, whatever the draw
    label = schema.label
    columns[label.column] = [
        label.positive[0] if c else label.negative[i % len(label.negative)] for i, c in enumerate(churn)
    ]
    return pd.DataFrame(columns)
