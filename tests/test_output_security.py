"""Every format escapes what the scanned repo wrote (netlint.core.escape): object names,
annotations, file names, parser excerpts. Run as CI runs netlint, in a subprocess over a hostile
repo, and read as a terminal, GitHub's runner or a JSON parser reads the output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from test_sarif import validate_github

from netlint.core.escape import (
    github_data,
    github_property,
    json_document,
    path_text,
    sarif_message,
    text,
    valid_unicode,
)
from netlint.core.findings import Finding, Related, Severity
from netlint.core.source import Span
from netlint.output.report import Report
from netlint.output.reporters import FORMATS, render

#: A suppression token that tries everything: a workflow command on a line of its own, a
#: legacy `##[` command, an ESC sequence (clear screen), a C1 CSI, a bidi override.
TOKEN = "NL999\n::error file=README.md::pwned\x1b[2J\u202e\x9b31m ##[warning]legacy"
POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: shop
  annotations: {{"netlint.dev/ignore": {token}}}
spec:
  podSelector: {{}}
  policyTypes: [ingress]
"""
#: One NL002, on `ingress` (9:17).
PLAIN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api
  namespace: shop
  labels: {app: api}
spec:
  podSelector: {}
  policyTypes: [ingress]
"""
#: File names the repo chooses (bytes: Linux names are bytes, and need not be UTF-8).
NAMES = {
    "plain": b"a.yaml",
    "newline": b"evil\n::warning file=x::owned ##[error]y.yaml",
    "command": b"::error title=x::owned.yaml",
    "latin1": b"caf\xe9.yaml",
    "esc": b"esc\x1b]0;title\x07.yaml",
}
#: What must never reach a terminal raw: C0 controls but LF, DEL, C1, LS, PS, bidi controls,
#: and the replacement-free sign of a lone surrogate.
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
#: GitHub's runner (actions/runner ActionCommand.TryParseV2): a command is a line that starts
#: with `::` once leading blanks are trimmed, up to the next `::`.
COMMAND = re.compile(r"::(?P<command>[^ :]+)(?: (?P<props>.*?))?::(?P<data>.*)")


def _unescape_data(value: str) -> str:
    return value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_property(value: str) -> str:
    value = value.replace("%0D", "\r").replace("%0A", "\n")
    return value.replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def policy(name: str) -> bytes:
    return POLICY.format(name=name, token=json.dumps(TOKEN)).encode()


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for i, name in enumerate(NAMES.values()):
        with open(os.path.join(os.fsencode(root), name), "wb") as handle:
            handle.write(policy(f"p{i}"))
    return root


def run(root: Path, fmt: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "XDG_CACHE_HOME": str(root.parent / "xdg-cache"), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "netlint", "check", "--no-cache", "--format", fmt, "."],
        cwd=root,
        env=env,
        capture_output=True,
        check=False,
    )


def json_findings(root: Path) -> list[dict[str, object]]:
    out = run(root, "json")
    findings = json.loads(out.stdout.decode("utf-8"))["findings"]
    assert isinstance(findings, list)
    return findings


def test_text_is_one_inert_line_per_finding(hostile: Path) -> None:
    out = run(hostile, "text")
    assert out.returncode == 1, out.stderr
    assert b"Traceback" not in out.stderr
    shown = out.stdout.decode("utf-8")  # strict: valid UTF-8
    assert UNSAFE.search(shown) is None
    lines = shown.rstrip("\n").split("\n")
    for line in lines:
        assert not line.lstrip().startswith("::"), line  # no workflow command
        assert "##[" not in line, line  # no legacy workflow command
    expected = len(json_findings(hostile))
    head = re.compile(r"\S.*:\d+:\d+: NL\d{3} (error|warning|note): ")
    headed = [line for line in lines if head.match(line)]
    # Each finding is one line; what follows it (related locations, the fix's `help:` line) is
    # indented, so a problem matcher never reads it as a finding.
    rest = [line for line in lines[:-1] if not head.match(line)]
    assert all(line.startswith("    ") for line in rest), rest
    assert len(headed) == expected
    assert len(headed) + len(rest) == len(lines) - 1  # and the summary
    assert lines[-1].startswith(f"{expected} findings")
    # Visible, not dropped: a reader can tell what the repo wrote.
    assert "NL999\\n::error file=README.md::pwned\\x1b[2J\\u202e\\u009b31m ##\\x5bwarning]" in shown
    assert "caf\\xe9.yaml:9:17: NL002 error: " in shown
    assert "./::error title=x::owned.yaml:" in shown
    assert "evil\\n::warning file=x::owned ##\\x5berror]y.yaml:" in shown
    assert "esc\\x1b]0;title\\x07.yaml:" in shown


def test_github_is_one_command_per_finding(hostile: Path) -> None:
    out = run(hostile, "github")
    assert out.returncode == 1, out.stderr
    shown = out.stdout.decode("utf-8")
    assert UNSAFE.search(shown) is None
    lines = shown.rstrip("\n").split("\n")
    assert len(lines) == len(json_findings(hostile))
    files = set()
    for line in lines:
        match = COMMAND.fullmatch(line)
        assert match is not None and match["command"] in ("error", "warning", "notice"), line
        props = dict(p.split("=", 1) for p in match["props"].split(","))
        assert set(props) <= {"file", "line", "col", "endLine", "endColumn", "title"}
        files.add(_unescape_property(props["file"]))
        assert re.fullmatch(r"NL\d{3} [a-z-]+", _unescape_property(props["title"]))
        data = _unescape_data(match["data"])
        assert UNSAFE.search(data) is None
    # GitHub is told the exact name where workflow-command escaping can carry it (CR, LF), the
    # visible escape where the runner's log would otherwise get a control character.
    assert files == {
        "a.yaml",
        "evil\n::warning file=x::owned ##[error]y.yaml",
        "::error title=x::owned.yaml",
        "caf\\xe9.yaml",
        "esc\\x1b]0;title\\x07.yaml",
    }


def test_json_keeps_values_and_is_valid_utf8(hostile: Path) -> None:
    out = run(hostile, "json")
    assert out.returncode == 1, out.stderr
    raw = out.stdout.decode("utf-8")  # strict
    assert UNSAFE.search(raw) is None  # as printed: escaped by JSON
    findings = json.loads(raw)["findings"]
    messages = [f["message"] for f in findings if f["code"] == "NL901"]
    assert len(messages) == len(NAMES) and all(TOKEN in m for m in messages)
    paths = {f["path"] for f in findings}
    # A name that is not UTF-8 shows U+FFFD for its bad byte; the others are kept exactly.
    assert paths == {
        os.fsdecode(name) if name != NAMES["latin1"] else "caf\ufffd.yaml"
        for name in NAMES.values()
    }


def test_sarif_is_valid_and_uris_are_the_bytes(hostile: Path) -> None:
    out = run(hostile, "sarif")
    assert out.returncode == 1, out.stderr
    raw = out.stdout.decode("utf-8")
    assert UNSAFE.search(raw) is None
    log = json.loads(raw)
    validate_github(log)
    results = log["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert {unquote_to_bytes(uri) for uri in uris} == set(NAMES.values())
    assert all(re.fullmatch(r"[A-Za-z0-9%/._~-]+", uri) for uri in uris)
    assert any(TOKEN in r["message"]["text"] for r in results)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_name_that_is_not_utf8(tmp_path: Path, fmt: str) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    name = b"caf\xe9.yaml"
    with open(os.path.join(os.fsencode(root), name), "wb") as handle:
        handle.write(PLAIN.encode())
    out = run(root, fmt)
    assert out.returncode == 1 and b"Traceback" not in out.stderr, out.stderr
    shown = out.stdout.decode("utf-8")  # strict: valid UTF-8, or this raises
    if fmt == "text":
        assert shown.startswith("caf\\xe9.yaml:9:17: NL002 error: ")
    elif fmt == "github":
        assert shown.startswith("::error file=caf\\xe9.yaml,line=9,col=17,")
    elif fmt == "json":
        (finding,) = json.loads(shown)["findings"]
        assert finding["path"] == "caf\ufffd.yaml" and finding["line"] == 9
    else:
        log = json.loads(shown)
        validate_github(log)
        (result,) = log["runs"][0]["results"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "caf%E9.yaml"
        assert unquote_to_bytes(location["artifactLocation"]["uri"]) == name
        assert location["region"]["startLine"] == 9


def test_every_renderer_escapes_related_locations_and_names() -> None:
    span = Span("d\x1b[31m/p\udce9.yaml", 2, 3, 2, 4)
    finding = Finding(
        "NL999",
        "evil\x1bname",
        Severity.ERROR,
        "see [here](https://example.com) \x1b[2J\u202e",
        span,
        related=(Related(span, "first\n::error::x"),),
        subject="NetworkPolicy/shop/x\udce9",
    )
    report = Report([finding], Path("/nonexistent-root"), [])
    for fmt in FORMATS:
        shown = render(fmt, report)
        shown.encode("utf-8")  # no lone surrogates
        assert UNSAFE.search(shown) is None, fmt
    lines = render("text", report).rstrip("\n").split("\n")
    assert len(lines) == 3  # the finding, its related location, the summary
    assert not any(line.lstrip().startswith("::") for line in lines)
    assert lines[1].endswith("d\\x1b[31m/p\\xe9.yaml:2:3: first\\n::error::x")
    (command,) = render("github", report).rstrip("\n").split("\n")
    assert command.startswith("::error file=d\\x1b[31m/p\\xe9.yaml,line=2,")
    sarif = json.loads(render("sarif", report))
    result = sarif["runs"][0]["results"][0]
    assert result["message"]["text"].startswith("see [here\\](https://example.com)")
    related = result["relatedLocations"][0]
    assert related["message"]["text"] == "first\n::error::x"  # the value, escaped by JSON
    assert unquote_to_bytes(related["physicalLocation"]["artifactLocation"]["uri"]) == (
        b"d\x1b[31m/p\xe9.yaml"
    )


def test_text_escapes() -> None:
    assert text("a\tb\nc\rd\x00\x1b\x7f") == "a\\tb\\nc\\rd\\x00\\x1b\\x7f"
    assert text("\x85\x9b\u2028\u2029\u202e\u2066\u200f\u061c") == (
        "\\u0085\\u009b\\u2028\\u2029\\u202e\\u2066\\u200f\\u061c"
    )
    assert text("caf\udce9 \ud800") == "caf\\xe9 \\ud800"  # bytes as bytes, other surrogates
    assert text("ingress[0] ## [x] ##[error]y") == "ingress[0] ## [x] ##\\x5berror]y"
    assert text("café 😀 \\n") == "café 😀 \\n"  # printable text and backslashes are kept
    assert path_text("::error::x.yaml") == "./::error::x.yaml"
    assert path_text(" \u3000::x.yaml") == "./ \u3000::x.yaml"
    assert path_text("\t::x") == "\\t::x"  # already inert: starts with a backslash
    assert path_text("dir/::x.yaml") == "dir/::x.yaml"


def test_github_escapes_as_the_toolkit_does() -> None:
    # @actions/core command.ts: escapeData and escapeProperty.
    assert github_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert github_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert github_data("\x1b[31m\u202e\tx") == "\\x1b[31m\\u202e\\tx"
    assert github_property("caf\udce9") == "caf\\xe9"


def test_json_and_sarif_escapes() -> None:
    value = "\x7f\x85\u2028\u202e\udce9 ok é"
    dumped = json_document(json.dumps({"k": value}, ensure_ascii=False))
    dumped.encode("utf-8")
    assert json.loads(dumped) == {"k": "\x7f\x85\u2028\u202e\ufffd ok é"}
    assert "\\u202e" in dumped and "é" in dumped
    assert valid_unicode("a\udce9\ud83d") == "a\ufffd\ufffd"
    assert sarif_message("ingress[0] of x[1]") == "ingress[0] of x[1]"
    assert sarif_message("[a](1) [b]\\(2) [c]\\](3)") == "[a\\](1) [b]\\(2) [c]\\\\\\](3)"
