"""NL104 broad-cidr: address counts, the metadata endpoint, excepts and options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import REPO, found, lint

from netlint.core.findings import Finding
from netlint.testing import assert_markers

Write = Callable[[str, str], Path]


def policy(
    direction: str, blocks: str, *, types: str | None = None, extra: str = "", name: str = "api"
) -> str:
    peers = "from" if direction == "ingress" else "to"
    written = types if types is not None else direction.capitalize()
    return (
        "apiVersion: networking.k8s.io/v1\n"  # 1
        "kind: NetworkPolicy\n"  # 2
        "metadata:\n"  # 3
        f"  name: {name}\n"  # 4
        "  namespace: shop\n"  # 5
        f"{extra}"
        "spec:\n"  # 6
        "  podSelector: {}\n"  # 7
        f"  policyTypes: [{written}]\n"  # 8
        f"  {direction}:\n"  # 9
        f"    - {peers}:\n"  # 10
        f"{blocks}"  # 11...
    )


def block(cidr: str, *excepts: str) -> str:
    text = f"        - ipBlock:\n            cidr: {cidr}\n"
    if excepts:
        text += "            except:\n" + "".join(f"              - {e}\n" for e in excepts)
    return text


def run(tmp_path: Path, path: Path, *, config: Path | None = None) -> list[Finding]:
    report = lint(tmp_path, [path], select=None if config else ["NL104"], config=config)
    return [f for f in report.findings if f.code == "NL104"]


def test_counts_addresses_minus_overlapping_excepts(tmp_path: Path, write: Write) -> None:
    # 10.0.0.0/8 and 10.1.0.0/16 overlap: the second must not be subtracted twice.
    path = write("p.yaml", policy("egress", block("0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16")))
    (finding,) = run(tmp_path, path)
    assert (finding.span.path, finding.span.line, finding.span.col) == ("p.yaml", 12, 19)
    assert finding.message == (
        "egress[0] of NetworkPolicy shop/api allows 0.0.0.0/0, broader than /8: it opens "
        "4,294,967,296 addresses (4,278,190,080 after except); it reaches the metadata endpoint "
        "169.254.169.254"
    )
    assert "internet" not in finding.message


def test_metadata_endpoint_reachable_only_for_egress_without_except(
    tmp_path: Path, write: Write
) -> None:
    write("egress.yaml", policy("egress", block("128.0.0.0/1")))
    excepted = write("excepted.yaml", policy("egress", block("128.0.0.0/1", "169.254.0.0/16")))
    ingress = write("ingress.yaml", policy("ingress", block("128.0.0.0/1")))
    outside = write("outside.yaml", policy("egress", block("0.0.0.0/1")))
    report = lint(tmp_path, [tmp_path], select=["NL104"])
    assert found(report) == {
        ("egress.yaml", 12, "NL104"),
        ("excepted.yaml", 12, "NL104"),
        ("ingress.yaml", 12, "NL104"),
        ("outside.yaml", 12, "NL104"),
    }
    by_path = {f.span.path: f for f in report.findings}
    assert "metadata endpoint 169.254.169.254" in by_path["egress.yaml"].message
    assert "Add 169.254.169.254/32 to except" in str(by_path["egress.yaml"].fix)
    for quiet in (excepted, ingress, outside):
        assert "metadata" not in by_path[quiet.name].message
        assert by_path[quiet.name].fix == "List only the ranges the pods need."
    assert (
        "ingress[0] of NetworkPolicy shop/api admits 128.0.0.0/1" in by_path["ingress.yaml"].message
    )


def test_ipv6_in_powers_of_two_and_its_metadata_endpoint(tmp_path: Path, write: Write) -> None:
    path = write("p.yaml", policy("egress", block("::/0") + block("fd00::/8", "fd00:ec2::/32")))
    findings = run(tmp_path, path)
    assert [f.span.line for f in findings] == [12, 14]
    whole, local = findings
    assert "opens 2^128 addresses" in whole.message
    assert "metadata endpoint fd00:ec2::254" in whole.message
    assert "Add fd00:ec2::254/128 to except" in str(whole.fix)
    assert "opens 2^120 addresses (2^120 - 2^96 after except)" in local.message
    assert "metadata" not in local.message


def test_internet_egress_recipe_is_reported_with_its_excepts(tmp_path: Path, write: Write) -> None:
    recipe = block("0.0.0.0/0", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
    path = write("p.yaml", policy("egress", recipe))
    (finding,) = run(tmp_path, path)
    assert finding.span.line == 12
    remaining = 2**32 - 2**24 - 2**20 - 2**16
    assert f"({remaining:,} after except; the internet stays open)" in finding.message
    assert "metadata endpoint 169.254.169.254" in finding.message


def test_prefix_equal_to_the_minimum_passes(tmp_path: Path, write: Write) -> None:
    path = write(
        "p.yaml",
        policy("egress", block("10.0.0.0/8") + block("8.0.0.0/7") + block("2001:db8::/32")),
    )
    findings = run(tmp_path, path)
    assert [(f.span.line, f.span.col) for f in findings] == [(14, 19)]
    assert "allows 8.0.0.0/7, broader than /8" in findings[0].message


def test_options_change_the_minimum(tmp_path: Path, write: Write) -> None:
    config = write(
        ".netlint.yaml",
        "select: [NL104]\nrules:\n  NL104:\n    min-prefix-ipv4: 24\n    min-prefix-ipv6: 64\n",
    )
    path = write("p.yaml", policy("egress", block("192.168.0.0/16") + block("2001:db8:1::/48")))
    findings = run(tmp_path, path, config=config)
    assert [f.span.line for f in findings] == [12, 14]
    assert "broader than /24" in findings[0].message
    assert "broader than /64" in findings[1].message


def test_rules_of_an_ignored_direction_are_not_checked(tmp_path: Path, write: Write) -> None:
    ignored = write("ignored.yaml", policy("egress", block("0.0.0.0/0"), types="Ingress"))
    defaulted = write("defaulted.yaml", policy("egress", block("0.0.0.0/0"), types=""))
    report = lint(tmp_path, [ignored, defaulted], select=["NL104"])
    assert found(report) == {("defaulted.yaml", 12, "NL104")}


def test_annotation_silences_one_policy(tmp_path: Path, write: Write) -> None:
    annotated = write(
        "annotated.yaml",
        policy(
            "ingress",
            block("0.0.0.0/0"),
            extra='  annotations:\n    netlint.dev/ignore: "NL104"\n',
        ),
    )
    plain = write("plain.yaml", policy("ingress", block("0.0.0.0/0"), name="web"))
    report = lint(tmp_path, [annotated, plain], select=["NL104"])
    assert found(report) == {("plain.yaml", 12, "NL104")}
    assert report.suppressed == 1


def test_metadata_endpoint_only_when_the_ports_may_include_tcp_80() -> None:
    """The endpoint serves on TCP 80: rules on 443, on 8000-9000, on UDP 80 or on a named port
    (it resolves against pods; the endpoint is none) do not reach it; no ports, port 80, a range
    holding it or a ports entry without a port do. The fixture's markers place every finding;
    this says which ones name the endpoint."""
    findings = assert_markers(REPO / "rules" / "NL104-broad-cidr" / "metadata-port.yaml", ["NL104"])
    claims = {(f.span.line, f.span.col): "metadata endpoint" in f.message for f in findings}
    assert claims == {
        (13, 29): True,
        (15, 29): False,
        (18, 29): True,
        (18, 61): False,  # 0.0.0.0/1 does not hold 169.254.169.254
        (21, 29): True,
        (24, 29): False,
        (27, 29): False,
        (30, 29): False,
        (33, 29): True,
    }
    fixes = {f.span.line: str(f.fix) for f in findings}
    assert "169.254.169.254/32 to except" not in fixes[15]
    assert "169.254.169.254/32 to except" in fixes[13]
