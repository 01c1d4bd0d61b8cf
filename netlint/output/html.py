"""``netlint connectivity --format html``: one self-contained page with the map as a graph
(namespaces as columns) and a matrix, a namespace filter, and each pair's explanation (the
policies and rules :func:`netlint.analysis.reach.explain` names) a click away.

The page is a hostile repo's output shown in a browser, so:

- nothing is fetched: the script and the style are inline, and a Content-Security-Policy allows
  exactly those two (by hash) and nothing else, no network, no other script;
- the data is one JSON document in ``<script type="application/json">``, written ASCII-only
  with ``<``, ``>`` and ``&`` as ``\\u003c``/``\\u003e``/``\\u0026``, so no name can close the
  element (``</script>``) or open a comment;
- the script builds every node with ``createElement`` and fills it with ``textContent``: no
  string from the repo is ever parsed as HTML (no ``innerHTML``), and attributes get only
  numbers and netlint's own class names;
- repo strings are first made visible (:func:`netlint.core.escape.text`: controls and bidi
  overrides as escapes), as in every other format.

A browser cannot draw millions of records: the page carries at most :data:`MAX_RECORDS` (it says
how many it left out, and ``--namespace``/``--workload`` narrow the map), and precomputes the
explanation of at most :data:`MAX_EXPLAINED` pairs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from typing import Final, TextIO

from netlint.analysis.reach import (
    ConnectivityMap,
    Endpoint,
    External,
    PairAnswer,
    Record,
    Side,
)
from netlint.core import escape
from netlint.core.model import Direction, Workload

__all__ = ["MAX_EXPLAINED", "MAX_RECORDS", "write"]

#: Records the page carries; the rest are counted and left out.
MAX_RECORDS: Final = 20_000
#: Pairs whose explanation is precomputed (allowed or uncertain ones first, in map order).
MAX_EXPLAINED: Final = 3_000
#: Up to this many workload ends, the denied pairs are explained too (every matrix cell).
MAX_DENIED_ENDS: Final = 40

_End = Endpoint | External


def write(
    found: ConnectivityMap,
    records: Iterable[Record],
    notes: list[str],
    unit: str | None,
    out: TextIO,
) -> None:
    """Write the page for ``records`` (the map's, already focused) to ``out``."""
    members: dict[Endpoint, Workload] = {}
    for workload in found.workloads:
        members.setdefault(found.endpoint[workload], workload)
    ids: dict[_End, int] = {}
    kept: list[Record] = []
    total = 0
    for record in records:
        total += 1
        if len(kept) < MAX_RECORDS:
            kept.append(record)
            for end in (record.src, record.dst):
                ids.setdefault(end, len(ids))
    for endpoint in members:  # every workload is an end of the matrix, connected or not
        ids.setdefault(endpoint, len(ids))
    ordered = sorted(ids, key=lambda e: (isinstance(e, External), e.label.encode()))
    number = {end: i for i, end in enumerate(ordered)}
    explanations: list[dict[str, object]] = []
    explained: dict[tuple[_End, _End], int] = {}

    def explain(src: _End, dst: _End) -> int:
        if (src, dst) in explained:
            return explained[(src, dst)]
        if len(explanations) >= MAX_EXPLAINED:
            return -1
        a = members.get(src) if isinstance(src, Endpoint) else src
        b = members.get(dst) if isinstance(dst, Endpoint) else dst
        if a is None or b is None:
            return -1
        explained[(src, dst)] = len(explanations)
        explanations.append(_explanation(found.explain(a, b), src, dst, a, b))
        return explained[(src, dst)]

    rows = []
    for record in kept:
        entry: dict[str, object] = {
            "s": number[record.src],
            "d": number[record.dst],
            "c": "" if record.certain.is_empty() else str(record.certain),
            "u": "" if record.uncertain.is_empty() else str(record.uncertain),
            "r": [escape.text(r) for r in record.reasons],
            "x": explain(record.src, record.dst),
        }
        if record.host_network:
            entry["h"] = True
        rows.append(entry)
    denied: dict[str, int] = {}
    if len(members) <= MAX_DENIED_ENDS:
        connected = {(r.src, r.dst) for r in kept}
        for src in members:
            for dst in members:
                if src != dst and (src, dst) not in connected:
                    found_at = explain(src, dst)
                    if found_at >= 0:
                        denied[f"{number[src]},{number[dst]}"] = found_at
    data = {
        "unit": escape.text(unit) if unit is not None else None,
        "ends": [_end(end) for end in ordered],
        "records": rows,
        "denied": denied,
        "explanations": explanations,
        "notes": [escape.text(n) for n in notes],
        "total": total,
        "shown": len(kept),
    }
    out.write(_page(_script_json(data), unit))


def _end(end: _End) -> dict[str, object]:
    label = escape.text(end.label)
    if isinstance(end, External):
        return {"label": label, "ns": None}
    return {"label": label, "ns": escape.text(end.namespace)}


def _explanation(
    answer: PairAnswer,
    src: _End,
    dst: _End,
    a: Workload | External,
    b: Workload | External,
) -> dict[str, object]:
    """What the page shows for one pair: the verdict, why it is unknown, and each side."""
    shown_as = [
        f"{end.label} is explained as its {w.kind} {w.namespace}/{w.name}"
        for end, w in ((src, a), (dst, b))
        if isinstance(w, Workload) and isinstance(end, Endpoint) and end.name != w.name
    ]
    return {
        "c": "" if answer.certain.is_empty() else str(answer.certain),
        "u": "" if answer.uncertain.is_empty() else str(answer.uncertain),
        "r": [escape.text(r) for r in answer.reasons],
        "as": [escape.text(s) for s in shown_as],
        "sides": [_side(answer.egress, src), _side(answer.ingress, dst)],
    }


def _side(side: Side, end: _End) -> dict[str, object]:
    direction = side.direction.value
    toward = "to" if side.direction is Direction.EGRESS else "from"
    return {
        "dir": direction,
        "end": escape.text(end.label),
        "external": side.workload is None,
        "open": side.default_open,
        "isolated_by": [
            {
                "policy": escape.text(f"NetworkPolicy {p.namespace}/{p.name}"),
                "at": escape.text(f"{p.name_span.path}:{p.name_span.line}"),
            }
            for p in side.isolated_by
        ],
        "rules": [
            {
                "rule": escape.text(
                    f"{direction.lower()}[{c.rule.index}] of NetworkPolicy "
                    f"{c.policy.namespace}/{c.policy.name}"
                ),
                "at": escape.text(f"{c.rule.span.path}:{c.rule.span.line}"),
                "allows": f"{c.conns} {toward} the peer",
                "certain": c.certain,
            }
            for c in side.contributions
        ],
        "c": "" if side.certain.is_empty() else str(side.certain),
    }


def _script_json(data: object) -> str:
    """JSON for the inside of a ``<script>`` element: ASCII only, and no ``<``, ``>`` or ``&``
    (JSON escapes them as ``\\u003c``... and ``JSON.parse`` reads them back), so nothing in it
    can end the element, open a comment or be read as a character reference."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _hash(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


def _page(data: str, unit: str | None) -> str:
    title = "netlint connectivity" + (f" of {unit}" if unit else "")
    # The title is the one repo string outside the JSON: escaped for HTML text.
    shown = (
        escape.text(title)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )
    policy = (
        "default-src 'none'; "
        f"script-src '{_hash(_SCRIPT)}'; style-src '{_hash(_STYLE)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{shown}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{shown}</h1>\n"
        '<p id="summary"></p>\n'
        '<label>Namespace <select id="namespace"><option value="">all</option></select></label>\n'
        "</header>\n"
        '<main>\n<section id="graph-section"><h2>Graph</h2><div id="graph"></div></section>\n'
        '<section id="matrix-section"><h2>Matrix</h2>'
        '<p class="hint">Rows are sources, columns destinations; click a cell for why.</p>'
        '<div id="matrix"></div></section>\n'
        '<aside id="explanation"><h2>Explanation</h2>'
        '<p class="hint">Click a cell of the matrix or an edge of the graph.</p></aside>\n'
        '<section id="notes-section"><h2>Notes</h2><ul id="notes"></ul></section>\n'
        "</main>\n"
        f'<script type="application/json" id="netlint-data">{data}</script>\n'
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


_STYLE: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}
header{padding:12px 20px;border-bottom:1px solid #d0d7de;background:#f6f8fa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:16px 0 8px}
main{padding:0 20px 20px;display:grid;grid-template-columns:minmax(0,3fr) minmax(260px,1fr);
gap:0 24px}
#graph-section,#matrix-section,#notes-section{grid-column:1}
#explanation{grid-column:2;grid-row:1 / span 3;position:sticky;top:0;align-self:start;
max-height:100vh;overflow:auto;border-left:1px solid #d0d7de;padding-left:16px}
#graph{overflow:auto;max-height:70vh;border:1px solid #d0d7de}
#matrix{overflow:auto;max-height:70vh}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #d0d7de;padding:2px 4px;white-space:nowrap}
th.col{writing-mode:vertical-rl;transform:rotate(180deg);max-height:220px;overflow:hidden}
td.cell{cursor:pointer;min-width:14px;text-align:center}
td.allowed{background:#dafbe1}td.maybe{background:#fff8c5}td.denied{background:#fff}
td.self{background:#eaeef2;cursor:default}td.selected{outline:2px solid #0969da}
.node rect{fill:#ddf4ff;stroke:#54aeff}.node.external rect{fill:#fbefff;stroke:#c297ff}
.node text{font-size:11px}.column-title{font-weight:600;font-size:12px}
.edge{fill:none;stroke:#57606a;stroke-width:1.5;cursor:pointer}
.edge.maybe{stroke:#bf8700;stroke-dasharray:5 3}.edge:hover{stroke:#0969da;stroke-width:3}
.hint{color:#57606a}.verdict{font-weight:600}.at{color:#57606a;font-family:monospace}
.uncertain{color:#9a6700}.arrow{fill:#57606a}
"""

_SCRIPT: Final = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("netlint-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var MAX_MATRIX = 150, MAX_EDGES = 4000;
  var ends = data.ends, records = data.records;
  var byPair = {};
  records.forEach(function (rec, i) { byPair[rec.s + "," + rec.d] = i; });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function short(text, n) { return text.length > n ? text.slice(0, n - 1) + "\u2026" : text; }

  var summary = document.getElementById("summary");
  var counted = data.total + " connection records" + (data.unit ? " in unit " + data.unit : "");
  if (data.shown < data.total) {
    counted += "; the page holds the first " + data.shown +
      " (narrow the map with --namespace or --workload)";
  }
  summary.textContent = counted + ".";
  var notes = document.getElementById("notes");
  data.notes.forEach(function (note) { notes.appendChild(el("li", null, note)); });
  if (!data.notes.length) { notes.appendChild(el("li", "hint", "none")); }

  var select = document.getElementById("namespace");
  var namespaces = [];
  ends.forEach(function (end) {
    if (end.ns !== null && namespaces.indexOf(end.ns) < 0) { namespaces.push(end.ns); }
  });
  namespaces.sort();
  namespaces.forEach(function (ns) {
    var option = el("option", null, ns);
    option.value = ns;
    select.appendChild(option);
  });

  function inScope(id, ns) { return ns === "" || ends[id].ns === ns; }
  function current() {
    var ns = select.value;
    var kept = records.filter(function (r) { return inScope(r.s, ns) || inScope(r.d, ns); });
    var shown = {};
    ends.forEach(function (end, id) {
      if (end.ns !== null && inScope(id, ns)) { shown[id] = true; }
    });
    kept.forEach(function (r) { shown[r.s] = true; shown[r.d] = true; });
    var ids = Object.keys(shown).map(Number).sort(function (a, b) { return a - b; });
    return {records: kept, ids: ids};
  }

  function show(s, d) {
    var panel = document.getElementById("explanation");
    clear(panel);
    panel.appendChild(el("h2", null, "Explanation"));
    panel.appendChild(el("p", "pair", ends[s].label + " \u2192 " + ends[d].label));
    var at = byPair[s + "," + d];
    var rec = at === undefined ? null : records[at];
    var denied = data.denied[s + "," + d];
    var index = rec ? rec.x : (denied === undefined ? -1 : denied);
    var why = index >= 0 ? data.explanations[index] : null;
    var certain = why ? why.c : (rec ? rec.c : "");
    var uncertain = why ? why.u : (rec ? rec.u : "");
    var reasons = why ? why.r : (rec ? rec.r : []);
    panel.appendChild(el("p", "verdict", certain ? "Allowed: " + certain :
      (uncertain ? "Allowed only if what the repo does not say permits it" : "Denied")));
    if (uncertain) {
      panel.appendChild(el("p", "uncertain", "Depends on " + reasons.join("; ") +
        ": " + uncertain));
    }
    if (rec && rec.h) {
      panel.appendChild(el("p", "uncertain",
        "An end runs on the host network: whether policies apply to it is up to the " +
        "network plugin."));
    }
    if (!why) {
      panel.appendChild(el("p", "hint",
        "Not precomputed for this page: run netlint explain for this pair."));
      return;
    }
    why.as.forEach(function (line) { panel.appendChild(el("p", "hint", line)); });
    why.sides.forEach(function (side) {
      panel.appendChild(el("h3", null, side.dir + " of " + side.end));
      if (side.external) {
        panel.appendChild(el("p", null, "An address outside the cluster: no policy applies."));
        return;
      }
      if (side.open) {
        panel.appendChild(el("p", null,
          "No NetworkPolicy isolates it for " + side.dir + ": open to everything."));
        return;
      }
      var list = el("ul");
      side.isolated_by.forEach(function (p) {
        var item = el("li", null, "isolated by " + p.policy + " ");
        item.appendChild(el("span", "at", p.at));
        list.appendChild(item);
      });
      side.rules.forEach(function (r) {
        var item = el("li", r.certain ? null : "uncertain", r.rule + " allows " + r.allows +
          (r.certain ? " " : " (if the namespace's labels match) "));
        item.appendChild(el("span", "at", r.at));
        list.appendChild(item);
      });
      if (!side.rules.length) {
        list.appendChild(el("li", null, "no rule of these policies allows anything here"));
      }
      panel.appendChild(list);
      panel.appendChild(el("p", null, "This side allows: " + (side.c || "nothing")));
    });
  }

  function choose(s, d) {
    show(s, d);
    var cells = document.querySelectorAll("td.selected");
    Array.prototype.forEach.call(cells, function (c) { c.classList.remove("selected"); });
    var cell = document.getElementById("cell-" + s + "-" + d);
    if (cell) { cell.classList.add("selected"); }
    if (history.replaceState) { history.replaceState(null, "", "#pair=" + s + "," + d); }
  }

  function drawMatrix(view) {
    var box = document.getElementById("matrix");
    clear(box);
    if (view.ids.length > MAX_MATRIX) {
      box.appendChild(el("p", "hint", view.ids.length +
        " ends are too many for a matrix: choose a namespace."));
      return;
    }
    var table = el("table");
    var head = el("tr");
    head.appendChild(el("th", null, "source \\ destination"));
    view.ids.forEach(function (d) {
      var th = el("th", "col", short(ends[d].label, 40));
      th.title = ends[d].label;
      head.appendChild(th);
    });
    table.appendChild(head);
    view.ids.forEach(function (s) {
      var row = el("tr", "row");
      row.setAttribute("data-src", String(s));
      var th = el("th", "row-head", ends[s].label);
      row.appendChild(th);
      view.ids.forEach(function (d) {
        var cell = el("td", "cell");
        cell.id = "cell-" + s + "-" + d;
        if (s === d) {
          cell.classList.add("self");
        } else {
          var at = byPair[s + "," + d];
          var rec = at === undefined ? null : records[at];
          if (rec && rec.c) {
            cell.classList.add("allowed");
            cell.textContent = short(rec.c, 18);
          } else if (rec && rec.u) {
            cell.classList.add("maybe");
            cell.textContent = "?";
          } else {
            cell.classList.add("denied");
          }
          cell.title = ends[s].label + " \u2192 " + ends[d].label +
            (rec ? ": " + (rec.c || "maybe " + rec.u) : ": denied");
          cell.addEventListener("click", function () { choose(s, d); });
        }
        row.appendChild(cell);
      });
      table.appendChild(row);
    });
    box.appendChild(table);
  }

  function drawGraph(view) {
    var box = document.getElementById("graph");
    clear(box);
    if (view.records.length > MAX_EDGES) {
      box.appendChild(el("p", "hint", view.records.length +
        " connections are too many to draw: choose a namespace."));
      return;
    }
    var columns = [], where = {};
    view.ids.forEach(function (id) {
      var name = ends[id].ns === null ? "external" : ends[id].ns;
      var at = columns.indexOf(name);
      if (at < 0) { columns.push(name); at = columns.length - 1; where[name] = []; }
      where[name].push(id);
    });
    var W = 210, GAP = 90, H = 22, TOP = 30, place = {};
    var tallest = 0;
    columns.forEach(function (name, c) {
      where[name].forEach(function (id, r) {
        place[id] = {x: 10 + c * (W + GAP), y: TOP + r * (H + 8)};
      });
      tallest = Math.max(tallest, where[name].length);
    });
    var width = 20 + columns.length * (W + GAP), height = TOP + tallest * (H + 8) + 20;
    var root = svg("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height});
    var defs = svg("defs", {});
    var marker = svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"});
    marker.appendChild(svg("path", {d: "M0,0 L10,5 L0,10 z", "class": "arrow"}));
    defs.appendChild(marker);
    root.appendChild(defs);
    columns.forEach(function (name, c) {
      var title = svg("text", {x: 10 + c * (W + GAP), y: 18, "class": "column-title"});
      title.textContent = name;
      root.appendChild(title);
    });
    view.records.forEach(function (rec) {
      var a = place[rec.s], b = place[rec.d];
      if (!a || !b) { return; }
      // Left to right from the source's right side; right to left from its left side.
      var back = b.x < a.x;
      var x1 = back ? a.x : a.x + W, y1 = a.y + H / 2, x2 = back ? b.x + W : b.x;
      var y2 = b.y + H / 2, d;
      if (a.x === b.x) {
        d = "M" + x1 + "," + y1 + " C" + (x1 + 60) + "," + y1 + " " + (x1 + 60) + "," + y2 +
          " " + x1 + "," + y2;
      } else {
        var mid = (x1 + x2) / 2;
        d = "M" + x1 + "," + y1 + " C" + mid + "," + y1 + " " + mid + "," + y2 + " " + x2 +
          "," + y2;
      }
      var edge = svg("path", {d: d, "class": rec.c ? "edge" : "edge maybe",
        "marker-end": "url(#arrow)"});
      var tip = svg("title", {});
      tip.textContent = ends[rec.s].label + " \u2192 " + ends[rec.d].label + ": " +
        (rec.c || "maybe " + rec.u);
      edge.appendChild(tip);
      edge.addEventListener("click", function () { choose(rec.s, rec.d); });
      root.appendChild(edge);
    });
    view.ids.forEach(function (id) {
      var p = place[id];
      var group = svg("g", {"class": ends[id].ns === null ? "node external" : "node"});
      group.appendChild(svg("rect", {x: p.x, y: p.y, width: W, height: H, rx: 4}));
      var label = svg("text", {x: p.x + 6, y: p.y + 15});
      label.textContent = short(ends[id].label, 32);
      var tip = svg("title", {});
      tip.textContent = ends[id].label;
      group.appendChild(label);
      group.appendChild(tip);
      root.appendChild(group);
    });
    box.appendChild(root);
  }

  function render() {
    var view = current();
    drawGraph(view);
    drawMatrix(view);
  }
  select.addEventListener("change", render);
  var wanted = /^#(?:ns=([^&]*)&)?pair=(\d+),(\d+)$/.exec(location.hash) ||
    /^#ns=([^&]*)$/.exec(location.hash);
  if (wanted && wanted[1] !== undefined) {
    var ns = decodeURIComponent(wanted[1]);
    if (namespaces.indexOf(ns) >= 0) { select.value = ns; }
  }
  render();
  if (wanted && wanted[2] !== undefined) {
    var s = Number(wanted[2]), d = Number(wanted[3]);
    if (s < ends.length && d < ends.length && s !== d) { choose(s, d); }
  }
})();
"""
