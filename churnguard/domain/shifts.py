"""Population shifts named by field, for drift demos on any schema.

`MonthlyCharges*1.2` scales a number, `tenure+6` adds to it (both clipped to the field's
declared range, integers rounded), `Contract=Month-to-month:0.7` makes that label's share 0.7
(rows move to or from the other labels at random). Parsed against a schema, so a shift that
names an unknown field, or asks a label of a number, is refused with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from churnguard.domain.schema import Kind, Label, TableSchema, label_text

_SPEC = re.compile(r"^(?P<field>[^*+=]+?)\s*(?P<op>[*+=])\s*(?P<value>.+)$")


class ShiftKind(Enum):
    SCALE = "*"
    ADD = "+"
    SHARE = "="


@dataclass(frozen=True, slots=True)
class FieldShift:
    field: str
    kind: ShiftKind
    amount: float
    label: Label | None = None
    """For SHARE: the label whose share becomes `amount`."""

    def __str__(self) -> str:
        if self.kind is ShiftKind.SHARE:
            shown = label_text(self.label) if self.label is not None else ""
            return f"{self.field}={shown}:{self.amount:g}"
        return f"{self.field}{self.kind.value}{self.amount:g}"


def parse_shift(text: str, schema: TableSchema) -> FieldShift:
    """One `FIELD*F`, `FIELD+D` or `FIELD=LABEL:SHARE`; ValueError naming what is wrong."""
    match = _SPEC.match(text.strip())
    if not match:
        raise ValueError(f"drift {text!r}: expected FIELD*FACTOR, FIELD+AMOUNT or FIELD=LABEL:SHARE")
    name, op, value = match.group("field").strip(), match.group("op"), match.group("value").strip()
    spec = schema.field_by_name.get(name)
    if spec is None:
        raise ValueError(f"drift {text!r}: {name!r} is not a field of schema {schema.name!r}")
    kind = ShiftKind(op)
    if kind is ShiftKind.SHARE:
        if not spec.has_labels:
            raise ValueError(f"drift {text!r}: {name} is a {spec.kind.value}; shift it with * or +")
        label_text_, sep, share_text = value.rpartition(":")
        if not sep:
            raise ValueError(f"drift {text!r}: expected {name}=LABEL:SHARE, e.g. {name}={spec.labels[0]}:0.5")
        share = _number(share_text, text)
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"drift {text!r}: the share must be within [0, 1]")
        try:
            code = spec.label_code(label_text_ if not spec.numeric_labels else float(label_text_))
        except (KeyError, ValueError):
            raise ValueError(f"drift {text!r}: {label_text_!r} is not a label of {name} ({spec.rule})") from None
        return FieldShift(name, kind, share, spec.labels[int(code)])
    if spec.kind not in (Kind.INTEGER, Kind.NUMBER):
        raise ValueError(f"drift {text!r}: {name} is a {spec.kind.value}; shift its labels with {name}=LABEL:SHARE")
    amount = _number(value, text)
    if kind is ShiftKind.SCALE and amount <= 0:
        raise ValueError(f"drift {text!r}: the factor must be > 0")
    return FieldShift(name, kind, amount)


def _number(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"drift {spec!r}: {text!r} is not a number") from None
