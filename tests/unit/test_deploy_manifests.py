"""The Kubernetes manifests (deploy/k8s), rendered by kustomize as `make deploy-check` does, against the code: they
validate (and the validator does catch mistakes), every variable they set is a setting, each pod's environment
parses into Settings, probes hit real routes and commands, and the KEDA queries read metrics the workers register.

kustomize comes from `make deploy-deps` (`make test` and `make check` run it): without it these tests fail, they
do not skip."""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cms.app import create_app
from cms.cli import build_parser
from cms.core.settings import Settings
from cms.services import Services

ROOT = Path(__file__).resolve().parents[2]
SECRET_EXAMPLE = ROOT / "deploy" / "k8s" / "secret.example.env"
# Set in the manifests but read by something other than Settings.
NOT_SETTINGS = {
    "NVIDIA_DRIVER_CAPABILITIES": "the NVIDIA container runtime (which driver libraries to mount)",
    "XDG_CACHE_HOME": "libraries' caches (yt-dlp, fontconfig), kept on the writable /tmp",
}

Object = dict[str, Any]


def _load_validator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_validate", ROOT / "deploy" / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


validate = _load_validator()


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Object]]:
    kustomize = validate.find_kustomize()
    if kustomize is None:
        pytest.fail("kustomize is missing: run `make deploy-deps` (it builds kustomize into .venv/bin)")
    return {tree.name: validate.render(tree, kustomize) for tree in validate.trees()}


def _one(objects: list[Object], kind: str, name: str) -> Object:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _secret_example() -> dict[str, str]:
    lines = SECRET_EXAMPLE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _pod_env(objects: list[Object], workload: Object) -> dict[str, str]:
    """What the pod's first container sees: its envFrom sources (the Secret as in the example file), then env."""
    container = validate.pod_spec(workload)["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(_one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            assert source["secretRef"]["name"] == "cms-secrets"
            env.update(_secret_example())
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    return env


def _settings(env: dict[str, str]) -> Settings:
    # model_validate reads the mapping only (not this process's environment); aliases are the variable names.
    return Settings.model_validate(env)


def test_every_tree_renders_and_validates(rendered: dict[str, list[Object]]) -> None:
    assert set(rendered) >= {"base", "production", "gpu"}
    for name, objects in rendered.items():
        errors = validate.schema_errors(objects) + validate.reference_errors(objects)
        assert errors == [], name
        kinds = {o["kind"] for o in objects}
        assert {"Deployment", "Job", "Service", "HorizontalPodAutoscaler", "ScaledObject"} <= kinds, name


def test_the_validator_catches_mistakes(rendered: dict[str, list[Object]]) -> None:
    """Each mistake below is one the schemas or the reference checks must report (else a green check means little)."""
    good = rendered["production"]

    def errors_after(change: Any) -> list[str]:
        objects = copy.deepcopy(good)
        change(objects)
        return list(validate.schema_errors(objects) + validate.reference_errors(objects))

    def container(objects: list[Object], name: str) -> Object:
        return validate.pod_spec(_one(objects, "Deployment", name))["containers"][0]

    def scaled(objects: list[Object]) -> Object:
        return _one(objects, "ScaledObject", "cms-worker")["spec"]

    mistakes = {
        "unknown container field": lambda o: container(o, "cms-api").update(livenessProbes={}),
        "wrong type": lambda o: _one(o, "Deployment", "cms-api")["spec"].update(revisionHistoryLimit="five"),
        "replicas beside an autoscaler": lambda o: _one(o, "Deployment", "cms-worker")["spec"].update(replicas=2),
        "KEDA typo": lambda o: scaled(o).update(cooldownPerod=300),
        "KEDA threshold not a string": lambda o: scaled(o)["triggers"][0]["metadata"].update(threshold=50),
        "KEDA unknown trigger key": lambda o: scaled(o)["triggers"][0]["metadata"].update(querry="x"),
        "KEDA target missing": lambda o: scaled(o)["scaleTargetRef"].update(name="cms-wrker"),
        "probe on an undeclared port": lambda o: container(o, "cms-api")["readinessProbe"]["httpGet"].update(
            port="web"
        ),
        "Service selects nothing": lambda o: _one(o, "Service", "cms-api")["spec"]["selector"].update(
            {"app.kubernetes.io/name": "api"}
        ),
        "config map not in the tree": lambda o: container(o, "cms-worker")["envFrom"][0]["configMapRef"].update(
            name="cms-settings"
        ),
        "unknown kind": lambda o: o.append(
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
        ),
    }
    assert errors_after(lambda o: None) == []
    for what, change in mistakes.items():
        assert errors_after(change), f"not caught: {what}"


def test_every_variable_is_a_setting(rendered: dict[str, list[Object]]) -> None:
    aliases = {field.alias for field in Settings.model_fields.values()}
    names = set(_secret_example())
    for objects in rendered.values():
        for obj in objects:
            if obj["kind"] == "ConfigMap":
                names |= set(obj["data"])
            for container in validate.containers(obj):
                names |= {item["name"] for item in container.get("env", [])}
    unknown = sorted(names - aliases - set(NOT_SETTINGS))
    assert unknown == [], "not read by Settings (cms/core/settings.py): a typo, or a setting that was renamed"


def test_each_pod_environment_parses(rendered: dict[str, list[Object]]) -> None:
    for tree in ("base", "production", "gpu"):
        objects = rendered[tree]
        config = _one(objects, "ConfigMap", "cms-config")["data"]
        for workload in (o for o in objects if o["kind"] in ("Deployment", "Job")):
            settings = _settings(_pod_env(objects, workload))
            assert settings.is_production and settings.log_json
            assert settings.database_url and settings.redis_url and settings.s3_endpoint_url  # nothing embedded
            assert settings.edge_keys and settings.edge_active_kid  # one signing key for every pod
            container = validate.pod_spec(workload)["containers"][0]
            metrics = [p["containerPort"] for p in container.get("ports", []) if p["name"] == "metrics"]
            if workload["kind"] == "Deployment":
                assert metrics == [settings.metrics_port] and settings.metrics_host == "0.0.0.0"
        api = _settings(_pod_env(objects, _one(objects, "Deployment", "cms-api")))
        assert not api.inline_worker
        main = _settings(_pod_env(objects, _one(objects, "Deployment", "cms-worker")))
        media = _settings(_pod_env(objects, _one(objects, "Deployment", "cms-worker-media")))
        assert (main.queue_name, main.media_queue) == (config["CMS_QUEUE_NAME"], config["CMS_MEDIA_QUEUE_NAME"])
        assert main.worker_queue == main.queue_name != media.worker_queue == media.media_queue
        gpu = validate.pod_spec(_one(objects, "Deployment", "cms-worker-media"))["containers"][0]["resources"]
        assert media.try_gpu == (tree == "gpu") == ("nvidia.com/gpu" in gpu["limits"])


def test_commands_and_probes_exist(rendered: dict[str, list[Object]]) -> None:
    objects = rendered["production"]
    parser = build_parser()
    for workload in (o for o in objects if o["kind"] in ("Deployment", "Job")):
        for container in validate.containers(workload):
            commands = [container["command"]]
            commands += [
                container[probe]["exec"]["command"]
                for probe in ("startupProbe", "livenessProbe", "readinessProbe")
                if "exec" in container.get(probe, {})
            ]
            for command in commands:
                assert command[0] == "cms"
                parser.parse_args(command[1:])  # exits (fails the test) on an unknown command or option
    api = _one(objects, "Deployment", "cms-api")
    settings = _settings(_pod_env(objects, api))
    routes = {getattr(route, "path", None) for route in create_app(Services(settings)).routes}
    container = validate.pod_spec(api)["containers"][0]
    probes = {name: container[name]["httpGet"]["path"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes == {"startupProbe": "/livez", "livenessProbe": "/livez", "readinessProbe": "/readyz"}
    assert set(probes.values()) <= routes
    # The probe waits longer than /readyz's own checks do, so a slow part reads as its timeout, not as a dead pod.
    assert container["readinessProbe"]["timeoutSeconds"] > settings.ready_timeout_seconds
    for name in ("cms-worker", "cms-worker-media"):
        worker = validate.pod_spec(_one(objects, "Deployment", name))["containers"][0]
        assert worker["livenessProbe"]["exec"]["command"] == ["cms", "worker-health"]


def test_keda_queries_read_registered_metrics(rendered: dict[str, list[Object]]) -> None:
    from prometheus_client import REGISTRY

    import jobs.metrics  # registers the job and queue metrics

    registered = {metric.name for metric in REGISTRY.collect()}
    assert "queue" in jobs.metrics.QUEUE_DEPTH._labelnames
    for tree in ("base", "production", "gpu"):
        objects = rendered[tree]
        for scaled in (o for o in objects if o["kind"] == "ScaledObject"):
            target = _one(objects, "Deployment", scaled["spec"]["scaleTargetRef"]["name"])
            queue = _settings(_pod_env(objects, target)).worker_queue
            for trigger in scaled["spec"]["triggers"]:
                assert trigger["type"] == "prometheus"
                query = trigger["metadata"]["query"]
                names = set(re.findall(r"\b(cms_[a-z_]+)\b", query))
                assert names and names <= registered, f"{query}: not registered by the code"
                # max() of each gauge: every worker reports the same database-wide value.
                terms = re.split(r"\s*\+\s*", query)
                matches = [
                    re.fullmatch(r'max\((cms_queue_depth|cms_queue_running)\{queue="([^"]+)"\}\)', t) for t in terms
                ]
                assert all(matches), f"{query}: expected a sum of max(cms_queue_depth|cms_queue_running{{queue=...}})"
                assert "cms_queue_depth" in names, f"{query}: does not read the waiting jobs"
                queues = {m.group(2) for m in matches if m}
                assert queues == {queue}, f"{scaled['metadata']['name']} scales on another pool's queue"
