"""NL301 connectivity-expectation: the expectations file (``.netlint/expectations.yaml``), its
schema errors, and the rule's verdicts in every output. The folder fixtures in
rules/NL301-connectivity-expectation/ (run by test_fixtures.py) cover the verdicts themselves;
here the file as users write it, which fixture folders cannot hold (netlint.testing skips
hidden folders)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import Write, deployment, line_of, netlint, policy

import netlint.rules.nl301_connectivity_expectation as nl301
from netlint.analysis.index import Index
from netlint.analysis.reach import Explainer, explain
from netlint.read.build import BuildOptions
from netlint.read.expectations import is_expectations_path
from netlint.read.load import load
from netlint.read.parse import Limits
from netlint.run.cache import decode_results, encode_results
from netlint.run.runner import CheckRequest, check
from netlint.testing import lint_fixture, mismatch_report, mismatches, parse_markers

EXPECTATIONS = ".netlint/expectations.yaml"

#: shop/api may reach payments/db on 5432 only; shop/web is open in egress, and payments/db's
#: ingress admits all of namespace shop.
MANIFESTS = (
    deployment("api")
    + "---\n"
    + deployment("web")
    + "---\n"
    + deployment("db", namespace="payments")
    + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
    + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: payments}\n---\n"
    + policy(
        "db",
        namespace="payments",
        selector="{matchLabels: {app: db}}",
        body=(
            "  ingress:\n"
            "    - from:\n"
            "        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}\n"
            "      ports: [{port: 5432}]\n"
        ),
    )
)


def _check_markers(root: Path, select: list[str] | None = None) -> None:
    """Lint ``root`` and compare with the markers of its expectations file and manifests."""
    markers = []
    for path in root.rglob("*.y*ml"):
        rel = path.relative_to(root).as_posix()
        markers.extend(parse_markers(path.read_text(encoding="utf-8"), rel))
    findings = lint_fixture(root, select or ["NL301"])
    missing, unexpected = mismatches(markers, findings)
    assert not missing and not unexpected, mismatch_report(missing, unexpected)


def test_the_expectations_file_as_a_bare_list(write: Write, tmp_path: Path) -> None:
    write("k8s/all.yaml", MANIFESTS)
    write(
        EXPECTATIONS,
        "# What must hold whatever the policies say.\n"
        "- deny: {from: {workload: shop/web}, to: {namespace: payments}, port: 5432} "
        '# expect: NL301@3 "shop/web[Deployment] must not reach payments/db[Deployment], '
        'but TCP 5432 is allowed (nothing isolates the egress of shop/web[Deployment])"\n'
        "- allow: {from: {workload: shop/api}, to: {workload: payments/db}, port: 5432/TCP}\n"
        "- allow: {from: {workload: shop/api}, to: {workload: payments/db}, port: 53/UDP} "
        '# expect: NL301@3 "the ingress of payments/db[Deployment] does not allow UDP 53"\n'
        "- deny: {from: {workload: shop/api}, to: {workload: payments/db}, port: 80}\n",
    )
    _check_markers(tmp_path)


def test_related_locations_are_the_rules_responsible(write: Write, tmp_path: Path) -> None:
    manifests = write("k8s/all.yaml", MANIFESTS)
    write(
        EXPECTATIONS,
        "expectations:\n"
        "  - deny: {from: {namespace: shop}, to: {workload: payments/db}}\n"
        "  - allow: {from: {workload: payments/db}, to: {workload: shop/api}, port: 8080}\n",
    )
    findings = sorted(lint_fixture(tmp_path, ["NL301"]), key=lambda f: f.span.line)
    assert [(f.span.path, f.span.line) for f in findings] == [(EXPECTATIONS, 2)]
    (deny,) = findings
    # Both pairs (api and web to db) break it: one finding, the rule named once.
    assert "1 other pair breaks it too" in deny.message
    assert [(r.span.path, r.span.line) for r in deny.related] == [
        ("k8s/all.yaml", line_of(manifests, "- from:"))
    ]
    assert deny.related[0].message.startswith("ingress[0] of NetworkPolicy payments/db allows")


def test_a_violated_allow_points_at_the_isolating_policy(write: Write, tmp_path: Path) -> None:
    manifests = write("k8s/all.yaml", MANIFESTS)
    write(
        ".netlint/expectations.yml",
        "- allow: {from: {workload: shop/api}, to: {workload: payments/db}, port: 443}\n",
    )
    (finding,) = lint_fixture(tmp_path, ["NL301"])
    assert finding.span.path == ".netlint/expectations.yml"
    (related,) = finding.related
    assert related.span.line == line_of(manifests, "name: db", 2)
    assert "isolates the ingress of payments/db[Deployment]" in related.message


def test_schema_errors_are_nl002_with_file_and_line(write: Write, tmp_path: Path) -> None:
    write("k8s/all.yaml", MANIFESTS)
    expectations = write(
        EXPECTATIONS,
        "- deny: {form: {namespace: shop}, to: {namespace: payments}}\n"
        "- allow: {from: {labels: {app: 1}}, to: {namespace: payments}}\n"
        "- 3\n",
    )

    def found() -> list[tuple[int, int, str, str]]:
        return sorted(
            (f.span.line, f.span.col, f.code, f.message) for f in lint_fixture(tmp_path, ["NL301"])
        )

    # An invalid document judges nothing: NL002s, and no NL301 beside them.
    assert [(line, col, code) for line, col, code, _ in found()] == [
        (1, 3, "NL002"),
        (1, 10, "NL002"),
        (2, 32, "NL002"),
        (3, 3, "NL002"),
    ]
    messages = [m for *_, m in found()]
    assert "unknown field 'form' in expectations[0].deny (did you mean 'from'?)" in messages
    assert any("quote it so YAML reads it as a string" in m for m in messages)
    # What the schema cannot say, once it passes.
    expectations.write_text(
        "- allow: {from: {workload: api}, to: {workload: payments/db}, port: 5432/ICMP}\n"
        "- allow: {from: {workload: shop/api, namespace: x}, to: {workload: payments/db}}\n",
        encoding="utf-8",
    )
    assert [(line, col, m) for line, col, _, m in found()] == [
        (
            1,
            28,
            "expectations[0].allow.from.workload must be NAMESPACE/NAME, or NAME with "
            "expectations[0].allow.from.namespace",
        ),
        (
            1,
            69,
            "expectations[0].allow.port must be PORT or PORT/TCP, UDP or SCTP (1-65535), "
            "not '5432/ICMP'",
        ),
        (
            2,
            28,
            "expectations[1].allow.from.workload names namespace 'shop' but "
            "expectations[1].allow.from.namespace is 'x'",
        ),
    ]


def test_the_file_is_found_at_any_depth_and_nowhere_else() -> None:
    assert is_expectations_path(".netlint/expectations.yaml")
    assert is_expectations_path("teams/shop/.netlint/expectations.yml")
    assert not is_expectations_path(".netlint/other.yaml")
    assert not is_expectations_path("netlint/expectations.yaml")
    assert not is_expectations_path("x.netlint/expectations.yaml")


def test_a_kind_less_manifest_elsewhere_is_not_an_expectation(write: Write, tmp_path: Path) -> None:
    write("k8s/all.yaml", MANIFESTS)
    # The same list outside .netlint/, and a document of another group with the kind: manifests.
    write("k8s/list.yaml", "- deny: {from: {namespace: shop}, to: {namespace: payments}}\n")
    write(
        "k8s/crd.yaml",
        "apiVersion: example.com/v1\nkind: ConnectivityExpectations\n"
        "expectations: [{deny: {from: {namespace: shop}, to: {namespace: payments}}}]\n",
    )
    assert lint_fixture(tmp_path, ["NL301"]) == []


def test_expectations_survive_the_cache(write: Write, tmp_path: Path) -> None:
    write("k8s/all.yaml", MANIFESTS)
    path = write(
        EXPECTATIONS,
        "- deny: {from: {workload: shop/web}, to: {namespace: payments}, port: 5432, "
        "description: PCI}\n",
    )
    result = load(EXPECTATIONS, path.read_bytes(), BuildOptions(), Limits())
    assert len(result.expectations) == 1
    assert decode_results(encode_results([result])) == [result]

    def run() -> list[tuple[str, int, str]]:
        request = CheckRequest(paths=[str(tmp_path)], root=tmp_path, select=["NL301"])
        return [(f.span.path, f.span.line, f.message) for f in check(request).report.findings]

    cold, warm = run(), run()
    assert (tmp_path / ".netlint_cache").is_dir()
    assert cold == warm
    assert len(cold) == 1 and "expectation violated (PCI)" in cold[0][2]


def test_undecided_expectations_are_notes_not_findings(write: Write, tmp_path: Path) -> None:
    # Namespace shop is not declared: whether it carries team=shop is unknown.
    write(
        "k8s/all.yaml",
        deployment("api")
        + "---\n"
        + deployment("db", namespace="payments")
        + "---\n"
        + policy(
            "db",
            namespace="payments",
            body="  ingress:\n    - from: [{namespaceSelector: {matchLabels: {team: shop}}}]\n",
        ),
    )
    write(EXPECTATIONS, "- deny: {from: {workload: shop/api}, to: {namespace: payments}}\n")
    out = netlint("check", "--no-cache", "--verbose", "--select", "NL301", ".", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "NL301: .netlint/expectations.yaml:1:3: deny from shop/api to namespace payments: " in (
        out.stderr
    )
    assert "depends on labels of namespace shop, which the repo does not declare" in out.stderr


def test_too_many_pairs_are_not_judged(
    write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("k8s/all.yaml", MANIFESTS)
    write(EXPECTATIONS, "- deny: {from: {namespace: shop}, to: {namespace: payments}}\n")
    monkeypatch.setattr(nl301, "MAX_PAIRS", 1)
    assert lint_fixture(tmp_path, ["NL301"]) == []
    monkeypatch.setattr(nl301, "MAX_PAIRS", 2)
    assert [f.code for f in lint_fixture(tmp_path, ["NL301"])] == ["NL301"]


def test_every_output_carries_the_finding(write: Write, tmp_path: Path) -> None:
    write("k8s/all.yaml", MANIFESTS)
    write(".netlint.yaml", "{}\n")  # the project's root, as a git work tree's top would be
    write(EXPECTATIONS, "- deny: {from: {workload: shop/web}, to: {workload: payments/db}}\n")
    sarif = json.loads(
        netlint("check", "--no-cache", "--format", "sarif", ".", cwd=tmp_path).stdout
    )
    (result,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "NL301"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == EXPECTATIONS
    assert location["region"]["startLine"] == 1
    assert result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "k8s/all.yaml"
    )
    # As pre-commit runs it: only the expectations file named, the project as context.
    text = netlint("check", "--no-cache", EXPECTATIONS, cwd=tmp_path).stdout
    assert text.startswith(f"{EXPECTATIONS}:1:3: NL301 error: expectation violated")


def test_repo_strings_in_the_message_are_escaped(write: Write, tmp_path: Path) -> None:
    write("k8s/all.yaml", MANIFESTS)
    write(
        EXPECTATIONS, '- deny: {from: {workload: "shop/\\e[31mweb"}, to: {namespace: payments}}\n'
    )
    out = netlint("check", "--no-cache", "--select", "NL301", ".", cwd=tmp_path)
    assert "matches no workload of the project" in out.stdout
    assert "\x1b" not in out.stdout


def test_the_explainer_is_explain(write: Write, tmp_path: Path) -> None:
    path = write("all.yaml", MANIFESTS)
    result = load("all.yaml", path.read_bytes(), BuildOptions(), Limits())
    index = Index([result])
    explainer = Explainer(index)
    for src in index.workloads:
        for dst in index.workloads:
            assert explainer.explain(src, dst) == explain(index, src, dst)


ADMIN = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 5
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: payments}}}
  ingress:
  - name: no-db-from-shop
    action: Deny
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}]
    ports: [{portNumber: {protocol: TCP, port: 5432}}]
  - name: all-from-ops
    action: Allow
    from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: ops}}}]
"""


def test_admin_network_policy_rules_are_the_rules_responsible(write: Write, tmp_path: Path) -> None:
    write(
        "k8s/all.yaml",
        MANIFESTS
        + "---\n"
        + deployment("probe", namespace="ops")
        + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ops}\n",
    )
    admin = write("k8s/admin.yaml", ADMIN)
    write(
        EXPECTATIONS,
        "expectations:\n"
        "  - allow: {from: {workload: shop/api}, to: {workload: payments/db}, port: 5432}\n"
        "  - deny: {from: {namespace: ops}, to: {workload: payments/db}}\n",
    )
    findings = sorted(lint_fixture(tmp_path, ["NL301"]), key=lambda f: f.span.line)
    assert [f.span.line for f in findings] == [2, 3]
    allow, deny = findings
    # The NetworkPolicy allows 5432 from shop; the admin rule denies it first.
    assert [(r.span.path, r.span.line) for r in allow.related] == [
        ("k8s/admin.yaml", line_of(admin, "- name: no-db-from-shop"))
    ]
    assert "rule 'no-db-from-shop' of AdminNetworkPolicy guard (priority 5) denies TCP 5432" in (
        allow.related[0].message
    )
    assert [(r.span.path, r.span.line) for r in deny.related] == [
        ("k8s/admin.yaml", line_of(admin, "- name: all-from-ops"))
    ]
    assert "all-from-ops" in deny.related[0].message and "allows" in deny.related[0].message
