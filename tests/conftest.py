"""Shared test fixtures: run netlint in-process over a folder, a private per-user state for the
session. The `# expect:` marker grammar lives in netlint.testing (plugin authors use it too);
builders of manifests are in tests/helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from netlint.core.findings import Finding
from netlint.output.report import Report
from netlint.run.runner import CheckRequest, check

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
Expected = set[tuple[str, int, str]]

# A small shop shared by the integration tests (pre-commit, the language server): a namespace and
# two Deployments, one with a named port.
NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
"""
WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - name: http
              containerPort: 8080
"""
WORKER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: shop
spec:
  selector:
    matchLabels:
      app: worker
  template:
    metadata:
      labels:
        app: worker
    spec:
      containers:
        - name: worker
          image: busybox:1.36
"""


def lint(
    root: Path,
    paths: Sequence[Path] = (),
    *,
    context: Sequence[Path] | None = None,
    select: Sequence[str] | None = None,
    config: Path | None = None,
    stdin: tuple[Path, str] | None = None,
) -> Report:
    request = CheckRequest(
        paths=[str(p) for p in paths],
        root=root,
        context=context,
        select=select,
        config=str(config) if config else None,
        stdin_filename=str(stdin[0]) if stdin else None,
        stdin_text=stdin[1] if stdin else None,
        use_cache=False,
    )
    return check(request).report


#: A config declaring every file of the project one deploy unit, applied together (as
#: ``kubectl apply -R -f .`` would): for tests of claims about objects in several files, which
#: plain files alone never support (docs/units.md).
TOGETHER = "units:\n  - name: all\n    paths: ['*']\n"


def found(report: Report) -> Expected:
    return {(f.span.path, f.span.line, f.code) for f in report.findings}


def describe(findings: Iterable[Finding]) -> str:
    return "\n".join(f"{f.span}: {f.code} {f.message}" for f in findings)


@pytest.fixture(scope="session", autouse=True)
def _private_user_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Give this session its own per-user state, so that nothing is shared with the user's
    caches or with another run of the suite on the same machine (CI machines are shared):

    - ``XDG_CACHE_HOME``: netlint's cache key (``netlint/key``), which every ``netlint check``
      run as a program creates or reads;
    - ``PRE_COMMIT_HOME``: the hook environments and the database of pre-commit;
    - ``VIRTUALENV_OVERRIDE_APP_DATA``: virtualenv's app data (interpreter facts and seed
      wheels), which pre-commit's virtualenv creation would otherwise write in the user's cache.

    pip's download cache stays where it was (``PIP_CACHE_DIR``): pip writes it atomically and
    shares it safely, and a cold one would download every hook dependency again each session.
    Child processes inherit these variables; tests that need a state of their own still set
    theirs (tests/test_cache.py, tests/test_precommit.py)."""
    base = tmp_path_factory.mktemp("user-state")
    user_cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("XDG_CACHE_HOME", str(base / "cache"))
        env.setenv("PRE_COMMIT_HOME", str(base / "pre-commit"))
        env.setenv("VIRTUALENV_OVERRIDE_APP_DATA", str(base / "virtualenv"))
        env.setenv(
            "PIP_CACHE_DIR", os.environ.get("PIP_CACHE_DIR") or str(Path(user_cache) / "pip")
        )
        yield


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    """write("a/b.yaml", text) creates a file under tmp_path and returns its path."""

    def _write(rel: str, text: str) -> Path:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write
