"""NL207 missing-namespace: a NetworkPolicy without ``metadata.namespace``."""

from __future__ import annotations

from collections.abc import Iterator

from netlint.api import Context, Finding, NetworkPolicy, Rule, RuleMeta, Severity


class MissingNamespace(Rule):
    meta = RuleMeta(
        code="NL207",
        name="missing-namespace",
        severity=Severity.NOTE,
        summary="A NetworkPolicy has no `metadata.namespace`, so where it applies depends on "
        "how it is applied.",
        why=(
            "A NetworkPolicy only selects pods of its own namespace. Without "
            "`metadata.namespace` it lands in whatever namespace `kubectl`'s current context "
            "(or `-n`, or a kustomization's `namespace:`, or a Helm release) says at apply "
            "time: applied from the wrong context, it protects nothing where it was meant to, "
            "and may isolate pods somewhere else. netlint judges such a policy in the "
            "configured `default-namespace` (`default` unless set), so its other findings "
            "assume that namespace too."
        ),
        fix=(
            "Write `namespace:` in the manifest to make the target explicit.\n\n"
            "Repos that set namespaces with Kustomize (`namespace:` in kustomization.yaml) or "
            "Helm leave it out on purpose: switch the note off there with "
            "`rules: {NL207: {severity: off}}` in `.netlint.yaml`, and set "
            "`default-namespace` if all manifests share one."
        ),
        not_reported="Policies that the API server would reject (NL002) are not checked.",
        added_in="0.1.0",
        tags=("correctness", "namespace"),
        security_severity=2.0,
    )

    def check_policy(self, ctx: Context, policy: NetworkPolicy) -> Iterator[Finding]:
        if not policy.valid or policy.namespace_declared:
            return
        yield ctx.finding(
            policy.name_span.first_line,
            f"NetworkPolicy {policy.name} has no metadata.namespace: its namespace is set at "
            f"apply time (netlint assumes {policy.namespace})",
            fix="Add `namespace: <name>` to pin where it applies, or switch NL207 off where "
            "Kustomize or Helm sets the namespace (`rules: {NL207: {severity: off}}`).",
            subject=policy,
        )


RULE = MissingNamespace
