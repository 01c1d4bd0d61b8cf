"""``netlint check --daemon``: the resident process's report is ``check``'s, byte for byte,
after every kind of change a repo sees between two runs; and its socket is private."""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import netlint
from test_relint_scope import GENERATOR, _generated

from netlint.integrations import daemon
from netlint.output.reporters import render
from netlint.run.resident import Resident
from netlint.run.runner import CheckRequest, check
from netlint.run.watch import Watch

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets")

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web
        ports: [{name: http, containerPort: 8080}]
"""

POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: http}]
"""

# Excluded by the config: a build reads it, discovery does not list it.
FRONTEND = DEPLOY.replace("web", "frontend")

CONFIG = "roots: [apps]\nexclude: ['apps/shop/extra/**']\n"

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: lone, namespace: plain}
spec:
  containers: [{name: c, image: c}]
"""


@pytest.fixture
def runtime() -> Iterator[dict[str, str]]:
    """A private runtime directory of its own (short: a socket path has a length limit), and
    the daemon started in it stopped afterwards."""
    folder = tempfile.mkdtemp(prefix="nld", dir="/tmp")
    env = {"XDG_RUNTIME_DIR": folder}
    try:
        yield env
    finally:
        # Not from the runtime folder: its netlint/ would be what `python -m netlint` runs.
        netlint("daemon", "stop", cwd=Path("/"), env=env)
        shutil.rmtree(folder, ignore_errors=True)


def _repo(root: Path) -> Path:
    files = {
        ".netlint.yaml": CONFIG,
        "apps/shop/kustomization.yaml": (
            "namespace: shop\nresources: [namespace.yaml, deploy.yaml, policy.yaml,"
            " extra/frontend.yaml]\n"
        ),
        "apps/shop/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
        "apps/shop/deploy.yaml": DEPLOY,
        "apps/shop/policy.yaml": POLICY,
        "apps/plain/pod.yaml": POD,
        "apps/shop/extra/frontend.yaml": FRONTEND,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def _same(
    root: Path, env: dict[str, str], *args: str, stdin: str | None = None, command: str = "check"
) -> str:
    """The command's output, in-process and in the daemon, which must be the same."""
    here = netlint(command, *args, cwd=root, stdin=stdin, env=env)
    there = netlint(command, "--daemon", *args, cwd=root, stdin=stdin, env=env)
    assert (there.returncode, there.stdout, there.stderr) == (
        here.returncode,
        here.stdout,
        here.stderr,
    ), args
    return there.stdout


def _runs(env: dict[str, str], cwd: Path) -> int:
    out = netlint("daemon", "status", cwd=cwd, env=env)
    assert out.returncode == 0, out.stderr
    found = re.search(r"(\d+) runs", out.stdout)
    assert found is not None, out.stdout
    return int(found.group(1))


def _edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_the_daemon_reports_what_check_reports_after_every_change(
    tmp_path: Path, runtime: dict[str, str]
) -> None:
    root = _repo(tmp_path / "repo")
    shop = root / "apps" / "shop"
    first = _same(root, runtime)
    assert "NL101" in first and "pod.yaml" in first
    assert "NL102" not in first  # the excluded frontend is applied with the policy

    # A file edited; then edited again at once, the same size (only its ctime may move).
    _edit(shop / "policy.yaml", "app: frontend", "app: ghost")
    ghost = _same(root, runtime)
    assert "NL102" in ghost and "ghost" in ghost
    _edit(shop / "policy.yaml", "app: ghost", "app: ghast")
    assert "ghast" in _same(root, runtime)
    _edit(shop / "policy.yaml", "app: ghast", "app: frontend")
    assert _same(root, runtime) == first
    # A run reads what changed, not the project (what --verbose says of it). The files were
    # all touched, a file that a build reads among them: that run compares every file's stat
    # (and reads those that changed); the next ones, told by the kernel that nothing did
    # (where it can tell: netlint.run.watch), read none.
    hour_ago = time.time() - 3600
    for path in root.rglob("*.yaml"):
        os.utime(path, (hour_ago, hour_ago))
    told = [netlint("check", "--daemon", "-v", cwd=root, env=runtime).stderr for _ in range(2)]
    assert "daemon: the project kept from the last run (stats), 5 read" in told[0]
    how = "events" if Watch.open(str(root)) is not None else "stats"
    assert f"daemon: the project kept from the last run ({how}), 0 read" in told[1]
    (shop / "deploy.yaml").write_text(DEPLOY, encoding="utf-8")  # the same bytes again
    assert f"({how}), 1 read" in netlint("check", "--daemon", "-v", cwd=root, env=runtime).stderr

    # What a build reads outside the listed files changed: the peer no longer matches.
    _edit(shop / "extra" / "frontend.yaml", "app: frontend", "app: backend")
    assert "NL102" in _same(root, runtime)

    # An editor's buffer stands in for a file; the next run without it sees the disk again.
    buffer = POLICY.replace("app: frontend", "app: nobody")
    _same(root, runtime, "--stdin-filename", "apps/shop/policy.yaml", "-", stdin=buffer)
    _same(root, runtime, "apps/shop/policy.yaml")

    # Files added and removed, a file that is no manifest, a file made unreadable.
    (root / "apps" / "plain" / "second.yaml").write_text(
        POD.replace("lone", "second"), encoding="utf-8"
    )
    (root / "apps" / "plain" / "notes.yaml").write_text("just: [text\n", encoding="utf-8")
    _same(root, runtime)
    (root / "apps" / "plain" / "pod.yaml").unlink()
    _same(root, runtime)
    if os.getuid() != 0:  # root reads anything
        (root / "apps" / "plain" / "second.yaml").chmod(0)
        _same(root, runtime)
    # A listed file replaced by something that is not a file (a FIFO: never waited on).
    (root / "apps" / "plain" / "notes.yaml").unlink()
    os.mkfifo(root / "apps" / "plain" / "notes.yaml")
    _same(root, runtime)

    # Other settings: the config, the rules asked for, the output formats and paths.
    (root / ".netlint.yaml").write_text(CONFIG + "ignore: [NL101]\n", encoding="utf-8")
    _same(root, runtime)
    _same(root, runtime, "--select", "NL102", "--format", "json", "apps/shop")
    _same(root, runtime, "--format", "sarif", "apps/shop/policy.yaml")
    assert _runs(runtime, root) == 16 + (os.getuid() != 0)


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_in_a_git_repo_what_git_lists_is_followed_too(
    tmp_path: Path, runtime: dict[str, str]
) -> None:
    # As a pre-commit hook runs it: files named, git's index changing between runs. Each
    # change below is one the kernel's events alone cannot place, or can: either way the
    # report is check's.
    root = _repo(tmp_path / "repo")
    plain = root / "apps" / "plain"
    (root / ".gitignore").write_text("*.tmp.yaml\n", encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "x")
    named = ("apps/plain/pod.yaml", "apps/shop/policy.yaml")
    for _ in range(3):  # until the watch is trusted, where it can be
        _same(root, runtime, *named)
    steps = [
        lambda: _edit(plain / "pod.yaml", "name: lone", "name: alone"),
        lambda: (plain / "new.yaml").write_text(POD.replace("lone", "new"), encoding="utf-8"),
        lambda: _git(root, "add", "apps/plain/new.yaml"),
        lambda: (plain / "x.tmp.yaml").write_text(POD.replace("lone", "tmp"), encoding="utf-8"),
        lambda: _git(root, "add", "-f", "apps/plain/x.tmp.yaml"),  # ignored, yet tracked
        lambda: _git(root, "rm", "-q", "--cached", "apps/plain/x.tmp.yaml"),  # ignored again
        lambda: (root / ".gitignore").write_text("", encoding="utf-8"),
        lambda: (plain / "deep").mkdir(),
        lambda: (plain / "deep" / "d.yaml").write_text(POD.replace("lone", "d"), encoding="utf-8"),
        lambda: (plain / "new.yaml").rename(plain / "renamed.yaml"),
        lambda: (plain / "deep" / "d.yaml").unlink(),
        lambda: _edit(root / "apps" / "shop" / "policy.yaml", "app: frontend", "app: ghost"),
        lambda: _git(root, "commit", "-qam", "y"),
    ]
    for step in steps:
        step()
        _same(root, runtime, *named)
        _same(root, runtime)
        # What the policies allow, and what the work tree changed since main, likewise.
        _same(root, runtime, "shop/frontend", "shop/web", "--port", "8080/TCP", command="explain")
        _same(root, runtime, "main", "--format", "json", command="diff")
    told = netlint("check", "--daemon", "-v", *named, cwd=root, env=runtime).stderr
    if Watch.open(str(root)) is not None:
        assert "daemon: the project kept from the last run (events), 0 read" in told
    else:  # the files just written are read again each run (within the timestamp tick)
        assert "daemon: the project kept from the last run (stats)" in told

    # A hook may run with another index (GIT_INDEX_FILE): git lists what that one tracks.
    (root / ".gitignore").write_text("*.tmp.yaml\n", encoding="utf-8")
    _git(root, "add", "-f", ".gitignore", "apps/plain/x.tmp.yaml")
    other = root / ".git" / "other-index"
    shutil.copy(root / ".git" / "index", other)
    hook = {**runtime, "GIT_INDEX_FILE": str(other)}
    subprocess.run(
        ["git", "rm", "-q", "--cached", "apps/plain/x.tmp.yaml"],
        cwd=root,
        env={**os.environ, **hook},
        check=True,
    )
    assert "x.tmp.yaml" in _same(root, runtime)
    assert "x.tmp.yaml" not in _same(root, hook)
    assert "x.tmp.yaml" in _same(root, runtime)


def test_a_daemon_left_dead_is_replaced_and_a_shared_folder_is_not_used(
    tmp_path: Path, runtime: dict[str, str]
) -> None:
    root = _repo(tmp_path / "repo")
    _same(root, runtime)
    status = netlint("daemon", "status", cwd=root, env=runtime).stdout
    pid = int(re.search(r"pid (\d+)", status).group(1))  # type: ignore[union-attr]
    os.kill(pid, 9)
    for _ in range(200):  # wait for the kill to land (bounded; no timing is asserted)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    # Its socket is still there: the next run starts a daemon that takes its place.
    assert any(
        p.suffix == ".sock" for p in (Path(runtime["XDG_RUNTIME_DIR"]) / "netlint").iterdir()
    )
    _same(root, runtime)
    assert _runs(runtime, root) == 1

    # A runtime directory others may enter is not used: the run checks in-process.
    shared = Path(tempfile.mkdtemp(prefix="nls", dir="/tmp"))
    try:
        (shared / "netlint").mkdir(mode=0o755)
        (shared / "netlint").chmod(0o755)
        env = {"XDG_RUNTIME_DIR": str(shared)}
        here = netlint("check", cwd=root, env=env)
        there = netlint("check", "--daemon", "-v", cwd=root, env=env)
        assert there.returncode == here.returncode and there.stdout == here.stdout
        assert "is not a private directory" in there.stderr
        assert [p.name for p in (shared / "netlint").iterdir()] == []
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture
def sock() -> Iterator[Path]:
    """A socket's path in a private folder of its own (short: a socket path is bounded)."""
    folder = Path(tempfile.mkdtemp(prefix="nls", dir="/tmp"))
    try:
        (folder / "netlint").mkdir(mode=0o700)
        yield folder / "netlint" / "d.sock"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


SERVE = (sys.executable, "-m", "netlint", "daemon", "serve")


def test_an_idle_daemon_exits(sock: Path) -> None:
    served = subprocess.run(
        [*SERVE, "--socket", str(sock), "--idle", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert served.returncode == 0, served.stderr
    assert not sock.exists()


def test_a_daemon_survives_nonsense_and_exits_when_its_socket_is_gone(sock: Path) -> None:
    served = subprocess.Popen([*SERVE, "--socket", str(sock), "--idle", "600"], cwd="/")
    try:
        for _ in range(400):  # until it listens (bounded; no timing is asserted)
            if sock.exists():
                break
            time.sleep(0.05)
        # Garbage, a frame that lies about its length, a hang-up: it still answers.
        for junk in (b"\xff" * 7, b"\x7f\xff\xff\xff{", b""):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(str(sock))
                conn.sendall(junk)
        # A folder of the client's name that is not the client's (another mount namespace,
        # as a container sharing /tmp with its host sees it): refused, the client checks here.
        request = daemon._request(["check"], None)
        request["cwd"], request["cwd_id"] = "/", [0, 0]
        answer = daemon._ask(sock, request, start=False, idle=0)
        assert "not the client's folder" in answer["error"], answer
        status = netlint("daemon", "status", "--socket", str(sock), cwd=Path("/"))
        assert status.returncode == 0 and "1 runs" in status.stdout, status.stderr
        # Its socket removed (a /tmp cleaner): nobody can reach it, so it goes.
        sock.unlink()
        assert served.wait(timeout=60) == 0
    finally:
        served.kill()
        served.wait()


def test_the_watch_names_the_files_changed_and_says_what_it_cannot_place(tmp_path: Path) -> None:
    watch = Watch.open(str(tmp_path))
    if watch is None:
        pytest.skip("no inotify on this platform or file system")
    try:
        (tmp_path / "a.yaml").write_text("x", encoding="utf-8")  # before the watch: unseen
        assert watch.add([str(tmp_path)]) and watch.added_last
        assert watch.add([str(tmp_path)]) and not watch.added_last
        # A folder that is not there is not watched, and not new each time either.
        assert watch.add([str(tmp_path / "nowhere")]) and not watch.added_last
        (tmp_path / "a.yaml").write_text("y", encoding="utf-8")
        os.chmod(tmp_path / "a.yaml", 0o600)
        changes = watch.take()
        assert changes.files == {f"{tmp_path}/a.yaml"} and not changes.unplaced
        (tmp_path / "folder").mkdir()
        assert watch.take().unplaced  # a folder: only a new look places what is in it
        later = watch.take()
        assert not later.files and not later.unplaced  # each event is taken once
        # A watched folder moved, and a new one made where it was: both are watched, whether
        # the move's events were taken before the folders are watched again or not.
        assert watch.add([str(tmp_path / "folder")])
        (tmp_path / "folder").rename(tmp_path / "moved")
        assert watch.take().unplaced
        (tmp_path / "folder").mkdir()
        assert watch.add([str(tmp_path / "folder"), str(tmp_path / "moved")])
        watch.take()
        (tmp_path / "folder" / "b.yaml").write_text("z", encoding="utf-8")
        (tmp_path / "moved" / "c.yaml").write_text("z", encoding="utf-8")
        assert watch.take().files == {f"{tmp_path}/folder/b.yaml", f"{tmp_path}/moved/c.yaml"}
    finally:
        watch.close()
    # Where the kernel does not see every change, there is no watch (the daemon stats).
    assert Watch.open("/proc/self") is None


def test_a_kept_project_follows_random_changes_of_a_generated_repo(tmp_path: Path) -> None:
    # The resident's report against a fresh in-process check after each of 30 seeded random
    # changes of the small generated corpus: edits of selectors, ports and namespaces, copies,
    # removals, renames, new folders, touches; the whole repo and one named file each time.
    if not GENERATOR.is_file():
        pytest.skip("../shared/bench is not present")
    root = _generated(tmp_path)
    # A git repository: its top is the project's root whatever file a run names (and new
    # files are git's untracked ones, listed).
    _git(root, "init", "-q", "-b", "main")
    rng = random.Random(20261204)
    resident = Resident()

    def files() -> list[Path]:
        return sorted(p for p in root.rglob("*.yaml") if ".netlint_cache" not in p.parts)

    def edit(path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        swaps = [("app: ", "app: x"), ("port: 80", "port: 81"), ("namespace: ", "namespace: z")]
        old, new = rng.choice(swaps)
        path.write_text(text.replace(old, new, 1) if old in text else text + "\n# x\n")

    def copy(path: Path) -> None:
        shutil.copy(path, path.with_name(f"copy-{rng.randrange(1000)}-{path.name}"))

    def move(path: Path) -> None:
        folder = path.parent / f"moved{rng.randrange(100)}"
        folder.mkdir(exist_ok=True)
        path.rename(folder / path.name)

    def touch(path: Path) -> None:
        os.utime(path)

    changes = [edit, edit, edit, copy, move, touch, Path.unlink]
    for step in range(30):
        target = rng.choice(files())
        rng.choice(changes)(target)
        named = [str(rng.choice(files()))]
        for paths in ([str(root)], named):
            alone = check(CheckRequest(paths=paths, use_cache=False))
            kept = resident.check(CheckRequest(paths=paths))
            assert render("json", kept.report) == render("json", alone.report), (step, paths)
