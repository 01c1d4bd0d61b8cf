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
from dataclasses import dataclass, field, replace
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
    """What the cache remembers of a file on disk, and which shard holds its parsed result."""

    mtime_ns: int
    size: int
    digest: str
    shard: str


def _sign(key: bytes, body: bytes) -> bytes:
    return _MAGIC + hmac.new(key, body, hashlib.sha256).digest() + body


def _verified(key: bytes, blob: bytes) -> bytes | None:
    head = len(_MAGIC)
    mac, body = blob[head : head + 32], blob[head + 32 :]
    if not blob.startswith(_MAGIC):
        return None
    return body if hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()) else None


def _write_atomically(path: Path, blob: bytes) -> None:
    directory = path.parent
    directory.mkdir(exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by netlint: the cache is not for version control.\n*\n")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
        os.replace(tmp, path)
    except BaseException:  # Ctrl-C or a full disk: never leave a partial file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True, slots=True)
class ShardWriter:
    """Writes a signed shard of parsed results; picklable, so parse workers write their own
    shards and the main process never pickles the results a second time."""

    directory: Path
    key: bytes
    prefix: str

    def write(self, payload: bytes) -> str:
        """Store a pickled list of FileResults; its shard id. Raises OSError."""
        shard = secrets.token_hex(8)
        path = self.directory / f"{self.prefix}{shard}.pickle"
        _write_atomically(path, _sign(self.key, payload))
        return shard


#: How many run outcomes (findings of a whole run) to keep per project and settings.
_OUTCOMES = 4


@dataclass(slots=True)
class Cache:
    """Per project and settings: a signed ``state`` file (every file's stamp and the outcomes of
    recent runs) and signed shards of parsed results. A run where nothing changed needs only
    the state; shards are read when a file's parsed result is needed."""

    directory: Path
    #: What the parsed results depend on besides the file: netlint's version, parse settings.
    salt: str
    written_ns: int = 0
    stamps: dict[str, _Stamp] = field(default_factory=dict)
    outcomes: dict[str, Any] = field(default_factory=dict)
    #: Stamps of this run (what the next one will find), and results parsed in this process.
    fresh: dict[str, _Stamp] = field(default_factory=dict)
    unsaved: dict[str, FileResult] = field(default_factory=dict)
    hits: int = 0
    #: Why the cache is not used or not saved, for --verbose.
    note: str | None = None
    _key: bytes | None = None
    _shards: dict[str, dict[str, FileResult]] = field(default_factory=dict)
    _dirty: bool = False

    @classmethod
    def open(cls, root: Path, salt: str) -> Cache:
        cache = cls(root / CACHE_DIR, salt)
        cache._key = _key()
        if cache._key is None:
            cache.note = f"cache disabled: cannot create the key {key_path()}"
            return cache
        state = cache._read(cache._path("state"))
        if isinstance(state, tuple) and len(state) == 3:
            cache.written_ns, cache.stamps, cache.outcomes = state
        return cache

    @property
    def _prefix(self) -> str:
        return hashlib.blake2b(self.salt.encode(), digest_size=8).hexdigest()

    def _path(self, kind: str) -> Path:
        return self.directory / f"{kind}-{self._prefix}.pickle"

    def _read(self, path: Path) -> Any:
        assert self._key is not None
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        body = _verified(self._key, blob)
        if body is None:
            self.note = f"ignored {path}: not written by this user's netlint"
            return None
        try:
            return pickle.loads(body)
        except Exception:  # written by us but unreadable (another Python?): start cold
            return None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def knows(self, rel: str) -> bool:
        return rel in self.stamps

    def shard_writer(self) -> ShardWriter | None:
        if self._key is None:
            return None
        return ShardWriter(self.directory, self._key, f"shard-{self._prefix}-")

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
            stamp = replace(stamp, mtime_ns=stat.st_mtime_ns, size=stat.st_size)
            self._dirty = True
        result = self._shard(stamp.shard).get(rel)
        if result is None or result.digest != stamp.digest:
            return None
        self.fresh[rel] = stamp
        self.hits += 1
        return result

    def _shard(self, shard: str) -> dict[str, FileResult]:
        found = self._shards.get(shard)
        if found is None:
            items = self._read(self.directory / f"shard-{self._prefix}-{shard}.pickle")
            found = {r.path: r for r in items} if isinstance(items, list) else {}
            self._shards[shard] = found
        return found

    def put(self, result: FileResult, stat: os.stat_result, shard: str | None = None) -> None:
        """Remember a file's result, with the stat taken *before* its bytes were read; ``shard``
        names the shard a parse worker already wrote it to."""
        self.fresh[result.path] = _Stamp(stat.st_mtime_ns, stat.st_size, result.digest, shard or "")
        if shard is None:
            self.unsaved[result.path] = result
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
        """Write what this run saw (files that are gone drop out), each file atomically, and
        remove the shards nothing refers to any more."""
        if not self.enabled or not (self._dirty or self.fresh.keys() != self.stamps.keys()):
            return
        writer = self.shard_writer()
        assert writer is not None
        try:
            if self.unsaved:
                payload = pickle.dumps(list(self.unsaved.values()), pickle.HIGHEST_PROTOCOL)
                shard = writer.write(payload)
                for rel in self.unsaved:
                    self.fresh[rel] = replace(self.fresh[rel], shard=shard)
            state = (time.time_ns(), self.fresh, self.outcomes)
            _write_atomically(self._path("state"), _sign(writer.key, pickle.dumps(state)))
        except OSError as exc:  # full disk, read-only checkout: lint without a cache
            self.note = f"cache not saved: {exc.strerror or exc}"
            return
        self._prune(writer.prefix)

    def _prune(self, prefix: str) -> None:
        """Drop this settings' shards that nothing refers to, and whatever other settings or
        versions of netlint (or killed runs) left behind a day ago or more."""
        live = {f"{prefix}{stamp.shard}.pickle" for stamp in self.fresh.values()}
        day_ago = time.time() - 86_400
        mine = (f"state-{self._prefix}.pickle", prefix)
        for path in self.directory.iterdir():
            name = path.name
            stale = False
            if name == ".gitignore":
                continue
            if name.startswith(mine):
                stale = name.startswith(prefix) and name not in live
            else:
                with contextlib.suppress(OSError):
                    stale = path.stat().st_mtime < day_ago
            if stale:
                with contextlib.suppress(OSError):
                    path.unlink()
