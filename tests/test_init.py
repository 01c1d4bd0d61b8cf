"""``netlint init``: on a fresh repository, on one with a pre-commit config of its own (whose
comments stay), run again (nothing changes), with ``--force``, and against what a hostile
checkout could plant (links, odd names)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import NAMESPACE, WEB, WORKER
from helpers import INVALID_POLICY

from netlint import __version__
from netlint.integrations.cli import main
from netlint.run.config import load_config
from netlint.run.registry import load_catalogue

EXISTING_PRE_COMMIT = """\
# Our hooks. Keep this comment.
repos:
- repo: https://github.com/pre-commit/pre-commit-hooks
  rev: v4.6.0  # pinned on purpose
  hooks:
  - id: trailing-whitespace
  # - id: end-of-file-fixer   (off until the generated files are fixed)
"""


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "k8s").mkdir()
    (root / "k8s" / "namespace.yaml").write_text(NAMESPACE, encoding="utf-8")
    (root / "k8s" / "web.yaml").write_text(WEB, encoding="utf-8")
    (root / "apps" / "worker").mkdir(parents=True)
    (root / "apps" / "worker" / "worker.yaml").write_text(WORKER, encoding="utf-8")
    (root / "docs").mkdir()
    (root / "docs" / "notes.yaml").write_text("title: not a manifest\n", encoding="utf-8")
    return root


def _init(root: Path, *args: str) -> int:
    return main(["init", str(root), *args])


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def test_fresh_repo_gets_config_and_hook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path)
    assert _init(root) == 0
    err = capsys.readouterr().err
    config = (root / ".netlint.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(config)
    # The folders holding manifests, not docs/ (no Kubernetes object there).
    assert data["roots"] == ["apps", "k8s"]
    assert "Namespaces declared (Namespace objects): shop." in config
    assert config.count("\n# ") > 10  # commented, for a person to edit
    # netlint reads it as it is: the roots resolve under the repo.
    loaded = load_config(root / ".netlint.yaml", root, load_catalogue().rules)
    assert loaded.roots == (root / "apps", root / "k8s")
    hooks = yaml.safe_load((root / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert hooks["repos"] == [
        {
            "repo": "https://github.com/netlint/netlint",
            "rev": f"v{__version__}",
            "hooks": [{"id": "netlint"}],
        }
    ]
    assert "created .pre-commit-config.yaml" in err
    # The worker's pods are selected by no policy (NL101): init says how to baseline it.
    assert "--write-baseline .netlint-baseline.json" in err
    assert not (root / ".netlint_cache").exists()


def test_hook_id_is_the_published_one() -> None:
    hooks = yaml.safe_load(
        (Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text()
    )
    from netlint.integrations.init import HOOK_ID

    assert HOOK_ID in {h["id"] for h in hooks}


def test_existing_pre_commit_config_keeps_its_comments(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    path = root / ".pre-commit-config.yaml"
    path.write_text(EXISTING_PRE_COMMIT, encoding="utf-8")
    assert _init(root) == 0
    text = path.read_text(encoding="utf-8")
    # The user's file as it was, every comment and its layout (`- ` at column 0), then the hook.
    assert text.startswith(EXISTING_PRE_COMMIT)
    assert text[len(EXISTING_PRE_COMMIT) :] == (
        "- repo: https://github.com/netlint/netlint\n"
        f"  rev: v{__version__}  # the netlint release installed when `netlint init` ran\n"
        "  hooks:\n"
        "  - id: netlint\n"
    )


def test_rerun_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path)
    (root / ".pre-commit-config.yaml").write_text(EXISTING_PRE_COMMIT, encoding="utf-8")
    assert _init(root) == 0
    before = _snapshot(root)
    capsys.readouterr()
    assert _init(root) == 0
    assert _snapshot(root) == before
    err = capsys.readouterr().err
    assert "unchanged .netlint.yaml" in err
    assert "has the netlint hook already" in err


def test_existing_config_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path)
    mine = "# mine\nroots: [k8s]\n"
    (root / ".netlint.yaml").write_text(mine, encoding="utf-8")
    assert _init(root) == 2
    assert "does not overwrite it without --force" in capsys.readouterr().err
    assert (root / ".netlint.yaml").read_text(encoding="utf-8") == mine
    assert not (root / ".pre-commit-config.yaml").exists()  # refused before anything
    assert _init(root, "--force") == 0
    assert yaml.safe_load((root / ".netlint.yaml").read_text())["roots"] == ["apps", "k8s"]


def test_other_config_is_not_shadowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A project configured in pyproject.toml is configured: init adds no .netlint.yaml that
    would take its place, forced or not."""
    root = _repo(tmp_path)
    (root / "pyproject.toml").write_text("[tool.netlint]\nroots = ['k8s']\n", encoding="utf-8")
    assert _init(root, "--force") == 2
    assert "configures this project already" in capsys.readouterr().err
    assert not (root / ".netlint.yaml").exists()


@pytest.mark.parametrize("name", [".netlint.yaml", ".pre-commit-config.yaml"])
def test_symlinked_targets_are_refused(tmp_path: Path, name: str) -> None:
    """A checkout may plant either file as a link to somewhere the user can write (their
    shell profile): init writes through neither, even with --force."""
    root = _repo(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious\n", encoding="utf-8")
    (root / name).symlink_to(victim)
    assert _init(root, "--force") == 2
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert (root / name).is_symlink()


def test_baseline_is_written_on_request(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "k8s" / "bad.yaml").write_text(INVALID_POLICY, encoding="utf-8")
    baseline = root / ".netlint-baseline.json"
    assert _init(root, "--baseline", str(baseline), "--no-pre-commit") == 0
    recorded = json.loads(baseline.read_text(encoding="utf-8"))["findings"]
    assert "NL002" in {e["code"] for e in recorded.values()}
    assert not (root / ".pre-commit-config.yaml").exists()
    # With it, nothing is left to report.
    assert main(["check", str(root), "--baseline", str(baseline), "--no-cache"]) == 0
    # An existing baseline is not overwritten without --force.
    assert _init(root, "--baseline", str(baseline), "--no-pre-commit") == 2
    assert _init(root, "--baseline", str(baseline), "--no-pre-commit", "--force") == 0


def test_hostile_names_stay_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder name with YAML syntax and a terminal escape in it is one quoted root in the
    config and escaped on the terminal; a namespace that is no DNS label is not listed."""
    root = _repo(tmp_path)
    odd = "x: [1]\n# \x1b[31mred"
    (root / odd).mkdir()
    bad_ns = WEB.replace("namespace: shop", "namespace: 'evil\\n#'").replace("name: web", "n: w")
    (root / odd / "w.yaml").write_text(WEB.replace("web", "other"), encoding="utf-8")
    (root / "k8s" / "bad-ns.yaml").write_text(bad_ns, encoding="utf-8")
    assert _init(root, "--no-pre-commit") == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err
    data = yaml.safe_load((root / ".netlint.yaml").read_text(encoding="utf-8"))
    assert odd in data["roots"]
    assert "evil" not in (root / ".netlint.yaml").read_text(encoding="utf-8")


def test_not_yaml_pre_commit_config_is_left_alone(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    path = root / ".pre-commit-config.yaml"
    path.write_text("repos: [unclosed\n", encoding="utf-8")
    assert _init(root) == 2
    assert path.read_text(encoding="utf-8") == "repos: [unclosed\n"
    assert not [p for p in os.listdir(root) if p.endswith(".tmp")]  # no temp file left
