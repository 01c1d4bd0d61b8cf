"""Builders and small helpers the test modules share: manifests as text, netlint and git run as
programs, where a line is. Fixtures (``write``, the private per-user state) stay in conftest.py;
the ``# expect:`` marker grammar is netlint.testing's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

#: The kustomize oracle set (../shared/oracles/kustomize/): its folder and the names of its cases
#: (none when the shared folder is not there, and the tests that need it skip).
KUSTOMIZE_ORACLES = Path(__file__).resolve().parents[2] / "shared" / "oracles" / "kustomize"
KUSTOMIZE_CASES = (
    sorted(p.name for p in KUSTOMIZE_ORACLES.iterdir() if (p / "case.yaml").is_file())
    if KUSTOMIZE_ORACLES.is_dir()
    else []
)
needs_kustomize_oracles = pytest.mark.skipif(
    not KUSTOMIZE_CASES, reason=f"the kustomize oracle set ({KUSTOMIZE_ORACLES}) is not available"
)

#: The type of conftest's ``write`` fixture: ``write("a/b.yaml", text)`` returns the new path.
Write = Callable[[str, str], Path]

#: A NetworkPolicy with one NL002 finding (``policyTypes`` values are case-sensitive), at 8:17.
INVALID_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [ingress]
"""
#: INVALID_POLICY put right: no finding.
VALID_POLICY = INVALID_POLICY.replace("[ingress]", "[Ingress]")


def namespace(name: str, labels: str = "") -> str:
    """A Namespace; ``labels`` is the inside of a flow mapping (``"team: shop"``)."""
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\n"


def deployment(name: str, *, labels: str = "", namespace: str = "shop", extra: str = "") -> str:
    """A Deployment whose pods carry ``labels`` (``app: <name>`` by default); ``extra`` is
    inserted into the pod spec before ``containers`` (indented by six spaces)."""
    labels = labels or f"app: {name}"
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  selector:
    matchLabels: {{{labels}}}
  template:
    metadata:
      labels: {{{labels}}}
    spec:
{extra}      containers:
        - name: main
          image: registry.example.com/{name}:1.0.0
"""


def policy(
    name: str = "p", *, selector: str = "{}", namespace: str = "shop", body: str = ""
) -> str:
    """A NetworkPolicy: ``selector`` is its podSelector (YAML), ``body`` the rest of its spec
    (``policyTypes``, ``ingress``...), indented by two spaces."""
    return f"""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {namespace}
spec:
  podSelector: {selector}
{body}"""


def line_of(where: Path | str, needle: str, nth: int = 1) -> int:
    """The 1-based number of the ``nth`` line that contains ``needle``, in a file (a Path) or a
    text (a str)."""
    text = where.read_text(encoding="utf-8") if isinstance(where, Path) else where
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    if len(hits) < nth:
        raise AssertionError(f"{needle!r} is on {len(hits)} lines, not {nth}")
    return hits[nth - 1]


def netlint(
    *args: str,
    cwd: Path,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python -m netlint ARGS`` in ``cwd``, without colours; ``env`` adds to the session's
    environment."""
    return subprocess.run(
        [sys.executable, "-m", "netlint", *args],
        cwd=cwd,
        input=stdin,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def git(*args: str, cwd: Path, env: Mapping[str, str]) -> str:
    """``git ARGS``'s output; a failure raises."""
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=120
    ).stdout


def copy_of_work_tree(
    repo: Path, target: Path, env: Mapping[str, str], only: tuple[str, ...] = ()
) -> Path:
    """A new git repository at ``target`` holding ``repo``'s tracked and untracked (not
    ignored) files, staged, as a commit of the current work would hold them; ``only`` limits it
    to paths with those prefixes. Tests run tools against it, never against the checkout."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=repo, env=env)
    for rel in filter(None, listed.split("\0")):
        if only and not rel.startswith(only):
            continue
        source, copy = repo / rel, target / rel
        if not (source.exists() or source.is_symlink()):
            continue  # tracked but deleted in the work tree
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, copy)
    git("init", "-q", cwd=target, env=env)
    git("add", "-A", cwd=target, env=env)
    return target


def pre_commit(command: str, *args: str, cwd: Path, env: Mapping[str, str]) -> tuple[int, str]:
    """The real ``pre-commit COMMAND ARGS`` (this interpreter's pre-commit, colour off): its
    exit status and its output; pre-commit's own crash ("An error has occurred") fails the
    test."""
    out = subprocess.run(
        [sys.executable, "-m", "pre_commit", command, "--color", "never", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = out.stdout + out.stderr
    assert "An error has occurred" not in output, output
    return out.returncode, output
