"""A hostile repository's configuration, baseline and file tree: refused or reported with file
and line, never followed out of the root, never quoted at length, never a traceback or a hang."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import INVALID_POLICY as POLICY
from helpers import netlint

from netlint.integrations.lsp.projects import Linter
from netlint.read.discover import Glob, GlobError, discover

SECRET = "https://octocat:ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=60)
    (root / "np.yaml").write_text(POLICY)
    return root


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "home" / ".git-credentials"
    path.parent.mkdir()
    path.write_text(SECRET + "\n")
    return path


def usage_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


@pytest.mark.parametrize("name", [".netlint.yaml", ".netlint.yml", "pyproject.toml"])
def test_a_config_linked_out_of_the_repo_is_refused_not_quoted(
    repo: Path, secret: Path, name: str
) -> None:
    (repo / name).symlink_to(secret)
    out = netlint("check", cwd=repo)
    usage_error(out, f"{name}: the config file is a symbolic link out of the project")
    assert "ghp_" not in out.stderr + out.stdout
    # Named on the command line from inside the work tree, it is still the repo's link.
    out = netlint("check", "--config", name, cwd=repo)
    usage_error(out, "symbolic link out of the project")


def test_a_config_linked_inside_the_repo_is_read(repo: Path) -> None:
    (repo / "conf").mkdir()
    (repo / "conf" / "netlint.yaml").write_text("ignore: [NL002]\n")
    (repo / ".netlint.yaml").symlink_to("conf/netlint.yaml")
    assert netlint("check", cwd=repo).returncode == 0


def test_a_config_the_user_names_outside_any_repo_is_read(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "np.yaml").write_text(POLICY)
    shared = tmp_path / "shared.yaml"
    shared.write_text("ignore: [NL002]\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(shared)
    out = netlint("check", "--config", str(link), str(project / "np.yaml"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("kind", ["dangling", "loop", "directory", "fifo"])
def test_a_config_name_that_is_no_regular_file_is_an_error(repo: Path, kind: str) -> None:
    path = repo / ".netlint.yaml"
    if kind == "dangling":
        path.symlink_to(repo / "gone.yaml")
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)  # reading it would block for ever
    out = netlint("check", cwd=repo, timeout=60)
    usage_error(out, ".netlint.yaml")


def test_config_errors_quote_values_short_and_escaped(repo: Path) -> None:
    long = "x" * 5000
    (repo / ".netlint.yaml").write_text(f'fail-on: "{long}"\nrules:\n  "NL\\e[31m\\u202e": {{}}\n')
    out = netlint("check", cwd=repo)
    usage_error(out, ".netlint.yaml:1:10: fail-on: 'xxxxxxxx", ".netlint.yaml:3:3:", "\\x1b")
    assert long not in out.stderr and "\x1b" not in out.stderr and "\u202e" not in out.stderr
    assert len(out.stderr) < 1000


def test_a_config_that_is_not_a_mapping_is_not_quoted(repo: Path) -> None:
    # The content of a secret committed by mistake, or linked from inside the repo.
    (repo / ".netlint.yaml").write_text(SECRET + "\n")
    out = netlint("check", cwd=repo)
    usage_error(out, ".netlint.yaml:1:1: document: must be a mapping, not a string")
    assert "ghp_" not in out.stderr


def test_a_flood_of_config_errors_is_cut_short(repo: Path) -> None:
    (repo / ".netlint.yaml").write_text("".join(f"unknown{i}: 1\n" for i in range(3000)))
    out = netlint("check", cwd=repo)
    usage_error(out, "... and 2950 more problems")
    assert out.stderr.count("\n") < 60


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (b"# [tool.netlint]\ntool = 1\n", ":2:1:", "tool: must be a table"),
        (b"[tool]\nnetlint = 1\n", ":2:1:", "must be a mapping, not a number"),
        (b"[tool.netlint]\nselect = ['\xff']\n", ":2:12:", "not valid UTF-8 (byte 0xff)"),
        (b"[tool.netlint]\nx = " + b"[" * 5000 + b"]" * 5000, ":1:1:", "nested too deeply"),
        (b"[tool.netlint]\nx = " + b"{a = " * 5000 + b"1" + b"}" * 5000, ":1:1:", "too deeply"),
        (
            b"[tool.netlint]\nrules." + b".".join(b"k%d" % i for i in range(500)) + b" = 1\n",
            ":2:",
            "nested deeper than 64",
        ),
        (b"[tool.netlint\n", ":1:", "invalid TOML"),
    ],
    ids=[
        "tool-not-a-table",
        "netlint-not-a-table",
        "bad-utf8",
        "deep-arrays",
        "deep-tables",
        "deep-dotted-keys",
        "invalid",
    ],
)
def test_hostile_pyproject_is_a_usage_error(
    repo: Path, text: bytes, where: str, message: str
) -> None:
    (repo / "pyproject.toml").write_bytes(text)
    out = netlint("check", "--config", "pyproject.toml", cwd=repo)
    usage_error(out, f"pyproject.toml{where}", message)


def test_bad_utf8_in_the_yaml_config_is_a_usage_error(repo: Path) -> None:
    (repo / ".netlint.yaml").write_bytes(b"ignore: [NL002]\nselect: [NL\xff]\n")
    usage_error(netlint("check", cwd=repo), ".netlint.yaml:2:", "UTF-8")


def test_pyproject_keys_are_located_in_one_pass(repo: Path) -> None:
    """5,000 keys took 56 s when each was searched for from the section's top; 40,000 would
    take an hour. Every key's line is still right."""
    lines = ["[project]", 'name = "x"', "", "[tool.netlint]", "[tool.netlint.rules]"]
    lines += ['"quoted.key" = 1']
    lines += [f"NL00{i % 2 + 1}.severity{i} = 'off'" for i in range(40_000)]
    lines += ["[tool.netlint.limits]", "max-depth = 2"]
    (repo / "pyproject.toml").write_text("\n".join(lines) + "\n")
    out = netlint("check", cwd=repo, timeout=60)
    usage_error(out, "pyproject.toml:7:7: rules.NL001: NL001 has no option 'severity0'")
    assert "pyproject.toml:6:1: rules.quoted.key: no rule has this code or name" in out.stderr
    assert "pyproject.toml:40008:1: limits.max-depth: 2 is less than the minimum of 8" in out.stderr


def test_bad_exclude_globs_are_usage_errors(repo: Path) -> None:
    (repo / ".netlint.yaml").write_text("exclude:\n  - ok/**\n  - '[z-a]'\n  - 'x[]'\n")
    out = netlint("check", cwd=repo)
    usage_error(out, ".netlint.yaml:3:5: exclude[1]: bad range z-a", ".netlint.yaml:4:5:")
    (repo / "pyproject.toml").write_text('[tool.netlint]\nexclude = ["[!]"]\n')
    (repo / ".netlint.yaml").unlink()
    usage_error(netlint("check", cwd=repo), "pyproject.toml:2:1: exclude[0]: empty character")


def test_roots_that_do_not_exist_or_leave_the_folder_are_usage_errors(repo: Path) -> None:
    (repo / "loop").symlink_to("loop")
    (repo / ".netlint.yaml").write_text("roots: [., does-not-exist, loop, ..]\n")
    out = netlint("check", cwd=repo)
    usage_error(
        out,
        ".netlint.yaml:1:12: roots[1]: 'does-not-exist': no such directory",
        "roots[2]: 'loop': a symbolic link loop",
        "roots[3]: '..' is outside the config file's folder",
    )


@pytest.mark.parametrize("name", ["missing.yaml", "loop.yaml"])
def test_command_line_paths_that_name_nothing_are_usage_errors(repo: Path, name: str) -> None:
    (repo / "loop.yaml").symlink_to("loop.yaml")
    usage_error(netlint("check", name, cwd=repo), name)


def test_a_symlink_loop_found_by_discovery_is_a_listed_skip(repo: Path) -> None:
    (repo / "loop.yaml").symlink_to("loop.yaml")
    (repo / "a.yaml").symlink_to("b.yaml")
    (repo / "b.yaml").symlink_to("a.yaml")
    (repo / "dangling.yaml").symlink_to("gone.yaml")
    for git in (True, False):
        if not git:
            subprocess.run(["rm", "-rf", str(repo / ".git")], check=True, timeout=60)
        out = netlint("check", "--verbose", cwd=repo)
        assert out.returncode == 1 and "NL002" in out.stdout, out.stderr
        assert "skipped loop.yaml: symlink loop" in out.stderr
        assert "skipped a.yaml: symlink loop" in out.stderr
        assert "Traceback" not in out.stderr


def test_the_language_server_loads_a_project_with_a_symlink_loop(repo: Path) -> None:
    (repo / "loop.yaml").symlink_to("loop.yaml")
    linter = Linter([repo], "utf-16")
    out = linter.start()
    project = linter.projects[repo.resolve()]
    assert project.session is not None, out.messages
    assert "np.yaml" in project.session.workspace.results


def test_a_baseline_linked_out_of_the_repo_is_refused(repo: Path, secret: Path) -> None:
    (repo / ".netlint-baseline.json").symlink_to(secret)
    out = netlint("check", "--baseline", ".netlint-baseline.json", cwd=repo)
    usage_error(out, "the baseline is a symbolic link out of the project")
    assert "ghp_" not in out.stderr
    os.mkfifo(repo / "fifo.json")
    usage_error(netlint("check", "--baseline", "fifo.json", cwd=repo, timeout=60), "not a regular")


def test_a_baseline_the_user_keeps_outside_the_repo_is_read(repo: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baselines" / "repo.json"
    baseline.parent.mkdir()
    assert netlint("check", "--write-baseline", str(baseline), cwd=repo).returncode == 0
    link = tmp_path / "link.json"
    link.symlink_to(baseline)
    out = netlint("check", "--baseline", str(link), cwd=repo)
    assert out.returncode == 0 and "1 in the baseline" in out.stdout, out.stderr


# Glob semantics, as documented: `*` within a segment, `**` across, `?`, `[...]`, a pattern
# without `/` matching a name at any depth, a directory match covering what is below it.
@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.json", "a/b/c.json", True),
        ("*.json", "a/b/c.yaml", False),
        ("vendor", "x/vendor/y.yaml", True),
        ("vendor", "x/vendors/y.yaml", False),
        ("k8s/*.yaml", "k8s/a.yaml", True),
        ("k8s/*.yaml", "k8s/sub/a.yaml", False),
        ("k8s/*.yaml", "x/k8s/a.yaml", False),
        ("/k8s/", "k8s/a.yaml", True),
        ("/k8s", "x/k8s/a.yaml", False),
        ("**/vendor/**", "vendor/a.yaml", True),
        ("**/vendor/**", "a/b/vendor/c/d.yaml", True),
        ("a/**/b.yaml", "a/b.yaml", True),
        ("a/**/b.yaml", "a/x/y/b.yaml", True),
        ("a/**/b.yaml", "ab.yaml", False),
        ("a**b.yaml", "a/x/b.yaml", True),
        ("?.yaml", "x/a.yaml", True),
        ("?.yaml", "ab.yaml", False),
        ("a?b", "a/b", False),
        ("[ab].yaml", "b.yaml", True),
        ("[!ab].yaml", "c.yaml", True),
        ("[!ab].yaml", "a.yaml", False),
        ("[a-c]x", "bx", True),
        ("[a-c]x", "dx", False),
        ("a[/]b", "a/b", False),
        ("[abc", "x/[abc", True),
        ("gen/", "gen/x.yaml", True),
    ],
)
def test_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert Glob(pattern).match(path) is expected


@pytest.mark.parametrize("pattern", ["[z-a]", "[]", "[!]", "a/[9-0]*"])
def test_meaningless_globs_are_refused(pattern: str) -> None:
    with pytest.raises(GlobError):
        Glob(pattern)


def test_glob_matching_takes_linear_steps() -> None:
    """A regex translation backtracks on this: ``**a**a**a**b`` against 400 characters took
    5 s, 800 about 150 s. The automaton takes at most one step per state per character."""
    pattern = "**a**a**a**a**a**a**b"
    path = "/".join("a" * n for n in range(1, 90))  # distinct segments: no cached transition
    glob = Glob(pattern)
    assert not glob.match(path)
    assert 0 < glob.steps <= (2 * len(glob.tokens) + 1) * len(path)


def test_hostile_exclude_globs_do_not_hang_a_run(repo: Path) -> None:
    deep = repo.joinpath(*["a" * 200] * 15)
    deep.mkdir(parents=True)
    (deep / "aaaa.yaml").write_text(POLICY)
    (repo / ".netlint.yaml").write_text("exclude: ['**a**a**a**a**a**a**a**b', '*a*a*a*a*a*b']\n")
    out = netlint("check", "--no-cache", cwd=repo, timeout=60)
    assert out.returncode == 1 and out.stdout.count("NL002") == 2, out.stderr
    found = discover(repo, [repo], ["**/" + "a" * 200 + "/**/aaaa.yaml"])
    assert found.files == ["np.yaml"]
