"""The pre-commit hook, run by the real pre-commit (``try-repo``) against a real git repo.

pre-commit passes only the changed files; netlint must still read the whole project, so a
changed workload gets its NL101 and a changed policy gets no false NL102 for pods declared in
another file. pre-commit installs the hook from this repository into its own virtualenv (PyPI
is needed once per session, about 30 s).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import NAMESPACE, REPO, WEB, WORKER, lint
from helpers import copy_of_work_tree, git, pre_commit

WORKER_LINE = 4  # `  name: worker`: no policy selects the worker's pods (NL101)
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-allow-worker
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: worker
      ports:
        - protocol: TCP
          port: http
"""
EGRESS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-egress
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: 0.0.0.0/1
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - protocol: UDP
          port: 53
        - protocol: TCP
          port: 53
"""
CIDR_LINE = 14  # `cidr: 0.0.0.0/1` (NL104)
FINDING = re.compile(r"^(?P<path>[^\s:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>NL\d+) ", re.M)


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "VIRTUAL"))
    }
    env.update(
        PRE_COMMIT_HOME=str(home),
        NO_COLOR="1",
        GIT_AUTHOR_NAME="netlint tests",
        GIT_AUTHOR_EMAIL="tests@netlint.invalid",
        GIT_COMMITTER_NAME="netlint tests",
        GIT_COMMITTER_EMAIL="tests@netlint.invalid",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def _hook_repo(tmp: Path, env: dict[str, str]) -> Path:
    """The repository to install the hook from: this checkout when everything is committed (as
    in CI); otherwise a commit of its working tree, because try-repo takes staged and modified
    tracked files but not untracked ones (a new hook manifest or module would be missing)."""
    dirty = git("status", "--porcelain", cwd=REPO, env=env).strip()
    if not dirty:
        return REPO
    snapshot = copy_of_work_tree(REPO, tmp / "netlint-snapshot", env)
    git("commit", "-q", "-m", "snapshot of the work tree", cwd=snapshot, env=env)
    return snapshot


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("precommit")
    env = _env(tmp / "pre-commit-home")
    hooks = _hook_repo(tmp, env)
    user = tmp / "user"
    for rel, text in {
        "namespaces/shop.yaml": NAMESPACE,
        "workloads/web.yaml": WEB,
        "workloads/worker.yaml": WORKER,
        "policies/web.yaml": POLICY,
        "policies/egress.yaml": EGRESS,
    }.items():
        (user / rel).parent.mkdir(parents=True, exist_ok=True)
        (user / rel).write_text(text)
    git("init", "-q", cwd=user, env=env)
    git("add", "-A", cwd=user, env=env)
    git("commit", "-q", "-m", "manifests", cwd=user, env=env)
    return hooks, user, env


def try_repo(setup: tuple[Path, Path, dict[str, str]], *files: str) -> tuple[int, str]:
    hooks, user, env = setup
    return pre_commit("try-repo", str(hooks), "netlint", "--files", *files, cwd=user, env=env)


def findings(output: str) -> set[tuple[str, int, str]]:
    return {(m["path"], int(m["line"]), m["code"]) for m in FINDING.finditer(output)}


def test_manifest_is_valid() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", ".pre-commit-hooks.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_changed_workloads_get_their_findings(setup: tuple[Path, Path, dict[str, str]]) -> None:
    # web's pods are selected by policies/web.yaml, which pre-commit does not pass.
    status, output = try_repo(setup, "workloads/web.yaml", "workloads/worker.yaml")
    assert status == 1, output
    assert re.search(r"^netlint\.+Failed$", output, re.M), output
    assert findings(output) == {("workloads/worker.yaml", WORKER_LINE, "NL101")}, output
    assert f"workloads/worker.yaml:{WORKER_LINE}:9: NL101 warning: Deployment shop/worker" in output


def test_changed_policy_is_judged_with_the_whole_repo(
    setup: tuple[Path, Path, dict[str, str]],
) -> None:
    _, user, _ = setup
    # With only some of the workloads as context, the policy's podSelector would dangle: the
    # pods it selects live in workloads/web.yaml.
    partial = [user / "policies/web.yaml", user / "workloads/worker.yaml"]
    alone = lint(user, partial[:1], context=partial)
    assert {(f.span.line, f.code) for f in alone.findings} == {(7, "NL102")}
    status, output = try_repo(setup, "policies/web.yaml")
    assert status == 0, output
    assert re.search(r"^netlint\.+Passed$", output, re.M), output
    assert findings(output) == set(), output


def test_only_the_passed_files_are_reported(setup: tuple[Path, Path, dict[str, str]]) -> None:
    status, output = try_repo(
        setup, "policies/web.yaml", "policies/egress.yaml", "workloads/worker.yaml"
    )
    assert status == 1, output
    assert findings(output) == {
        ("policies/egress.yaml", CIDR_LINE, "NL104"),
        ("workloads/worker.yaml", WORKER_LINE, "NL101"),
    }, output


def test_the_hook_through_the_daemon_reports_what_it_reports_alone(
    setup: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    # `args: [--daemon]` (docs/daemon.md): the hook's own virtualenv starts the daemon on the
    # first run, which serves the next; both report what a run of its own reports.
    hooks, user, env = setup
    repo = tmp_path / "user"
    shutil.copytree(user, repo)
    rev = git("rev-parse", "HEAD", cwd=hooks, env=env).strip()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {hooks}\n  rev: {rev}\n  hooks:\n  - id: netlint\n    args: [--daemon]\n",
        encoding="utf-8",
    )
    runtime = Path(tempfile.mkdtemp(prefix="nlp", dir="/tmp"))  # short: a socket path is bounded
    served = {**env, "XDG_RUNTIME_DIR": str(runtime)}
    files = ("policies/web.yaml", "policies/egress.yaml", "workloads/worker.yaml")
    try:
        alone = try_repo(setup, *files)
        for _ in range(2):
            status, output = pre_commit("run", "netlint", "--files", *files, cwd=repo, env=served)
            assert (status, findings(output)) == (alone[0], findings(alone[1])), output
        sockets = list((runtime / "netlint").glob("*.sock"))
        assert len(sockets) == 1, sockets
        said = daemon_control(sockets[0], "status")
        assert re.search(r"\b2 runs\b", said), said
    finally:
        for sock in (runtime / "netlint").glob("*.sock"):
            daemon_control(sock, "stop")
        shutil.rmtree(runtime, ignore_errors=True)


def daemon_control(sock: Path, action: str) -> str:
    """What a daemon says to ``netlint daemon ACTION`` on ``sock`` (the hook's daemon runs the
    hook's netlint: its socket's name is not this interpreter's)."""
    out = subprocess.run(
        [sys.executable, "-m", "netlint", "daemon", action, "--socket", str(sock)],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return out.stdout + out.stderr
