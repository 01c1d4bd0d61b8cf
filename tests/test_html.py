"""``netlint connectivity --format html``: the page is self-contained, carries hostile names as
inert text, and works in a real browser (headless Chromium, Debian's ``chromium`` package: the
browser tests skip without it)."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from helpers import Write, deployment, line_of, netlint, policy

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

#: Names a hostile repo may write: markup, an element's end, a terminal escape.
EVIL_NAME = "<img src=x onerror=\"document.title='pwned'\">"
EVIL_NAMESPACE = "</script><script>document.title='pwned'</script>"


def _project(write: Write) -> Path:
    evil = (
        "apiVersion: apps/v1\nkind: Deployment\n"
        f"metadata: {{name: {json.dumps(EVIL_NAME)}, namespace: {json.dumps(EVIL_NAMESPACE)}}}\n"
        "spec:\n  template:\n    metadata: {labels: {app: evil}}\n"
        "    spec: {containers: [{name: c, image: x}]}\n"
    )
    escape_name = (
        'apiVersion: v1\nkind: Pod\nmetadata: {name: "red\\e[31m", namespace: shop}\n'
        "spec: {containers: [{name: c, image: x}]}\n"
    )
    body = (
        "  policyTypes: [Ingress]\n  ingress:\n"
        "    - from: [{podSelector: {matchLabels: {app: api}}}]\n      ports: [{port: 5432}]\n"
    )
    sealed = "  policyTypes: [Ingress, Egress]\n"
    return write(
        "all.yaml",
        "---\n".join(
            (
                evil,
                escape_name,
                deployment("api"),
                deployment("db"),
                deployment("vault", namespace="payments"),
                policy("db", selector="{matchLabels: {app: db}}", body=body),
                policy("sealed", namespace="payments", body=sealed),
            )
        ),
    )


def _page(write: Write, tmp_path: Path, *args: str) -> Path:
    _project(write)
    out = netlint(
        "connectivity",
        "--no-cache",
        "--format",
        "html",
        "-o",
        "page.html",
        *args,
        ".",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    return tmp_path / "page.html"


def _data(page: Path) -> dict[str, object]:
    text = page.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="netlint-data">(.*?)</script>', text)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


def _ids(data: dict[str, object]) -> dict[str, int]:
    ends = data["ends"]
    assert isinstance(ends, list)
    return {end["label"]: i for i, end in enumerate(ends)}


def test_the_page_is_self_contained_and_hostile_names_are_inert(
    write: Write, tmp_path: Path
) -> None:
    page = _page(write, tmp_path)
    text = page.read_text(encoding="utf-8")
    # Exactly the page's own two scripts; the names never close or open one, nor make a tag.
    assert text.count("</script>") == 2 and text.count("<script") == 2
    assert "<img" not in text and "\x1b" not in text
    assert "onerror" in text  # the name is there, as JSON text only
    # Nothing is loaded from anywhere: outside the data, no element names a source.
    outside = re.sub(r'<script type="application/json".*?</script>', "", text, flags=re.S)
    assert not re.search(r"\b(?:src|href)=", outside)
    assert "default-src 'none'" in text and "script-src 'sha256-" in text
    data = _data(page)
    labels = set(_ids(data))
    assert f"{EVIL_NAMESPACE}/{EVIL_NAME}[Deployment]" in labels
    assert "shop/red\\x1b[31m[Pod]" in labels  # controls made visible, as in every format


def test_explanations_name_the_rules_with_their_lines(write: Write, tmp_path: Path) -> None:
    page = _page(write, tmp_path)
    data = _data(page)
    ids = _ids(data)
    records = {(r["s"], r["d"]): r for r in data["records"]}  # type: ignore[attr-defined]
    api, db = ids["shop/api[Deployment]"], ids["shop/db[Deployment]"]
    record = records[(api, db)]
    assert record["c"] == "TCP 5432"
    why = data["explanations"][record["x"]]  # type: ignore[index]
    ingress = why["sides"][1]
    assert ingress["dir"] == "Ingress"
    assert (
        ingress["isolated_by"][0]["at"]
        == f"all.yaml:{line_of(tmp_path / 'all.yaml', 'name: db', 2)}"
    )
    assert ingress["rules"][0]["rule"] == "ingress[0] of NetworkPolicy shop/db"
    # A denied pair of a small map is explained too.
    vault = ids["payments/vault[Deployment]"]
    assert (api, vault) not in records
    denied = data["explanations"][data["denied"][f"{api},{vault}"]]  # type: ignore[index]
    assert denied["sides"][1]["isolated_by"][0]["policy"] == "NetworkPolicy payments/sealed"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # as root in CI containers; the page is netlint's own output
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=10000",
            "--window-size=1200,800",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@needs_chromium
def test_in_a_browser_the_matrix_has_every_row_and_names_stay_text(
    write: Write, tmp_path: Path
) -> None:
    page = _page(write, tmp_path)
    data = _data(page)
    ids = _ids(data)
    api, db = ids["shop/api[Deployment]"], ids["shop/db[Deployment]"]
    out = _chromium(tmp_path, "--dump-dom", f"{page.as_uri()}#pair={api},{db}")
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    # The script ran: one matrix row per end, the graph drawn, the cell's explanation shown.
    assert dom.count('<tr class="row"') == len(ids)
    assert "<svg" in dom and 'class="edge"' in dom
    cell = re.search(rf'<td class="([^"]*)" id="cell-{api}-{db}"', dom)
    assert cell is not None and cell.group(1).split() == ["cell", "allowed", "selected"]
    line = line_of(tmp_path / "all.yaml", "- from:")
    assert "ingress[0] of NetworkPolicy shop/db allows TCP 5432 from the peer" in dom
    assert f"all.yaml:{line}" in dom
    # The hostile names are text nodes: escaped by the serialiser, never elements; the
    # title their scripts would have set is untouched.
    assert html.escape(EVIL_NAME, quote=False) in dom
    assert "<img" not in dom
    assert dom.count("<script") == 2
    assert "<title>netlint connectivity</title>" in dom and "pwned</title>" not in dom


@needs_chromium
def test_in_a_browser_the_namespace_filter_keeps_its_ends(write: Write, tmp_path: Path) -> None:
    page = _page(write, tmp_path)
    ids = _ids(_data(page))
    # payments is sealed both ways: filtered to it, the matrix holds its workload alone.
    out = _chromium(tmp_path, "--dump-dom", f"{page.as_uri()}#ns=payments")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = re.findall(r'<tr class="row" data-src="(\d+)"', out.stdout)
    assert rows == [str(ids["payments/vault[Deployment]"])]


@needs_chromium
def test_in_a_browser_the_page_renders_a_screenshot(write: Write, tmp_path: Path) -> None:
    page = _page(write, tmp_path)
    shot = tmp_path / "page.png"
    out = _chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    assert out.returncode == 0, out.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 800)
    # A blank 1200x800 page compresses to a few kilobytes; the graph and matrix do not.
    assert len(data) > 20_000
