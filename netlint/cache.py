"""A cache of parsed files, so a second run reads only what changed.

One snapshot per project and settings lives in ``.netlint_cache/`` at the project root: every
file's (mtime, size, content hash) and its FileResult. A file whose mtime and size are unchanged
(and older than the snapshot by a safe margin) is served without being read; otherwise its
content hash decides. The snapshot is keyed by netlint's version and by the settings that change
parsing, written to a temporary file and renamed into place, so two racing runs, an interrupted
run or a full disk never leave a corrupt snapshot behind: at worst the next run starts cold.

The cache lies inside the repository being linted, which netlint does not trust, and a pickle
can run code when loaded. So each snapshot carries an HMAC made with a key that lives outside
the repository (``$XDG_CACHE_HOME/netlint/key``, created with mode 0600): a snapshot the user's
own netlint did not write, or one that was tampered with, fails the check and is never unpickled.
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


@dataclass(slots=True)
class _Entry:
    mtime_ns: int
    size: int
    digest: str
    result: FileResult


@dataclass(slots=True)
class Cache:
    directory: Path
    #: What the parsed results depend on besides the file: netlint's version, parse settings.
    salt: str
    written_ns: int = 0
    entries: dict[str, _Entry] = field(default_factory=dict)
    fresh: dict[str, _Entry] = field(default_factory=dict)
    hits: int = 0
    #: Why the cache is not used or not saved, for --verbose.
    note: str | None = None
    _key: bytes | None = None

    @classmethod
    def open(cls, root: Path, salt: str) -> Cache:
        cache = cls(root / CACHE_DIR, salt)
        cache._key = _key()
        if cache._key is None:
            cache.note = f"cache disabled: cannot create the key {key_path()}"
            return cache
        cache._read()
        return cache

    @property
    def _file(self) -> Path:
        name = hashlib.blake2b(self.salt.encode(), digest_size=8).hexdigest()
        return self.directory / f"snapshot-{name}.pickle"

    def _read(self) -> None:
        try:
            blob = self._file.read_bytes()
        except OSError:
            return
        assert self._key is not None
        head = len(_MAGIC)
        mac, body = blob[head : head + 32], blob[head + 32 :]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()
        if not blob.startswith(_MAGIC) or not hmac.compare_digest(mac, expected):
            self.note = f"ignored {self._file}: not written by this user's netlint"
            return
        try:
            self.written_ns, self.entries = pickle.loads(body)
        except Exception:  # written by us but unreadable (another Python?): start cold
            self.written_ns, self.entries = 0, {}

    def get(self, rel: str, stat: os.stat_result, data: bytes | None = None) -> FileResult | None:
        """The cached result for a file, if it is still valid. With ``data`` None only the
        file's stat is checked (no read); pass the bytes to decide by content."""
        entry = self.entries.get(rel)
        if entry is None or self._key is None:
            return None
        if data is None:
            if (
                stat.st_mtime_ns != entry.mtime_ns
                or stat.st_size != entry.size
                or stat.st_mtime_ns > self.written_ns - _RACY_NS
            ):
                return None
        elif digest(data) != entry.digest:
            return None
        else:  # same content, new stat (a checkout touched it): remember the new stat
            entry = _Entry(stat.st_mtime_ns, stat.st_size, entry.digest, entry.result)
        self.fresh[rel] = entry
        self.hits += 1
        return entry.result

    def put(self, result: FileResult, stat: os.stat_result) -> None:
        """Remember a file's result, with the stat taken *before* its bytes were read."""
        self.fresh[result.path] = _Entry(stat.st_mtime_ns, stat.st_size, result.digest, result)

    def save(self) -> None:
        """Write the entries of this run (dropping files that are gone), atomically."""
        if self._key is None or (self.fresh.keys() == self.entries.keys() and not self._changed()):
            return
        body = pickle.dumps((time.time_ns(), self.fresh), protocol=pickle.HIGHEST_PROTOCOL)
        mac = hmac.new(self._key, body, hashlib.sha256).digest()
        tmp: str | None = None
        try:
            self.directory.mkdir(exist_ok=True)
            ignore = self.directory / ".gitignore"
            if not ignore.exists():
                ignore.write_text(
                    "# Created by netlint: the cache is not for version control.\n*\n"
                )
            fd, tmp = tempfile.mkstemp(prefix=".snapshot-", dir=self.directory)
            with os.fdopen(fd, "wb") as handle:
                handle.write(_MAGIC + mac + body)
            os.replace(tmp, self._file)
            tmp = None
        except OSError as exc:  # full disk, read-only checkout: lint without a cache
            self.note = f"cache not saved: {exc.strerror or exc}"
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _changed(self) -> bool:
        return any(self.entries.get(rel) is not entry for rel, entry in self.fresh.items())
