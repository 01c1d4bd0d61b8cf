"""Nothing from the linted repository is imported, whichever way netlint starts.

Each test plants, in the repository, a module for every top-level name the interpreter could
import (the whole standard library and every installed distribution), each writing a marker
file when imported, then starts netlint the way users do and checks that no marker exists.
Names the interpreter itself imports before netlint's first line runs are beyond netlint's
reach; a probe started the same way lists them, and they are not planted (with ``site`` loaded
they are imported before the repository is on sys.path at all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import threading
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest
from helpers import INVALID_POLICY as POLICY

SCRIPT = Path(sys.executable).with_name("netlint")
#: What ``site`` tries to import and, when absent, leaves out of sys.modules.
SITE_HOOKS = {"sitecustomize", "usercustomize"}  # in case importtime misses them
#: The stand-in for netlint's first line: it imports nothing itself.
PROBE = "open({out!r}, 'w').write(' '.join(__import__('sys').modules))\n"


def _names() -> set[str]:
    names = set(sys.stdlib_module_names) | set(packages_distributions())
    return {n for n in names if n.isidentifier()} - {"netlint", "__main__"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    return {**env, "NO_COLOR": "1", **extra}


def _preloaded(
    tmp: Path, argv: list[str], env: dict[str, str], *, module: bool, prelude: str = ""
) -> set[str]:
    """The modules imported, or tried (``-X importtime`` lists the tries that fail, such as
    ``nt`` or ``sitecustomize``), before the first line of a program started like ``argv``
    runs: a stand-in for netlint, started from an empty directory."""
    home = tmp / "probe-home"
    home.mkdir(exist_ok=True)
    out = tmp / "probe.json"
    if module:
        (home / "netlint_probe").mkdir(exist_ok=True)
        (home / "netlint_probe" / "__init__.py").write_text(PROBE.format(out=str(out)))
        (home / "netlint_probe" / "__main__.py").write_text("")
        command = [*argv, "-m", "netlint_probe"]
    else:
        (home / "probe.py").write_text(prelude + PROBE.format(out=str(out)))
        command = [*argv, str(home / "probe.py")]
    command.insert(1, "-Ximporttime")
    ran = subprocess.run(
        command, cwd=home, env=env, check=True, timeout=120, capture_output=True, text=True
    )
    tried = [line.rpartition("|")[2].strip() for line in ran.stderr.splitlines()]
    return {name.partition(".")[0] for name in [*out.read_text().split(), *tried] if name}


def _launcher_prelude() -> str:
    """The lines of the console script pip wrote that run before netlint's first line: pip
    before 24 writes ``import re`` there. With the current directory on sys.path (an empty
    ``PYTHONPATH`` entry) what they import is the launcher's doing, before netlint can act:
    the documented limit. The probe runs them too, so the tests leave those modules out."""
    lines = []
    for line in SCRIPT.read_text(encoding="utf-8").splitlines():
        if line.startswith("from netlint"):
            break
        if line.startswith("import "):
            lines.append(line)
    return "".join(f"{line}\n" for line in lines)


def _plant(repo: Path, skip: set[str]) -> Path:
    """A module for every name but ``skip``, each leaving a marker when imported; a policy
    with a finding, so each run has work to do."""
    markers = repo.parent / f"{repo.name}-markers"
    markers.mkdir()
    repo.mkdir(exist_ok=True)
    for name in sorted(_names() - skip - SITE_HOOKS):
        (repo / f"{name}.py").write_text(f"open({str(markers / name)!r}, 'w').close()\n")
    (repo / "np.yaml").write_text(POLICY)
    return markers


def _imported(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


def _run(argv: list[str], repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_planted_modules_run_when_imported(tmp_path: Path) -> None:
    """The control: the planted modules are found, and run, by an import from the repo."""
    repo = tmp_path / "repo"
    markers = _plant(repo, skip=set())
    _run([sys.executable, "-c", "import csv, tempfile"], repo, _env())
    assert "csv" in _imported(markers)


def test_python_m_imports_nothing_from_the_repo(tmp_path: Path) -> None:
    env = _env()
    skip = _preloaded(tmp_path, [sys.executable], env, module=True)
    repo = tmp_path / "repo"
    markers = _plant(repo, skip)
    out = _run([sys.executable, "-m", "netlint", "check", "--no-cache"], repo, env)
    assert out.returncode == 1 and "NL002" in out.stdout, out.stderr
    assert _imported(markers) == []
    out = _run([sys.executable, "-m", "netlint", "rules"], repo, env)
    assert out.returncode == 0 and _imported(markers) == []


@pytest.mark.parametrize("pythonpath", [":", ".", "::"], ids=["empty-first", "dot", "empties"])
def test_console_script_ignores_empty_pythonpath_entries(tmp_path: Path, pythonpath: str) -> None:
    """An empty (or relative) PYTHONPATH entry names the current directory, the repo."""
    env = _env(PYTHONPATH=pythonpath)
    skip = _preloaded(tmp_path, [sys.executable], env, module=False, prelude=_launcher_prelude())
    repo = tmp_path / "repo"
    markers = _plant(repo, skip)
    # As pre-commit runs the hook: the console script, in the repo's root, with file names.
    out = _run([str(SCRIPT), "check", "--no-cache", "np.yaml"], repo, env)
    assert out.returncode == 1 and "NL002" in out.stdout, out.stderr
    assert _imported(markers) == []


def test_a_fresh_interpreter_imports_nothing_from_the_repo(tmp_path: Path) -> None:
    """As in pre-commit's own virtualenv, where no editable-install hook preloads half the
    standard library: with ``site`` off almost nothing is loaded before netlint starts, so
    everything netlint imports must come after it drops the repo from sys.path."""
    site = sysconfig.get_path("purelib")
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "netlint").symlink_to(Path(__file__).resolve().parents[1] / "netlint")
    env = _env(PYTHONPATH=os.pathsep.join(["", str(lib), site]))
    prelude = _launcher_prelude()
    skip = _preloaded(tmp_path, [sys.executable, "-S"], env, module=False, prelude=prelude)
    repo = tmp_path / "repo"
    markers = _plant(repo, skip)
    out = _run([sys.executable, "-S", str(SCRIPT), "check", "--no-cache"], repo, env)
    assert out.returncode == 1 and "NL002" in out.stdout, out.stderr
    # The test has teeth: netlint's own first imports are planted.
    assert "tempfile" not in skip and ("re" not in skip or "import re" in prelude)
    assert _imported(markers) == []


def test_python_safe_path_keeps_a_planted_netlint_package_out(tmp_path: Path) -> None:
    """Under ``python -m`` from the repo's root, a ``netlint/`` there would be netlint itself
    (the documented limit); ``-P`` or the console script never look there."""
    repo = tmp_path / "repo"
    markers = _plant(repo, skip=set(_names()))
    (repo / "netlint").mkdir()
    (repo / "netlint" / "__init__.py").write_text(
        f"open({str(markers / 'netlint')!r}, 'w').close()\n"
    )
    (repo / "netlint" / "__main__.py").write_text("")
    for argv in ([sys.executable, "-P", "-m", "netlint"], [str(SCRIPT)]):
        out = _run([*argv, "check", "--no-cache"], repo, _env())
        assert out.returncode == 1 and "NL002" in out.stdout, out.stderr
    assert _imported(markers) == []


def _dist_info(site: Path, markers: Path) -> None:
    """A distribution whose rule plugin leaves a marker when loaded."""
    (site / "evil_rules.py").write_text(f"open({str(markers / 'evil_rules')!r}, 'w').close()\n")
    info = site / "evil_rules-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: evil-rules\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[netlint.rules]\nevil = evil_rules:Rule\n")


@pytest.mark.parametrize("where", ["root", "nested"])
def test_plugin_metadata_anywhere_in_the_repo_is_not_loaded(tmp_path: Path, where: str) -> None:
    """Metadata at the root of a git repo run from a subdirectory, or deep inside it (an
    absolute PYTHONPATH entry): found on sys.path, refused because of where it lies."""
    repo = tmp_path / "repo"
    markers = _plant(repo, skip=set(_names()))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, timeout=60)
    site = repo if where == "root" else repo / "tools" / "vendor"
    cwd = repo / "apps" if where == "root" else repo
    for folder in (site, cwd):
        folder.mkdir(parents=True, exist_ok=True)
    _dist_info(site, markers)
    env = _env(PYTHONPATH=str(site))
    out = _run([str(SCRIPT), "check", "--no-cache", str(repo)], cwd, env)
    assert out.returncode == 1 and "NL002" in out.stdout, out.stderr
    assert "evil = evil_rules:Rule (evil-rules) is not loaded" in out.stderr
    assert _imported(markers) == []
    # Asked for, it is loaded: the refusal is about where it lies, not a broken plugin.
    _run([str(SCRIPT), "check", "--no-cache", "--allow-repo-plugins", str(repo)], cwd, env)
    assert _imported(markers) == ["evil_rules"]


class _Lsp:
    """Just enough of a client to start ``netlint lsp`` on a folder and stop it."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.watchdog = threading.Timer(120, self.proc.kill)
        self.watchdog.start()
        self.messages: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def until(self, wanted: Any) -> dict[str, Any]:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = 0
            while (line := stream.readline()).strip():
                key, _, value = line.decode().partition(":")
                if key.lower() == "content-length":
                    length = int(value)
            if not length:
                raise AssertionError(f"the server stopped; got {self.messages}")
            message = json.loads(stream.read(length))
            if "method" in message and "id" in message:
                self.send({"id": message["id"], "result": None})
            self.messages.append(message)
            if wanted(message):
                return message

    def close(self) -> None:
        self.send({"id": 99, "method": "shutdown", "params": None})
        self.until(lambda m: m.get("id") == 99)
        self.send({"method": "exit", "params": None})
        self.proc.wait(timeout=60)
        self.watchdog.cancel()


def test_language_server_imports_nothing_from_the_workspace(tmp_path: Path) -> None:
    """Editors start ``netlint lsp`` with the workspace as the current directory."""
    env = _env(PYTHONPATH=os.pathsep.join(["", str(tmp_path / "ws" / "plugins")]))
    skip = _preloaded(tmp_path, [sys.executable], env, module=False)
    workspace = tmp_path / "ws"
    markers = _plant(workspace, skip)
    (workspace / "plugins").mkdir()
    _dist_info(workspace / "plugins", markers)
    client = _Lsp([str(SCRIPT), "lsp"], workspace, env)
    root = workspace.as_uri()
    client.send(
        {
            "id": 1,
            "method": "initialize",
            "params": {
                "processId": None,
                "rootUri": root,
                "capabilities": {},
                "workspaceFolders": [{"uri": root, "name": "ws"}],
            },
        }
    )
    client.until(lambda m: m.get("id") == 1)
    client.send({"method": "initialized", "params": {}})
    client.until(lambda m: "netlint: read" in str(m.get("params", {}).get("message", "")))
    client.close()
    said = " ".join(str(m.get("params", {}).get("message", "")) for m in client.messages)
    assert "evil = evil_rules:Rule (evil-rules) is not loaded" in said
    assert _imported(markers) == []
