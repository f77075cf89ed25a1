"""deploy/kubernetes: rendered by kubectl's own kustomize, and every object validated against
the Kubernetes API's schemas for every Kubernetes version `kubernetes-validate` knows, strictly
(an unknown or misspelt field fails). `make test` installs Debian's kubectl (kubernetes-client)
when it is missing; its built-in kustomize is old, so the manifests keep to what it reads.

No cluster runs here: scheduling, the probes against a running pod and the read-only root file
system at run time are not exercised. The image's command and health route are, by
tests/integration/test_image.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from knock.config import SECRET_SETTINGS, settings_names
from tests import dockerfile

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZATION = ROOT / "deploy" / "kubernetes"
README = ROOT / "README.md"
VERSIONS = sorted(set(all_versions()), key=lambda v: tuple(int(n) for n in v.split(".")))


def kubectl() -> str:
    found = shutil.which("kubectl") or (
        "/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None
    )
    if found is None:
        pytest.fail(
            "kubectl is missing (Debian package: kubernetes-client; `make test` installs it)"
        )
    return found


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Any]]:
    """The objects `kubectl kustomize` renders, by kind."""
    built = subprocess.run(
        [kubectl(), "kustomize", str(KUSTOMIZATION)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    objects = [document for document in yaml.safe_load_all(built.stdout) if document]
    by_kind = {document["kind"]: document for document in objects}
    assert len(by_kind) == len(objects), "two objects of one kind"
    return by_kind


def pod(rendered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = rendered["Deployment"]["spec"]["template"]["spec"]
    return spec


def container(rendered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = pod(rendered)["containers"]
    assert isinstance(only, dict)
    return only


def invalid(document: dict[str, Any], version: str) -> str | None:
    """What is wrong with the object for that Kubernetes version, or None."""
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(map(str, exc.absolute_path))
        return f"{document['kind']} {path}: {exc.message} (Kubernetes {version})"
    return None


def test_kustomize_renders_the_deployment_its_service_settings_and_budget(
    rendered: dict[str, dict[str, Any]],
) -> None:
    assert set(rendered) == {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}
    assert {document["metadata"]["name"] for document in rendered.values()} == {"knock"}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_for_kubernetes(
    version: str, rendered: dict[str, dict[str, Any]]
) -> None:
    assert [invalid(document, version) for document in rendered.values()] == [None] * 4


def test_a_misspelt_field_is_refused(rendered: dict[str, dict[str, Any]]) -> None:
    deployment = yaml.safe_load(yaml.safe_dump(rendered["Deployment"]))  # a copy
    (probed,) = deployment["spec"]["template"]["spec"]["containers"]
    probed["readinessProbe"]["httpGett"] = probed["readinessProbe"].pop("httpGet")

    assert invalid(deployment, VERSIONS[-1]) is not None


def test_the_probes_ask_readyz_for_readiness_and_the_root_for_liveness(
    rendered: dict[str, dict[str, Any]],
) -> None:
    knock = container(rendered)
    (port,) = knock["ports"]

    assert knock["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert knock["livenessProbe"]["httpGet"] == {"path": "/", "port": "http"}
    assert knock["startupProbe"]["httpGet"] == {"path": "/", "port": "http"}
    assert port == {"name": "http", "containerPort": dockerfile.exposed_port()}
    # The image's own command (`knock serve` on that port), as tests/integration/test_image.py runs.
    assert "command" not in knock and "args" not in knock


def test_several_replicas_share_a_postgresql_url_read_from_the_secret(
    rendered: dict[str, dict[str, Any]],
) -> None:
    knock = container(rendered)
    env = {item["name"]: item for item in knock["env"]}
    settings = rendered["ConfigMap"]["data"]

    assert rendered["Deployment"]["spec"]["replicas"] > 1
    # SQLite cannot be shared between pods: the URL comes from the Secret, never a default.
    assert env["DATABASE_URL_FILE"]["value"] == "/run/secrets/knock/database_url"
    assert "DATABASE_URL" not in env and "DATABASE_URL" not in settings


def test_every_file_setting_is_a_key_of_the_mounted_secret_that_knock_reads(
    rendered: dict[str, dict[str, Any]],
) -> None:
    knock = container(rendered)
    volumes = {volume["name"]: volume for volume in pod(rendered)["volumes"]}
    (mount,) = [m for m in knock["volumeMounts"] if "secret" in volumes[m["name"]]]
    known = set(settings_names())
    files = {item["name"]: item["value"] for item in knock["env"] if item["name"] in known}
    readme = README.read_text(encoding="utf-8")

    assert volumes[mount["name"]]["secret"]["secretName"] == "knock"
    assert mount["readOnly"] is True
    assert set(files) == {"API_KEY_FILE", "WEBHOOK_TOKEN_FILE", "DATABASE_URL_FILE"}
    for variable, path in files.items():
        secret = variable.removesuffix("_FILE").lower()
        assert secret in SECRET_SETTINGS, variable
        assert path == f"{mount['mountPath']}/{secret}", variable
        # The README's `kubectl create secret generic knock` makes that key.
        assert f"--from-file={secret}=" in readme, f"the README's Secret has no {secret}"
    # Secrets stay out of the settings anyone may read.
    assert not {name.lower() for name in rendered["ConfigMap"]["data"]} & set(SECRET_SETTINGS)


def test_knock_runs_as_the_images_account_with_a_read_only_root(
    rendered: dict[str, dict[str, Any]],
) -> None:
    knock = container(rendered)
    context = pod(rendered)["securityContext"]
    uid, _, gid = dockerfile.only("USER").partition(":")
    volumes = {volume["name"]: volume for volume in pod(rendered)["volumes"]}
    writable = {m["mountPath"] for m in knock["volumeMounts"] if "emptyDir" in volumes[m["name"]]}

    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert knock["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    # Knock writes in its working directory (tokens.json, the list files) and nowhere else.
    assert writable == {dockerfile.every("WORKDIR")[-1], "/tmp"}


def test_the_service_and_the_budget_select_the_deployments_pods(
    rendered: dict[str, dict[str, Any]],
) -> None:
    deployment = rendered["Deployment"]["spec"]
    labels = deployment["template"]["metadata"]["labels"]

    assert deployment["selector"]["matchLabels"].items() <= labels.items()
    assert rendered["Service"]["spec"]["selector"].items() <= labels.items()
    assert rendered["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    assert rendered["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= (
        labels.items()
    )
    # One pod may be drained at a time: the other keeps answering webhooks.
    assert rendered["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert deployment["replicas"] > rendered["PodDisruptionBudget"]["spec"]["minAvailable"]
