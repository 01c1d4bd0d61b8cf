"""Objects named by the API server (``metadata.generateName``) and values that a tool substitutes
before the API server sees them (``${VAR}``, ``$(VAR)``, ``{{x}}``): not invalid (NL002), and
modelled so that no other rule claims what the repo cannot know."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import found, lint
from helpers import Write, deployment, line_of

from netlint.core.model import ForeignPolicy, Namespace, NetworkPolicy, Object, Workload
from netlint.read import validate
from netlint.read.build import BuildOptions
from netlint.read.load import load
from netlint.read.parse import Limits


def objects(text: str) -> list[Object | ForeignPolicy]:
    result = load("m.yaml", text.encode(), BuildOptions(), Limits())
    assert not result.problems, [p.message for p in result.problems]
    return result.objects


JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  generateName: {prefix}
  namespace: {namespace}
spec:
  template:
    metadata: {{labels: {{app: pi}}}}
    spec:
      containers: [{{name: pi, image: "registry.example.com/perl:5"}}]
      restartPolicy: Never
"""


def job(prefix: str = "pi-", namespace: str = "shop") -> str:
    return JOB.format(prefix=prefix, namespace=namespace)


# -- generateName ------------------------------------------------------------------------------


def test_objects_with_only_generate_name_are_modelled_under_their_prefix() -> None:
    text = (
        job()
        + "---\n"
        + "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
        + "  generateName: deny-\n  namespace: shop\nspec:\n  podSelector: {}\n"
        + "---\n"
        + "apiVersion: v1\nkind: Namespace\nmetadata:\n  generateName: sandbox-\n"
        + "  labels: {purpose: sandbox}\n"
    )
    found_job, policy, namespace = objects(text)
    assert isinstance(found_job, Workload)
    assert (found_job.kind, found_job.namespace, found_job.name) == ("Job", "shop", "pi-")
    assert found_job.pod_labels == {"app": "pi"}
    assert found_job.name_span.line == 4 and found_job.name_span.col == 17
    assert isinstance(policy, NetworkPolicy)
    assert (policy.name, policy.valid) == ("deny-", True)
    assert policy.name_span.line == line_of(text, "generateName: deny-")
    assert isinstance(namespace, Namespace)
    assert namespace.name == "sandbox-" and namespace.labels["purpose"] == "sandbox"


def test_an_empty_or_null_name_defers_to_generate_name() -> None:
    for name in ('""', "null", "~"):
        text = job().replace("metadata:\n", f"metadata:\n  name: {name}\n", 1)
        (workload,) = objects(text)
        assert isinstance(workload, Workload) and workload.name == "pi-"


def test_a_name_wins_over_generate_name() -> None:
    text = job().replace("metadata:\n", "metadata:\n  name: pi-abcde\n", 1)
    (workload,) = objects(text)
    assert isinstance(workload, Workload)
    assert workload.name == "pi-abcde" and workload.name_span.line == 4


def test_rules_name_a_generated_object_by_its_prefix(tmp_path: Path, write: Write) -> None:
    write("jobs.yaml", job(namespace="batch"))
    report = lint(tmp_path)
    assert found(report) == {("jobs.yaml", 4, "NL101")}
    (finding,) = report.findings
    assert finding.message.startswith("Job batch/pi-: no NetworkPolicy selects its pods")
    assert finding.span.col == 17  # the generateName value


def test_argo_cd_hook_jobs_are_not_invalid(tmp_path: Path, write: Write) -> None:
    """argoproj/argocd-example-apps helm-hooks/manifests.yaml (hooks next to the app, which a
    default-deny policy covers)."""
    hook = job("upgrade-sql-schema", "default").replace(
        "  namespace: default\n",
        "  namespace: default\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n",
    )
    deny = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
        "  name: default-deny\n  namespace: default\nspec:\n  podSelector: {}\n"
        "  policyTypes: [Ingress]\n"
    )
    write("manifests.yaml", hook + "---\n" + hook + "---\n" + deny)
    assert found(lint(tmp_path)) == set()


@pytest.mark.parametrize(
    "prefix",
    ["pi-", "pi", "a", "a-", "web.v1-", "pi--", "a.-", "x" * 253, "x" * 253 + "-", "0-"],
)
def test_valid_prefixes(prefix: str) -> None:
    assert validate.generate_name_error(prefix) is None


@pytest.mark.parametrize("prefix", ["-", "Pi-", "pi_", "-pi", "pi.", ".pi-", "x" * 254, "p i-"])
def test_invalid_prefixes(prefix: str) -> None:
    assert validate.generate_name_error(prefix) is not None


def test_an_invalid_prefix_is_reported_at_its_value(tmp_path: Path, write: Write) -> None:
    write("jobs.yaml", job("Pi_-"))
    report = lint(tmp_path, select=["NL002"])
    assert found(report) == {("jobs.yaml", 4, "NL002")}
    assert "metadata.generateName 'Pi_-' is invalid" in report.findings[0].message


@pytest.mark.parametrize(
    ("generate", "expected"),
    [
        (None, {1}),  # neither: no name
        ('""', {1}),  # an empty prefix names nothing
        ("5", {1, 4}),  # not a string: no name, and a type the API server refuses
        ("[pi-]", {1, 4}),
    ],
)
def test_without_a_usable_generate_name_the_name_is_missing(
    tmp_path: Path, write: Write, generate: str | None, expected: set[int]
) -> None:
    text = job()
    text = (
        text.replace("  generateName: pi-\n", "")
        if generate is None
        else text.replace("generateName: pi-", f"generateName: {generate}")
    )
    write("jobs.yaml", text)
    report = lint(tmp_path, select=["NL002"])
    assert {f.span.line for f in report.findings} == expected
    assert any(f.message == "this Job has no metadata.name" for f in report.findings)


def test_a_baseline_admin_policy_cannot_be_generated() -> None:
    """The API server admits one BaselineAdminNetworkPolicy, named "default": a generated name
    never is, whatever its prefix."""
    text = (
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n"
        "metadata:\n  generateName: default\nspec:\n  subject: {namespaces: {}}\n"
        "  ingress: []\n"
    )
    (banp,) = objects(text)
    assert isinstance(banp, ForeignPolicy) and banp.admin is None
    assert banp.unmodelled_reason == 'a BaselineAdminNetworkPolicy must be named "default"'
    anp = text.replace("BaselineAdminNetworkPolicy", "AdminNetworkPolicy").replace(
        "spec:\n", "spec:\n  priority: 10\n"
    )
    (modelled,) = objects(anp)
    assert isinstance(modelled, ForeignPolicy) and modelled.admin is not None
    assert modelled.admin.name == "default"


# -- substitution placeholders ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "${APP}",
        "${NS:-default}",
        "${cluster_env:=dev}",
        "app-${ENV}",
        "$(kfp-namespace)",
        "$(NAMESPACE)-tenant",
        "vttablet-{{uid}}",
        "{{ .Values.name }}",
    ],
)
def test_placeholders(text: str) -> None:
    assert validate.has_placeholder(text)


@pytest.mark.parametrize("text", ["$tenant", "tenant-{a}", "${}", "$()", "{x}", "a$b", "{{"])
def test_not_placeholders(text: str) -> None:
    assert not validate.has_placeholder(text)


FLUX_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: ${APP_NAME}
  namespace: shop
  labels: {app.kubernetes.io/name: "${APP_NAME}"}
spec:
  podSelector:
    matchLabels: {app: web}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector:
            matchLabels: {app: "${FRONTEND}"}
"""


def test_placeholders_in_metadata_are_read_as_written(tmp_path: Path, write: Write) -> None:
    """A name, namespace or label that holds a placeholder is no NL002; the object is read with
    the text as written (objects writing the same placeholder get the same value)."""
    text = FLUX_POLICY.replace("${FRONTEND}", "web").replace(
        "namespace: shop", "namespace: ${NS:-shop}"
    )
    (policy,) = objects(text)
    assert isinstance(policy, NetworkPolicy)
    assert (policy.name, policy.namespace, policy.valid) == ("${APP_NAME}", "${NS:-shop}", True)
    workload = deployment("web", namespace="${NS:-shop}").replace(
        "name: web", "name: ${APP_NAME}", 1
    )
    write("policy.yaml", text + "---\n" + workload)
    # The policy's own problem is still found (it egress-isolates the pods it selects without
    # allowing DNS): a placeholder in metadata hides nothing else.
    assert found(lint(tmp_path)) == {("policy.yaml", line_of(text, "Egress]"), "NL103")}


def test_a_policy_whose_spec_holds_a_placeholder_is_not_judged(
    tmp_path: Path, write: Write
) -> None:
    """``app: ${FRONTEND}`` may or may not match the frontend pods once substituted: no NL002,
    and no rule judges the placeholder's text as a value (no "matches nothing" NL102, no NL103
    on a selector that may be kube-dns's)."""
    write("policy.yaml", FLUX_POLICY)
    workloads = deployment("web") + "---\n" + deployment("frontend")
    write("workloads.yaml", workloads)
    (policy,) = objects(FLUX_POLICY)
    assert isinstance(policy, NetworkPolicy) and not policy.valid
    # The frontend pods are selected by no policy whatever ${FRONTEND} is (true); the web pods
    # are still selected by the policy (the podSelector is known).
    assert found(lint(tmp_path)) == {
        ("workloads.yaml", line_of(workloads, "name: frontend"), "NL101")
    }


def test_placeholders_in_selectors_labels_cidrs_and_ports_are_no_nl002(
    tmp_path: Path, write: Write
) -> None:
    text = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: $(APP)-allow
  namespace: $(NAMESPACE)
  labels: {"${LABEL_KEY}": "{{value}}"}
spec:
  podSelector:
    matchLabels: {app: $(APP)}
    matchExpressions:
      - {key: "${KEY}", operator: In, values: ["${VALUE}"]}
  ingress:
    - from:
        - ipBlock: {cidr: "${OFFICE_CIDR}", except: ["${GUESTS_CIDR}"]}
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "${NS}"}}
      ports:
        - port: ${PORT}
          endPort: 9000
---
apiVersion: v1
kind: Pod
metadata:
  name: vttablet-{{uid}}
  namespace: shop
  labels: {app: vitess, uid: "{{uid}}", "{{extra}}": "x"}
spec:
  containers: [{name: vttablet, image: vitess/lite}]
"""
    write("m.yaml", text)
    assert found(lint(tmp_path, select=["NL002"])) == set()


def test_values_that_are_merely_wrong_are_still_reported(tmp_path: Path, write: Write) -> None:
    text = FLUX_POLICY.replace("{app: web}", "{app: web, tier: Front End}")
    write("policy.yaml", text)
    assert found(lint(tmp_path, select=["NL002"])) == {
        ("policy.yaml", line_of(text, "tier: Front End"), "NL002")
    }
