"""Render every Kustomize tree under deploy/k8s and validate what it renders (`make deploy-check`).

1. `kustomize build` of the base and of every overlay (kustomize built from its Go module, pinned in the Makefile).
2. Every object against the Kubernetes JSON schemas of each version in KUBERNETES_VERSIONS, strict (unknown fields
   are errors): the schemas bundled by the PyPI package kubernetes-validate, no network.
3. KEDA ScaledObjects against deploy/schemas/keda.sh_v1alpha1_scaledobject.json (strict; see its $comment for where
   its fields come from). Any other kind without a schema is an error, not a skip.
4. References between the rendered objects: selectors match pod labels, Services, autoscalers and budgets point at
   workloads that exist, named ports exist, config maps are part of the tree, metrics annotations name the
   container's metrics port.

Usage: python deploy/validate.py [--kustomize PATH] [TREE ...]   (exit 1 on any error, 2 when kustomize is missing)
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from packaging.version import Version
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent
K8S = ROOT / "k8s"
KEDA_SCHEMA = ROOT / "schemas" / "keda.sh_v1alpha1_scaledobject.json"
SCHEMAS = "kubernetes-json-schema"  # in the kubernetes_validate package
# The oldest Kubernetes the manifests support and the newest kubernetes-validate bundles: both must accept them.
KUBERNETES_VERSIONS = ("1.30", "1.37")
# Secrets made outside the trees (docs/deploy.md "Secrets"); every other reference must resolve inside a tree.
EXTERNAL_SECRETS = frozenset({"cms-secrets"})
WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})

Object = dict[str, Any]


def trees() -> list[Path]:
    """The base and every overlay."""
    return [K8S / "base", *sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))]


def find_kustomize(explicit: str | None = None) -> str | None:
    if explicit:
        return explicit
    venv = ROOT.parent / ".venv" / "bin" / "kustomize"
    return shutil.which("kustomize") or (str(venv) if venv.exists() else None)


def render(tree: Path, kustomize: str) -> list[Object]:
    done = subprocess.run([kustomize, "build", str(tree)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RenderError(f"{tree.relative_to(ROOT.parent)}: kustomize build failed:\n{done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


class RenderError(Exception):
    pass


def name_of(obj: Object) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


@functools.cache
def _definitions(schema_dir: str) -> Resource[Any]:
    return Resource.from_contents(
        kubernetes_validate.utils.schema_contents(f"{SCHEMAS}/{schema_dir}/_definitions.json", "")
    )


@functools.cache
def _keda_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(KEDA_SCHEMA.read_text())
    definitions = _definitions(f"v{kubernetes_validate.utils.latest_version()}-local-strict")
    registry: Registry[Any] = Registry().with_resources(
        [(schema["$id"], Resource.from_contents(schema)), (definitions.contents["$id"], definitions)]
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _kubernetes_validator(version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    """kubernetes_validate.validate's lookup (the newest bundled schemas not newer than `version`, strict), cached:
    it reads and parses the 2 MB definitions file again for every object. None when no schema has that kind."""
    wanted = Version(version).release[:2]
    bundled = [v for v in kubernetes_validate.utils.all_versions() if Version(v).release[:2] <= wanted]
    schema_dir = f"v{bundled[-1]}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # rbac.authorization.k8s.io/v1 -> rbac-v1
    try:
        schema = kubernetes_validate.utils.schema_contents(
            f"{SCHEMAS}/{schema_dir}/{kind.lower()}-{group_version}.json", version
        )
    except FileNotFoundError:
        return None
    registry: Registry[Any] = _definitions(schema_dir) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def schema_errors(objects: list[Object]) -> list[str]:
    errors: list[str] = []
    for obj in objects:
        if (obj.get("apiVersion"), obj.get("kind")) == ("keda.sh/v1alpha1", "ScaledObject"):
            for error in sorted(_keda_validator().iter_errors(obj), key=lambda e: list(e.absolute_path)):
                errors.append(f"{name_of(obj)}: KEDA schema: {_where(error)}: {error.message}")
            continue
        for version in KUBERNETES_VERSIONS:
            validator = _kubernetes_validator(version, str(obj.get("apiVersion")), str(obj.get("kind")))
            if validator is None:
                errors.append(f"{name_of(obj)}: no schema for {obj.get('apiVersion')} {obj.get('kind')} in {version}")
                break
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
                errors.append(f"{name_of(obj)}: Kubernetes {version}: {_where(error)}: {error.message}")
    return errors


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "(object)"


def pod_spec(obj: Object) -> Object | None:
    """The pod template's spec of a workload, else None."""
    if obj.get("kind") in WORKLOADS:
        spec: Object = obj["spec"]["template"]["spec"]
        return spec
    return None


def containers(obj: Object) -> Iterator[Object]:
    spec = pod_spec(obj)
    if spec is not None:
        yield from spec.get("initContainers", [])
        yield from spec.get("containers", [])


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _probe_ports(container: Object) -> Iterator[tuple[str, Any]]:
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        action = container.get(probe, {}).get("httpGet") or container.get(probe, {}).get("tcpSocket")
        if action:
            yield probe, action["port"]


def _workload_errors(obj: Object, config_maps: set[str], secrets: set[str]) -> Iterator[str]:
    """A workload's own references: its selector, named probe ports, config sources, metrics annotations."""
    template = obj["spec"]["template"].get("metadata", {})
    labels, annotations = template.get("labels", {}), template.get("annotations", {})
    selector = obj["spec"].get("selector", {}).get("matchLabels", {})
    if obj["kind"] != "Job" and not _matches(selector, labels):
        yield f"{name_of(obj)}: selector {selector} does not match its pod labels {labels}"
    if annotations.get("prometheus.io/scrape") == "true":
        metrics = {
            p["containerPort"] for c in containers(obj) for p in c.get("ports", []) if p.get("name") == "metrics"
        }
        if int(annotations.get("prometheus.io/port", "0")) not in metrics:
            yield f"{name_of(obj)}: prometheus.io/port is no container port named 'metrics'"
    for container in containers(obj):
        ports = {p.get("name") for p in container.get("ports", [])}
        for probe, port in _probe_ports(container):
            if isinstance(port, str) and port not in ports:
                yield f"{name_of(obj)}: {container['name']} {probe} names port {port!r}, not declared"
        for source in container.get("envFrom", []):
            if "configMapRef" in source and source["configMapRef"]["name"] not in config_maps:
                yield f"{name_of(obj)}: ConfigMap {source['configMapRef']['name']!r} is not in the tree"
            if "secretRef" in source and source["secretRef"]["name"] not in secrets:
                yield f"{name_of(obj)}: Secret {source['secretRef']['name']!r} is unknown"


def _scaler_errors(by_kind: dict[str, dict[str, Object]]) -> Iterator[str]:
    """HPAs and ScaledObjects scale a Deployment of the tree, which leaves the count to them."""
    scalers = [*by_kind.get("HorizontalPodAutoscaler", {}).values(), *by_kind.get("ScaledObject", {}).values()]
    for scaler in scalers:
        ref = scaler["spec"]["scaleTargetRef"]
        target = by_kind.get("Deployment", {}).get(ref["name"])
        if ref.get("kind", "Deployment") != "Deployment" or target is None:
            yield f"{name_of(scaler)}: scaleTargetRef {ref} is no Deployment of the tree"
        elif "replicas" in target["spec"]:  # every `kubectl apply` would reset the autoscaler's count
            yield f"{name_of(target)}: sets spec.replicas although {name_of(scaler)} scales it"


def _link_errors(by_kind: dict[str, dict[str, Object]], workloads: list[Object]) -> Iterator[str]:
    """Objects that point at others: Services, budgets, autoscalers, ingresses."""

    def pods_of(selector: dict[str, str]) -> list[Object]:
        return [w for w in workloads if _matches(selector, w["spec"]["template"].get("metadata", {}).get("labels", {}))]

    for service in by_kind.get("Service", {}).values():
        targets = pods_of(service["spec"].get("selector", {}))
        if not targets:
            yield f"{name_of(service)}: its selector matches no workload"
        named = {p.get("name") for t in targets for c in containers(t) for p in c.get("ports", [])}
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if isinstance(target, str) and target not in named:
                yield f"{name_of(service)}: targetPort {target!r} is no container port of its pods"
    for budget in by_kind.get("PodDisruptionBudget", {}).values():
        if not pods_of(budget["spec"]["selector"].get("matchLabels", {})):
            yield f"{name_of(budget)}: its selector matches no workload"
    yield from _scaler_errors(by_kind)
    for ingress in by_kind.get("Ingress", {}).values():
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                if (name := path["backend"]["service"]["name"]) not in by_kind.get("Service", {}):
                    yield f"{name_of(ingress)}: backend Service {name!r} is not in the tree"


def reference_errors(objects: list[Object]) -> list[str]:
    """What the schemas cannot see: references between objects of one tree."""
    by_kind: dict[str, dict[str, Object]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    workloads = [obj for obj in objects if obj["kind"] in WORKLOADS]
    config_maps = set(by_kind.get("ConfigMap", {}))
    secrets = set(by_kind.get("Secret", {})) | EXTERNAL_SECRETS
    errors = [error for obj in workloads for error in _workload_errors(obj, config_maps, secrets)]
    return errors + list(_link_errors(by_kind, workloads))


def check_tree(tree: Path, kustomize: str) -> tuple[list[Object], list[str]]:
    objects = render(tree, kustomize)
    return objects, schema_errors(objects) + reference_errors(objects)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kustomize", help="the kustomize binary (default: on PATH, else .venv/bin/kustomize)")
    parser.add_argument("trees", nargs="*", type=Path, help="Kustomize folders (default: base and every overlay)")
    args = parser.parse_args(argv)
    kustomize = find_kustomize(args.kustomize)
    if kustomize is None:
        print("kustomize not found: `make deploy-deps` builds it into .venv/bin", file=sys.stderr)
        return 2
    failed = False
    for tree in args.trees or trees():
        try:
            objects, errors = check_tree(tree.resolve(), kustomize)
        except RenderError as exc:
            print(exc, file=sys.stderr)
            failed = True
            continue
        shown = tree.resolve().relative_to(ROOT.parent)
        for error in errors:
            print(f"{shown}: {error}", file=sys.stderr)
        kinds = sorted({obj["kind"] for obj in objects})
        verdict = "FAILED" if errors else "valid"
        print(
            f"{shown}: {len(objects)} objects {verdict} (Kubernetes {', '.join(KUBERNETES_VERSIONS)} strict, "
            f"KEDA ScaledObject schema; kinds: {', '.join(kinds)})"
        )
        failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
