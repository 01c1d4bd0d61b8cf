"""``netlint check --daemon`` (and ``explain``, ``diff``): the command runs in a resident
process of this user's, which keeps projects loaded between runs (netlint.run.resident), so
that a pre-commit re-lint of one file of a big repo costs what changed and the rules on that
file, not a new process's decoding and planning of the whole repo (docs/performance.md,
docs/daemon.md).

The client half is what a ``--daemon`` run imports: the standard library only. It sends its
arguments, working directory, environment and standard input over a Unix socket and writes
what comes back; when no daemon can answer (none can be started, the socket directory is not
private, the daemon fails) the run goes on in-process, as if ``--daemon`` were not given.

The socket lies in a directory only this user can enter (``$XDG_RUNTIME_DIR/netlint``, else
``/tmp/netlint-<uid>``, made 0700 and checked to be ours and private before use), and the
daemon answers only its own user (``SO_PEERCRED`` where the platform has it). Its name is
keyed on the interpreter and netlint's code, so that an upgraded or edited netlint starts a
new daemon instead of asking one that runs the old code. A daemon exits after ``--idle``
seconds without a request, when asked (``netlint daemon stop``), or when its socket's file is
gone.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import io
import json
import os
import socket
import stat
import struct
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

if TYPE_CHECKING:
    import argparse
    import subprocess

    from netlint.run.resident import Resident

#: Seconds a daemon waits for a request before it exits.
DEFAULT_IDLE: Final = 900
#: The protocol: one request and one answer per connection, each a length-prefixed JSON object.
_VERSION: Final = 1
_MAX_FRAME: Final = 1 << 30
#: How long a client waits for a daemon it started to listen.
_START_TIMEOUT: Final = 10.0


class DaemonError(Exception):
    """No daemon can serve (why, for ``--verbose`` and ``netlint daemon``)."""


# -- where the daemon listens ---------------------------------------------------------------


def socket_dir() -> Path:
    """This user's private directory for the socket, made if missing; DaemonError when it is
    not a directory of this user's that nobody else can enter, or the platform has no Unix
    sockets and users (Windows: every run is in-process)."""
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        raise DaemonError("no daemon on this platform")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "netlint" if runtime else Path(f"/tmp/netlint-{os.getuid()}")
    try:
        with contextlib.suppress(FileExistsError):
            base.mkdir(mode=0o700)
    except OSError as exc:
        raise DaemonError(f"{base}: {exc.strerror}") from None
    _private(base)
    return base


def _private(folder: Path) -> None:
    """DaemonError unless ``folder`` is a real directory of this user's, closed to others
    (what keeps anyone else from the socket in it, or from planting one)."""
    try:
        st = os.lstat(folder)
    except OSError as exc:
        raise DaemonError(f"{folder}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise DaemonError(f"{folder} is not a private directory of this user's: not used")


def _code_key() -> str:
    """The interpreter, the name, size and mtime of every module of netlint, and what of the
    environment netlint reads when it imports (the YAML backend): a daemon runs the code it
    imported, so other code gets another daemon."""
    package = Path(__file__).resolve().parent.parent
    hasher = hashlib.blake2b(digest_size=8)
    backend = os.environ.get("NETLINT_YAML_BACKEND", "")
    hasher.update(
        f"{sys.executable}\0{sys.version}\0{package}\0{backend}\0".encode(errors="replace")
    )
    stack = [str(package)]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                elif entry.name.endswith((".py", ".json")):
                    st = entry.stat()
                    hasher.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return hasher.hexdigest()


def socket_path() -> Path:
    return socket_dir() / f"daemon-{_code_key()}.sock"


# -- framing ----------------------------------------------------------------------------------


def _send(conn: socket.socket, message: Mapping[str, Any]) -> None:
    body = json.dumps(message).encode()
    conn.sendall(struct.pack(">I", len(body)) + body)


def _receive(conn: socket.socket) -> dict[str, Any]:
    head = _exactly(conn, 4)
    (length,) = struct.unpack(">I", head)
    if length > _MAX_FRAME:
        raise DaemonError("message too large")
    found = json.loads(_exactly(conn, length))
    if not isinstance(found, dict):
        raise DaemonError("not a message")
    return found


def _exactly(conn: socket.socket, count: int) -> bytes:
    chunks, left = [], count
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise DaemonError("the connection closed early")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise DaemonError("malformed message")
    return base64.b64decode(value, validate=True)


# -- the client -------------------------------------------------------------------------------


def forward(
    argv: Sequence[str], args: argparse.Namespace, *, idle: int = DEFAULT_IDLE
) -> int | None:
    """Run the command of ``argv`` (``check``, ``explain``, ``diff``) in this user's daemon
    (started if none listens), writing its output here; its exit status, or None when no
    daemon could serve (the caller runs the command itself). Standard input is read here when
    the command reads it."""
    reads_stdin = getattr(args, "stdin_filename", None) is not None
    stdin = sys.stdin.buffer.read() if reads_stdin else None
    try:
        path = socket_path()
        answer = _ask(path, _request(argv, stdin), start=True, idle=idle)
        stdout, stderr = _unb64(answer.get("stdout")), _unb64(answer.get("stderr"))
        status = answer.get("status")
        if not isinstance(status, int):
            raise DaemonError(str(answer.get("error") or "no exit status"))
    except (OSError, DaemonError, ValueError) as exc:
        if getattr(args, "verbose", False):
            print(f"netlint: the daemon did not serve ({exc}): checking here", file=sys.stderr)
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        return None
    sys.stderr.flush()
    sys.stderr.buffer.write(stderr)
    sys.stderr.flush()
    sys.stdout.buffer.write(stdout)
    sys.stdout.flush()
    return status


def _request(argv: Sequence[str], stdin: bytes | None) -> dict[str, Any]:
    return {
        "version": _VERSION,
        "argv": list(argv),
        "cwd": os.getcwd(),
        # What the daemon must find there: the same folder, not one of the same name in
        # another mount namespace (a container sharing /tmp with its host).
        "cwd_id": _identity("."),
        # The check reads it (git's variables, NO_COLOR, NETLINT_*): the caller's, not the
        # daemon's (a pre-commit hook runs with GIT_INDEX_FILE and others set).
        "env": dict(os.environ),
        "stdin": None if stdin is None else _b64(stdin),
        "tty": sys.stdout.isatty(),
        "stdout": [sys.stdout.encoding, sys.stdout.errors],
        "stderr": [sys.stderr.encoding, sys.stderr.errors],
    }


def _identity(path: str) -> list[int]:
    st = os.stat(path)
    return [st.st_dev, st.st_ino]


def _ask(path: Path, request: Mapping[str, Any], *, start: bool, idle: int) -> dict[str, Any]:
    try:
        conn = _connect(path)
    except OSError:
        if not start:
            raise
        conn = _wait_for(path, _start(path, idle))
    with conn:
        _send(conn, request)
        return _receive(conn)


def _connect(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        raise
    return conn


def _start(path: Path, idle: int) -> subprocess.Popen[bytes]:
    """A daemon for ``path``, detached from this process (its own session, no terminal)."""
    import subprocess  # only to start one: most runs find it listening

    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netlint",
            "daemon",
            "serve",
            "--socket",
            str(path),
            "--idle",
            str(idle),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd="/",
    )


def _wait_for(path: Path, started: subprocess.Popen[bytes]) -> socket.socket:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        try:
            return _connect(path)
        except OSError:
            # One that exits at once found another holding the socket's lock (whose socket is
            # gone; it exits within seconds), or could not listen: no use waiting.
            if started.poll() is not None:
                raise DaemonError("no daemon could listen (one is exiting?)") from None
            if time.monotonic() > deadline:
                raise DaemonError("the daemon did not start") from None
            time.sleep(0.02)


def control(action: str, *, socket_name: str | None = None) -> int:
    """``netlint daemon stop`` or ``status``: 0 when a daemon answered, 1 when none runs."""
    try:
        path = Path(socket_name) if socket_name else socket_path()
        answer = _ask(path, {"version": _VERSION, "control": action}, start=False, idle=0)
    except (OSError, DaemonError) as exc:
        print(f"netlint: no daemon answers ({exc})", file=sys.stderr)
        return 1
    print(f"netlint daemon: {answer.get('said', '')}")
    return 0


# -- the daemon -------------------------------------------------------------------------------


def serve(path: Path, idle: float) -> int:
    """Answer requests on ``path`` until ``idle`` seconds pass without one, a stop, or the
    socket's file is gone (removed, or another one made there: nobody can reach this daemon
    any more, and a new one must be able to start)."""
    socket_dir()  # the platform can (raises DaemonError otherwise)
    import fcntl

    from netlint.run.resident import Resident

    _private(path.parent)
    lock = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        return 0  # another daemon serves this socket
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by a daemon that was killed: the lock says none serves it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound: int | None = None
    try:
        listener.bind(str(path))
        listener.listen(16)
        bound = os.lstat(path).st_ino
        listener.settimeout(min(idle, _TICK))
        daemon = _Daemon(Resident(), path)
        last = time.monotonic()
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if time.monotonic() - last >= idle or not _still_ours(path, bound):
                    break
                continue
            with conn:
                if _serve_one(conn, daemon):
                    break
            last = time.monotonic()
    finally:
        if _still_ours(path, bound):
            with contextlib.suppress(OSError):
                os.unlink(path)
        listener.close()
        os.close(lock)
    return 0


#: How often an idle daemon looks whether its socket is still there.
_TICK: Final = 5.0
#: Seconds a client may take to send its request or to read a chunk of its answer.
_CLIENT_TIMEOUT: Final = 60.0


def _still_ours(path: Path, bound: int | None) -> bool:
    try:
        return bound is not None and os.lstat(path).st_ino == bound
    except OSError:
        return False


class _Daemon:
    """What one ``serve`` answers with: its kept projects, its socket, the runs it served.
    (A plain class: a client imports this module, and needs none of it.)"""

    __slots__ = ("path", "resident", "runs")

    def __init__(self, resident: Resident, path: Path) -> None:
        self.resident, self.path, self.runs = resident, path, 0


def _serve_one(conn: socket.socket, daemon: _Daemon) -> bool:
    """One connection: a run, or a control request. True for a stop. Nothing a client sends
    or does (a malformed message, a hang-up) stops the daemon otherwise."""
    try:
        # A client that stops in the middle of sending or reading (suspended) holds up the
        # others: it is dropped after a while (its run, if it had one, is still its answer).
        conn.settimeout(_CLIENT_TIMEOUT)
        if not _same_user(conn):
            return False
        request = _receive(conn)
        control = request.get("control")
        if control == "stop":
            _send(conn, {"said": f"stopping after {daemon.runs} runs"})
            return True
        if control == "status":
            _send(conn, {"said": f"pid {os.getpid()}, {daemon.runs} runs, {daemon.path}"})
            return False
        daemon.runs += 1
        # As in a run of its own, the cyclic GC is off while a run builds what it keeps (it
        # would rescan the loaded project for nothing), on between runs.
        gc.disable()
        try:
            answer = _run(daemon.resident, request)
        finally:
            gc.enable()
        _send(conn, answer)
    except (OSError, DaemonError, ValueError):
        pass  # the client went away or spoke nonsense: its run (if any) is its loss alone
    return False


def _same_user(conn: socket.socket) -> bool:
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True  # the socket's directory is this user's alone (socket_dir)
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return int(uid) == os.getuid()


class _Out(io.TextIOWrapper):
    """A captured stdout that says whether the client's is a terminal (colour)."""

    def __init__(self, buffer: BinaryIO, encoding: str, errors: str, tty: bool) -> None:
        super().__init__(buffer, encoding=encoding, errors=errors, newline="\n", write_through=True)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def _run(resident: Resident, request: Mapping[str, Any]) -> dict[str, Any]:
    """One ``netlint check`` of a client, in its directory and environment, output captured."""
    from netlint.integrations import cli

    try:
        argv, cwd, env = request["argv"], request["cwd"], request["env"]
        identity = request["cwd_id"]
        if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
            raise DaemonError("malformed arguments")
        if not isinstance(cwd, str) or not isinstance(env, dict):
            raise DaemonError("malformed request")
        if not (isinstance(identity, list) and all(type(i) is int for i in identity)):
            raise DaemonError("malformed request")
        stdin = request.get("stdin")
        data = b"" if stdin is None else _unb64(stdin)
        out_encoding, out_errors = request["stdout"]
        err_encoding, err_errors = request["stderr"]
    except (KeyError, TypeError, ValueError, DaemonError) as exc:
        return {"error": f"malformed request: {exc}"}
    stdout, stderr = io.BytesIO(), io.BytesIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    captured = [
        io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"),
        _Out(stdout, out_encoding, out_errors, bool(request.get("tty"))),
        _Out(stderr, err_encoding, err_errors, False),
    ]
    try:
        with _as_client(cwd, identity, {str(k): str(v) for k, v in env.items()}):
            sys.stdin, sys.stdout, sys.stderr = captured
            try:
                status = cli.run_in(resident, argv)
            finally:
                sys.stdin, sys.stdout, sys.stderr = saved
                for stream in captured:
                    stream.flush()
                    stream.detach()  # dropping a wrapper would close the buffer under it
    except Exception as exc:  # a netlint bug, a cwd gone: the client checks in-process
        return {"error": f"the daemon failed: {type(exc).__name__}: {exc}"}
    return {"status": status, "stdout": _b64(stdout.getvalue()), "stderr": _b64(stderr.getvalue())}


@contextlib.contextmanager
def _as_client(cwd: str, identity: Sequence[int], env: Mapping[str, str]) -> Iterator[None]:
    """The client's working directory and environment for the duration of its run."""
    saved = dict(os.environ)
    os.chdir(cwd)
    if _identity(".") != list(identity):
        os.chdir("/")
        raise DaemonError(f"{cwd} is not the client's folder here (another mount namespace?)")
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        with contextlib.suppress(OSError):
            os.chdir("/")
