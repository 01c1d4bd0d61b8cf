"""A cache of parsed files, so a second run reads only what changed.

The cache lives in ``.netlint_cache/`` at the project root, keyed by netlint's version and the
settings that change parsing: every file's (mtime, size, content hash) and parsed result, and
the outcomes of recent runs. A file whose mtime and size are unchanged (and older than the cache
by a safe margin) is served without being read; otherwise its content hash decides. A run over
files that are all unchanged, with the same settings, reuses the outcome of the run that saw
them. Each file of the cache is written to a temporary file and renamed into place, so two
racing runs, an interrupted run or a full disk never leave a corrupt cache behind: at worst the
next run starts cold.

The cache lies inside the repository being linted, which netlint does not trust, and a pickle
can run code when loaded. So each snapshot carries an HMAC made with a key that lives outside
the repository (``$XDG_CACHE_HOME/netlint/key``, created with mode 0600): a snapshot the user's
own netlint did not write, or one that was tampered with, fails the check and is never
unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import pickle
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netlint.load import FileResult, digest

CACHE_DIR = ".netlint_cache"
_MAGIC = b"netlint-cache-1\n"
#: Files modified this close to the snapshot's writing may have changed within one mtime tick.
_RACY_NS = 2_000_000_000


def code_salt() -> str:
    """What netlint's parsing depends on in netlint itself: its version and, for a development
    install whose code changes without a version bump, the stat of its modules."""
    from netlint import __version__

    package = Path(__file__).resolve().parent
    stamps = sorted(
        f"{p.relative_to(package)}:{p.stat().st_mtime_ns}:{p.stat().st_size}"
        for p in package.glob("*.py")
    )
    return __version__ + "|" + hashlib.blake2b("|".join(stamps).encode()).hexdigest()


def key_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "netlint" / "key"


def _key() -> bytes | None:
    path = key_path()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        return path.read_bytes()
    except FileExistsError:  # another run created it first
        return path.read_bytes()
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class _Stamp:
    """What the cache remembers of a file on disk."""

    mtime_ns: int
    size: int
    digest: str


@dataclass(slots=True)
class _Blob:
    """One HMAC-signed pickle file of the cache."""

    path: Path
    key: bytes

    def read(self) -> Any:
        """The unpickled content, or None when it is missing or not signed with our key."""
        try:
            blob = self.path.read_bytes()
        except OSError:
            return None
        head = len(_MAGIC)
        mac, body = blob[head : head + 32], blob[head + 32 :]
        expected = hmac.new(self.key, body, hashlib.sha256).digest()
        if not blob.startswith(_MAGIC) or not hmac.compare_digest(mac, expected):
            raise _Untrusted(self.path)
        try:
            return pickle.loads(body)
        except Exception:  # written by us but unreadable (another Python?): start cold
            return None

    def write(self, value: Any) -> None:
        body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        mac = hmac.new(self.key, body, hashlib.sha256).digest()
        directory = self.path.parent
        directory.mkdir(exist_ok=True)
        ignore = directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by netlint: the cache is not for version control.\n*\n")
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_MAGIC + mac + body)
            os.replace(tmp, self.path)
        except BaseException:  # Ctrl-C or a full disk: never leave a partial file behind
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class _Untrusted(Exception):
    pass


#: How many run outcomes (findings of a whole run) to keep per project and settings.
_OUTCOMES = 4


@dataclass(slots=True)
class Cache:
    """Two signed files per project and settings: ``state`` (every file's stamp, and the
    outcomes of recent runs) and ``results`` (every file's parsed result). A run where nothing
    changed needs only the state; the results are read when a file must be re-linted."""

    directory: Path
    #: What the parsed results depend on besides the file: netlint's version, parse settings.
    salt: str
    written_ns: int = 0
    stamps: dict[str, _Stamp] = field(default_factory=dict)
    outcomes: dict[str, Any] = field(default_factory=dict)
    #: Stamps and results of this run (what the next one will find).
    fresh: dict[str, _Stamp] = field(default_factory=dict)
    fresh_results: dict[str, FileResult] = field(default_factory=dict)
    hits: int = 0
    #: Why the cache is not used or not saved, for --verbose.
    note: str | None = None
    _key: bytes | None = None
    _results: dict[str, FileResult] | None = None
    _dirty: bool = False

    @classmethod
    def open(cls, root: Path, salt: str) -> Cache:
        cache = cls(root / CACHE_DIR, salt)
        cache._key = _key()
        if cache._key is None:
            cache.note = f"cache disabled: cannot create the key {key_path()}"
            return cache
        state = cache._read(cache._blob("state"))
        if isinstance(state, tuple) and len(state) == 3:
            cache.written_ns, cache.stamps, cache.outcomes = state
        return cache

    def _blob(self, kind: str) -> _Blob:
        assert self._key is not None
        name = hashlib.blake2b(self.salt.encode(), digest_size=8).hexdigest()
        return _Blob(self.directory / f"{kind}-{name}.pickle", self._key)

    def _read(self, blob: _Blob) -> Any:
        try:
            return blob.read()
        except _Untrusted as exc:
            self.note = f"ignored {exc.args[0]}: not written by this user's netlint"
            return None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def fresh_digest(self, rel: str, stat: os.stat_result) -> str | None:
        """The content hash of an unchanged file, judged by its stat alone (no read)."""
        stamp = self.stamps.get(rel)
        if (
            stamp is None
            or stat.st_mtime_ns != stamp.mtime_ns
            or stat.st_size != stamp.size
            or stat.st_mtime_ns > self.written_ns - _RACY_NS
        ):
            return None
        return stamp.digest

    def get(self, rel: str, stat: os.stat_result, data: bytes | None = None) -> FileResult | None:
        """The cached result for a file, if it is still valid. With ``data`` None only the
        file's stat is checked (no read); pass the bytes to decide by content."""
        stamp = self.stamps.get(rel)
        if stamp is None or not self.enabled:
            return None
        if data is None:
            if self.fresh_digest(rel, stat) is None:
                return None
        elif digest(data) != stamp.digest:
            return None
        else:  # same content, new stat (a checkout touched it): remember the new stat
            stamp = _Stamp(stat.st_mtime_ns, stat.st_size, stamp.digest)
            self._dirty = True
        if self._results is None:
            found = self._read(self._blob("results"))
            self._results = found if isinstance(found, dict) else {}
        result = self._results.get(rel)
        if result is None or result.digest != stamp.digest:
            return None
        self.fresh[rel] = stamp
        self.fresh_results[rel] = result
        self.hits += 1
        return result

    def put(self, result: FileResult, stat: os.stat_result) -> None:
        """Remember a file's result, with the stat taken *before* its bytes were read."""
        self.fresh[result.path] = _Stamp(stat.st_mtime_ns, stat.st_size, result.digest)
        self.fresh_results[result.path] = result
        self._dirty = True

    def outcome(self, key: str) -> Any:
        return self.outcomes.get(key)

    def put_outcome(self, key: str, value: Any) -> None:
        self.outcomes.pop(key, None)
        self.outcomes[key] = value
        while len(self.outcomes) > _OUTCOMES:
            del self.outcomes[next(iter(self.outcomes))]
        self._dirty = True

    def save(self) -> None:
        """Write what this run saw (files that are gone drop out), each file atomically."""
        if not self.enabled:
            return
        changed = self._dirty or self.fresh.keys() != self.stamps.keys()
        if not changed:
            return
        try:
            if self.fresh_results.keys() != (self._results or {}).keys() or self._dirty:
                self._blob("results").write(self.fresh_results)
            self._blob("state").write((time.time_ns(), self.fresh, self.outcomes))
        except OSError as exc:  # full disk, read-only checkout: lint without a cache
            self.note = f"cache not saved: {exc.strerror or exc}"
