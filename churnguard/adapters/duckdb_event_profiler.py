"""The EventProfiler port on DuckDB (`churnguard schema init --events`): an event file ChurnGuard
has never seen to a draft event schema, reading the whole history in one streaming pass or a few.

What it decides, and says why (the notes print beside the draft):
- the time format: ISO dates or timestamps, else the first of a few common forms every time reads as;
- the type column (given, or the text column with the fewest distinct values, 2 to 30) and the
  value columns (every other column whose cells all read as numbers);
- the churn definition: a cancellation within 91 days when a type is named like one (cancel,
  churn, terminate, unsubscribe, close), else inactivity over the 90th percentile of the gaps
  between a customer's active days (rounded up to whole weeks, 28 to 365 days);
- windows from the history's span (7, 28, 91, 182, 365 days: the largest three that fit three
  times into it), and cutoffs every 28 days from the first with a whole long window behind it
  to the last whose horizon the history covers.
"""

from __future__ import annotations

import math
import re

from churnguard.adapters.duckdb_observation_builder import DuckdbObservationBuilder, DuckdbSession
from churnguard.adapters.observation_sql import quote_name
from churnguard.adapters.postgres_table_export import readable, shown
from churnguard.adapters.yaml_event_schema import dump_event_schema
from churnguard.application.errors import DatasetUnreadable, InvalidOptions
from churnguard.application.ports import EventDraft
from churnguard.domain.events import (
    ChurnDefinition,
    ChurnKind,
    Cutoffs,
    EventSchema,
    EventSource,
    WindowFeature,
    WindowOperation,
    date_of,
)

WINDOWS = (7, 28, 91, 182, 365)
TIME_FORMATS = ("%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%d-%m-%Y")
CANCEL_WORDS = re.compile(r"cancel|churn|terminat|unsubscrib|close|quit", re.IGNORECASE)
MAX_TYPES = 30
EVERY_DAYS = 28
CANCEL_HORIZON = 91


def _name(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_") or "value"


class DuckdbEventProfiler:
    def __init__(self, builder: DuckdbObservationBuilder | None = None) -> None:
        self._builder = builder or DuckdbObservationBuilder()

    def profile(
        self,
        location: str,
        id_column: str,
        time_column: str,
        type_column: str | None,
        time_format: str | None,
        name: str,
    ) -> EventDraft:
        notes: dict[str, str] = {}
        with readable(location) as path, self._builder.session() as sql:
            columns = sql.view("source", path)
            for column, option in ((id_column, "--id"), (time_column, "--time"), (type_column, "--type")):
                if column is not None and column not in columns:
                    raise DatasetUnreadable(
                        location, f"no column {column!r} ({option}; it has {', '.join(sorted(columns))})"
                    )
            time = quote_name(time_column)
            time_format = self._time_format(sql, location, time_column, time_format, notes)
            sql.create(
                "events",
                f"SELECT CAST({quote_name(id_column)} AS STRING) AS id, "  # nosec B608
                f"{sql.time_expression(time, time_format)} AS t FROM source",
            )
            ((events, customers, first, last),) = sql.rows(
                "SELECT COUNT(*), COUNT(DISTINCT id), MIN(t), MAX(t) FROM events WHERE id IS NOT NULL"
            )
            if not events:
                raise DatasetUnreadable(location, "it holds no event")
            others = [c for c in sorted(columns) if c not in (id_column, time_column)]
            type_column = type_column or self._type_column(sql, others, notes)
            types = self._types(sql, type_column)
            values = [c for c in others if c != type_column and self._numeric(sql, c)]
            for column in values:
                notes[column] = "a value column: every cell reads as a number"
            for column in others:
                notes.setdefault(column, "left out: neither the type nor a number")
            gap = self._gap(sql)
        span = last - first
        cancel = next((t for t in types if CANCEL_WORDS.search(t)), None)
        if cancel is not None:
            churn = ChurnDefinition(ChurnKind.CANCEL, CANCEL_HORIZON, cancel)
            notes["churn"] = f"a {cancel!r} event within {CANCEL_HORIZON} days: the type is named like a cancellation"
        else:
            horizon = int(min(365, max(28, 7 * math.ceil(gap / 7))))
            churn = ChurnDefinition(ChurnKind.INACTIVITY, horizon)
            notes["churn"] = (
                f"no event within {horizon} days: 90 % of the gaps between a customer's active days are "
                f"{gap:.0f} days or shorter"
            )
        windows = [w for w in WINDOWS if 3 * w <= span][-3:] or [max(1, int(span // 3))]
        cutoffs = self._cutoffs(first, last, windows, churn.horizon_days, location)
        notes["cutoffs"] = (
            f"every {EVERY_DAYS} days from {cutoffs.first} ({windows[-1]} days of history behind it), "
            f"{cutoffs.count} of them: the last whose {churn.horizon_days}-day horizon the history covers"
        )
        notes["history"] = f"{events:,} events of {customers:,} customers, {date_of(first)} to {date_of(last)}"
        features = self._features(windows, values, [t for t in types if t != cancel][:4], type_column)
        schema = EventSchema(
            name=name,
            source=EventSource(id_column, time_column, type_column, tuple(values), time_format),
            features=features,
            churn=churn,
            cutoffs=cutoffs,
            description=f"Drafted from {shown(location)}.",
        )
        return EventDraft(schema, notes)

    def render(self, draft: EventDraft, source: str) -> str:
        source = shown(source)
        lines = [
            f"# Drafted by `churnguard schema init --events` from {source}. Check every decision,",
            f"# then build the training table: churnguard events build --schema THIS --events {source} --out TABLE.csv",
            *(f"# {key}: {note}" for key, note in draft.notes.items()),
        ]
        return "\n".join(lines) + "\n" + dump_event_schema(draft.schema)

    @staticmethod
    def _time_format(
        sql: DuckdbSession, location: str, column: str, given: str | None, notes: dict[str, str]
    ) -> str | None:
        time = quote_name(column)
        candidates = [given] if given else [None, *TIME_FORMATS]
        for fmt in candidates:
            ((unread,),) = sql.rows(
                f"SELECT COUNT(*) FROM source WHERE {time} IS NOT NULL AND ({sql.time_expression(time, fmt)}) IS NULL"  # nosec B608
            )
            if not unread:
                notes[column] = f"the time: {'ISO dates or timestamps' if fmt is None else 'written ' + fmt}"
                return fmt
        tried = given or f"ISO, {', '.join(TIME_FORMATS)}"
        raise InvalidOptions(f"{location}: column {column!r} does not read as a time ({tried}): give --time-format")

    @staticmethod
    def _type_column(sql: DuckdbSession, others: list[str], notes: dict[str, str]) -> str | None:
        best: tuple[int, str] | None = None
        for column in others:
            name = quote_name(column)
            ((distinct, numeric),) = sql.rows(
                f"SELECT COUNT(DISTINCT {name}), COUNT(TRY_CAST({name} AS DOUBLE)) FROM source"  # nosec B608
            )
            if 2 <= distinct <= MAX_TYPES and not numeric and (best is None or distinct < best[0]):
                best = (distinct, column)
        if best is None:
            return None
        notes[best[1]] = f"the event type: text with {best[0]} distinct values (or give --type)"
        return best[1]

    @staticmethod
    def _types(sql: DuckdbSession, column: str | None) -> list[str]:
        if column is None:
            return []
        name = quote_name(column)
        rows = sql.rows(
            f"SELECT CAST({name} AS STRING), COUNT(*) AS n FROM source WHERE {name} IS NOT NULL "  # nosec B608
            "GROUP BY 1 ORDER BY n DESC, 1"
        )
        return [str(value) for value, _ in rows]

    @staticmethod
    def _numeric(sql: DuckdbSession, column: str) -> bool:
        name = quote_name(column)
        ((present, numbers),) = sql.rows(
            f"SELECT COUNT({name}), COUNT(TRY_CAST({name} AS DOUBLE)) FROM source"  # nosec B608
        )
        return bool(present) and present == numbers

    @staticmethod
    def _gap(sql: DuckdbSession) -> float:
        """The 90th percentile of the gaps between a customer's consecutive active days."""
        ((gap,),) = sql.rows(
            "SELECT quantile_cont(gap, 0.9) FROM (SELECT day - LAG(day) OVER (PARTITION BY id ORDER BY day) AS gap "
            "FROM (SELECT DISTINCT id, FLOOR(t) AS day FROM events WHERE t IS NOT NULL)) WHERE gap IS NOT NULL"
        )
        return float(gap) if gap is not None else 28.0

    @staticmethod
    def _cutoffs(first: float, last: float, windows: list[int], horizon: int, location: str) -> Cutoffs:
        start = date_of(first + windows[-1])
        end = date_of(last + 1 - horizon)  # the last cutoff whose horizon ends inside the history
        if end < start:
            raise InvalidOptions(
                f"{location}: the history spans {last - first:.0f} days: too short for {windows[-1]} days of "
                f"history before a cutoff and a {horizon}-day horizon after it"
            )
        count = (end - start).days // EVERY_DAYS + 1
        return Cutoffs(start, EVERY_DAYS, count)

    @staticmethod
    def _features(
        windows: list[int], values: list[str], types: list[str], type_column: str | None
    ) -> tuple[WindowFeature, ...]:
        middle, long = windows[len(windows) // 2], windows[-1]
        features = [WindowFeature(f"events_{w}d", WindowOperation.COUNT, w) for w in windows]
        features.append(WindowFeature(f"active_days_{middle}d", WindowOperation.DISTINCT, middle))
        features.append(WindowFeature(f"event_trend_{middle}d", WindowOperation.TREND, middle))
        for value in values:
            column = _name(value)
            features.append(WindowFeature(f"{column}_{middle}d", WindowOperation.SUM, middle, value))
            if long != middle:
                features.append(WindowFeature(f"{column}_{long}d", WindowOperation.SUM, long, value))
            features.append(WindowFeature(f"mean_{column}_{long}d", WindowOperation.MEAN, long, value))
        for event_type in types if type_column else []:
            features.append(
                WindowFeature(f"{_name(event_type)}_{middle}d", WindowOperation.COUNT, middle, event_type=event_type)
            )
        features.append(WindowFeature("days_since_last", WindowOperation.DAYS_SINCE_LAST))
        features.append(WindowFeature("days_since_first", WindowOperation.DAYS_SINCE_FIRST))
        unique: dict[str, WindowFeature] = {}
        for feature in features:
            unique.setdefault(feature.name, feature)  # two types named alike: the more frequent keeps the name
        return tuple(unique.values())
