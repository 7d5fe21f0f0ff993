"""Hypothesis strategies for event histories and the event schemas that read them."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import strategies as st

from churnguard.domain.events import (
    ChurnDefinition,
    ChurnKind,
    Cutoffs,
    EventSchema,
    EventSource,
    History,
    WindowFeature,
    WindowOperation,
)

TYPES = ("buy", "visit", "cancel")
VALUES = ("amount", "items")


@st.composite
def window_features(draw: st.DrawFn) -> tuple[WindowFeature, ...]:
    features = []
    for index, operation in enumerate(draw(st.lists(st.sampled_from(list(WindowOperation)), min_size=1, max_size=7))):
        windowed = operation not in (WindowOperation.DAYS_SINCE_LAST, WindowOperation.DAYS_SINCE_FIRST)
        days = draw(st.integers(1, 60)) if windowed else None
        if operation in (WindowOperation.SUM, WindowOperation.MEAN):
            value: str | None = draw(st.sampled_from(VALUES))
        elif operation is WindowOperation.DISTINCT:
            value = draw(st.sampled_from((None, "type", *VALUES)))
        elif operation is WindowOperation.TREND:
            value = draw(st.sampled_from((None, *VALUES)))
        else:
            value = None
        event_type = draw(st.sampled_from((None, None, *TYPES)))
        features.append(WindowFeature(f"f{index}_{operation.value}", operation, days, value, event_type))
    return tuple(features)


@st.composite
def event_schemas(draw: st.DrawFn) -> EventSchema:
    contractual = draw(st.booleans())
    churn = (
        ChurnDefinition(ChurnKind.CANCEL, draw(st.integers(1, 40)), "cancel")
        if contractual
        else ChurnDefinition(ChurnKind.INACTIVITY, draw(st.integers(1, 40)))
    )
    return EventSchema(
        name="histories",
        source=EventSource("customer", "day", "type", VALUES),
        features=draw(window_features()),
        churn=churn,
        cutoffs=Cutoffs(date(2024, 1, 1), 30, 3),
    )


@st.composite
def histories(draw: st.DrawFn, span: int = 120) -> History:
    """One customer's events on whole days 0..span (days since 1970-01-01), some on one day."""
    size = draw(st.integers(0, 14))
    days = draw(st.lists(st.integers(0, span), min_size=size, max_size=size))
    types = draw(st.lists(st.sampled_from(TYPES), min_size=size, max_size=size))
    amounts = draw(st.lists(st.sampled_from((0.0, 1.5, 2.0, 10.25, 99.0)), min_size=size, max_size=size))
    items = draw(st.lists(st.integers(0, 3).map(float), min_size=size, max_size=size))
    return History(
        np.asarray(days, dtype=np.float64),
        tuple(types),
        {"amount": np.asarray(amounts, dtype=np.float64), "items": np.asarray(items, dtype=np.float64)},
    )
