"""deploy/ checked by the real tools offline: promtool, amtool, compose, kubernetes-validate, the
dashboard generator, and the dashboard against the metrics the API exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings

from churnguard.adapters.yaml_schema import load_schema
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.entrypoints import settings as settings_module
from churnguard.entrypoints.http.metrics import ServiceMetrics
from tests.conftest import ROOT, SCHEMAS

DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "churnguard.json"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30.0"


def run(*command: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, check=False)


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: `make tools` installs it"
    return path


def test_prometheus_config_and_rules_pass_promtool():
    config = run(tool("promtool"), "check", "config", DEPLOY / "prometheus" / "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    assert "SUCCESS: 10 rules found" in config.stdout + config.stderr
    rules = run(tool("promtool"), "check", "rules", DEPLOY / "prometheus" / "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_the_main_alerts_fire_on_synthetic_series():
    result = run(tool("promtool"), "test", "rules", "alerts.test.yml", cwd=DEPLOY / "prometheus")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_rule_is_unit_tested_and_documented():
    rules = [
        rule
        for group in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)) == 10
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["runbook"] == f"docs/runbook.md#{rule['alert'].lower()}"
        assert f"\n## {rule['alert']}\n" in runbook, f"{rule['alert']} has no entry in docs/runbook.md"
    untested = set(names) - tested - {"ChurnGuardDriftCheckStale"}
    assert not untested, f"no promtool test fires {sorted(untested)}"


def test_alertmanager_config_passes_amtool():
    result = run(tool("amtool"), "check-config", DEPLOY / "alertmanager" / "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker and run(docker, "compose", "version").returncode == 0:
        return [docker, "compose"]
    fallback = ROOT / ".venv-compose" / "bin" / "docker-compose"
    assert fallback.exists(), "no `docker compose` plugin and no .venv-compose: `make tools` installs it"
    return [str(fallback)]


def test_docker_compose_config_passes_on_a_fresh_clone():
    """No deploy/.env needed to validate; the resolved stack has what production needs."""
    result = run(*compose_command(), "-f", DEPLOY / "docker-compose.yml", "config")
    assert result.returncode == 0, result.stderr
    stack = yaml.safe_load(result.stdout)
    services = stack["services"]
    assert {"inference-api", "mlflow", "postgres", "prometheus", "grafana", "alertmanager"} <= set(services)
    assert services["inference-api"]["command"][-2:] == ["--workers", "2"]
    assert services["inference-api"]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql://")
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == ""  # never a default in the repo
    for name in ("inference-api", "mlflow", "postgres", "prometheus", "grafana"):
        assert "healthcheck" in services[name], name
    assert set(stack["volumes"]) >= {"churnguard-data", "mlflow-artifacts", "postgres-data", "grafana-data"}


def test_the_dockerfile_is_multi_stage_non_root_with_a_healthcheck_and_no_secrets():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM .+ AS (\w+)$", text, flags=re.MULTILINE)
    assert stages == ["builder", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001", runtime, flags=re.MULTILINE)
    assert "HEALTHCHECK" in runtime
    assert "/health" in runtime
    assert "COPY --from=builder /wheels" in runtime
    assert not re.search(r"(?i)(password|secret|token|api_key)\s*=", text)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", "mlflow.db", "models"} <= set(ignored)


def k8s_documents() -> list[dict]:
    documents: list[dict] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return documents


def test_kubernetes_manifests_validate_against_the_schemas():
    documents = k8s_documents()
    kinds = {doc["kind"] for doc in documents}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "CronJob", "PodMonitor"} <= kinds
    for document in documents:
        if document["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked below against the Deployment it scrapes
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(path.name for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def test_a_broken_manifest_is_caught():
    deployment = next(doc for doc in k8s_documents() if doc["kind"] == "Deployment")
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def env_names() -> set[str]:
    names = set()
    for value in vars(settings_module).values():
        if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings:
            for name, field in value.model_fields.items():
                alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
                names.add((alias or name).upper())
    return names


def test_the_deployment_probes_runs_hardened_and_reads_known_settings():
    documents = {doc["kind"]: doc for doc in k8s_documents()}
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"requests", "limits"} <= set(container["resources"])
    config = documents["ConfigMap"]["data"]
    read_by_libraries = {"PROMETHEUS_MULTIPROC_DIR", "MPLCONFIGDIR", "HOME", "MLFLOW_TRACKING_URI"}
    read_by_libraries |= {"MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"}  # MLflow's usage telemetry, off
    unknown = set(config) - env_names() - read_by_libraries
    assert not unknown, f"ConfigMap keys ChurnGuard does not read: {sorted(unknown)}"
    monitor = documents["PodMonitor"]["spec"]
    labels = documents["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["podMetricsEndpoints"][0]["port"] in {port["name"] for port in container["ports"]}
    hpa = documents["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == documents["Deployment"]["metadata"]["name"]
    drift = documents["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert drift["args"][:2] == ["churnguard", "drift"]


BUNDLED = {"original": ORIGINAL_SCHEMA, "telco": load_schema(SCHEMAS / "telco.yaml")}
DASHBOARDS = {"original": DASHBOARD, "telco": DEPLOY / "grafana" / "dashboards" / "churnguard-telco.json"}


def dashboard(schema: str = "original") -> dict:
    return json.loads(DASHBOARDS[schema].read_text())


@pytest.mark.parametrize("schema", ["original", "telco"])
def test_the_committed_dashboard_is_what_the_generator_builds(schema):
    args = [] if schema == "original" else ["--schema", str(SCHEMAS / "telco.yaml")]
    result = run(sys.executable, DEPLOY / "grafana" / "build_dashboard.py", "--check", *args)
    assert result.returncode == 0, result.stderr


def panels(schema: str = "original") -> list[dict]:
    return [panel for panel in dashboard(schema)["panels"] if panel["type"] != "row"]


@pytest.mark.parametrize("schema", ["original", "telco"])
def test_the_dashboard_has_a_feature_panel_per_declared_field(schema):
    board = dashboard(schema)
    titles = [panel["title"] for panel in board["panels"]]
    start, end = titles.index("Features"), titles.index("Drift")
    features = titles[start + 1 : end]
    assert features == [
        f"{spec.title} mix" if spec.has_labels else f"{spec.title} distribution" for spec in BUNDLED[schema].fields
    ]


def test_the_dashboard_has_its_sections_panels_unique_ids_and_the_provisioned_datasource():
    board = dashboard()
    rows = [panel["title"] for panel in board["panels"] if panel["type"] == "row"]
    assert rows == ["Status", "Traffic", "Latency", "Predictions", "Features", "Drift", "Telemetry"]
    assert len(panels()) >= 22
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for panel in panels():
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/churnguard.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def exported_names(schema: str = "original") -> set[str]:
    names = set()
    metrics = ServiceMetrics()
    metrics.declare_inputs(BUNDLED[schema], None)
    for family in metrics.registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


@pytest.mark.parametrize("schema", ["original", "telco"])
def test_every_metric_a_panel_or_alert_names_is_exported_by_the_api(schema):
    exported = exported_names(schema)
    expressions = [target["expr"] for panel in panels(schema) for target in panel["targets"]]
    expressions += [
        rule["expr"]
        for group in yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    used = {name for expr in expressions for name in re.findall(r"\bchurnguard_[a-z0-9_]+", expr)}
    assert len(used) >= 20
    missing = used - exported
    assert not missing, f"not exported by the API: {sorted(missing)}"


def test_the_github_workflow_runs_every_gate():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = {
        name: " ".join(str(step.get("run", step.get("uses", ""))) for step in job["steps"])
        for name, job in workflow["jobs"].items()
    }
    assert set(steps) == {"lint", "test", "pipeline", "image"}
    assert "ruff check" in steps["lint"]
    assert "mypy" in steps["lint"]
    assert "make test" in steps["test"]
    assert "make ml-pipeline" in steps["pipeline"]
    for gate in ("docker/build-push-action", "aquasecurity/trivy-action", "deploy/smoke.py", "compose"):
        assert gate in steps["image"], gate


@pytest.mark.parametrize("schema", ["original", "telco"])
def test_the_dashboards_job_is_a_variable_matching_the_static_config_and_the_podmonitor(schema):
    (variable,) = [v for v in dashboard(schema)["templating"]["list"] if v["name"] == "job"]
    pattern = re.compile(variable["query"])
    assert pattern.fullmatch("churnguard-api")  # deploy/prometheus/prometheus.yml
    assert pattern.fullmatch("churnguard/churnguard-api")  # the PodMonitor: <namespace>/<name>
    assert not pattern.fullmatch("other-api")
    expressions = [target["expr"] for panel in panels(schema) for target in panel["targets"]]
    assert all('job="' not in expr for expr in expressions)
