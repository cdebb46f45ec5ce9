"""The deployment holds together: compose and Kubernetes pin their images, set only variables
that are settings, and agree on ports, probes, scrape targets, drain and scaling. Nothing here
starts a service.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from core.settings import Settings
from tests.ops_support import DEPLOY, K8S, PACKAGES, load_yaml, settings_env

# --- compose ----------------------------------------------------------------------------

COMPOSE_SCHEMA = {
    "type": "object",
    "required": ["services"],
    "properties": {
        "services": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["image"],
                "additionalProperties": False,
                "properties": {
                    "image": {
                        "type": "string",
                        "pattern": r"^[\w./-]+:[\w.-]+$",
                        "not": {"pattern": ":latest$"},
                    },
                    "build": {"type": "object", "required": ["context", "dockerfile"]},
                    "command": {"type": "array", "items": {"type": "string"}},
                    "entrypoint": {"type": "array", "items": {"type": "string"}},
                    "environment": {"type": "object", "additionalProperties": {"type": "string"}},
                    "ports": {
                        "type": "array",
                        "items": {"type": "string", "pattern": r"^\d+:\d+$"},
                    },
                    "volumes": {"type": "array", "items": {"type": "string"}},
                    "depends_on": {"type": ["object", "array"]},
                    "healthcheck": {"type": "object", "required": ["test"]},
                    "restart": {"enum": ["no", "always", "unless-stopped", "on-failure"]},
                    "stop_grace_period": {"type": "string"},
                    "secrets": {"type": "array"},
                    "hostname": {"type": "string"},
                },
            },
        },
    },
}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(DEPLOY / "compose.yaml")
    return data


def by_command(command: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose()["services"].items() if s.get("command") == [command]}


def test_compose_parses_and_pins_every_image() -> None:
    data = compose()
    jsonschema.validate(data, COMPOSE_SCHEMA)
    services = data["services"]
    for name in ("postgres", "temporal", "temporal-ui", "prometheus", "grafana", "otel-collector", "jaeger",
                 "redis-exporter", "valkey-cluster-init"):  # fmt: skip
        assert name in services
    assert len([n for n in services if n.startswith("valkey-") and n[-1].isdigit()]) == 6
    assert len([n for n in services if n.startswith("qdrant-")]) == 3
    assert len(by_command("serve")) == 2 and len(by_command("worker")) == 2
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), volume
        if "build" in service:
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_compose_env_vars_are_settings() -> None:
    known = settings_env()
    for name, service in compose()["services"].items():
        for key in service.get("environment", {}):
            if key.startswith("YATRI_"):
                assert key in known, f"{name}: {key} is not a field of core.settings.Settings"


def test_compose_ports_probes_and_scrape_targets_agree() -> None:
    api = by_command("serve")
    targets: set[str] = set()
    for name, service in api.items():
        env = service["environment"]
        port = env["YATRI_PORT"]
        assert env["YATRI_HOST"] == "0.0.0.0" and env["YATRI_RUN_WORKER"] == "false"
        assert [p.split(":")[1] for p in service["ports"]] == [port], name
        assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"]), name
        targets.add(f"{name}:{port}")
    for worker in by_command("worker").values():
        assert "ports" not in worker and worker["environment"]["YATRI_TEMPORAL_ADDRESS"]
    scrape = {
        j["job_name"]: j
        for j in load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["scrape_configs"]
    }
    [static] = scrape["yatri-api"]["static_configs"]
    assert set(static["targets"]) == targets
    assert scrape["yatri-api"]["authorization"]["credentials_file"] == "/run/secrets/ops_api_key"
    assert "ops_api_key" in compose()["services"]["prometheus"]["secrets"]
    services = compose()["services"]
    for target in scrape["redis"]["static_configs"][0]["targets"]:
        assert target.removeprefix("redis://").split(":")[0] in services
    for target in scrape["qdrant"]["static_configs"][0]["targets"]:
        assert target.split(":")[0] in services
    # The engines Yatri is pointed at are services of this file.
    env = next(iter(api.values()))["environment"]
    assert env["YATRI_REDIS_URL"].removeprefix("redis+cluster://").split(":")[0] in services
    assert env["YATRI_QDRANT_URL"].removeprefix("http://").split(":")[0] in services
    assert env["YATRI_TEMPORAL_ADDRESS"].split(":")[0] in services
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    grafana = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "yatri.yml")
    urls = {d["type"]: d["url"] for d in grafana["datasources"]}
    assert (
        urls["prometheus"] == "http://prometheus:9090"
        and "9090:9090" in services["prometheus"]["ports"]
    )


def test_the_image_holds_every_package() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.M))
    assert copied == set(PACKAGES)
    assert re.search(r"^FROM python:3\.11[\w.-]*$", dockerfile, flags=re.M)


# --- Kubernetes -------------------------------------------------------------------------


def k8s_objects() -> list[dict[str, Any]]:
    return [d for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"
            for d in yaml.safe_load_all(p.read_text()) if d]  # fmt: skip


def k8s(kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in k8s_objects() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def test_k8s_manifests_parse_and_validate_against_the_kubernetes_schema() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in k8s_objects()}
    assert {("Deployment", "yatri-api"), ("Deployment", "yatri-worker"), ("Service", "yatri-api"),
            ("HorizontalPodAutoscaler", "yatri-api"), ("HorizontalPodAutoscaler", "yatri-worker"),
            ("PodDisruptionBudget", "yatri-api"), ("PodDisruptionBudget", "yatri-worker"),
            ("ConfigMap", "yatri-config"), ("Secret", "yatri-secrets")} <= kinds  # fmt: skip
    kustomization = load_yaml(K8S / "kustomization.yaml")
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed"
    )
    for obj in k8s_objects():
        if obj["apiVersion"].startswith("monitoring.coreos.com"):
            continue  # a CRD: no schema in Kubernetes itself
        validate.validate(obj, "1.31", strict=True)


def test_k8s_env_keys_are_settings() -> None:
    known = settings_env()
    for kind, name in (("ConfigMap", "yatri-config"), ("Secret", "yatri-secrets")):
        data = k8s(kind, name).get("data") or k8s(kind, name)["stringData"]
        for key in data:
            if key.startswith("YATRI_"):
                assert key in known, f"{name}: {key} is not a field of core.settings.Settings"
    for obj in k8s_objects():
        if obj["kind"] == "Deployment":
            for container in obj["spec"]["template"]["spec"]["containers"]:
                for env in container.get("env", []):
                    assert not env["name"].startswith("YATRI_") or env["name"] in known
                refs = {
                    (next(iter(r)), next(iter(r.values()))["name"]) for r in container["envFrom"]
                }
                assert refs == {("configMapRef", "yatri-config"), ("secretRef", "yatri-secrets")}


def _probe_port(container: dict[str, Any], probe: dict[str, Any]) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    assert isinstance(number, int)
    return number


def test_k8s_api_probes_ports_and_drain() -> None:
    config = k8s("ConfigMap", "yatri-config")["data"]
    port = int(config["YATRI_PORT"])
    assert config["YATRI_HOST"] == "0.0.0.0" and config["YATRI_RUN_WORKER"] == "false"
    pod = k8s("Deployment", "yatri-api")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"] == ["serve"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert _probe_port(container, container[probe]) == port
    # /readyz's checks each get 3 s (api/checks.py): the probe must wait longer.
    assert container["readinessProbe"]["timeoutSeconds"] > 3
    service = k8s("Service", "yatri-api")["spec"]
    [service_port] = service["ports"]
    assert service_port["targetPort"] in {p["name"] for p in container["ports"]}
    assert service["selector"].items() <= pod_labels("yatri-api").items()
    # Drain: the endpoint leaves first (preStop), uvicorn drains for YATRI_SHUTDOWN_GRACE_S,
    # then the process closes its clients; Kubernetes must not kill it before.
    grace = float(config["YATRI_SHUTDOWN_GRACE_S"])
    assert grace == Settings.model_fields["shutdown_grace_s"].default
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + grace + 5
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]


def pod_labels(deployment: str) -> dict[str, str]:
    labels: dict[str, str] = k8s("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    return labels


def test_k8s_worker_hpa_and_pdb_select_their_deployments() -> None:
    worker = k8s("Deployment", "yatri-worker")["spec"]["template"]["spec"]
    [container] = worker["containers"]
    assert container["args"] == ["worker"]
    # `yatri worker` serves its probes and /metrics on YATRI_WORKER_PORT.
    env = {e["name"]: e["value"] for e in container["env"]}
    [port] = container["ports"]
    assert int(env["YATRI_WORKER_PORT"]) == port["containerPort"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert (
        worker["terminationGracePeriodSeconds"] >= Settings.model_fields["shutdown_grace_s"].default
    )
    for name in ("yatri-api", "yatri-worker"):
        hpa = k8s("HorizontalPodAutoscaler", name)["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
        deployment = k8s("Deployment", name)["spec"]
        assert deployment["replicas"] >= hpa["minReplicas"]
        pdb = k8s("PodDisruptionBudget", name)["spec"]
        assert pdb["selector"]["matchLabels"].items() <= pod_labels(name).items()
        assert deployment["selector"]["matchLabels"].items() <= pod_labels(name).items()
        assert pdb.get("maxUnavailable", 0) < hpa["minReplicas"]
    images = {c["image"] for n in ("yatri-api", "yatri-worker")
              for c in k8s("Deployment", n)["spec"]["template"]["spec"]["containers"]}  # fmt: skip
    assert images == {i["name"] for i in load_yaml(K8S / "kustomization.yaml")["images"]}


def test_kustomize_renders_when_kubectl_is_here() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on the PATH")
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert all(d["metadata"].get("namespace", "yatri") == "yatri" for d in rendered)
    assert "registry.internal/yatri/yatri:0.1.0" in done.stdout
