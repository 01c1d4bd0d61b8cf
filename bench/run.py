#!/usr/bin/env python3
"""netlint's benchmark: generated monorepos, timed against the parse floor in the same run.

    python bench/run.py                       # small and medium, 3 runs each
    python bench/run.py --presets large --runs 3
    python bench/run.py --presets small --runs 1 --smoke    # CI: runs everything once, quickly
    python bench/run.py --yamllint yamllint --nca /path/to/nca   # peers, for the README
    python bench/run.py --presets large --against /tmp/before   # cold run against another checkout
    python bench/run.py --lsp-only DIR [--lsp-policy FILE]   # the language server alone

For each corpus (made by ../shared/bench/gen_corpus.py, cached under --work) it reports medians of:
- floor: PyYAML ``compose_all`` with the libyaml CSafeLoader over the same files, in one process
  (nodes with line and column: the cheapest parse that keeps positions);
- cold: ``netlint check`` (all rules) with no cache, as a new process, wall time and peak RSS;
- warm: the same with the cache filled by a previous run and nothing changed;
- relint: ``netlint check --stdin-filename <one policy> -`` in the cached repo, the policy edited
  (a new comment each run, so that no run replays the last one's outcome);
- floor1: the one-file floor the relint is held to: a new interpreter that imports PyYAML and
  composes that policy file with libyaml, wall time of the whole process (relint_over_floor1);
- cold_busy, floor_busy: the cold run and the floor again while another process spins on one
  core (a shared machine's neighbour), and the cold run's ratio to the idle floor
  (cold_busy_over_floor) and to the floor beside the same neighbour (cold_busy_over_floor_busy);
- connectivity: ``netlint connectivity --format json`` of the whole corpus, cold, and its ratio
  to the cold check;
- lsp_relint: in ``netlint lsp``, from a didChange on that policy to its diagnostics;
- explain: ``netlint explain SRC DST`` of two workloads of that policy's namespace, warm (the
  cache and its stored cluster filled by a first run);
- tree_mib, tree_pss_mib: with ``cold``, the peak of the whole process tree's summed resident
  memory (main process and workers, sampled from /proc): RSS counts the pages a forked worker
  shares with the main process once in each, PSS splits them (what the tree holds together);
- diff: ``netlint diff`` in a git copy of the corpus with that policy's first port changed in
  the work tree, warm (the work tree's cache filled), against the committed revision;
- relint_daemon, explain_daemon, diff_daemon: ``relint``, ``explain`` and ``diff`` through the
  resident process (``--daemon``), warm (three runs first);
- precommit, precommit_daemon: in that git copy, the policy saved with a fresh edit, then
  ``netlint check <the policy>`` as a new process, and through the daemon (warm);
and the ratios cold/floor, warm/cold, plus growth from the smallest to the largest corpus.
Numbers go to stdout as a Markdown table and, with --json, to a file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GENERATOR = REPO.parent / "shared" / "bench" / "gen_corpus.py"


def corpus(preset: str, work: Path) -> Path:
    out = work / f"corpus-{preset}"
    if not (out / "PLANTED.json").is_file():
        if out.exists():
            shutil.rmtree(out)
        subprocess.run(
            [sys.executable, str(GENERATOR), "--preset", preset, "--out", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out


def files_of(root: Path) -> list[Path]:
    found = []
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(directory) / n for n in sorted(names) if n.endswith((".yaml", ".yml"))]
    return found


def floor(root: Path) -> float:
    """PyYAML compose_all with libyaml, in a fresh process, reads included."""
    code = (
        "import sys, time, yaml\n"
        "paths = sys.argv[1:]\n"
        "t = time.perf_counter()\n"
        "for p in paths:\n"
        "    with open(p, 'rb') as f:\n"
        "        for _ in yaml.compose_all(f.read(), Loader=yaml.CSafeLoader):\n"
        "            pass\n"
        "print(time.perf_counter() - t)\n"
    )
    listing = [str(p) for p in files_of(root)]
    out = subprocess.run(
        [sys.executable, "-c", code, *listing], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


@contextlib.contextmanager
def one_core_busy() -> Iterator[None]:
    """Another job holding a core for the duration (a process spinning on the CPU, as a
    shared CI machine's neighbour does): ``cold_busy`` is the cold run beside it."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # running before the timed process starts
        yield
    finally:
        spinner.kill()
        spinner.wait()


def floor_one(path: Path) -> float:
    """Wall seconds of a new interpreter that imports PyYAML and composes one file with libyaml:
    what a one-file re-lint cannot go below (interpreter start included, as in ``relint``)."""
    code = (
        "import sys, yaml\n"
        "with open(sys.argv[1], 'rb') as f:\n"
        "    for _ in yaml.compose_all(f.read(), Loader=yaml.CSafeLoader):\n"
        "        pass\n"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return time.perf_counter() - start


_WRAPPER = (
    "import importlib, json, os, resource, sys\n"
    # Named, not tried: an editable install would answer a failed import of the new path with
    # this checkout's module, mixing two netlints in one process.
    "main = importlib.import_module(os.environ['NETLINT_BENCH_CLI']).main\n"
    "try:\n"
    "    status = main(sys.argv[1:])\n"
    "finally:\n"
    "    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "    print('BENCH-RSS ' + json.dumps([me, kids]), file=sys.stderr)\n"
    "sys.exit(status)\n"
)


def timed(
    args: list[str],
    cwd: Path,
    stdin: bytes | None = None,
    against: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[float, int]:
    """Wall seconds of a netlint process, and its peak RSS in KiB: the main process plus the
    largest parse worker (workers run side by side with the main process, so this bounds the
    sum for two workers; they are forked after the main process has read nothing big).
    ``env`` adds to the environment."""
    env = {**os.environ, **(env or {}), "NETLINT_BENCH_CLI": "netlint.integrations.cli"}
    if against is not None:  # another checkout's netlint, with this environment's libraries
        env["PYTHONPATH"] = str(against)
        if (against / "netlint" / "cli.py").is_file():  # from before the layered package
            env["NETLINT_BENCH_CLI"] = "netlint.cli"
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - start
    err = out.stderr.decode(errors="replace")
    if out.returncode not in (0, 1):
        raise SystemExit(f"netlint failed ({out.returncode}): {err[-2000:]}")
    line = next(x for x in err.splitlines() if x.startswith("BENCH-RSS "))
    main_kib, worker_kib = json.loads(line.split(" ", 1)[1])
    return elapsed, int(main_kib) + int(worker_kib)


@contextlib.contextmanager
def daemon_env() -> Iterator[dict[str, str]]:
    """A runtime folder of its own for ``check --daemon`` (its daemon is stopped after)."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="nlb", dir="/tmp")  # short: a socket path is bounded
    env = {"XDG_RUNTIME_DIR": folder}
    try:
        yield env
    finally:
        subprocess.run(
            [sys.executable, "-m", "netlint", "daemon", "stop"],
            env={**os.environ, **env},
            capture_output=True,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


def daemon_runs(
    args: list[str],
    cwd: Path,
    runs: int,
    edit: Callable[[int], bytes | None],
    *,
    stdin: bool = False,
) -> float:
    """Median seconds of ``runs`` daemon runs, each after ``edit(i)`` (which returns the
    buffer to send when ``stdin``), once the daemon is warm: three runs first (the first
    loads the project, the second compares every file with the disk, then the kernel's
    events serve where it has them; docs/daemon.md)."""
    times = []
    with daemon_env() as env:
        for i in range(3 + runs):
            data = edit(i)
            elapsed = timed(args, cwd, stdin=data if stdin else None, env=env)[0]
            if i >= 3:
                times.append(elapsed)
    return median(times)


def one_policy(root: Path) -> Path:
    planted = json.loads((root / "PLANTED.json").read_text())
    for item in planted["defects"]:
        if item["object_kind"] == "NetworkPolicy":
            return root / item["file"]
    return next(p for p in files_of(root) if "polic" in p.name)


def pair_in_namespace_of(root: Path, policy: Path) -> tuple[str, str]:
    """Two workloads (``ns/name``) of the namespace of the first policy in ``policy``: a pair
    whose answer that policy may decide."""
    sys.path.insert(0, str(REPO))
    from netlint.core.model import NetworkPolicy
    from netlint.run.runner import CheckRequest, layout

    found, _ = layout(CheckRequest(paths=[str(root)], use_cache=True))
    rel = policy.relative_to(root).as_posix()
    space = next(
        p.namespace
        for p in found.cluster.policies
        if isinstance(p, NetworkPolicy) and p.ref.path == rel
    )
    names = sorted({w.name for w in found.cluster.workloads_in(space)})
    return f"{space}/{names[0]}", f"{space}/{names[-1]}"


def git_copy(root: Path, policy: Path) -> Path:
    """A git repository of the corpus, committed, with ``policy``'s first numeric port one
    higher in the work tree (made once, under the corpus's folder's parent)."""
    repo = root.parent / f"{root.name}-git"
    if not (repo / ".git").is_dir():
        shutil.rmtree(repo, ignore_errors=True)
        shutil.copytree(root, repo, ignore=shutil.ignore_patterns(".netlint_cache", ".git"))
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
        }
        for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "corpus"]):
            subprocess.run(["git", "-C", str(repo), *command], check=True, env=env)
        changed = repo / policy.relative_to(root)
        text = changed.read_text()
        match = re.search(r"port: (\d+)", text)
        if match is not None:
            bumped = f"port: {int(match.group(1)) + 1}"
            text = text[: match.start()] + bumped + text[match.end() :]
        changed.write_text(text)
    return repo


def lsp_relint(root: Path, policy: Path, edits: int = 15) -> float:
    """Median seconds from a didChange to the diagnostics it causes, in ``netlint lsp`` with the
    project loaded (debounce 0), measured over stdio with real JSON-RPC framing. Each edit
    adds a comment line: the lines below it move, so the file is linted again."""
    return lsp_edits(root, policy, edits)["line"]["median_s"]


#: How ``lsp_edits`` changes the policy: one more comment line at its end (lines move: a full
#: re-lint), a real change of its name on its line (a full re-lint), a comment written at the
#: end of its first line (no token moves: the server keeps the last findings).
EDIT_KINDS = ("line", "value", "comment")


def _edited(text: str, kind: str, version: int) -> str:
    if kind == "line":  # one more line each time
        return text + "".join(f"# edit {n}\n" for n in range(version))
    first, _, rest = text.partition("\n")
    if kind == "comment":
        return f"{first} # edit {version}\n{rest}"
    # `name: x` -> `name: x-e0` / `x-e1`: a value on its line, the line count unchanged.
    head, sep, tail = text.partition("\n  name: ")
    name, _, after = tail.partition("\n")
    return f"{head}{sep}{name}-e{version % 2}\n{after}" if sep else text + f"# {version}\n"


def lsp_edits(
    root: Path, policy: Path, edits: int = 20, kinds: tuple[str, ...] = ("line",)
) -> dict[str, dict[str, float]]:
    """For each kind of edit (EDIT_KINDS), the median and p95 seconds over ``edits`` edits from
    a didChange on ``policy`` to the diagnostics of that version, in ``netlint lsp`` with the
    project loaded (debounce 0); and ``start``: from ``initialize`` to the first diagnostics
    of the opened policy (the project's load, warm when its cache is)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "netlint", "lsp"],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    def send(message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def receive() -> dict[str, Any]:
        length = 0
        while True:
            line = stdout.readline()
            if not line.strip():
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        message: dict[str, Any] = json.loads(stdout.read(length))
        if "method" in message and "id" in message:  # a request from the server
            send({"id": message["id"], "result": None})
        return message

    def published(version: int) -> None:
        while True:
            message = receive()
            params = message.get("params") or {}
            if (
                message.get("method") == "textDocument/publishDiagnostics"
                and params.get("uri") == doc
                and params.get("version") == version
            ):
                return

    doc = policy.resolve().as_uri()
    text = policy.read_text()
    out: dict[str, dict[str, float]] = {}
    try:
        began = time.perf_counter()
        send(
            {
                "id": 1,
                "method": "initialize",
                "params": {
                    "processId": None,
                    "rootUri": root.resolve().as_uri(),
                    "capabilities": {},
                    "initializationOptions": {"debounceMs": 0},
                },
            }
        )
        while receive().get("id") != 1:
            pass
        send({"method": "initialized", "params": {}})
        send(
            {
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {"uri": doc, "languageId": "yaml", "version": 1, "text": text}
                },
            }
        )
        published(1)
        out["start"] = {"seconds": time.perf_counter() - began}
        version = 1
        for kind in kinds:
            times = []
            for _ in range(edits):
                version += 1
                start = time.perf_counter()
                send(
                    {
                        "method": "textDocument/didChange",
                        "params": {
                            "textDocument": {"uri": doc, "version": version},
                            "contentChanges": [{"text": _edited(text, kind, version)}],
                        },
                    }
                )
                published(version)
                times.append(time.perf_counter() - start)
            times.sort()
            out[kind] = {
                "median_s": statistics.median(times),
                "p95_s": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
            }
        send({"id": 2, "method": "shutdown", "params": None})
        send({"method": "exit", "params": None})
        process.wait(timeout=60)
    finally:
        process.kill()
    return out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench(root: Path, runs: int, *, smoke: bool, against: Path | None = None) -> dict[str, Any]:
    cache = root / ".netlint_cache"
    row: dict[str, Any] = {"corpus": root.name, "files": len(files_of(root))}
    row["bytes"] = sum(p.stat().st_size for p in files_of(root))
    row["floor_s"] = median([floor(root) for _ in range(runs)])
    cold, rss, before = [], [], []
    for _ in range(runs):
        shutil.rmtree(cache, ignore_errors=True)
        elapsed, peak = timed(["check", ".", "--fail-on", "never"], root)
        cold.append(elapsed)
        rss.append(peak)
        if against is not None:  # interleaved, so both see the same load on the machine
            shutil.rmtree(cache, ignore_errors=True)
            before.append(timed(["check", ".", "--fail-on", "never"], root, against=against)[0])
    row["cold_s"] = median(cold)
    if before:
        row["cold_against_s"] = median(before)
        row["cold_over_against"] = row["cold_s"] / row["cold_against_s"]
    row["peak_rss_mib"] = max(rss) / 1024
    # The same cold run and floor with one of the machine's cores taken by another job.
    busy_cold, busy_floor = [], []
    for _ in range(runs):
        with one_core_busy():
            busy_floor.append(floor(root))
            shutil.rmtree(cache, ignore_errors=True)
            busy_cold.append(timed(["check", ".", "--fail-on", "never"], root)[0])
    row["cold_busy_s"] = median(busy_cold)
    row["floor_busy_s"] = median(busy_floor)
    row["cold_busy_over_floor"] = row["cold_busy_s"] / row["floor_s"]
    row["cold_busy_over_floor_busy"] = row["cold_busy_s"] / row["floor_busy_s"]
    shutil.rmtree(cache, ignore_errors=True)
    _, tree_rss, tree_pss = tree_timed(["check", ".", "--fail-on", "never"], root)
    row["tree_mib"] = tree_rss / 1024
    row["tree_pss_mib"] = tree_pss / 1024
    timed(["check", ".", "--fail-on", "never"], root)  # fill the cache
    row["warm_s"] = median(
        [timed(["check", ".", "--fail-on", "never"], root)[0] for _ in range(runs)]
    )
    policy = one_policy(root)
    text = policy.read_bytes()
    rel = str(policy.relative_to(root))
    # A fresh edit each time (a new comment): the same bytes again would be the last run's
    # outcome, replayed from the cache, not a re-lint.
    row["relint_s"] = median(
        [
            timed(
                ["check", "--stdin-filename", rel, "-"],
                root,
                stdin=text + f"\n# bench edit {i} {time.time_ns()}\n".encode(),
            )[0]
            for i in range(runs)
        ]
    )
    row["floor1_s"] = median([floor_one(policy) for _ in range(runs)])
    row["relint_over_floor1"] = row["relint_s"] / row["floor1_s"]
    # The same edited buffer, checked by the resident process (`check --daemon`).
    row["relint_daemon_s"] = daemon_runs(
        ["check", "--daemon", "--stdin-filename", rel, "-"],
        root,
        runs,
        lambda i: text + f"\n# bench daemon edit {i} {time.time_ns()}\n".encode(),
        stdin=True,
    )
    row["relint_daemon_over_floor1"] = row["relint_daemon_s"] / row["floor1_s"]
    row["lsp_relint_s"] = lsp_relint(root, policy)
    row["cold_over_floor"] = row["cold_s"] / row["floor_s"]
    row["warm_over_cold"] = row["warm_s"] / row["cold_s"]
    # The connectivity map of the whole corpus, cold like the check it is compared with.
    conn = []
    for _ in range(runs):
        shutil.rmtree(cache, ignore_errors=True)
        conn.append(
            timed(["connectivity", ".", "--format", "json", "--output", os.devnull], root)[0]
        )
    row["connectivity_s"] = median(conn)
    row["connectivity_over_cold"] = row["connectivity_s"] / row["cold_s"]
    src, dst = pair_in_namespace_of(root, policy)
    timed(["explain", src, dst], root)  # fills the stored cluster
    row["explain_s"] = median([timed(["explain", src, dst], root)[0] for _ in range(runs)])
    row["explain_daemon_s"] = daemon_runs(
        ["explain", "--daemon", src, dst], root, runs, lambda i: None
    )
    repo = git_copy(root, policy)
    timed(["check", ".", "--fail-on", "never"], repo)  # the work tree's cache
    row["diff_s"] = median([timed(["diff"], repo)[0] for _ in range(runs)])
    row["diff_daemon_s"] = daemon_runs(["diff", "--daemon"], repo, runs, lambda i: None)
    # The pre-commit path: the policy saved with a fresh edit, then `netlint check <it>` in
    # the git repo, as a new process and through the daemon.
    changed = repo / policy.relative_to(root)
    original = changed.read_bytes()

    def save(i: int) -> None:
        changed.write_bytes(original + f"\n# bench hook edit {i} {time.time_ns()}\n".encode())

    try:
        hook = []
        for i in range(runs):
            save(i)
            hook.append(timed(["check", rel], repo)[0])
        row["precommit_s"] = median(hook)
        row["precommit_daemon_s"] = daemon_runs(["check", "--daemon", rel], repo, runs, save)
    finally:
        changed.write_bytes(original)
    row["precommit_daemon_over_floor1"] = row["precommit_daemon_s"] / row["floor1_s"]
    if smoke:
        shutil.rmtree(cache, ignore_errors=True)
    return row


def cache_format(root: Path, runs: int) -> dict[str, float]:
    """The cache's format against the pickle it replaced, over the same parsed results of the
    whole corpus: encode plus decode, medians of ``runs`` (in this process, the cyclic GC off as
    netlint has it while loading). The warm run (``warm_s``) is the end-to-end number."""
    import gc
    import pickle

    from netlint.run.cache import decode_results, encode_results
    from netlint.run.config import Config
    from netlint.run.registry import load_catalogue
    from netlint.run.runner import Session

    session = Session.create(Config(root=root, roots=(root,)), load_catalogue())
    session.load(use_cache=False, jobs=1)
    results = list(session.workspace.results.values())
    timings: dict[str, list[float]] = {k: [] for k in ("pe", "pd", "me", "md")}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(max(runs, 3)):
            start = time.perf_counter()
            pickled = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
            timings["pe"].append(time.perf_counter() - start)
            start = time.perf_counter()
            pickle.loads(pickled)
            timings["pd"].append(time.perf_counter() - start)
            start = time.perf_counter()
            packed = encode_results(results)
            timings["me"].append(time.perf_counter() - start)
            start = time.perf_counter()
            decoded = decode_results(packed)
            timings["md"].append(time.perf_counter() - start)
            assert decoded is not None and len(decoded) == len(results)
    finally:
        if enabled:
            gc.enable()
    pickle_s = median(timings["pe"]) + median(timings["pd"])
    msgpack_s = median(timings["me"]) + median(timings["md"])
    return {
        "pickle_encode_s": median(timings["pe"]),
        "pickle_decode_s": median(timings["pd"]),
        "msgpack_encode_s": median(timings["me"]),
        "msgpack_decode_s": median(timings["md"]),
        "pickle_mb": len(pickled) / 1e6,
        "msgpack_mb": len(packed) / 1e6,
        "msgpack_over_pickle": msgpack_s / pickle_s,
    }


def peers(root: Path, *, yamllint: str | None, nca: str | None) -> dict[str, float]:
    """Wall time of yamllint and of network-config-analyzer's sanity query, when asked for."""
    out: dict[str, float] = {}
    if yamllint:
        start = time.perf_counter()
        subprocess.run([yamllint, "-f", "parsable", "."], cwd=root, capture_output=True)
        out["yamllint_s"] = time.perf_counter() - start
    if nca:
        start = time.perf_counter()
        try:
            # Policies and the pods and namespaces they select, both from the corpus folder.
            command = [nca, "--sanity", str(root), "--resource_list", str(root)]
            subprocess.run(command, capture_output=True, timeout=1800)
            out["nca_sanity_s"] = time.perf_counter() - start
        except subprocess.TimeoutExpired:
            out["nca_sanity_s"] = float("inf")
    return out


#: "Policies in one namespace": sizes timed (the issue-11 target is 30,000 in seconds).
NAMESPACE_SIZES = (1_000, 3_000, 10_000, 30_000)
NAMESPACE_SIZES_SMOKE = (100, 300)


def _namespace_policy(i: int) -> str:
    """Policy ``i`` of the one-namespace corpus, cycling through the shapes that made NL103
    and NL105 quadratic: one shared podSelector with identical rules, a podSelector per policy
    (selecting no declared pod), port ranges nested inside each other, and DNS egress rules."""
    shape = i % 4
    if shape == 0:
        selector, ports = "{matchLabels: {app: web}}", f"[{{port: {8000 + i % 5}}}]"
    elif shape == 1:
        selector, ports = f"{{matchLabels: {{app: app-{i}}}}}", "[{port: 80}]"
    elif shape == 2:
        selector, ports = "{matchLabels: {app: web}}", f"[{{port: 1, endPort: {i % 60000 + 1}}}]"
    else:
        selector, ports = "{matchLabels: {app: web}}", f"[{{port: 80}}, {{port: {1000 + i}}}]"
    egress = (
        "  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}},"
        " podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n"
        "    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]\n"
        if i % 3
        else "  - to: [{podSelector: {}}]\n    ports: [{port: 5432}]\n"
    )
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: p{i}, namespace: big}}\n"
        f"spec:\n  podSelector: {selector}\n  policyTypes: [Ingress, Egress]\n"
        "  ingress:\n  - from: [{podSelector: {matchLabels: {app: client}}}]\n"
        f"    ports: {ports}\n  egress:\n{egress}---\n"
    )


def one_namespace(work: Path, runs: int, *, smoke: bool) -> dict[str, Any]:
    """Cold ``netlint check --no-cache`` over N policies in one namespace (plus a few
    workloads), per N, and time(largest)/time(previous): about the ratio of the sizes when the
    rules are linear per namespace (3 for 10k -> 30k), its square when quadratic."""
    row: dict[str, Any] = {"corpus": "one-namespace"}
    sizes = NAMESPACE_SIZES_SMOKE if smoke else NAMESPACE_SIZES
    times: list[float] = []
    for size in sizes:
        root = work / f"one-namespace-{size}"
        if not (root / "workloads.yaml").is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            for start in range(0, size, 500):
                text = "".join(_namespace_policy(i) for i in range(start, min(size, start + 500)))
                (root / f"policies-{start:06d}.yaml").write_text(text)
            (root / "workloads.yaml").write_text(
                "".join(
                    f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {app}, "
                    f"namespace: big}}\nspec:\n  selector: {{matchLabels: {{app: {app}}}}}\n"
                    f"  template:\n    metadata: {{labels: {{app: {app}}}}}\n"
                    "    spec: {containers: [{name: c, image: nginx}]}\n---\n"
                    for app in ("web", "client", "app-1")
                )
            )
        elapsed = median(
            [timed(["check", "--no-cache"], root)[0] for _ in range(1 if smoke else runs)]
        )
        times.append(elapsed)
        row[f"policies_{size}_s"] = elapsed
    row["ratio_last_over_previous"] = times[-1] / times[-2]
    row["size_ratio"] = sizes[-1] / sizes[-2]
    return row


TINY_SIZES = (10_000, 30_000, 100_000)
TINY_SIZES_SMOKE = (300, 900)


def _tiny(i: int) -> str:
    """Tiny file ``i``: a ConfigMap, a Pod or a one-rule policy, in one of 100 namespaces."""
    space = f"ns-{i % 100}"
    if i % 3 == 0:
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: {space}}}\n"
    if i % 3 == 1:
        return (
            f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: {space}, "
            f"labels: {{app: a{i % 7}}}}}\nspec: {{containers: [{{name: c, image: x}}]}}\n"
        )
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: n{i}, namespace: {space}}}\n"
        f"spec: {{podSelector: {{matchLabels: {{app: a{i % 7}}}}}, "
        "ingress: [{from: [{podSelector: {}}]}]}\n"
    )


def tiny_files(work: Path, runs: int, *, smoke: bool) -> dict[str, Any]:
    """Cold ``netlint check --no-cache`` over N tiny files (100 per folder), per N, with the
    peak memory of the whole process tree: the per-file cost must stay flat as N grows."""
    row: dict[str, Any] = {"corpus": "tiny-files"}
    sizes = TINY_SIZES_SMOKE if smoke else TINY_SIZES
    times: list[float] = []
    for size in sizes:
        root = work / f"tiny-{size}"
        if not (root / "DONE").is_file():
            shutil.rmtree(root, ignore_errors=True)
            for i in range(size):
                folder = root / f"d{i // 100:05d}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"f{i}.yaml").write_text(_tiny(i))
            (root / "DONE").write_text("")
        measured = [tree_timed(["check", "--no-cache"], root) for _ in range(1 if smoke else runs)]
        elapsed = median([m[0] for m in measured])
        times.append(elapsed)
        row[f"files_{size}_s"] = elapsed
        row[f"files_{size}_us_per_file"] = elapsed / size * 1e6
        row[f"files_{size}_tree_mib"] = max(m[1] for m in measured) / 1024
        row[f"files_{size}_tree_pss_mib"] = max(m[2] for m in measured) / 1024
    row["ratio_last_over_previous"] = times[-1] / times[-2]
    row["size_ratio"] = sizes[-1] / sizes[-2]
    return row


def _tree_memory_kib(pid: int) -> tuple[int, int]:
    """The resident memory of a process and all its descendants, from /proc (0 when gone):
    summed RSS, which counts each page a forked worker shares with the main process once per
    process, and summed PSS (each shared page split between its sharers: what they hold
    together; 0 where the kernel has no smaps_rollup)."""
    total, pss, todo, seen = 0, 0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            with contextlib.suppress(OSError), open(f"/proc/{current}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo.extend(int(x) for x in handle.read().split())
        except (OSError, ValueError):
            continue
    return total, pss


def tree_timed(args: list[str], cwd: Path) -> tuple[float, int, int]:
    """Wall seconds of a netlint process, and the peaks of the summed resident memory of it
    and its workers (KiB; RSS, then PSS: see ``_tree_memory_kib``), sampled every 20 ms: what the
    machine must hold at once."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "netlint", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = peak_pss = 0
    while process.poll() is None:
        rss, pss = _tree_memory_kib(process.pid)
        peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    if process.returncode not in (0, 1):
        raise SystemExit(f"netlint failed ({process.returncode}) in {cwd}")
    return elapsed, peak, peak_pss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["small", "medium"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "netlint-bench"
    )
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    parser.add_argument("--smoke", action="store_true", help="CI mode: one quick pass, no claims")
    parser.add_argument("--yamllint", metavar="CMD", help="also time yamllint (this command)")
    parser.add_argument(
        "--nca", metavar="CMD", help="also time network-config-analyzer's sanity query (nca)"
    )
    parser.add_argument("--yamllint-on", default="medium", help="preset for yamllint (medium)")
    parser.add_argument("--nca-on", default="small", help="preset for NCA (small)")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="CHECKOUT",
        help="also time the cold run of the netlint in this checkout (e.g. `git worktree add "
        "/tmp/before v0.1.0`), interleaved with this one's, and report the ratio",
    )
    parser.add_argument(
        "--lsp-only",
        type=Path,
        metavar="DIR",
        help="only time the language server on this project: its start, and 20 edits of each "
        "kind (EDIT_KINDS) of one policy (--lsp-policy, else a planted one), median and p95",
    )
    parser.add_argument("--lsp-policy", type=Path, metavar="FILE", help="the policy to edit")
    args = parser.parse_args()
    if args.lsp_only is not None:
        policy = args.lsp_policy or one_policy(args.lsp_only)
        print(json.dumps(lsp_edits(args.lsp_only, policy, 20, EDIT_KINDS), indent=2))
        return 0
    if not GENERATOR.is_file():
        print(f"bench: {GENERATOR} not found (../shared beside the repo)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for preset in args.presets:
        root = corpus(preset, args.work)
        row = bench(root, args.runs, smoke=args.smoke, against=args.against)
        row.update(cache_format(root, args.runs))
        row.update(
            peers(
                root,
                yamllint=args.yamllint if preset == args.yamllint_on else None,
                nca=args.nca if preset == args.nca_on else None,
            )
        )
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    columns = [
        "corpus",
        "files",
        "bytes",
        "floor_s",
        "cold_s",
        "warm_s",
        "relint_s",
        "lsp_relint_s",
        "peak_rss_mib",
        "cold_over_floor",
        "warm_over_cold",
    ]
    extra = sorted({k for r in rows for k in r} - set(columns))
    print("| " + " | ".join(columns + extra) + " |")
    print("|" + "---|" * len(columns + extra))
    for row in rows:
        cells = [row.get(c, "") for c in columns + extra]
        print(
            "| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells) + " |"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        size = last["bytes"] / first["bytes"]
        print(
            f"\ngrowth {first['corpus']} -> {last['corpus']}: {size:.1f}x the bytes, "
            f"{last['cold_s'] / first['cold_s']:.1f}x the cold time, "
            f"{last['floor_s'] / first['floor_s']:.1f}x the floor"
        )
    namespace = one_namespace(args.work, args.runs, smoke=args.smoke)
    print(
        "\npolicies in one namespace: "
        + ", ".join(f"{k[9:-2]}: {v:.2f}s" for k, v in namespace.items() if k.endswith("_s"))
        + f"; time ratio {namespace['ratio_last_over_previous']:.2f} for "
        f"{namespace['size_ratio']:.3g}x the policies"
    )
    rows.append(namespace)
    tiny = tiny_files(args.work, args.runs, smoke=args.smoke)
    print(
        "tiny files: "
        + ", ".join(
            f"{k[6:-2]}: {v:.2f}s"
            for k, v in tiny.items()
            if k.startswith("files_") and k.endswith("_s")
        )
        + f"; time ratio {tiny['ratio_last_over_previous']:.2f} for "
        f"{tiny['size_ratio']:.3g}x the files"
    )
    rows.append(tiny)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
