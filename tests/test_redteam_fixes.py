"""The defects the red team confirmed (issue 11), each pinned: a repository's config cannot lift
the read limits past their ceilings, a baseline is read or refused (never a traceback), every
character libyaml's reader refuses is reported where it is, a named FIFO or an unlinted named
file is never silent, a config planted by another user is refused, and quoted values are short."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import VALID_POLICY, netlint

from netlint.core.problems import ProblemKind
from netlint.read import load as load_module
from netlint.read.build import BuildOptions
from netlint.read.composer import Composer, MarkedError, YAMLError
from netlint.read.load import load
from netlint.read.parse import _CONTROL, Limits, _reader_point, parse
from netlint.run.config import ConfigError, find_config, load_config
from netlint.run.runner import CheckRequest, UsageError, check
from netlint.run.suppress import BaselineError, read_baseline

CEILINGS = {
    "max-file-bytes": 16 * 1024 * 1024,
    "max-documents": 100_000,
    "max-depth": 1000,
    "max-alias-expansion": 1_000_000,
}
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another user needs root"
)


def _git(root: Path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=60)
    return root


def _request(root: Path, *paths: Path, **options: Any) -> CheckRequest:
    return CheckRequest(paths=[str(p) for p in paths], root=root, use_cache=False, **options)


# ---------------------------------------------------------------------------------------------
# 1. Limits: a ceiling for each, and the alias budget is per file.


@pytest.mark.parametrize(("key", "ceiling"), sorted(CEILINGS.items()))
def test_a_repo_config_can_raise_a_limit_only_up_to_its_ceiling(
    tmp_path: Path, key: str, ceiling: int
) -> None:
    config = tmp_path / ".netlint.yaml"
    config.write_text(f"limits:\n  {key}: {ceiling}\n")
    limits = load_config(config, tmp_path, []).limits
    assert getattr(limits, key.replace("-", "_")) == ceiling
    config.write_text(f"limits:\n  {key}: {ceiling + 1}\n")
    with pytest.raises(ConfigError) as error:
        load_config(config, tmp_path, [])
    assert f".netlint.yaml:2:{len(key) + 5}: limits.{key}: {ceiling + 1} is greater than " in (
        str(error.value)
    )


def test_the_red_team_alias_bomb_config_is_a_usage_error(tmp_path: Path) -> None:
    root = _git(tmp_path)
    (root / ".netlint.yaml").write_text("limits:\n  max-alias-expansion: 1000000000000\n")
    (root / "p.yaml").write_text(VALID_POLICY)
    out = netlint("check", "--no-cache", cwd=root)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "limits.max-alias-expansion: 1000000000000 is greater than the maximum" in out.stderr
    assert "Traceback" not in out.stderr


def _bomb(name: str, levels: int = 3, fan: int = 10) -> str:
    """A policy whose peers list expands, through aliases, to fan**levels peers."""
    lines = [
        "apiVersion: networking.k8s.io/v1",
        "kind: NetworkPolicy",
        f"metadata: {{name: {name}, namespace: ns}}",
        "x0: &a0 [" + ", ".join(["{podSelector: {}}"] * fan) + "]",
        *(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fan) + "]" for i in range(1, levels)),
        f"spec:\n  podSelector: {{}}\n  ingress:\n    - from: *a{levels - 1}",
    ]
    return "\n".join(lines) + "\n"


def test_aliases_are_bounded_per_file_not_only_per_document() -> None:
    # Each document adds about 3,300 nodes through aliases, well within the per-document limit;
    # ten of them are within the file's budget, a hundred are not.
    limits = Limits(max_alias_expansion=40_000)
    documents = [_bomb(f"p{i}") for i in range(100)]
    text = "---\n".join(documents)
    parsed = parse("f.yaml", text.encode(), limits)
    assert parsed.problem is not None
    assert parsed.problem.message == (
        "aliases add more than 40000 nodes to this file's documents in all (alias bomb?)"
    )
    kept = len(parsed.documents)
    assert 5 <= kept < 100
    # The document that broke the budget is the one pointed at, the ones before it are kept.
    starts = [
        i
        for i, line in enumerate(text.split("\n"), 1)
        if line == "apiVersion: networking.k8s.io/v1"
    ]
    assert parsed.problem.span.line == starts[kept]
    assert parse("f.yaml", "---\n".join(documents[:5]).encode(), limits).problem is None


def test_a_memory_error_while_reading_a_file_is_its_nl001(monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    for where in ("build_document", "parse"):
        with monkeypatch.context() as patch:
            patch.setattr(load_module, where, exhausted)
            result = load("big.yaml", VALID_POLICY.encode(), BuildOptions(), Limits())
        assert [(p.kind, p.span.line, p.span.col) for p in result.problems] == [
            (ProblemKind.SYNTAX, 1, 1)
        ]
        assert "too large to read within memory" in result.problems[0].message
        assert result.objects == [] and result.digest == ""  # never cached


# ---------------------------------------------------------------------------------------------
# 2. The baseline.


def test_a_deeply_nested_baseline_is_a_baseline_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BaselineError, match=r"deep\.json: cannot read the baseline: nested too"):
        read_baseline(path)


@pytest.mark.parametrize(
    ("findings", "problem"),
    [
        ({"not-a-fingerprint": {}}, "the key is not a fingerprint"),
        ({"0" * 32: "NL104"}, "not a mapping"),
        ({"0" * 32: {"line": "7"}}, "line is not an integer"),
        ({"0" * 32: {"line": True}}, "line is not an integer"),
        ({"0" * 32: {"code": 104}}, "code is not a string"),
    ],
)
def test_malformed_baseline_entries_are_refused(
    tmp_path: Path, findings: dict[str, Any], problem: str
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"netlint-baseline": 1, "findings": findings}))
    with pytest.raises(BaselineError) as error:
        read_baseline(path)
    assert "baseline.json: malformed baseline entry" in str(error.value)
    assert problem in str(error.value)


def test_a_written_baseline_reads_back(tmp_path: Path) -> None:
    entry = {"code": "NL104", "path": "a.yaml", "line": 3, "message": "m"}
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"netlint-baseline": 1, "findings": {"ab" * 16: entry}}))
    assert read_baseline(path) == {"ab" * 16}


def test_the_cli_reports_a_deep_baseline_as_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(VALID_POLICY)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    out = netlint("check", "--no-cache", "--baseline", "deep.json", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "deep.json: cannot read the baseline: nested too deeply" in out.stderr


# ---------------------------------------------------------------------------------------------
# 3. Characters libyaml's reader refuses, at the character.


@pytest.mark.parametrize(
    ("char", "what"),
    [
        ("\x01", "the control character U+0001"),
        ("\x7f", "the control character U+007F"),
        ("\x80", "the control character U+0080"),
        ("\x9b", "the control character U+009B"),
        ("\x9f", "the control character U+009F"),
        ("\ufffe", "U+FFFE (not a printable character)"),
        ("\uffff", "U+FFFF (not a printable character)"),
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32"])
def test_unprintable_characters_are_reported_where_they_are(
    char: str, what: str, encoding: str
) -> None:
    text = f"a: 1\nb: 2\nc: 3 # x{char}y\n"
    problem = parse("f.yaml", text.encode(encoding), Limits()).problem
    assert problem is not None
    assert (problem.kind, problem.span.line, problem.span.col) == (ProblemKind.SYNTAX, 3, 9)
    assert problem.message == f"{what} is not allowed in YAML"


@pytest.mark.parametrize(
    "char", ["\x85", "\xa0", "\ud7ff", "\ue000", "\ufeff", "\ufffd", "\U0001f600"]
)
def test_printable_characters_and_nel_are_accepted(char: str) -> None:
    assert parse("f.yaml", f"a: 'x{char}y'\n".encode(), Limits()).problem is None


def _reader_refuses(char: str) -> bool:
    parser = Composer(f"a: 1 # x{char}y\n".encode())
    try:
        while parser.check_node():
            parser.get_node()
    except MarkedError:
        return False  # a syntax error (a line break ends the comment), with a position
    except YAMLError:
        return True
    finally:
        parser.dispose()
    return False


def test_decode_refuses_exactly_what_libyamls_reader_refuses() -> None:
    """Every code point of the BMP, and a sample of the others: whatever libyaml's reader would
    refuse without a position, decode refuses first, at the character; nothing else."""
    points = [*range(0xD800), *range(0xE000, 0x10000), *range(0x10000, 0x110000, 251)]
    disagree = [hex(p) for p in points if _reader_refuses(chr(p)) != bool(_CONTROL.search(chr(p)))]
    assert disagree == []


def test_a_reader_error_without_a_mark_is_placed_from_its_byte_offset() -> None:
    text = "a: 1\nb: é\nc: xyz\n"
    offset = len("a: 1\nb: é\nc: x".encode())
    error = yaml.reader.ReaderError("f", offset, 0x9B, "utf-8", "control characters")
    where = _reader_point("f.yaml", text, error)
    assert (where.line, where.col) == (3, 5)
    shifted = yaml.reader.ReaderError("f", offset + 3, 0x9B, "utf-8", "control characters")
    where = _reader_point("f.yaml", text, shifted, skip=3)  # a UTF-8 byte order mark
    assert (where.line, where.col) == (3, 5)


def test_a_control_character_in_the_config_is_reported_where_it_is(tmp_path: Path) -> None:
    config = tmp_path / ".netlint.yaml"
    config.write_bytes(b"fail-on: error\nexclude: ['a\xc2\x9bb']\n")
    with pytest.raises(ConfigError) as error:
        load_config(config, tmp_path, [])
    assert str(error.value) == (
        f"{config}:2:13: the control character U+009B is not allowed in YAML"
    )


# ---------------------------------------------------------------------------------------------
# 4. Named files that are not linted.


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "p").mkdir()
    root = _git(tmp_path / "p")
    (root / "pol.yaml").write_text(VALID_POLICY)
    return root


def test_a_named_fifo_is_an_nl001_that_fails_the_run(project: Path) -> None:
    os.mkfifo(project / "fifo.yaml")
    report = check(_request(project, project / "fifo.yaml")).report
    assert [(f.code, f.span.path, f.span.line) for f in report.findings] == [
        ("NL001", "fifo.yaml", 1)
    ]
    assert "not a regular file (a FIFO)" in report.findings[0].message
    # Not named, it is passed over as before (git does not list it; a walk skips it).
    assert check(_request(project)).report.findings == []
    (project / ".git").rename(project / "not-git")
    report = check(_request(project)).report
    assert report.findings == []
    assert [(s.path, s.reason) for s in report.skipped] == [("fifo.yaml", "not a regular file")]


def test_a_named_socket_is_an_nl001(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)  # a socket's path is limited to about 100 bytes
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("sock.yaml")
        report = check(_request(project, project / "sock.yaml")).report
    assert [(f.code, f.span.line) for f in report.findings] == [("NL001", 1)]
    assert "not a regular file (a socket)" in report.findings[0].message


def test_the_cli_fails_on_a_named_fifo(project: Path) -> None:
    os.mkfifo(project / "fifo.yaml")
    out = netlint("check", "--no-cache", "fifo.yaml", cwd=project, timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stdout.startswith("fifo.yaml:1:1: NL001 error: netlint cannot read this file: ")


def _warnings(project: Path, *names: str) -> list[str]:
    """The "not linted" warnings of a run in ``project`` on ``names`` (no finding expected)."""
    request = _request(project, *(project / n for n in names))
    report = check(request).report
    assert report.findings == []
    return [w for w in request.warnings if "is not linted" in w]


def test_a_named_file_that_is_not_linted_is_warned_about(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)  # names are shown relative to the current folder
    (project / "pol.txt").write_text(VALID_POLICY)
    (project / "gen").mkdir()
    (project / "gen" / "out.yaml").write_text(VALID_POLICY)
    (project / ".netlint.yaml").write_text("exclude: ['gen/']\n")
    assert _warnings(project, "pol.txt") == [
        "pol.txt is not linted: netlint lints only .yaml, .yml and .json files"
    ]
    assert _warnings(project, "gen/out.yaml") == [
        "gen/out.yaml is not linted: the config's exclude patterns exclude it"
    ]
    assert _warnings(project, ".netlint.yaml") == [
        ".netlint.yaml is not linted: it is netlint's configuration, not a manifest"
    ]
    assert _warnings(project, "pol.yaml") == []


def test_the_cli_warns_about_a_named_unlinted_file_and_exits_zero(project: Path) -> None:
    (project / "pol.txt").write_text(VALID_POLICY)
    out = netlint("check", "--no-cache", "pol.txt", cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (
        "netlint: warning: pol.txt is not linted: netlint lints only .yaml, .yml and .json files"
        in out.stderr.splitlines()
    )


# ---------------------------------------------------------------------------------------------
# 5. A config found by searching must be the user's (or root's).


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[Path]:
    """A project outside git under a folder with another user's ``exclude: ["**"]`` config."""
    (tmp_path / ".netlint.yaml").write_text('exclude: ["**"]\n')
    project = tmp_path / "proj"
    project.mkdir()
    (project / "bad.yaml").write_text(VALID_POLICY.replace("name: api", "name: API"))
    yield project


@needs_root
def test_a_config_of_another_user_found_by_search_is_refused(planted: Path) -> None:
    config = planted.parent / ".netlint.yaml"
    os.chown(config, 12345, 12345)
    with pytest.raises(UsageError) as error:
        check(CheckRequest(paths=[str(planted)], use_cache=False))
    message = str(error.value)
    assert message.startswith(f"{config}: this config file was found by searching")
    assert "belongs to another user (uid 12345; you are uid 0)" in message
    assert "--config" in message
    # Named by the user, it is their choice.
    outcome = check(CheckRequest(paths=[str(planted)], config=str(config), use_cache=False))
    assert outcome.config.path == config and outcome.report.findings == []


@needs_root
def test_a_pyproject_of_another_user_found_by_search_is_refused(planted: Path) -> None:
    (planted.parent / ".netlint.yaml").unlink()
    pyproject = planted.parent / "pyproject.toml"
    pyproject.write_text('[tool.netlint]\nexclude = ["**"]\n')
    os.chown(pyproject, 12345, 12345)
    with pytest.raises(UsageError, match="belongs to another user"):
        check(CheckRequest(paths=[str(planted)], use_cache=False))


@needs_root
def test_a_link_to_another_users_file_is_judged_by_the_file(planted: Path) -> None:
    theirs = planted / "theirs.yaml"
    theirs.write_text("fail-on: never\n")
    os.chown(theirs, 12345, 12345)
    (planted.parent / ".netlint.yaml").unlink()
    (planted / ".netlint.yaml").symlink_to("theirs.yaml")
    with pytest.raises(UsageError, match="belongs to another user"):
        check(CheckRequest(paths=[str(planted)], use_cache=False))


def test_a_config_of_the_user_applies_and_verbose_names_it(planted: Path) -> None:
    out = netlint("check", "--no-cache", "-v", cwd=planted)
    config = planted.parent / ".netlint.yaml"
    assert f"netlint: config: {config}" in out.stderr.splitlines()
    config.unlink()
    out = netlint("check", "--no-cache", "-v", cwd=planted)
    assert "netlint: config: none (defaults)" in out.stderr.splitlines()
    assert out.returncode == 1  # the invalid name is linted once nothing excludes it


# ---------------------------------------------------------------------------------------------
# 6. Short quotes; every way of writing [tool.netlint].


def _nl002(document: str) -> list[str]:
    result = load("f.yaml", document.encode(), BuildOptions(), Limits())
    return [p.message for p in result.problems if p.kind is ProblemKind.INVALID]


LABELLED = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: api
  policyTypes: [Ingress]
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("app: api", "app: LONG-"),  # a label value (validate)
        # Keys longer than 1,024 characters must be explicit (`? key`) in YAML.
        ("app: api", "? LONG-\n      : x"),  # a label key (validate, and the key's path)
        ("spec:", "? LONG\n: 1\nspec:"),  # an unknown field (schema)
        ("[Ingress]", "[LONG]"),  # an enum (schema)
        ("name: api", "name: LONG-"),  # a name (validate)
        ("name: api", "name: [LONG]"),  # a type error quoting nothing long
    ],
)
def test_quoted_values_are_cut(old: str, new: str) -> None:
    messages = _nl002(LABELLED.replace(old, new.replace("LONG", "a" * 100_000)))
    assert messages
    for message in messages:
        assert len(message) < 300, message[:500]


@pytest.mark.parametrize(
    "text",
    [
        '[tool]\nnetlint = { select = ["NL104"] }\n',
        'tool.netlint.select = ["NL104"]\n',
        '[ tool . "netlint" ]\nselect = ["NL104"]\n',
        '[tool.netlint]\nselect = ["NL104"]\n',
    ],
)
def test_every_way_of_writing_tool_netlint_is_found(tmp_path: Path, text: str) -> None:
    # A dotted key at the top: written after [project] it would be project.tool.netlint.
    (tmp_path / "pyproject.toml").write_text(text + '\n[project]\nname = "x"\n')
    found = find_config(tmp_path)
    assert found == tmp_path / "pyproject.toml"
    assert load_config(found, tmp_path, []).select == ("NL104",)


def test_a_pyproject_that_only_mentions_netlint_is_not_a_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["netlint>=1"]\n')
    assert find_config(tmp_path) is None


def test_a_bad_key_in_a_dotted_tool_netlint_is_placed(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('# netlint\n\ntool.netlint.fail-on = "sometimes"\n[project]\n')
    with pytest.raises(ConfigError) as error:
        load_config(find_config(tmp_path), tmp_path, [])
    assert str(error.value).startswith(f"{pyproject}:3:14: fail-on: ")
