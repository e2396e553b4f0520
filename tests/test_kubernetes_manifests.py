"""The sample's Kubernetes manifests are valid for a fixed Kubernetes version, offline, and hold
what a team copying them needs: resources, a restricted security context, an image pull
policy that works with a locally loaded image, and Secrets and Services that match.

The schemas are those kubernetes-validate bundles (strict: an unknown field is an error), so
nothing is fetched and no cluster is needed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "sample_app" / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
MANIFESTS = sorted(KUBERNETES.rglob("*.yaml"))
DOCKERFILE = DEPLOY / "Dockerfile"

#: The Kubernetes version the manifests are validated against (its minor version's schemas).
KUBERNETES_VERSION = "1.33.0"
SAMPLE_IMAGE = "flask-health-checks-sample"
SECRET = "sample-app"
WORKLOADS = {"Deployment", "StatefulSet"}


@dataclass(frozen=True)
class Document:
    path: Path
    body: dict[str, Any]

    @property
    def id(self) -> str:
        kind, name = self.body["kind"], self.body["metadata"]["name"]
        return f"{self.path.relative_to(KUBERNETES)}:{kind}/{name}"


@dataclass(frozen=True)
class Container:
    document: Document
    pod: dict[str, Any]
    spec: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.document.id} container {self.spec['name']}"

    def security(self, field: str) -> Any:
        """*field* of the container's security context, else of the pod's (as the kubelet does)."""
        own = self.spec.get("securityContext", {})
        if field in own:
            return own[field]
        return self.pod.get("securityContext", {}).get(field)


def documents() -> list[Document]:
    return [
        Document(path, body)
        for path in MANIFESTS
        for body in yaml.safe_load_all(path.read_text())
        if body
    ]


DOCUMENTS = documents()


def containers() -> Iterator[Container]:
    for document in DOCUMENTS:
        if document.body["kind"] in WORKLOADS:
            pod = document.body["spec"]["template"]["spec"]
            for spec in pod["containers"]:
                yield Container(document, pod, spec)


CONTAINERS = list(containers())


def dockerfile_uid() -> int:
    match = re.search(r"useradd\b.*--uid (\d+)", DOCKERFILE.read_text())
    assert match, "the Dockerfile creates no user with a fixed uid"
    return int(match[1])


def dockerfile_env(name: str) -> str:
    match = re.search(rf"\b{name}=(\S+)", DOCKERFILE.read_text())
    assert match, f"the Dockerfile sets no {name}"
    return match[1]


def secret_data() -> dict[str, str]:
    (secret,) = [d.body for d in DOCUMENTS if d.body["kind"] == "Secret"]
    assert secret["metadata"]["name"] == SECRET
    data: dict[str, str] = secret["stringData"]
    return data


def services() -> dict[str, dict[str, Any]]:
    return {d.body["metadata"]["name"]: d.body for d in DOCUMENTS if d.body["kind"] == "Service"}


def env_values(container: Container) -> list[dict[str, Any]]:
    return list(container.spec.get("env", []))


# -- the schemas ----------------------------------------------------------------------------


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda document: document.id)
def test_every_manifest_document_is_valid_against_the_kubernetes_schemas(
    document: Document,
) -> None:
    validated = kubernetes_validate.validate(document.body, KUBERNETES_VERSION, strict=True)

    assert validated == "1.33"  # the schemas of that version were found, not an older one


def test_the_manifests_cover_the_app_and_every_service_it_uses() -> None:
    kinds = {(d.body["kind"], d.body["metadata"]["name"]) for d in DOCUMENTS}
    assert {
        ("Secret", SECRET),
        ("Deployment", "sample-web"),
        ("Deployment", "sample-worker"),
        ("Service", "sample-web"),
        ("StatefulSet", "postgres"),
        ("Service", "postgres"),
        ("Deployment", "redis"),
        ("Service", "redis"),
        ("StatefulSet", "rabbitmq"),
        ("Service", "rabbitmq"),
    } <= kinds


def web_deployment() -> dict[str, Any]:
    (web,) = [
        d.body for d in DOCUMENTS if d.path.name == "web.yaml" and d.body["kind"] == "Deployment"
    ]
    return copy.deepcopy(web)


def test_a_misspelled_field_is_rejected() -> None:
    broken = web_deployment()
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")

    with pytest.raises(kubernetes_validate.ValidationError, match="'readinesProbe' was unexpected"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_a_misspelled_security_setting_and_a_wrong_type_are_rejected() -> None:
    misspelled = web_deployment()
    misspelled["spec"]["template"]["spec"]["securityContext"]["runAsNonroot"] = True
    wrong_type = web_deployment()
    wrong_type["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["timeoutSeconds"] = "2"

    with pytest.raises(kubernetes_validate.ValidationError, match="'runAsNonroot' was unexpected"):
        kubernetes_validate.validate(misspelled, KUBERNETES_VERSION, strict=True)
    with pytest.raises(kubernetes_validate.ValidationError, match="is not of type 'integer'"):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSION, strict=True)


# -- what a copied manifest should hold -----------------------------------------------------


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda container: container.where)
def test_every_container_has_resources_and_a_restricted_security_context(
    container: Container,
) -> None:
    resources = container.spec.get("resources", {})
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{container.where}: {kind}"
    assert container.security("runAsNonRoot") is True, container.where
    assert container.security("runAsUser") not in (None, 0), container.where
    assert container.security("allowPrivilegeEscalation") is False, container.where
    assert container.security("seccompProfile") == {"type": "RuntimeDefault"}, container.where
    assert container.spec["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # Said either way, never left to the default: false must be a decision.
    assert isinstance(container.security("readOnlyRootFilesystem"), bool), container.where
    # A locally built image loaded into kind or minikube is used; "Always" would pull it.
    assert container.spec["imagePullPolicy"] == "IfNotPresent", container.where


@pytest.mark.parametrize(
    "container",
    [c for c in CONTAINERS if c.spec["image"].split(":")[0] == SAMPLE_IMAGE],
    ids=lambda container: container.where,
)
def test_app_containers_run_as_the_image_user_on_a_read_only_root_with_writable_volumes(
    container: Container,
) -> None:
    assert container.security("runAsUser") == dockerfile_uid()
    assert container.security("readOnlyRootFilesystem") is True
    volumes = {volume["name"]: volume for volume in container.pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container.spec["volumeMounts"]}
    for path, name in mounts.items():
        assert "emptyDir" in volumes[name], f"{container.where}: {path} is not an emptyDir"
    # gunicorn's heartbeat files and the library's shared directory live under /tmp.
    assert "/tmp" in mounts, f"{container.where}: /tmp is not writable"
    if container.spec["command"][0] == "gunicorn":
        instance = dockerfile_env("SAMPLE_INSTANCE_PATH")
        assert instance in mounts, f"{container.where}: the instance folder is not writable"


def test_secret_references_name_keys_the_example_secret_has() -> None:
    data = secret_data()
    referenced = set()
    for container in CONTAINERS:
        for entry in env_values(container):
            reference = entry.get("valueFrom", {}).get("secretKeyRef")
            if reference is None:
                continue
            assert reference["name"] == SECRET, container.where
            referenced.add(reference["key"])
            assert reference["key"] in data, f"{container.where}: no key {reference['key']!r}"
    assert referenced == set(data)  # and the Secret holds nothing no container reads


def test_urls_of_the_secret_and_the_manifests_reach_the_services_defined_here() -> None:
    data = secret_data()
    urls = [data["database-url"], data["broker-url"]]
    urls += [
        str(entry["value"])
        for container in CONTAINERS
        for entry in env_values(container)
        if entry["name"].endswith("_URL") and "value" in entry
    ]
    defined = services()
    for url in urls:
        parts = urlsplit(url)
        assert parts.hostname in defined, f"{url}: no Service {parts.hostname}"
        ports = [port["port"] for port in defined[parts.hostname]["spec"]["ports"]]
        assert parts.port in ports, f"{url}: Service {parts.hostname} has ports {ports}"
    database = urlsplit(data["database-url"])
    assert database.password == data["postgres-password"]
    assert urlsplit(data["broker-url"]).password == data["rabbitmq-password"]


@pytest.mark.parametrize(
    "service",
    [d for d in DOCUMENTS if d.body["kind"] == "Service"],
    ids=lambda document: document.id,
)
def test_services_select_pods_of_their_file_and_target_their_named_ports(
    service: Document,
) -> None:
    selector = service.body["spec"]["selector"]
    pods = [
        d.body["spec"]["template"]
        for d in DOCUMENTS
        if d.path == service.path and d.body["kind"] in WORKLOADS
    ]
    matching = [pod for pod in pods if selector.items() <= pod["metadata"]["labels"].items()]
    assert matching, f"{service.id} selects no pod of {service.path.name}"
    for port in service.body["spec"]["ports"]:
        names = {
            container_port.get("name")
            for pod in matching
            for container in pod["spec"]["containers"]
            for container_port in container.get("ports", [])
        }
        assert port["targetPort"] in names, f"{service.id}: no container port {port['targetPort']}"
