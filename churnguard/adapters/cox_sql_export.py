"""A Cox champion as tables and one SQL query, so a warehouse scores time to churn itself.

What the export holds, all derived from the fitted model (nothing is refitted):
- `coefficients`: the model's linear form over the survival features (`serving_model.LinearForm`,
  the same form the serving twin replays): one row per feature with a weight on its value, one
  row per category code with the weight of holding it, and the intercept the scaling leaves;
- `baseline`: the Breslow cumulative baseline hazard H0(t) on the period grid 0 .. T;
- `score.sql`: one query over the customers table. It encodes each cell by the schema's rules
  (labels to codes, blanks to the imputation fitted at training), computes the engineered
  features the model reads, the risk x.b, and from the baseline the customer's curve from their
  tenure on: P(churn within h) = 1 - exp(-(H0(min(a + h, T)) - H0(a)) exp(x.b)), the expected
  remaining periods within the horizon, and revenue at risk.

Written for PostgreSQL (standard SQL but for LN, GREATEST, LEAST and generate_series); a test
holds its answers equal to the Python ones on Telco to 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from churnguard.adapters.atomic_files import atomic_write_text
from churnguard.adapters.serving_model import linear_form
from churnguard.adapters.survival_model import SurvivalModel
from churnguard.application.errors import InvalidOptions
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.schema import Field, TableSchema, UnseenPolicy
from churnguard.domain.schema.features import Feature, Operation
from churnguard.domain.survival import asked_horizons

COEFFICIENTS_TABLE = "churnguard_cox_coefficients"
BASELINE_TABLE = "churnguard_cox_baseline"
INTERCEPT = "(intercept)"


@dataclass(frozen=True)
class CoxExport:
    coefficients: list[tuple[str, float | None, float]]
    """(feature, category code or None for a weight on the value, weight)."""
    baseline: list[tuple[int, float]]
    """(period, cumulative baseline hazard)."""
    sql: str


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _number(value: float) -> str:
    """A double literal that reads back as the same double."""
    if not math.isfinite(value):
        raise ValueError(f"cannot write {value} into SQL")
    return f"CAST({float(value)!r} AS DOUBLE PRECISION)"


def _cell(name: str) -> str:
    return f"NULLIF(TRIM(CAST(c.{quoted(name)} AS TEXT)), '')"


def encoded(field: Field, fill: float | None) -> str:
    """A raw cell as the model reads it: a label's code, a number, or the imputation's fill."""
    cell = _cell(field.name)
    if field.has_labels:
        other = _number(float(len(field.labels))) if field.unseen is UnseenPolicy.OTHER else "NULL"
        if field.numeric_labels:
            subject = f"CAST({cell} AS DOUBLE PRECISION)"
            arms = " ".join(f"WHEN {_number(float(label))} THEN {_number(i)}" for i, label in enumerate(field.labels))
        else:
            subject = cell
            arms = " ".join(
                f"WHEN {_text(str(label).strip())} THEN {_number(i)}" for i, label in enumerate(field.labels)
            )
        expression = f"CASE WHEN {cell} IS NULL THEN NULL ELSE CASE {subject} {arms} ELSE {other} END END"
    else:
        expression = f"CAST({cell} AS DOUBLE PRECISION)"
    return expression if fill is None else f"COALESCE({expression}, {_number(fill)})"


def feature_sql(feature: Feature, inputs: list[str], codes: list[float | None]) -> str:
    """The domain's Feature.compute as one SQL expression over its inputs' expressions."""
    op = feature.operation
    a = inputs[0]
    if op is Operation.PRODUCT:
        return f"({a} * {inputs[1]})"
    if op is Operation.SUM:
        return "(" + " + ".join(inputs) + ")"
    if op is Operation.DIFFERENCE:
        return f"({a} - {inputs[1]})"
    if op is Operation.RATIO:
        return f"({a} / GREATEST({inputs[1]}, {_number(feature.floor)}) * {_number(feature.scale)})"
    if op is Operation.AT_LEAST:
        return f"(CASE WHEN {a} >= {_number(float(feature.threshold or 0.0))} THEN 1.0 ELSE 0.0 END)"
    if op is Operation.AT_MOST:
        return f"(CASE WHEN {a} <= {_number(float(feature.threshold or 0.0))} THEN 1.0 ELSE 0.0 END)"
    if op is Operation.COUNT_EQUAL:
        terms = [
            f"(CASE WHEN {column} = {_number(code)} THEN 1.0 ELSE 0.0 END)"
            for column, code in zip(inputs, codes, strict=True)
            if code is not None
        ]
        return "(" + (" + ".join(terms) if terms else "0.0") + ")"
    if op is Operation.LOG1P:
        return f"LN(1.0 + {a})"
    raise ValueError(f"unknown operation {op}")


def _value_codes(schema: TableSchema, feature: Feature) -> list[float | None]:
    """The encoded `value` of a count_equal feature in each of its inputs (None where absent)."""
    codes: list[float | None] = []
    for name in feature.inputs:
        spec = schema.field_by_name.get(name)
        try:
            codes.append(None if spec is None or feature.value is None else spec.label_code(feature.value))
        except KeyError:
            codes.append(None)
    return codes


def export_cox(survival: SurvivalModel, schema: TableSchema, imputation: dict[str, float], customers: str) -> CoxExport:
    """The export of a proportional-hazards survival model of `schema` (InvalidOptions for
    another family: a forest has no closed form for a warehouse)."""
    spec = schema.survival
    steps = list(survival.pipeline.named_steps.values())
    if spec is None or survival.baseline is None or len(steps) != 2:
        raise InvalidOptions(
            f"the champion's survival model is a {survival.family}: only a Cox champion exports to SQL"
        )
    form = linear_form(steps[0], steps[1].coef_, 0.0, len(survival.columns))
    names = [schema.model_features[c] for c in survival.columns]
    coefficients: list[tuple[str, float | None, float]] = [(INTERCEPT, None, float(form.intercept))]
    coefficients += [(name, None, float(w)) for name, w in zip(names, form.dense, strict=True) if w != 0.0]
    for column, codes, weights in form.lookups:
        coefficients += [(names[column], float(code), float(w)) for code, w in zip(codes, weights, strict=True)]
    baseline = [(t, float(h)) for t, h in enumerate(np.asarray(survival.baseline, dtype=np.float64))]

    expressions: dict[str, str] = {f.name: encoded(f, imputation.get(f.name)) for f in schema.fields}
    for feature in schema.features:  # declared in order: an input is a field or an earlier feature
        inputs = [expressions[name] for name in feature.inputs]
        expressions[feature.name] = feature_sql(feature, inputs, _value_codes(schema, feature))
    horizon = spec.horizon
    last = len(baseline) - 1
    identity = f"c.{quoted(schema.id_column)}, " if schema.id_column else ""
    shown_identity = f"r.{quoted(schema.id_column)}, " if schema.id_column else ""
    values = ", ".join(f"({_text(name)}, {expressions[name]})" for name in names)
    value = expressions[spec.value] if spec.value is not None else "NULL"

    def hazard_at(period: str) -> str:
        return f"(SELECT cumulative_hazard FROM {BASELINE_TABLE} WHERE period = {period})"  # nosec B608

    within = ",\n       ".join(
        f"1.0 - EXP(-({hazard_at(f'LEAST(r.start + {h}, {last})')} - r.start_hazard) * EXP(r.risk)) AS churn_within_{h}"
        for h in asked_horizons(horizon)
    )
    sql = f"""-- ChurnGuard: time to churn of every row of {customers}, by the exported Cox model.
-- Tables: {COEFFICIENTS_TABLE}(feature, code, weight), {BASELINE_TABLE}(period, cumulative_hazard).
WITH risks AS (
  SELECT {identity}ROW_NUMBER() OVER () AS row_id,
         LEAST(FLOOR({expressions[spec.duration]}), {last}) AS start,
         {value} AS value_per_period,
         (SELECT SUM(CASE WHEN w.code IS NULL THEN w.weight * v.x ELSE w.weight END)
            FROM {COEFFICIENTS_TABLE} w
            JOIN (VALUES ({_text(INTERCEPT)}, {_number(1.0)}), {values}) AS v(feature, x)
              ON w.feature = v.feature AND (w.code IS NULL OR w.code = v.x)) AS risk
    FROM {customers} c
), started AS (
  SELECT r.*, {hazard_at("r.start")} AS start_hazard
    FROM risks r
), remaining AS (
  SELECT s.row_id, SUM(EXP(-(b.cumulative_hazard - s.start_hazard) * EXP(s.risk))) AS expected_remaining
    FROM started s
    CROSS JOIN generate_series(0, {horizon - 1}) AS t(step)
    JOIN {BASELINE_TABLE} b ON b.period = LEAST(s.start + t.step, {last})
   GROUP BY s.row_id
)
SELECT {shown_identity}r.risk,
       {within},
       m.expected_remaining,
       r.value_per_period * ({horizon} - m.expected_remaining) AS revenue_at_risk
  FROM started r JOIN remaining m ON m.row_id = r.row_id
 ORDER BY r.row_id
"""  # nosec B608 - every name is quoted, every value a literal the export wrote
    return CoxExport(coefficients, baseline, sql)


class CoxSqlExporter:
    """The WarehouseExporter port: `coefficients.csv`, `baseline.csv`, `tables.sql` (the two
    tables created and filled) and `score.sql` in a directory, each file written atomically."""

    def export(self, survival: SurvivalModel, version: ModelVersion, customers: str, out: str) -> list[str]:
        schema = version.schema
        made = export_cox(survival, schema, dict(version.imputation), customers)
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        coefficients = "feature,code,weight\n" + "".join(
            f"{_csv(feature)},{'' if code is None else repr(code)},{weight!r}\n"
            for feature, code, weight in made.coefficients
        )
        baseline = "period,cumulative_hazard\n" + "".join(f"{t},{h!r}\n" for t, h in made.baseline)
        rows = ",\n  ".join(
            f"({_text(feature)}, {'NULL' if code is None else _number(code)}, {_number(weight)})"
            for feature, code, weight in made.coefficients
        )
        hazards = ",\n  ".join(f"({t}, {_number(h)})" for t, h in made.baseline)
        tables = (
            f"-- ChurnGuard: the Cox model of {version.short_id} ({schema.name!r}).\n"  # nosec B608
            f"DROP TABLE IF EXISTS {COEFFICIENTS_TABLE};\n"
            f"CREATE TABLE {COEFFICIENTS_TABLE} (feature TEXT NOT NULL, code DOUBLE PRECISION, "
            "weight DOUBLE PRECISION NOT NULL);\n"
            f"INSERT INTO {COEFFICIENTS_TABLE} VALUES\n  {rows};\n"
            f"DROP TABLE IF EXISTS {BASELINE_TABLE};\n"
            f"CREATE TABLE {BASELINE_TABLE} (period INTEGER PRIMARY KEY, "
            "cumulative_hazard DOUBLE PRECISION NOT NULL);\n"
            f"INSERT INTO {BASELINE_TABLE} VALUES\n  {hazards};\n"
        )
        written = []
        for name, text in (
            ("coefficients.csv", coefficients),
            ("baseline.csv", baseline),
            ("tables.sql", tables),
            ("score.sql", made.sql),
        ):
            atomic_write_text(directory / name, text)
            written.append(str(directory / name))
        return written


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text
