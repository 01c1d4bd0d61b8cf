"""The language server in a real editor: Neovim, headless, with its built-in LSP client.

Debian 12's Neovim (0.7.2, which .ci/run installs when ``nvim`` is missing) has
``vim.lsp.start_client`` but not ``vim.fs`` nor ``vim.lsp.start``, so the generated init.lua
uses only what 0.7 has. It opens ``policies/shop.yaml`` of a copy of ``examples/``, waits for
the diagnostics of each buffer version, and writes what the server published (ranges and codes,
as the LSP client received them) to a JSON file; the test compares them with the file's
``# expect:`` markers and with ``netlint check``: after opening, after inserting a line (every
diagnostic moves down one line), after saving, and after reopening the saved file.

Every wait is bounded, but generously: CI machines are shared and slow, and nothing here is a
timing claim (bench/run.py measures the server's latency).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, lint

from netlint.testing import parse_markers

NVIM = shutil.which("nvim")
pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim is not installed (.ci/run installs it)")

#: Milliseconds Neovim waits for each publish: a cold start of the server included.
WAIT_MS = 180_000
#: Seconds for the whole Neovim run.
RUN_TIMEOUT = 900
FILE = "policies/shop.yaml"
#: A diagnostic as compared: start line and character, end line and character (LSP, 0-based),
#: code.
Range = tuple[int, int, int, int, str]
INSERTED = "# A line inserted above everything by the editor test: every finding moves down one."

# Neovim 0.7's Lua API only. Each phase waits until the server has published diagnostics for
# the buffer's current version (the server echoes the version it linted), records them, and
# goes on; any error is written to the result instead of hanging the editor.
INIT_LUA = r"""
local result = { phases = {} }
local out = os.getenv("NETLINT_NVIM_RESULT")
local wait_ms = tonumber(os.getenv("NETLINT_NVIM_WAIT_MS"))
local published = {}

local function finish()
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd("qall!")
end

local function main()
  local root = os.getenv("NETLINT_NVIM_ROOT")
  local client_id = vim.lsp.start_client({
    name = "netlint",
    cmd = { os.getenv("NETLINT_NVIM_PYTHON"), "-m", "netlint", "lsp" },
    cmd_cwd = root,
    root_dir = root,
    init_options = { debounceMs = 50 },
    handlers = {
      ["textDocument/publishDiagnostics"] = function(err, params, ctx, config)
        table.insert(published, params)
        return vim.lsp.handlers["textDocument/publishDiagnostics"](err, params, ctx, config)
      end,
    },
  })
  assert(client_id, "vim.lsp.start_client failed")
  local path = root .. "/" .. os.getenv("NETLINT_NVIM_FILE")
  local buf, uri = nil, nil

  -- Wait for a publish for `uri` of the buffer's current version that came after `since`
  -- publishes, and record it with what Neovim's diagnostic API holds for the buffer. A phase
  -- that does not require a publish records what the buffer shows after `patience` ms.
  local function phase(name, since, patience)
    -- The version is set once the client has sent didOpen (after its initialize round trip).
    local version = nil
    local found = nil
    vim.wait(patience or wait_ms, function()
      version = vim.lsp.util.buf_versions[buf]
      if version == nil then
        return false
      end
      for i = #published, since + 1, -1 do
        local p = published[i]
        -- The version the server linted, exactly: an unversioned publish is the clearing
        -- of a closed buffer, an older version is stale.
        if p.uri == uri and p.version == version then
          found = p
          return true
        end
      end
      return false
    end, 50)
    local shown = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      table.insert(shown, { lnum = d.lnum, code = d.code or vim.NIL })
    end
    table.insert(result.phases, {
      name = name,
      version = version or vim.NIL,
      published = found and found.diagnostics or vim.NIL,
      shown = shown,
    })
    if found == nil and patience == nil then
      error("no diagnostics for " .. name .. " within " .. wait_ms .. " ms")
    end
  end

  local function open()
    vim.cmd("edit " .. vim.fn.fnameescape(path))
    buf = vim.api.nvim_get_current_buf()
    assert(vim.lsp.buf_attach_client(buf, client_id), "could not attach the client")
    uri = vim.uri_from_bufnr(buf)
  end

  open()
  phase("open", 0)
  local count = #published
  vim.api.nvim_buf_set_lines(buf, 0, 0, false, { os.getenv("NETLINT_NVIM_INSERTED") })
  phase("edit", count)
  -- Saving text the server already linted need not publish again (the diagnostics in force
  -- are those of this text): wait a little for one, then look at what the buffer shows.
  count = #published
  vim.cmd("write")
  phase("save", count, 5000)
  -- Closed, the buffer no longer stands for the file: reopened, the server lints the saved
  -- file as it reads it from disk.
  vim.cmd("bwipeout")
  count = #published
  open()
  phase("reopen", count)
  vim.lsp.stop_client(client_id)
  vim.wait(wait_ms, function() return vim.lsp.get_client_by_id(client_id) == nil end, 50)
  result.stopped = vim.lsp.get_client_by_id(client_id) == nil
end

vim.api.nvim_create_autocmd("VimEnter", {
  once = true,
  callback = function()
    local ok, err = pcall(main)
    if not ok then
      result.error = tostring(err)
    end
    finish()
  end,
})
"""


def _ranges(diagnostics: list[dict[str, Any]]) -> set[Range]:
    return {
        (
            d["range"]["start"]["line"],
            d["range"]["start"]["character"],
            d["range"]["end"]["line"],
            d["range"]["end"]["character"],
            str(d["code"]),
        )
        for d in diagnostics
    }


def _checked(root: Path) -> set[Range]:
    """What ``netlint check`` reports for the file, as LSP ranges (0-based; the file is ASCII,
    so a column in code points is a column in UTF-16 units)."""
    report = lint(root, [root / FILE])
    return {
        (f.span.line - 1, f.span.col - 1, f.span.end_line - 1, f.span.end_col - 1, f.code)
        for f in report.findings
        if f.span.path == FILE
    }


def _shift(found: set[Range]) -> set[Range]:
    """The ranges one line further down: where they are after a line is inserted above."""
    return {
        (line + 1, col, end_line + 1, end_col, code) for line, col, end_line, end_col, code in found
    }


def test_neovim_shows_the_markers_after_open_edit_and_save(tmp_path: Path) -> None:
    assert NVIM is not None
    root = tmp_path / "examples"
    shutil.copytree(REPO / "examples", root, ignore=shutil.ignore_patterns(".netlint_cache"))
    original = (root / FILE).read_text(encoding="utf-8")
    markers = {(m.line - 1, m.code) for m in parse_markers(original, FILE)}
    assert markers, "shop.yaml has # expect: markers"
    expected_open = _checked(root)
    # The markers and netlint check agree, so the editor is held to both.
    assert {(line, code) for line, _, _, _, code in expected_open} == markers

    init = tmp_path / "init.lua"
    init.write_text(INIT_LUA, encoding="utf-8")
    result_file = tmp_path / "result.json"
    state = tmp_path / "xdg"
    env = {
        **os.environ,
        # Neovim's and netlint's per-user files (shada, logs, the cache key) stay in tmp_path.
        "XDG_CONFIG_HOME": str(state / "config"),
        "XDG_DATA_HOME": str(state / "data"),
        "XDG_STATE_HOME": str(state / "state"),
        "XDG_CACHE_HOME": str(state / "cache"),
        "NO_COLOR": "1",
        "NETLINT_NVIM_RESULT": str(result_file),
        "NETLINT_NVIM_WAIT_MS": str(WAIT_MS),
        "NETLINT_NVIM_ROOT": str(root),
        "NETLINT_NVIM_FILE": FILE,
        "NETLINT_NVIM_PYTHON": sys.executable,
        "NETLINT_NVIM_INSERTED": INSERTED,
    }
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-n", "-i", "NONE", "-u", str(init)],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    log = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    assert result_file.is_file(), f"Neovim wrote no result (exit {proc.returncode}):\n{log}"
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert "error" not in result, f"{result.get('error')}\n{log}"
    phases = {phase["name"]: phase for phase in result["phases"]}
    assert list(phases) == ["open", "edit", "save", "reopen"]

    # Open: the markers' lines and codes, and netlint check's exact ranges.
    opened = phases["open"]["published"]
    assert {(line, code) for line, _, _, _, code in _ranges(opened)} == markers
    assert _ranges(opened) == expected_open
    # Neovim's own diagnostic list holds them too (its client accepted the publish).
    assert {(d["lnum"], d["code"]) for d in phases["open"]["shown"]} == markers

    # Edit: one line inserted at the top, unsaved; every range moves down one line.
    edited = phases["edit"]["published"]
    assert phases["edit"]["version"] > phases["open"]["version"]
    assert _ranges(edited) == _shift(expected_open)
    assert {(d["lnum"], d["code"]) for d in phases["edit"]["shown"]} == {
        (line + 1, code) for line, code in markers
    }

    # Save: the file on disk now has the line, and the buffer still shows the edit's
    # diagnostics (or new ones of the same text, if the server published again).
    saved_text = (root / FILE).read_text(encoding="utf-8")
    assert saved_text.splitlines()[0] == INSERTED
    saved_markers = {(m.line - 1, m.code) for m in parse_markers(saved_text, FILE)}
    assert saved_markers == {(line + 1, code) for line, code in markers}
    if phases["save"]["published"] is not None:
        assert _ranges(phases["save"]["published"]) == _shift(expected_open)
    assert {(d["lnum"], d["code"]) for d in phases["save"]["shown"]} == saved_markers

    # Reopened: the server lints the saved file from disk, as netlint check does.
    assert _ranges(phases["reopen"]["published"]) == _checked(root) == _shift(expected_open)
    assert {(d["lnum"], d["code"]) for d in phases["reopen"]["shown"]} == saved_markers
    assert result["stopped"] is True
