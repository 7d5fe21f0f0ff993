"""The observation table as one SQL query, generated from an `EventSchema`.

`churnguard.domain.events` defines each window feature and the label for one customer; this
module writes the same definitions as SQL aggregates over a table of events, so an engine with
SQL (DuckDB in-process, Spark for histories larger than one machine) builds every customer at
every cutoff in one pass. `tests/unit/test_events.py` holds the query equal to the definition
on random histories, feature by feature and label by label.

The query reads a relation `events(id STRING, t DOUBLE, type STRING, v0 DOUBLE, ...)`, with
`t` in days since 1970-01-01 (see `event_columns`), and returns one row per active customer and
cutoff: `id`, `cutoff_day`, the features in declared order, and `churn` (1/0, NULL where the
horizon after the cutoff reaches past the data). `output_query` turns those rows into the
observation table, joined with the `customers` relation (`customer_columns`) when the schema
declares static attributes.

The SQL is the common ground of DuckDB and Spark SQL (names in double quotes: Spark runs it with
`spark.sql.ansi.doubleQuotedIdentifiers`; STRING, BIGINT and DOUBLE types; aggregate FILTERs).
"""

from __future__ import annotations

from churnguard.domain.events import CUTOFF_COLUMN, LABEL_COLUMN, ChurnKind, EventSchema, WindowFeature, WindowOperation
from churnguard.domain.schema import Field, Kind


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def value_alias(schema: EventSchema, column: str) -> str:
    """The events relation's name for a declared value column (v0, v1, ...; the type: `type`)."""
    if column == schema.source.type_column:
        return "type"
    return f"v{schema.source.value_columns.index(column)}"


def event_columns(schema: EventSchema, time_expression: str) -> str:
    """The SELECT list that turns a source relation into the events relation; `time_expression`
    is the engine's expression for the source's time in days since 1970-01-01."""
    source = schema.source
    columns = [f"CAST({quote_name(source.id_column)} AS STRING) AS id", f"{time_expression} AS t"]
    columns.append(
        f"CAST({quote_name(source.type_column)} AS STRING) AS type" if source.type_column else "NULL AS type"
    )
    # a missing value counts as 0, as `History` holds it
    columns += [
        f"COALESCE(CAST({quote_name(name)} AS DOUBLE), 0.0) AS v{index}"
        for index, name in enumerate(source.value_columns)
    ]
    return ", ".join(columns)


def _where(feature: WindowFeature, low: str, high: str) -> str:
    conditions = [f"e.t >= {low}" if low else "", f"e.t < {high}"]
    if feature.event_type is not None:
        conditions.append(f"e.type = {sql_text(feature.event_type)}")
    return " AND ".join(c for c in conditions if c)


def _amount(schema: EventSchema, feature: WindowFeature, low: str, high: str) -> str:
    where = _where(feature, low, high)
    if feature.value is None:
        return f"CAST(COUNT(*) FILTER (WHERE {where}) AS DOUBLE)"
    return f"COALESCE(SUM(e.{value_alias(schema, feature.value)}) FILTER (WHERE {where}), 0.0)"


def feature_expression(schema: EventSchema, feature: WindowFeature) -> str:
    operation, days = feature.operation, feature.days or 0  # a windowed operation always has its days
    if operation is WindowOperation.DAYS_SINCE_LAST:
        return f"o.c - MAX(e.t) FILTER (WHERE {_where(feature, '', 'o.c')})"
    if operation is WindowOperation.DAYS_SINCE_FIRST:
        return f"o.c - MIN(e.t) FILTER (WHERE {_where(feature, '', 'o.c')})"
    window = _where(feature, f"o.c - {days}", "o.c")
    if operation in (WindowOperation.COUNT, WindowOperation.SUM):  # the count, or the value's sum
        return _amount(schema, feature, f"o.c - {days}", "o.c")
    if operation is WindowOperation.DISTINCT:
        what = "FLOOR(e.t)" if feature.value is None else f"e.{value_alias(schema, feature.value)}"
        return f"CAST(COUNT(DISTINCT {what}) FILTER (WHERE {window}) AS DOUBLE)"
    if operation is WindowOperation.MEAN:
        return f"COALESCE(AVG(e.{value_alias(schema, str(feature.value))}) FILTER (WHERE {window}), 0.0)"
    last = _amount(schema, feature, f"o.c - {days}", "o.c")
    previous = _amount(schema, feature, f"o.c - {2 * days}", f"o.c - {days}")
    return f"CASE WHEN {last} + {previous} = 0 THEN 0.0 ELSE ({last} - {previous}) / ({last} + {previous}) END"


def label_expression(schema: EventSchema, until: str) -> str:
    """1 churned, 0 stayed; NULL when the horizon after the cutoff is not over by `until`."""
    churn = schema.churn
    if churn.kind is ChurnKind.CANCEL:
        fired = f"COUNT(*) FILTER (WHERE e.t >= o.c AND e.type = {sql_text(str(churn.cancel_type))}) > 0"
    else:
        fired = "COUNT(*) FILTER (WHERE e.t >= o.c) = 0"
    return f"CASE WHEN o.c + {churn.horizon_days} > {until} THEN NULL WHEN {fired} THEN 1 ELSE 0 END"


def observation_query(schema: EventSchema, cutoff_days: tuple[int, ...], until: str) -> str:
    """One row per customer active at each cutoff (an event before it; contractual: no
    cancellation before it), from the `events` relation; `until` is the first day the data does
    not cover (an SQL expression), so a label whose horizon is not over yet is NULL."""
    values = ", ".join(f"({day})" for day in cutoff_days)
    active = f"HAVING COUNT(*) FILTER (WHERE e.type = {sql_text(str(schema.churn.cancel_type))}) = 0"
    features = ",\n  ".join(
        f"{feature_expression(schema, feature)} AS {quote_name(feature.name)}" for feature in schema.features
    )
    # every name quoted (quote_name), every text a literal (sql_text), every number an int: B608 does not apply
    return f"""
WITH cutoffs AS (SELECT * FROM (VALUES {values}) AS cutoff_days(c)),
observed AS (
  SELECT e.id, cutoffs.c FROM events e JOIN cutoffs ON e.t < cutoffs.c
  GROUP BY e.id, cutoffs.c
  {active if schema.churn.kind is ChurnKind.CANCEL else ""}
)
SELECT o.id, o.c AS cutoff_day,
  {features},
  {label_expression(schema, until)} AS churn
FROM observed o JOIN events e ON e.id = o.id AND e.t < o.c + {schema.churn.horizon_days}
GROUP BY o.id, o.c
ORDER BY o.c, o.id
"""  # nosec B608


def attribute_type(attribute: Field) -> str:
    """A static attribute's SQL type: a number as a number; labels as text unless every label is
    a whole number (0/1), so a Parquet table carries each as its field reads it."""
    if attribute.kind is Kind.INTEGER:
        return "BIGINT"
    if attribute.kind is Kind.NUMBER:
        return "DOUBLE"
    labels = attribute.labels
    whole = bool(labels) and all(isinstance(label, int) and not isinstance(label, bool) for label in labels)
    return "BIGINT" if whole else "STRING"


def customer_columns(schema: EventSchema) -> str:
    """The SELECT list that turns a customer table (`customer_source`, every cell as read) into
    the `customers` relation: `id` and each attribute as its type."""
    columns = [f"CAST({quote_name(schema.source.id_column)} AS STRING) AS id"]
    columns += [f"CAST({quote_name(a.name)} AS {attribute_type(a)}) AS {quote_name(a.name)}" for a in schema.attributes]
    return ", ".join(columns)


def output_query(schema: EventSchema, labelled_only: bool) -> str:
    """The observation table from the `observations` rows: the id under its own name, the cutoff
    as an ISO date, the features (counts as whole numbers), the attributes, the label; rows whose
    label is unknown yet left out when `labelled_only` (a training table)."""
    features = ", ".join(
        f"CAST(o.{quote_name(f.name)} AS BIGINT) AS {quote_name(f.name)}" if f.whole else f"o.{quote_name(f.name)}"
        for f in schema.features
    )
    features += "".join(f", c.{quote_name(a.name)}" for a in schema.attributes)
    joined = "observations o LEFT JOIN customers c ON c.id = o.id" if schema.attributes else "observations o"
    return (
        f"SELECT o.id AS {quote_name(schema.source.id_column)}, "  # nosec B608
        f"CAST(DATE '1970-01-01' + CAST(o.cutoff_day AS INTEGER) AS STRING) AS {CUTOFF_COLUMN}, "
        f"{features}, o.churn AS {LABEL_COLUMN} FROM {joined} "
        f"{'WHERE o.churn IS NOT NULL ' if labelled_only else ''}ORDER BY o.cutoff_day, o.id"
    )
