"""NL002 invalid-manifest: the API server would reject the object."""

from __future__ import annotations

from netlint.api import ProblemKind, ProblemRule, RuleMeta, Severity


class InvalidManifest(ProblemRule):
    kind = ProblemKind.INVALID
    meta = RuleMeta(
        code="NL002",
        name="invalid-manifest",
        severity=Severity.ERROR,
        summary="The API server would reject this NetworkPolicy (or a field netlint reads from "
        "a workload or namespace): wrong structure, type or value.",
        why=(
            "A rejected policy does not exist in the cluster: the pods it was written to "
            "protect stay open, and `kubectl apply` of the whole file fails.\n\n"
            "NetworkPolicies are checked against the JSON Schema in "
            "`schemas/networkpolicy.schema.json` (unknown fields, as strict field validation "
            "rejects them; types; enums such as protocol and policyTypes) and against the "
            "value rules of the API server's validation: CIDR syntax, `except` strictly inside "
            "`cidr`, ports within 1-65535, named ports as IANA service names, `endPort` only "
            "with a numeric `port` and not below it, label key and value syntax, "
            "operator/values agreement in matchExpressions, and `ipBlock` never combined with "
            "a selector in one peer. Workloads and namespaces are checked in the fields "
            "netlint reads (names, labels)."
        ),
        fix=(
            "Correct the field the finding points at, as its message says. Unquoted `yes`, "
            "`on` or `1.0` are not strings in YAML 1.1, which Kubernetes uses: quote label "
            "values."
        ),
        not_reported=(
            "Fields of workloads and namespaces that netlint does not read are not validated. "
            "A policy with NL002 findings is left out of the checks that reason about its "
            "rules, so its other problems show once it is valid.\n\n"
            "An object without `metadata.name` that has a non-empty `metadata.generateName` "
            "(`kubectl create`, Argo CD hooks): the API server names it from that "
            "prefix. The prefix itself is checked as the server checks it (a trailing `-` is "
            "allowed), and netlint reads the object under it (`Job shop/pi-`).\n\n"
            "A name, namespace, label key or value, selector key or value, CIDR or port that "
            "holds a substitution placeholder, `${VAR}` (Flux post-build substitution, "
            "envsubst), `$(VAR)` (kustomize vars, Tekton) or `{{...}}` (templating outside a "
            "Helm chart): it is not the value the API server will see. A placeholder in "
            "metadata is read as written (objects that write the same placeholder get the same "
            "value); a policy whose spec holds one is left out of the checks that reason about "
            "its rules, as an invalid policy is, since what it selects and allows is not known "
            "yet. A bare `$VAR` is not taken for a placeholder."
        ),
        added_in="0.1.0",
        tags=("correctness", "schema"),
        security_severity=6.0,
    )


RULE = InvalidManifest
