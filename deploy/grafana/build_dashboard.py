"""Build deploy/grafana/dashboards/churnguard.json from code (grafana-foundation-sdk).

Every query is written here once, against the metric names the API exports
(churnguard/entrypoints/http/metrics.py); the tests check the committed JSON equals this script's
output, that every metric it names is exported, and that every query returns data from a real
Prometheus scraping a real API.

    python deploy/grafana/build_dashboard.py                                # the original schema's
    python deploy/grafana/build_dashboard.py --schema schemas/telco.yaml   # dashboards/churnguard-telco.json
    python deploy/grafana/build_dashboard.py --check                        # exit 1 if the committed JSON is stale

The feature panels are generated from the schema's fields, on the metric names the API
derives from the same fields (churnguard/entrypoints/http/input_metrics.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, gauge, piechart, stat, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row, TextBoxVariable, ThresholdsConfig
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueTextMode,
    GraphDrawStyle,
    LegendDisplayMode,
    LegendPlacement,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    GridPos,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
)
from grafana_foundation_sdk.models.piechart import PieChartLegendValues
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from churnguard.adapters.yaml_schema import load_schema
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.schema import TableSchema
from churnguard.entrypoints.http.input_metrics import metric_name, snake

DASHBOARDS = Path(__file__).parent / "dashboards"
OUTPUT = DASHBOARDS / "churnguard.json"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="churnguard-prometheus")  # provisioned in datasources/
JOB_MATCH = "(.+/)?churnguard-api"
"""The API's job: `churnguard-api` from the static scrape config, `<namespace>/churnguard-api`
from the Kubernetes PodMonitor; the dashboard's `job` variable defaults to both."""
JOB = 'job=~"$job"'
RATE = "$__rate_interval"
RANGE = "$__range"

GREEN, AMBER, RED, BLUE = "green", "#EAB839", "red", "blue"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False  # a current value (stat, gauge, bars) rather than a series over time


@dataclass(frozen=True)
class PanelSpec:
    kind: str  # stat | gauge | timeseries | bars | pie
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    width: int = 6
    height: int = 6
    thresholds: tuple[tuple[float | None, str], ...] = ((None, GREEN),)
    mappings: dict[str, tuple[str, str]] = field(default_factory=dict)  # value -> (text, colour)
    min: float | None = None
    max: float | None = None
    text_mode: BigValueTextMode = BigValueTextMode.AUTO


def rate(metric: str, by: str = "", selector: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{{{selector}}}[{RATE}]))"


def quantile(q: float, metric: str, by: str = "", selector: str = "") -> str:
    keys = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({keys}) (rate({metric}_bucket{{{selector}}}[{RATE}])))"


def distribution(metric: str) -> Query:
    """Observations per histogram bucket over the dashboard range (non-cumulative, Grafana's heatmap format)."""
    return Query(f"sum by (le) (increase({metric}_bucket[{RANGE}]))", "{{le}}", instant=True)


PREDICTIONS = "churnguard_predictions_total"
REQUESTS = "churnguard_http_requests_total"
HTTP_LATENCY = "churnguard_http_request_duration_seconds"
UP_DOWN = {"0": ("DOWN", RED), "1": ("UP", GREEN)}
CLIENT_ERRORS = rate(REQUESTS, selector='status=~"4.."')
SERVER_ERRORS = rate(REQUESTS, selector='status=~"5.."')
CHURN_RATE = rate(PREDICTIONS, selector='outcome="churn"') + " / " + rate(PREDICTIONS)

SECTIONS: tuple[tuple[str, tuple[PanelSpec, ...]], ...] = (
    (
        "Status",
        (
            PanelSpec(
                "stat",
                "API up",
                "Prometheus can scrape the API.",
                (Query(f"min(up{{{JOB}}})", instant=True),),
                width=3,
                height=4,
                mappings=UP_DOWN,
                thresholds=((None, RED), (1, GREEN)),
            ),
            PanelSpec(
                "stat",
                "Model loaded",
                "A verified champion is loaded in every worker.",
                (Query("min(churnguard_model_loaded)", instant=True),),
                width=3,
                height=4,
                mappings={"0": ("NO MODEL", RED), "1": ("LOADED", GREEN)},
                thresholds=((None, RED), (1, GREEN)),
            ),
            PanelSpec(
                "stat",
                "Uptime",
                "Time since the oldest worker started.",
                (Query("time() - min(churnguard_start_time_seconds)", instant=True),),
                unit="s",
                width=3,
                height=4,
            ),
            PanelSpec(
                "stat",
                "Requests",
                "HTTP requests in the dashboard's time range.",
                (Query(f"sum(increase({REQUESTS}[{RANGE}]))", instant=True),),
                width=3,
                height=4,
            ),
            PanelSpec(
                "stat",
                "Churn predictions",
                "Customers predicted to churn in the time range.",
                (Query(f'sum(increase({PREDICTIONS}{{outcome="churn"}}[{RANGE}]))', instant=True),),
                width=3,
                height=4,
                thresholds=((None, AMBER),),
            ),
            PanelSpec(
                "stat",
                "No-churn predictions",
                "Customers predicted to stay in the time range.",
                (Query(f'sum(increase({PREDICTIONS}{{outcome="no_churn"}}[{RANGE}]))', instant=True),),
                width=3,
                height=4,
            ),
            PanelSpec(
                "stat",
                "Errors",
                "4xx and 5xx responses in the time range.",
                (Query(f'sum(increase({REQUESTS}{{status=~"4..|5.."}}[{RANGE}])) or vector(0)', instant=True),),
                width=3,
                height=4,
                thresholds=((None, GREEN), (1, AMBER)),
            ),
            PanelSpec(
                "stat",
                "Model version",
                "The serving champion (fingerprint prefix and model family).",
                (
                    Query(
                        "max by (model_version, family) (churnguard_model_info) == 1",
                        "{{model_version}} · {{family}}",
                        instant=True,
                    ),
                ),
                width=3,
                height=4,
                text_mode=BigValueTextMode.NAME,
                thresholds=((None, BLUE),),
            ),
            PanelSpec(
                "gauge",
                "Predicted churn rate",
                "Share of predictions that are churn, in the time range.",
                (
                    Query(
                        f'sum(increase({PREDICTIONS}{{outcome="churn"}}[{RANGE}])) / '
                        f"sum(increase({PREDICTIONS}[{RANGE}]))",
                        instant=True,
                    ),
                ),
                unit="percentunit",
                min=0,
                max=1,
                width=6,
                height=6,
                thresholds=((None, GREEN), (0.35, AMBER), (0.5, RED)),
            ),
            PanelSpec(
                "stat",
                "Holdout F1",
                "F1 of the serving model on its held-out split.",
                (Query("max(churnguard_model_holdout_f1)", instant=True),),
                unit="percentunit",
                width=6,
                height=6,
                thresholds=((None, RED), (0.72, GREEN)),
            ),
            PanelSpec(
                "stat",
                "Decision threshold",
                "Probability above which a customer is flagged.",
                (Query("max(churnguard_model_threshold)", instant=True),),
                unit="percentunit",
                width=6,
                height=6,
                thresholds=((None, BLUE),),
            ),
            PanelSpec(
                "stat",
                "Training churn rate",
                "Base rate of the champion's training data.",
                (Query("max(churnguard_training_churn_rate)", instant=True),),
                unit="percentunit",
                width=6,
                height=6,
                thresholds=((None, BLUE),),
            ),
        ),
    ),
    (
        "Traffic",
        (
            PanelSpec(
                "timeseries",
                "Requests per second by route",
                "",
                (Query(rate(REQUESTS, "route"), "{{route}}"),),
                unit="reqps",
                width=8,
                height=8,
            ),
            PanelSpec(
                "timeseries",
                "Responses by status code",
                "",
                (Query(rate(REQUESTS, "status"), "{{status}}"),),
                unit="reqps",
                width=8,
                height=8,
            ),
            PanelSpec(
                "timeseries",
                "Error ratio",
                "Share of responses that are 4xx (client) or 5xx (server).",
                (
                    Query(f"({CLIENT_ERRORS} or vector(0)) / {rate(REQUESTS)}", "4xx"),
                    Query(f"({SERVER_ERRORS} or vector(0)) / {rate(REQUESTS)}", "5xx"),
                ),
                unit="percentunit",
                width=8,
                height=8,
                thresholds=((None, GREEN), (0.01, RED)),
            ),
        ),
    ),
    (
        "Latency",
        (
            PanelSpec(
                "timeseries",
                "/predict latency",
                "End-to-end HTTP latency of single predictions.",
                tuple(
                    Query(quantile(q, HTTP_LATENCY, selector='route="/predict"'), f"p{round(q * 100)}")
                    for q in (0.5, 0.95, 0.99)
                ),
                unit="s",
                width=8,
                height=8,
                thresholds=((None, GREEN), (0.25, RED)),
            ),
            PanelSpec(
                "timeseries",
                "HTTP latency p95 by route",
                "",
                (Query(quantile(0.95, HTTP_LATENCY, "route"), "{{route}}"),),
                unit="s",
                width=8,
                height=8,
            ),
            PanelSpec(
                "timeseries",
                "Model inference latency",
                "The model call alone, per request or batch.",
                tuple(
                    Query(quantile(q, "churnguard_model_inference_seconds"), f"p{round(q * 100)}") for q in (0.5, 0.99)
                ),
                unit="s",
                width=8,
                height=8,
            ),
        ),
    ),
    (
        "Predictions",
        (
            PanelSpec(
                "timeseries",
                "Churn rate over time",
                "Predicted churn share against the training base rate.",
                (Query(CHURN_RATE, "predicted"), Query("max(churnguard_training_churn_rate)", "training base rate")),
                unit="percentunit",
                width=8,
                height=8,
                min=0,
                max=1,
            ),
            PanelSpec(
                "timeseries",
                "Mean churn probability",
                "Calibrated probabilities average to the churn rate.",
                (
                    Query(
                        f"{rate('churnguard_churn_probability_sum')} / {rate('churnguard_churn_probability_count')}",
                        "mean probability",
                    ),
                    Query("max(churnguard_model_threshold)", "decision threshold"),
                ),
                unit="percentunit",
                width=8,
                height=8,
                min=0,
                max=1,
            ),
            PanelSpec(
                "pie",
                "Prediction mix",
                "Churn and no-churn predictions in the time range.",
                (Query(f"sum by (outcome) (increase({PREDICTIONS}[{RANGE}]))", "{{outcome}}", instant=True),),
                width=8,
                height=8,
            ),
            PanelSpec(
                "bars",
                "Churn probability distribution",
                "Predictions per probability bucket (upper bound).",
                (distribution("churnguard_churn_probability"),),
                width=8,
                height=8,
            ),
            PanelSpec(
                "timeseries",
                "Customers per batch request",
                "Mean size of /predict/batch calls.",
                (
                    Query(
                        f"{rate('churnguard_batch_size_customers_sum')} / "
                        f"{rate('churnguard_batch_size_customers_count')}",
                        "mean batch size",
                    ),
                ),
                width=8,
                height=8,
            ),
            PanelSpec(
                "bars",
                "Rejected predictions by reason",
                "Requests refused before scoring, by reason.",
                (
                    Query(
                        f"sum by (reason) (increase(churnguard_prediction_errors_total[{RANGE}]))",
                        "{{reason}}",
                        instant=True,
                    ),
                ),
                width=8,
                height=8,
                thresholds=((None, AMBER),),
            ),
        ),
    ),
    (
        "Drift",
        (
            PanelSpec(
                "gauge",
                "Drifted share of the champion's influence",
                "Share of the fields' influence on the champion carried by the drifted fields in the latest "
                "`churnguard drift` (dataset drift from DRIFT_SHARE); the plain share of drifted fields beside it.",
                (
                    Query("max(churnguard_drift_weighted_share)", "weighted", instant=True),
                    Query("max(churnguard_drift_share)", "plain", instant=True),
                ),
                unit="percentunit",
                min=0,
                max=1,
                width=6,
                height=8,
                thresholds=((None, GREEN), (0.25, AMBER), (0.5, RED)),
            ),
            PanelSpec(
                "stat",
                "Estimated performance (no labels)",
                "The champion's F1, precision, recall and ROC-AUC estimated from its calibrated probabilities "
                "on the latest drift check's rows; red under the gate's F1 floor.",
                (
                    Query(
                        "max by (metric) (churnguard_estimated_performance)",
                        "{{metric}}",
                        instant=True,
                    ),
                ),
                unit="percentunit",
                width=6,
                height=8,
                thresholds=((None, RED), (0.6, AMBER), (0.72, GREEN)),
            ),
            PanelSpec(
                "stat",
                "Prediction drift",
                "Drift statistic of the predicted probabilities, reference against current.",
                (Query("max by (test) (churnguard_prediction_drift_score)", "{{test}}", instant=True),),
                width=6,
                height=8,
                thresholds=((None, GREEN), (0.1, RED)),
            ),
            PanelSpec(
                "stat",
                "Dataset drift",
                "The latest check's verdict.",
                (Query("max(churnguard_drift_detected)", instant=True),),
                width=6,
                height=8,
                mappings={"0": ("NO DRIFT", GREEN), "1": ("DRIFT", RED)},
                thresholds=((None, GREEN), (1, RED)),
            ),
            PanelSpec(
                "stat",
                "Since last drift check",
                "Age of the latest drift report.",
                (Query("time() - max(churnguard_drift_last_check_timestamp_seconds)", instant=True),),
                unit="s",
                width=6,
                height=8,
                thresholds=((None, GREEN), (86400, AMBER), (172800, RED)),
            ),
            PanelSpec(
                "bars",
                "Drift score per feature",
                "Statistic per feature: a distance, or a p-value for p-value tests (see the test label).",
                (
                    Query(
                        "max by (feature, test) (churnguard_drift_feature_score)",
                        "{{feature}} ({{test}})",
                        instant=True,
                    ),
                ),
                width=6,
                height=8,
            ),
        ),
    ),
    (
        "Telemetry",
        (
            PanelSpec(
                "timeseries",
                "Dropped prediction-log rows and traces",
                "Rows the log queue could not take, traces MLflow did not accept.",
                (
                    Query("sum(increase(churnguard_prediction_log_dropped_total[5m]))", "prediction-log rows"),
                    Query("sum(increase(churnguard_dropped_traces_total[5m]))", "traces"),
                ),
                width=12,
                height=8,
                thresholds=((None, GREEN), (1, RED)),
            ),
            PanelSpec(
                "bars",
                "Model reloads",
                "Champion reloads by result in the time range.",
                (
                    Query(
                        f"sum by (result) (increase(churnguard_model_reloads_total[{RANGE}]))",
                        "{{result}}",
                        instant=True,
                    ),
                ),
                width=12,
                height=8,
                thresholds=((None, BLUE),),
            ),
        ),
    ),
)


def _thresholds(spec: PanelSpec) -> ThresholdsConfig:
    steps = [Threshold(value=value, color=colour) for value, colour in spec.thresholds]
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def _mappings(spec: PanelSpec) -> list[Any]:
    if not spec.mappings:
        return []
    results = {value: ValueMappingResult(text=text, color=colour) for value, (text, colour) in spec.mappings.items()}
    return [ValueMap(options=results)]


def _panel(spec: PanelSpec, panel_id: int) -> Any:
    last = ReduceDataOptions().calcs(["lastNotNull"]).values(False)
    builder: Any
    if spec.kind == "stat":
        builder = (
            stat.Panel()
            .reduce_options(last)
            .text_mode(spec.text_mode)
            .color_mode(BigValueColorMode.VALUE)
            .orientation(VizOrientation.AUTO)
        )
    elif spec.kind == "gauge":
        builder = gauge.Panel().reduce_options(last).show_threshold_markers(True)
    elif spec.kind == "bars":
        builder = (
            bargauge.Panel()
            .reduce_options(last)
            .display_mode(BarGaugeDisplayMode.GRADIENT)
            .orientation(VizOrientation.HORIZONTAL)
        )
    elif spec.kind == "pie":
        pie_legend = (
            piechart.PieChartLegendOptions()
            .display_mode(LegendDisplayMode.LIST)
            .placement(LegendPlacement.RIGHT)
            .show_legend(True)
            .values([PieChartLegendValues.PERCENT])
        )
        builder = piechart.Panel().reduce_options(last).legend(pie_legend)
    elif spec.kind == "timeseries":
        legend = (
            VizLegendOptions().display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM).show_legend(True)
        )
        builder = timeseries.Panel().draw_style(GraphDrawStyle.LINE).line_width(2).fill_opacity(10).legend(legend)
    else:
        raise ValueError(f"unknown panel kind {spec.kind!r}")
    builder = (
        builder.id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(DATASOURCE)
        .unit(spec.unit)
        .grid_pos(GridPos(h=spec.height, w=spec.width))
        .thresholds(_thresholds(spec))
    )
    if spec.mappings:
        builder = builder.mappings(_mappings(spec))
    if spec.min is not None:
        builder = builder.min(spec.min)
    if spec.max is not None:
        builder = builder.max(spec.max)
    for index, query in enumerate(spec.queries):
        target = Dataquery().expr(query.expr).ref_id(chr(ord("A") + index)).datasource(DATASOURCE)
        if query.legend:
            target = target.legend_format(query.legend)
        if query.instant:
            target = target.instant()
            if spec.kind == "bars" and query.legend == "{{le}}":
                target = target.format(PromQueryFormat.HEATMAP)
        else:
            target = target.range()
        builder = builder.with_target(target)
    return builder


def feature_panels(schema: TableSchema) -> tuple[PanelSpec, ...]:
    """One panel per declared field, on the input metric the API derives from the same field."""
    panels = []
    for spec in schema.fields:
        name = metric_name(spec)
        if spec.has_labels:
            label = snake(spec.name)
            query = Query(f"sum by ({label}) (increase({name}_total[{RANGE}]))", f"{{{{{label}}}}}", instant=True)
            panels.append(
                PanelSpec(
                    "pie",
                    f"{spec.title} mix",
                    f"Customers scored by {spec.title} in the time range.",
                    (query,),
                    width=8,
                    height=8,
                )
            )
        else:
            unit = f" ({spec.unit})" if spec.unit else ""
            panels.append(
                PanelSpec(
                    "bars",
                    f"{spec.title} distribution",
                    f"Customers scored per {spec.title} bucket (upper bound{unit}; buckets: the training deciles).",
                    (distribution(name),),
                    width=8,
                    height=8,
                )
            )
    return tuple(panels)


def sections(schema: TableSchema) -> tuple[tuple[str, tuple[PanelSpec, ...]], ...]:
    before, after = SECTIONS[:4], SECTIONS[4:]  # after Status, Traffic, Latency, Predictions
    return (*before, ("Features", feature_panels(schema)), *after)


def build_dashboard(schema: TableSchema = ORIGINAL_SCHEMA) -> dict[str, Any]:
    original = schema.hash == ORIGINAL_SCHEMA.hash
    dashboard = (
        Dashboard("ChurnGuard" if original else f"ChurnGuard ({schema.name})")
        .uid("churnguard" if original else f"churnguard-{schema.name}")
        .description(
            f"Inference API, predictions, input features and drift of the ChurnGuard model ({schema.name} schema)."
        )
        .tags(["churnguard", "ml", "generated"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .editable()
    )
    job = (
        TextBoxVariable("job")
        .label("API job")
        .description("Prometheus job of the ChurnGuard API (a regex): static config or PodMonitor")
        .default_value(JOB_MATCH)
    )
    dashboard = dashboard.with_variable(job)
    panel_id = 1
    for section, panels in sections(schema):
        dashboard = dashboard.with_row(Row(section).id(panel_id))
        panel_id += 1
        for spec in panels:
            dashboard = dashboard.with_panel(_panel(spec, panel_id))
            panel_id += 1
    encoded = JSONEncoder(sort_keys=True, indent=2).encode(dashboard.build())
    result: dict[str, Any] = json.loads(encoded)
    return result


def render(schema: TableSchema = ORIGINAL_SCHEMA) -> str:
    return json.dumps(build_dashboard(schema), indent=2, sort_keys=True) + "\n"


def output_for(schema: TableSchema) -> Path:
    return OUTPUT if schema.hash == ORIGINAL_SCHEMA.hash else DASHBOARDS / f"churnguard-{schema.name}.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed JSON differs from the code")
    parser.add_argument("--schema", help="schema file whose fields get feature panels (default: the original)")
    parser.add_argument("--output", type=Path, help="where to write (default: dashboards/churnguard[-<schema>].json)")
    args = parser.parse_args(argv)
    schema = load_schema(args.schema) if args.schema else ORIGINAL_SCHEMA
    output = args.output or output_for(schema)
    text = render(schema)
    if args.check:
        if not output.exists() or output.read_text(encoding="utf-8") != text:
            print(f"{output} is stale: run python deploy/grafana/build_dashboard.py", file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_suffix(".json.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(output)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
