"""``netlint check``, ``rules``, ``units``, ``connectivity``, ``explain`` and ``diff``.

Exit status: 0 clean, 1 findings, 2 usage errors."""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from netlint import __version__
from netlint.core.escape import text as escape_text
from netlint.output.reporters import FORMATS

if TYPE_CHECKING:  # the commands import what they use when they run (start-up time)
    from netlint.analysis.index import Index
    from netlint.analysis.layout import Layout
    from netlint.run.resident import Resident
    from netlint.run.runner import CheckRequest, Outcome

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
_FAIL_ON = {"error": 3, "warning": 2, "note": 1, "never": 99}


def _split(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [token.strip() for value in values for token in value.split(",") if token.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netlint",
        description="Static analysis of Kubernetes NetworkPolicies, with line-accurate findings.",
    )
    parser.add_argument("--version", action="version", version=f"netlint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="lint manifests (the default command)",
        description="Lint the manifests under PATH (default: the project). The whole project "
        "is always read, so checks across files stay right; PATH chooses what is reported.",
    )
    check.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to report")
    check.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="output format",
    )
    check.add_argument("--output", "-o", metavar="FILE", help="write findings to FILE")
    check.add_argument(
        "--select",
        action="append",
        metavar="RULES",
        help="only these rules: codes, code prefixes (NL1) or names; comma-separated",
    )
    check.add_argument("--ignore", action="append", metavar="RULES", help="skip these rules")
    check.add_argument(
        "--fail-on",
        choices=tuple(_FAIL_ON),
        default=None,
        help="lowest severity that makes the exit status 1 (default: warning)",
    )
    check.add_argument("--config", metavar="FILE", help=".netlint.yaml or pyproject.toml to use")
    check.add_argument("--no-color", action="store_true", help="no colour, even on a terminal")
    check.add_argument(
        "--stdin-filename",
        metavar="PATH",
        help="lint standard input (give - as PATH) as if it were the file PATH",
    )
    check.add_argument(
        "--sarif-category",
        metavar="ID",
        help="SARIF automationDetails.id, to keep several netlint uploads apart",
    )
    check.add_argument(
        "--baseline",
        metavar="FILE",
        help="do not report findings recorded in FILE (see --write-baseline)",
    )
    check.add_argument(
        "--write-baseline",
        metavar="FILE",
        help="record the current findings in FILE as accepted, and exit 0",
    )
    check.add_argument(
        "--no-cache", action="store_true", help="neither read nor write .netlint_cache/"
    )
    check.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=0,
        metavar="N",
        help="processes for parsing (default: one per CPU, when the repo is big enough)",
    )
    check.add_argument(
        "--allow-repo-plugins",
        action="store_true",
        help="load rule plugins defined inside the linted repository (they run its code)",
    )
    check.add_argument("--verbose", "-v", action="store_true", help="list skipped files")
    check.add_argument("--debug", action="store_true", help="print tracebacks of crashed rules")
    _daemon_flag(check)

    rules = commands.add_parser(
        "rules", help="list the rules, or explain one", description="The rule catalogue."
    )
    rules.add_argument("rule", nargs="?", metavar="RULE", help="a code or name to explain")
    rules.add_argument(
        "--format", choices=("text", "markdown"), default="text", help="output format"
    )

    units = commands.add_parser(
        "units",
        help="list the deploy units netlint inferred",
        description="The deploy units of the project: what netlint treats as applied "
        "together (kustomizations, GitOps apps, config units, plain files), with the files "
        "each reads, what it applies, and why any is incomplete. See docs/units.md.",
    )
    units.add_argument("paths", nargs="*", metavar="PATH", help="the project (default: .)")
    units.add_argument("--config", metavar="FILE", help="config file")
    units.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    units.add_argument("--files", action="store_true", help="list every file a unit reads")
    units.add_argument("--no-cache", action="store_true", help="ignore the parse cache")

    conn = commands.add_parser(
        "connectivity",
        help="show who can reach whom under the policies",
        description="The connections the NetworkPolicies allow between every pair of workloads "
        "and to and from external IP ranges: the source's egress and the destination's "
        "ingress both applied, named ports resolved per destination. Answers that depend on "
        "what the repo does not say are listed apart. See docs/connectivity.md.",
    )
    conn.add_argument("paths", nargs="*", metavar="PATH", help="the project (default: .)")
    conn.add_argument("--config", metavar="FILE", help="config file")
    conn.add_argument(
        "--format",
        choices=("text", "json", "csv", "markdown", "dot", "mermaid", "html"),
        default="text",
        help="output format (html: one self-contained interactive page)",
    )
    conn.add_argument("--output", "-o", metavar="FILE", help="write the map to FILE")
    conn.add_argument(
        "--unit",
        metavar="ID",
        help="only this deploy unit (an id `netlint units` prints; a plain file's is file:PATH)",
    )
    conn.add_argument(
        "--workload",
        action="append",
        metavar="NAME",
        help="only pairs with this workload (name or namespace/name); comma-separated",
    )
    conn.add_argument(
        "--namespace", action="append", metavar="NS", help="only pairs with an end in NS"
    )
    conn.add_argument("--port", metavar="PORT/PROTO", help="only pairs that allow it (443/TCP)")
    conn.add_argument("--no-cache", action="store_true", help="ignore the parse cache")

    expl = commands.add_parser(
        "explain",
        help="say why one connection is allowed, denied or unknown",
        description="Whether SRC may open a connection to DST under the policies, and every "
        "policy and rule that isolates or allows it, with file:line; for what is denied, the "
        "nearest rules that would allow it if changed. SRC and DST are NAMESPACE/NAME, a NAME "
        "that only one workload has, or an IP address or CIDR. See docs/connectivity.md.",
    )
    expl.add_argument("src", metavar="SRC", help="the source workload or address")
    expl.add_argument("dst", metavar="DST", help="the destination workload or address")
    expl.add_argument("paths", nargs="*", metavar="PATH", help="the project (default: .)")
    expl.add_argument("--port", metavar="PORT/PROTO", help="one connection (443/TCP)")
    expl.add_argument("--config", metavar="FILE", help="config file")
    expl.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    expl.add_argument(
        "--unit", metavar="ID", help="in this deploy unit only (an id `netlint units` prints)"
    )
    expl.add_argument("--no-cache", action="store_true", help="ignore the parse cache")
    _daemon_flag(expl)

    diff = commands.add_parser(
        "diff",
        help="show what a change opens and closes",
        description="The connections added, removed and changed between two git revisions "
        "(default: the merge-base of HEAD with the default branch, against the work tree; "
        "one revision: it against the work tree) or two directories, each with the policy "
        "lines that cause it. Revisions are read from git into memory; nothing is checked "
        "out. See docs/connectivity.md.",
    )
    diff.add_argument(
        "refs", nargs="*", metavar="BASE|DIR", help="[BASE [HEAD]] revisions, or DIR1 DIR2"
    )
    diff.add_argument("--config", metavar="FILE", help="config file")
    diff.add_argument(
        "--format",
        choices=("text", "json", "markdown", "sarif"),
        default="text",
        help="output format",
    )
    diff.add_argument("--output", "-o", metavar="FILE", help="write the diff to FILE")
    diff.add_argument("--no-cache", action="store_true", help="ignore the parse cache")
    _daemon_flag(diff)

    commands.add_parser(
        "lsp",
        help="run the language server (stdio), for editors",
        description="A Language Server over stdin/stdout: diagnostics as you edit and save.",
    )

    daemon = commands.add_parser(
        "daemon",
        help="the resident process `--daemon` runs check, explain and diff in: serve, stop, "
        "or say whether one runs",
        description="`netlint check --daemon` (explain, diff) starts one when none runs; it "
        "exits after --idle seconds without a run. See docs/daemon.md.",
    )
    daemon.add_argument("action", choices=("serve", "stop", "status"))
    daemon.add_argument("--socket", metavar="PATH", help="where to listen (default: per user)")
    daemon.add_argument(
        "--idle", type=float, default=None, metavar="SECONDS", help="exit after this long idle"
    )

    init = commands.add_parser(
        "init",
        help="set a repository up: .netlint.yaml, the pre-commit hook, a baseline",
        description="Write a commented .netlint.yaml with the folders holding manifests as "
        "its roots, add netlint's hook to .pre-commit-config.yaml (comments kept), and say how "
        "to record existing findings as a baseline. Nothing is overwritten without --force.",
    )
    init.add_argument("path", nargs="?", metavar="PATH", help="the repository (default: .)")
    init.add_argument("--force", action="store_true", help="overwrite .netlint.yaml (or FILE)")
    init.add_argument(
        "--baseline", metavar="FILE", help="record the findings there are in FILE as accepted"
    )
    init.add_argument(
        "--no-pre-commit", action="store_true", help="leave .pre-commit-config.yaml alone"
    )
    return parser


def _daemon_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--daemon",
        action="store_true",
        help="run in this user's resident netlint process, started if none runs: it keeps "
        "the project loaded, so the next run reads only the files that changed (docs/daemon.md)",
    )


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser of each command (``build_parser`` adds them as subparsers)."""
    for action in parser._actions:  # argparse offers no public way back to its subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    # A command runs once, and what it builds (results, plan, index) lives until it ends: the
    # cyclic GC would only rescan it (a twentieth of a cold run, more of a re-lint). Not for
    # the language server or the daemon, which run for hours; on again after, for callers
    # in-process.
    pause_gc = gc.isenabled() and args.command not in ("lsp", "daemon")
    if pause_gc:
        gc.disable()
    try:
        return _run(args)
    finally:
        if pause_gc:
            gc.enable()


#: The commands a daemon runs (``--daemon``): what reads the project, with the project kept.
DAEMON_COMMANDS = ("check", "explain", "diff")


def run_in(resident: Resident, argv: Sequence[str]) -> int:
    """``netlint check``, ``explain`` or ``diff`` with ``argv`` (as the command line gives
    them), the project taken from ``resident`` (the daemon's kept projects) instead of read
    by a run of its own."""
    try:
        args = _parse(list(argv))
    except SystemExit as exc:  # argparse said why on stderr
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command not in DAEMON_COMMANDS:
        _say(f"the daemon runs {', '.join(DAEMON_COMMANDS)} only")
        return EXIT_USAGE
    args.daemon = False
    try:
        if args.command == "explain":
            return _explain(args, resident)
        if args.command == "diff":
            return _diff(args, resident)
        return _check(args, resident.check)
    except _Usage as exc:
        _say(str(exc))
        return EXIT_USAGE


def _parse(args_list: list[str]) -> argparse.Namespace:
    # `netlint PATH` and `netlint --format ...` mean `netlint check ...`.
    if not args_list or args_list[0] not in (
        "check",
        "rules",
        "units",
        "connectivity",
        "explain",
        "diff",
        "lsp",
        "daemon",
        "init",
        "-h",
        "--help",
        "--version",
    ):
        args_list.insert(0, "check")
    parser = build_parser()
    args, extra = parser.parse_known_args(args_list)
    command = _commands(parser).get(args.command) if extra else None
    if command is not None:
        # Positionals after options (`explain SRC DST --port 443/TCP DIR`): argparse reads a
        # command's positionals in one run, so read the command's own arguments again,
        # intermixed; an unknown option is then reported with that command's usage.
        args = command.parse_intermixed_args(
            args_list[1:], namespace=argparse.Namespace(command=args.command)
        )
    elif extra:
        parser.parse_args(args_list)  # reports what it does not know, and exits
    args.argv = args_list
    return args


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "rules":
            return _rules(args)
        if args.command == "units":
            return _units(args)
        if args.command == "connectivity":
            return _connectivity(args)
        if args.command == "init":
            return _init(args)
        if args.command == "lsp":
            from netlint.integrations.lsp import main as serve

            return serve()
        if args.command == "daemon":
            return _daemon(args)
        if args.daemon and not getattr(args, "write_baseline", None):
            from netlint.integrations import daemon

            status = daemon.forward(args.argv, args)
            if status is not None:
                return status
        if args.command == "explain":
            return _explain(args)
        if args.command == "diff":
            return _diff(args)
        return _check(args)
    except _Usage as exc:
        _say(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("netlint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`netlint check | head`): nothing left to say to it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FINDINGS


def _say(message: str) -> None:
    """A diagnostic on stderr, which CI logs show: every line starts with ``netlint:`` (so none
    is a workflow command) and repo text in it is made visible, never acted on."""
    for line in message.split("\n"):
        print(f"netlint: {escape_text(line)}", file=sys.stderr)


def _daemon(args: argparse.Namespace) -> int:
    from netlint.integrations import daemon

    if args.action != "serve":
        return daemon.control(args.action, socket_name=args.socket)
    idle = daemon.DEFAULT_IDLE if args.idle is None else args.idle
    try:
        path = Path(args.socket) if args.socket else daemon.socket_path()
        return daemon.serve(path, idle)
    except daemon.DaemonError as exc:
        _say(str(exc))
        return EXIT_USAGE
    except OSError as exc:  # the socket cannot be made there (a path too long, a full disk)
        _say(f"the daemon cannot listen: {exc.strerror or exc}")
        return EXIT_USAGE


def _check(
    args: argparse.Namespace, checker: Callable[[CheckRequest], Outcome] | None = None
) -> int:
    from netlint.output.reporters import render
    from netlint.run.runner import CheckRequest, UsageError, check

    checker = checker or check

    paths = list(args.paths)
    stdin_text = None
    if args.stdin_filename is not None:
        if paths not in ([], ["-"]):
            print("netlint: with --stdin-filename, give - (or nothing) as PATH", file=sys.stderr)
            return EXIT_USAGE
        stdin_text = sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
        paths = []
    elif "-" in paths:
        print("netlint: reading stdin (-) needs --stdin-filename PATH", file=sys.stderr)
        return EXIT_USAGE
    request = CheckRequest(
        paths=paths,
        config=args.config,
        select=_split(args.select),
        ignore=_split(args.ignore),
        stdin_filename=args.stdin_filename,
        stdin_text=stdin_text,
        debug=args.debug,
        use_cache=not args.no_cache,
        jobs=args.jobs,
        baseline=Path(args.baseline) if args.baseline and not args.write_baseline else None,
        allow_repo_plugins=args.allow_repo_plugins,
    )
    try:
        outcome = checker(request)
    except UsageError as exc:
        for warning in request.warnings:
            _say(f"warning: {warning}")
        _say(str(exc))
        return EXIT_USAGE
    for warning in request.warnings:
        _say(f"warning: {warning}")
    report = outcome.report
    if args.write_baseline:
        from netlint.run.runner import write_baseline

        count = write_baseline(outcome, Path(args.write_baseline))
        print(
            f"netlint: wrote {count} findings to the baseline {args.write_baseline}",
            file=sys.stderr,
        )
        return EXIT_OK
    if args.verbose:
        for note in request.notes:
            _say(note)
        for skipped in report.skipped:
            # display_path is escaped already; the reason may quote the repo (an OS error).
            _say(f"skipped {report.display_path(skipped.path)}: {escape_text(skipped.reason)}")
    to_file = args.output is not None
    color = (
        args.format == "text"
        and not to_file
        and not args.no_color
        and "NO_COLOR" not in os.environ
        and sys.stdout.isatty()
    )
    options = {"category": args.sarif_category} if args.format == "sarif" else {}
    text = render(args.format, report, color=color, **options)
    if to_file:
        with open(args.output, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        if args.format != "text":
            from netlint.output.reporters.text import summary

            print(summary(report), file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    fail_on = args.fail_on or outcome.config.fail_on
    threshold = _FAIL_ON[fail_on]
    failed = any(f.severity.rank >= threshold for f in report.findings)
    return EXIT_FINDINGS if failed else EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from netlint.integrations.init import Options, project_top, run

    options = Options(
        root=project_top(Path(args.path or ".")),
        force=args.force,
        baseline=Path(args.baseline) if args.baseline else None,
        pre_commit=not args.no_pre_commit,
    )
    return run(options, _say)


def _project_layout(args: argparse.Namespace) -> Layout | None:
    """The deploy units of the project ``args.paths`` names (``--config``, ``--no-cache``), its
    warnings said; None, said too, for a usage or configuration error."""
    from netlint.run.runner import CheckRequest, UsageError, layout

    request = CheckRequest(paths=list(args.paths), config=args.config, use_cache=not args.no_cache)
    try:
        found, _ = layout(request)
    except UsageError as exc:
        _say(str(exc))
        return None
    for warning in request.warnings:
        _say(f"warning: {warning}")
    return found


def _units(args: argparse.Namespace) -> int:
    from netlint.output.units import render_units

    found = _project_layout(args)
    if found is None:
        return EXIT_USAGE
    sys.stdout.write(render_units(found, args.format, files=args.files))
    return EXIT_OK


class _Usage(Exception):
    """A command line that cannot be run: ``main`` says why and exits with EXIT_USAGE."""


def _port(args: argparse.Namespace) -> tuple[str, int] | None:
    """``--port PORT/PROTO`` of ``connectivity`` and ``explain``, read."""
    if not args.port:
        return None
    from netlint.output.connectivity import Focus, FocusError

    try:
        return Focus.parse_port(args.port)
    except FocusError as exc:
        raise _Usage(str(exc)) from None


def _connectivity(args: argparse.Namespace) -> int:
    from netlint.analysis.reach import connectivity
    from netlint.output.connectivity import Focus, render
    from netlint.run.workers import ordered_map
    from netlint.run.workspace import default_jobs

    port = _port(args)
    focus = Focus(tuple(_split(args.workload) or ()), tuple(_split(args.namespace) or ()), port)
    found = _project_layout(args)
    if found is None:
        return EXIT_USAGE
    index: Index | None = found.cluster
    if args.unit is not None:
        index = _unit_index(found, args.unit)
    if index is None:
        return EXIT_USAGE
    chart = connectivity(index)
    # A large map's text is made by one process per CPU, in blocks of sources.
    mapper = functools.partial(ordered_map, jobs=default_jobs(), least=8)
    if args.output is not None:
        with open(args.output, "w", encoding="utf-8", newline="\n") as handle:
            render(chart, args.format, handle, focus, args.unit, mapper)
    else:
        render(chart, args.format, sys.stdout, focus, args.unit, mapper)
        sys.stdout.flush()
    return EXIT_OK


def _unit_index(found: Layout, unit: str) -> Index | None:
    """The index of the deploy unit with id ``unit`` (said, when incomplete); None, said too,
    when there is no such unit."""
    chosen = [entry for entry in found.units if entry.unit.id == unit]
    if not chosen:
        _say(f"no deploy unit {unit!r} (see `netlint units --format json` for ids)")
        return None
    if not chosen[0].unit.complete:
        _say(f"warning: unit {unit} is incomplete: what it lacks is not in the answer")
    return chosen[0].index


def _explain(args: argparse.Namespace, resident: Resident | None = None) -> int:
    from netlint.output.explain import EndError, end_namespaces, explain_pair, parse_end, render
    from netlint.run.runner import CheckRequest, UsageError, cluster_slice

    port = _port(args)

    if args.unit is not None and resident is None:
        # One unit's objects only: the whole project is planned (no stored slice serves it).
        found = _project_layout(args)
        if found is None:
            return EXIT_USAGE
        index = _unit_index(found, args.unit)
        if index is None:
            return EXIT_USAGE
    else:
        request = CheckRequest(
            paths=list(args.paths), config=args.config, use_cache=not args.no_cache
        )
        try:
            if resident is not None:  # the daemon's kept project: every unit is planned
                workspace, _ = resident.loaded(request)
                unit = _unit_index(workspace.layout(), args.unit) if args.unit else None
                if args.unit is not None and unit is None:
                    return EXIT_USAGE
                index = unit or workspace.index()
            else:
                index, _, _ = cluster_slice(request, end_namespaces((args.src, args.dst)))
        except UsageError as exc:
            _say(str(exc))
            return EXIT_USAGE
        for warning in request.warnings:
            _say(f"warning: {warning}")
    try:
        src, dst = parse_end(index, args.src), parse_end(index, args.dst)
    except EndError as exc:
        _say(str(exc))
        return EXIT_USAGE
    sys.stdout.write(render(explain_pair(index, src, dst, port), args.format))
    sys.stdout.flush()
    return EXIT_OK


def _diff(args: argparse.Namespace, resident: Resident | None = None) -> int:
    from netlint.analysis.reach import connectivity
    from netlint.output.diff import compare, render
    from netlint.run import revisions
    from netlint.run.registry import load_catalogue
    from netlint.run.runner import CheckRequest, UsageError, layout, loaded

    # In the daemon, the work tree is its kept project and a revision is planned once.
    load_work = resident.loaded if resident is not None else loaded
    load_revision = resident.revision if resident is not None else revisions.load_revision

    refs = list(args.refs)
    if len(refs) > 2:
        _say("give at most two revisions (BASE HEAD) or two directories (DIR1 DIR2)")
        return EXIT_USAGE
    head: revisions.Revision | None = None
    use_cache = not args.no_cache
    try:
        if len(refs) == 2 and all(os.path.isdir(r) for r in refs):
            sides = []
            for folder in refs:
                request = CheckRequest(
                    paths=[folder], root=Path(folder), config=args.config, use_cache=use_cache
                )
                found, config = layout(request)
                for warning in request.warnings:
                    _say(f"warning: {warning}")
                sides.append(found)
            names, root = refs, config.root
            base_layout, head_layout = sides
        else:
            request = CheckRequest(config=args.config, use_cache=use_cache)
            workspace, config = load_work(request)
            work = workspace.layout()
            for warning in request.warnings:
                _say(f"warning: {warning}")
            top = revisions.git_top(config.root)
            catalogue = load_catalogue((config.root, top))
            if refs:
                base_commit, base_name = revisions.resolve_commit(top, refs[0]), refs[0]
            else:
                base_commit, how = revisions.default_base(top)
                base_name = f"{base_commit[:12]} ({how})"
            known = work.cluster.files
            base_layout = load_revision(
                config, catalogue, base_commit, use_cache=use_cache, known=known, like=workspace
            ).layout
            if len(refs) == 2:
                head_commit = revisions.resolve_commit(top, refs[1])
                head = load_revision(
                    config, catalogue, head_commit, use_cache=use_cache, known=known
                )
                head_layout, head_name = head.layout, refs[1]
            else:
                head_layout, head_name = work, "the work tree"
            names, root = [base_name, head_name], config.root
    except UsageError as exc:
        _say(str(exc))
        return EXIT_USAGE
    except revisions.RevisionError as exc:
        hint = ""
        if any(os.path.isdir(r) for r in refs) and len(refs) < 2:
            hint = " (to compare directories, give two: netlint diff DIR1 DIR2)"
        _say(f"{exc}{hint}")
        return EXIT_USAGE
    head_map = connectivity(head_layout.cluster)
    base_map = connectivity(base_layout.cluster, like=head_map)
    result = compare(base_map, head_map, names[0], names[1])
    text = render(result, args.format, root, head.texts if head is not None else None)
    if args.output is not None:
        with open(args.output, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK


def _rules(args: argparse.Namespace) -> int:
    from netlint.output import ruledocs
    from netlint.run.registry import load_catalogue

    catalogue = load_catalogue()
    for error in catalogue.errors:
        _say(f"warning: {error}")
    if args.rule:
        rule = catalogue.find(args.rule)
        if rule is None:
            _say(f"no rule {args.rule!r} (see `netlint rules`)")
            return EXIT_USAGE
        render = ruledocs.markdown if args.format == "markdown" else ruledocs.plain
        sys.stdout.write(render(rule.meta))
        return EXIT_OK
    if args.format == "markdown":
        sys.stdout.write("| code | name | severity | summary |\n|---|---|---|---|\n")
        for rule in catalogue.rules:
            m = rule.meta
            sys.stdout.write(f"| {m.code} | {m.name} | {m.severity.value} | {m.summary} |\n")
        return EXIT_OK
    width = max((len(r.meta.name) for r in catalogue.rules), default=10)
    for rule in catalogue.rules:
        m = rule.meta
        sys.stdout.write(f"{m.code}  {m.name:<{width}}  {m.severity.value:<7}  {m.summary}\n")
    return EXIT_OK
