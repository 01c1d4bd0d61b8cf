"""NL104 broad-cidr: an ipBlock whose prefix is shorter than the configured minimum."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterator
from dataclasses import dataclass

from netlint.api import (
    Context,
    Direction,
    Finding,
    IPBlock,
    NetworkPolicy,
    Options,
    PolicyRule,
    Rule,
    RuleMeta,
    Severity,
    display,
    option,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloud instance metadata services (AWS, GCP, Azure on IPv4; AWS Nitro on IPv6): reaching them
#: from a pod usually means reaching the node's cloud credentials.
METADATA_V4 = ipaddress.IPv4Address("169.254.169.254")
METADATA_V6 = ipaddress.IPv6Address("fd00:ec2::254")
#: The port they serve on (plain HTTP): a rule whose ports leave out TCP 80 does not reach them.
METADATA_PORT = 80

#: What an "internet only" egress recipe excepts: RFC 1918 for IPv4, unique local for IPv6.
PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
PRIVATE_V6 = (ipaddress.IPv6Network("fc00::/7"),)


@dataclass(frozen=True, slots=True)
class BroadCidrOptions(Options):
    min_prefix_ipv4: int = option(
        8,
        description="Shortest IPv4 prefix length allowed; /N with N below it is reported "
        "(0 allows everything).",
        schema={"type": "integer", "minimum": 0, "maximum": 32},
    )
    min_prefix_ipv6: int = option(
        32,
        description="Shortest IPv6 prefix length allowed; /N with N below it is reported "
        "(0 allows everything).",
        schema={"type": "integer", "minimum": 0, "maximum": 128},
    )


class BroadCidr(Rule):
    meta = RuleMeta(
        code="NL104",
        name="broad-cidr",
        severity=Severity.WARNING,
        summary="An `ipBlock.cidr` is broader than the configured minimum prefix "
        "(by default shorter than /8 for IPv4 or /32 for IPv6).",
        why=(
            "A NetworkPolicy is an allow-list: an `ipBlock` such as `0.0.0.0/0` or `0.0.0.0/1` "
            "lets the selected pods talk to (egress) or be reached from (ingress) a large part "
            "of the address space, often the whole internet, which defeats the point of "
            "isolating them. The finding says how many addresses the block opens, before and "
            "after its `except` ranges; an `except` list that removes the private ranges (the "
            'usual "internet egress" recipe) still leaves the whole internet, so the block is '
            "still reported, with the excepts acknowledged.\n\n"
            "An egress block that contains the cloud metadata endpoint (`169.254.169.254`, or "
            "`fd00:ec2::254` on IPv6) without excepting it, in a rule whose ports include TCP "
            "80 (no `ports`, a ports entry without a port, port 80 or a range holding it), "
            "lets any compromised pod read the node's cloud credentials; the finding says so."
        ),
        fix=(
            "List the ranges the pods actually need (a partner's /24, the cluster's service "
            "CIDR) instead. Where the metadata endpoint is reachable, add `169.254.169.254/32` "
            "(or `fd00:ec2::254/128`) to `except`.\n\n"
            "Some breadth is deliberate, such as ingress from `0.0.0.0/0` to the pods behind a "
            "public load balancer. Silence it for that one policy with the annotation "
            '`netlint.dev/ignore: "NL104"`, or for the whole repo by lowering '
            "`min-prefix-ipv4` / `min-prefix-ipv6` (`rules: {NL104: {min-prefix-ipv4: 0}}` "
            "allows everything)."
        ),
        not_reported=(
            "Blocks in rules that `policyTypes` makes Kubernetes ignore: they open nothing and "
            "are left to NL201. Policies that the API server would reject (NL002) are not "
            "checked. The metadata endpoint is not mentioned for a rule whose ports all leave "
            "out TCP 80 (only 443, say, or only UDP): the endpoint serves on TCP 80 alone. A "
            "named port does not count either: a name resolves against the container ports of "
            "a destination pod, and the metadata endpoint is no pod."
        ),
        added_in="0.1.0",
        tags=("security", "least-privilege"),
        security_severity=6.5,
        options=BroadCidrOptions,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid:
            return
        options: BroadCidrOptions = ctx.options
        minimum = {4: options.min_prefix_ipv4, 6: options.min_prefix_ipv6}
        for direction in sorted(policy.policy_types):
            for rule in policy.rules(direction):
                for peer in rule.peers:
                    block = peer.ip_block
                    if block is None:
                        continue
                    least = minimum[block.network.version]
                    if block.network.prefixlen < least:
                        message, fix = _message(policy, rule, block, least)
                        yield ctx.finding(block.cidr_span, message, fix=fix, subject=policy)


def _message(
    policy: NetworkPolicy, rule: PolicyRule, block: IPBlock, least: int
) -> tuple[str, str]:
    """What the block opens, and how to narrow it."""
    network = block.network
    inside = [e.network for e in block.excepts if e.network.subnet_of(network)]  # type: ignore[arg-type]
    excluded = _union_size(inside)
    total = network.num_addresses
    opens = f"opens {_count(network.version, total)} addresses"
    if excluded:
        opens += f" ({_remaining(network.version, total, excluded)} after except"
        if _covers_private(network, inside):
            # The "internet egress" recipe: excepting the private ranges is not narrowing.
            opens += "; the internet stays open"
        opens += ")"
    verb = "admits" if rule.direction is Direction.INGRESS else "allows"
    text = (
        f"{rule.direction.rules_key}[{rule.index}] of {display(policy)} {verb} {block.cidr}, "
        f"broader than /{least}: it {opens}"
    )
    fix = "List only the ranges the pods need."
    if rule.direction is Direction.EGRESS:
        endpoint = METADATA_V4 if network.version == 4 else METADATA_V6
        if (
            endpoint in network
            and not any(endpoint in e for e in inside)
            and _may_allow_tcp(rule, METADATA_PORT)
        ):
            text += f"; it reaches the metadata endpoint {endpoint}"
            fix = (
                f"Add {endpoint}/{endpoint.max_prefixlen} to except (it serves the node's cloud "
                "credentials), and list only the ranges the pods need."
            )
    return text, fix


def _may_allow_tcp(rule: PolicyRule, number: int) -> bool:
    """Whether the rule's ports allow TCP ``number`` to an address outside the cluster: no
    ports (every port), a ports entry without a port, that port, or a range holding it. A named
    port does not: it resolves against a destination pod's container ports, and an ipBlock
    address that is no pod (the metadata endpoint) has none."""
    if rule.allows_all_ports:
        return True
    for spec in rule.ports:
        if spec.protocol != "TCP" or isinstance(spec.port, str):
            continue
        if spec.port is None:
            return True
        end = spec.end_port if spec.end_port is not None else spec.port
        if spec.port <= number <= end:
            return True
    return False


def _union_size(networks: list[Network]) -> int:
    """Addresses in the union of ``networks`` (excepts may overlap one another)."""
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    return sum(n.num_addresses for n in ipaddress.collapse_addresses(v4)) + sum(
        n.num_addresses for n in ipaddress.collapse_addresses(v6)
    )


def _covers_private(network: Network, excepts: list[Network]) -> bool:
    private = PRIVATE_V4 if network.version == 4 else PRIVATE_V6
    relevant = [p for p in private if p.subnet_of(network)]  # type: ignore[arg-type]
    return bool(relevant) and all(
        any(p.subnet_of(e) for e in excepts)  # type: ignore[arg-type]
        for p in relevant
    )


def _count(version: int, n: int) -> str:
    """IPv4 counts exactly with separators; IPv6 counts as powers of two (2^96)."""
    if version == 4:
        return f"{n:,}"
    return _power(n)


def _remaining(version: int, total: int, excluded: int) -> str:
    if version == 4:
        return f"{total - excluded:,}"
    removed = _power(excluded)
    return f"{_power(total)} - " + (f"({removed})" if " " in removed else removed)


def _power(n: int) -> str:
    """A count as a short sum of powers of two (``2^96 + 2^95``): except ranges are CIDRs, so
    a few terms cover nearly every real policy; otherwise exact below 10^12, else rounded."""
    bits = [i for i in range(n.bit_length() - 1, -1, -1) if n >> i & 1]
    if len(bits) <= 3:
        return " + ".join(f"2^{b}" for b in bits)
    if n < 10**12:
        return f"{n:,}"
    return f"about 2^{math.log2(n):.1f}"


RULE = BroadCidr
