"""The installed rule plugins, remembered in the project's ``.netlint_cache/`` between runs.

Finding the ``netlint.rules`` entry points costs ``importlib.metadata`` (about 35 ms to import,
with ``email`` and ``zipfile``) and a read of every installed distribution's metadata, on every
run. What that scan finds depends only on what it reads: the distributions' metadata folders
(``*.dist-info``, ``*.egg-info``) directly in each ``sys.path`` entry (a zip entry as a whole),
their ``entry_points.txt``, and their ``METADATA`` or ``PKG-INFO`` (name and version). So the
scan's result is kept together with a *fingerprint* of exactly that: ``sys.path``, the names of
the metadata folders in each entry and the stat (inode, ctime, mtime, size) of those files. The
fingerprint is taken afresh on every run (a ``listdir`` per ``sys.path`` entry, a few ``stat``
calls per distribution); any difference, an installed, removed, upgraded or edited plugin, means
a new scan. A list scanned from metadata modified within the last 2 s is not kept: a second
change within the same timestamp tick could leave the stat as it was. Where the fingerprint
cannot see everything the scan would (a finder on ``sys.meta_path`` that lists distributions of
its own, an ``.egg`` on ``sys.path``), nothing is cached.

The cache lies in the repository being linted, which is not trusted, and what it holds decides
which modules are imported. So:

- it is written and read like the parse cache, by ``netlint.run.safedir``: msgpack data only, in a
  directory that is checked with ``lstat`` and opened without following links; a body is read
  only when its inode and ctime are those netlint recorded in the head when it wrote it (a file
  committed to the repo gets new ones at checkout, which nobody can set in advance);
- and even a body that passes is not believed: every remembered entry point must name a
  metadata folder that the fresh fingerprint found on ``sys.path``, belong to the distribution
  that folder is named after, and be listed, with this very value, in that folder's
  ``entry_points.txt`` as it is now, which lists no other entry of the group. So a forged body
  can name nothing but a plugin that is installed anyway; anything else is a miss, and a scan.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat as stat_module
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from netlint.run import safedir
from netlint.run.safedir import Refused, Reject
from netlint.run.safedir import tuple_of as _t

#: Bumped when what a body holds changes.
FORMAT: Final = 1
HEAD: Final = "catalogue-head.msgpack"
_BODY: Final = re.compile(r"catalogue-([0-9a-f]{16})\.msgpack")
_MAX_HEAD_BYTES: Final = 4096
_MAX_BODY_BYTES: Final = 1024 * 1024
#: An ``entry_points.txt`` larger than this is not believed (the scan would still read it).
_MAX_ENTRY_POINTS_BYTES: Final = 1024 * 1024
_METADATA_FILES: Final = ("entry_points.txt", "METADATA", "PKG-INFO")
#: Bodies the head no longer names are deleted once this old: a racing run names its body in
#: the head within milliseconds of writing it, and a reader opens a body right after its head.
_STALE_NS: Final = 60 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Dist:
    """The distribution an entry point comes from, as the catalogue needs it."""

    name: str
    version: str
    #: Its metadata folder (``.../site-packages/acme-1.0.dist-info``); "" when unknown.
    metadata: str


@dataclass(frozen=True, slots=True)
class Plugin:
    """One entry point of the group: the shape of ``importlib.metadata.EntryPoint`` that
    netlint reads (``name``, ``value``, ``dist.name``, ``dist.version``)."""

    name: str
    value: str
    dist: Dist | None

    def locate(self) -> str | None:
        """The folder that holds the distribution's metadata (``Distribution.locate_file('')``
        of a distribution found on ``sys.path``), None when unknown."""
        if self.dist is None or not self.dist.metadata:
            return None
        return os.path.dirname(self.dist.metadata)


#: Metadata modified this close to now may change again within one timestamp tick, keeping its
#: stat: a list scanned from it is not kept (as the parse cache treats racily clean files).
_RACY_NS: Final = 2_000_000_000


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the scan depends on (``digest``), the metadata folders it saw, and whether all of
    it was modified long enough ago for a list scanned now to be kept (``settled``)."""

    digest: str
    folders: frozenset[str]
    settled: bool = True


def fingerprint() -> Fingerprint | None:
    """The fingerprint of the distributions on ``sys.path`` now; None when some place the scan
    would look at cannot be fingerprinted (then nothing is cached or believed)."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and getattr(finder, "find_distributions", None) is not None:
            return None
    hasher = hashlib.blake2b(digest_size=20)
    hasher.update(f"{FORMAT}\0{sys.version}\0{sys.implementation.cache_tag}\0".encode())
    folders: set[str] = set()
    newest = 0
    for entry in sys.path:
        if not isinstance(entry, str):
            return None
        # As importlib.metadata's FastPath: an empty entry is the current directory.
        root = os.path.abspath(entry or ".")
        if root.lower().endswith(".egg"):
            return None  # its metadata lies in EGG-INFO/, which this does not look at
        hasher.update(f"P\0{entry}\0{root}\0".encode(errors="surrogateescape"))
        try:
            st = os.stat(root)
        except OSError:
            hasher.update(b"-\0")
            continue
        if not stat_module.S_ISDIR(st.st_mode):  # a zip: any rewrite changes its stat
            newest = max(newest, st.st_mtime_ns)
            hasher.update(f"Z\0{_stat_key(st)}\0".encode())
            continue
        try:
            names = sorted(
                n for n in os.listdir(root) if n.lower().endswith((".dist-info", ".egg-info"))
            )
        except OSError:
            return None
        for name in names:
            folder = os.path.join(root, name)
            folders.add(folder)
            hasher.update(f"D\0{name}\0".encode(errors="surrogateescape"))
            for part in (None, *_METADATA_FILES):
                path = folder if part is None else os.path.join(folder, part)
                try:
                    seen = os.stat(path)
                except OSError:
                    hasher.update(b"-\0")
                    continue
                newest = max(newest, seen.st_mtime_ns)
                hasher.update(f"{_stat_key(seen)}\0".encode())
    settled = newest < time.time_ns() - _RACY_NS
    return Fingerprint(hasher.hexdigest(), frozenset(folders), settled)


def _stat_key(st: os.stat_result) -> str:
    return f"{st.st_mode:o}:{st.st_ino}:{st.st_ctime_ns}:{st.st_mtime_ns}:{st.st_size}"


def load(root: Path, group: str, now: Fingerprint) -> tuple[Plugin, ...] | None:
    """The plugins remembered in ``root/.netlint_cache`` for this fingerprint, each checked
    against the metadata on disk; None for a miss (nothing there, another fingerprint, a file
    netlint did not write, an entry the metadata does not confirm)."""
    try:
        with safedir.open_directory(root, create=False) as opened:
            if opened is None:
                return None
            dir_fd = opened[0]
            head = safedir.read(dir_fd, HEAD, _MAX_HEAD_BYTES)
            if head is None:
                return None
            token, ino, ctime_ns, mtime_ns, size = _t(
                safedir.unpack(FORMAT, "catalogue-head", head), 5
            )
            anchor = (_int(ino), _int(ctime_ns), _int(mtime_ns), _int(size))
            name = f"catalogue-{_str(token)}.msgpack"
            if _BODY.fullmatch(name) is None:
                return None
            blob = safedir.read(dir_fd, name, min(anchor[3], _MAX_BODY_BYTES), anchor)
            if blob is None:
                return None
            digest, entries = _t(safedir.unpack(FORMAT, "catalogue", blob), 2)
            if digest != now.digest:
                return None
            plugins = tuple(_plugin(item) for item in _t(entries))
    except (Refused, OSError):
        return None
    except Exception:  # malformed in any way: not what netlint wrote
        return None
    return plugins if _confirmed(plugins, group, now) else None


def _str(v: object) -> str:
    if type(v) is str:
        return v
    raise Reject


def _int(v: object) -> int:
    if type(v) is int:
        return v
    raise Reject


def _plugin(item: object) -> Plugin:
    name, value, dist = _t(item, 3)
    if dist is None:
        return Plugin(_str(name), _str(value), None)
    dist_name, version, metadata = _t(dist, 3)
    return Plugin(_str(name), _str(value), Dist(_str(dist_name), _str(version), _str(metadata)))


def _confirmed(plugins: Sequence[Plugin], group: str, now: Fingerprint) -> bool:
    """Whether every plugin is one the metadata on disk declares now, and each distribution's
    entries of the group are all there."""
    by_folder: dict[str, set[tuple[str, str]]] = {}
    for plugin in plugins:
        if plugin.dist is None or plugin.dist.metadata not in now.folders:
            return False
        if not _named_after(plugin.dist.name, os.path.basename(plugin.dist.metadata)):
            return False
        by_folder.setdefault(plugin.dist.metadata, set()).add((plugin.name, plugin.value))
    for folder, cached in by_folder.items():
        declared = _declared(folder, group)
        if declared is None or declared != cached:
            return False
    return True


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _named_after(dist_name: str, folder: str) -> bool:
    """``acme-netlint`` and ``acme_netlint-1.0.dist-info`` (or ``acme_netlint.egg-info``)."""
    stem = folder.rsplit(".", 1)[0]  # drop .dist-info / .egg-info
    return _normal(stem.split("-", 1)[0]) == _normal(dist_name)


def _declared(folder: str, group: str) -> set[tuple[str, str]] | None:
    """The (name, value) entries of ``group`` in ``folder/entry_points.txt``, parsed as
    importlib.metadata parses it; None when it cannot be read."""
    try:
        with open(os.path.join(folder, "entry_points.txt"), "rb") as handle:
            data = handle.read(_MAX_ENTRY_POINTS_BYTES + 1)
    except OSError:
        return None
    if len(data) > _MAX_ENTRY_POINTS_BYTES:
        return None
    found: set[tuple[str, str]] = set()
    section = None
    for raw in data.decode("utf-8", errors="surrogateescape").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section == group:
            name, _, value = line.partition("=")
            found.add((name.strip(), value.strip()))
    return found


def save(root: Path, now: Fingerprint, plugins: Sequence[Plugin]) -> None:
    """Remember ``plugins`` for ``now`` in ``root/.netlint_cache`` (created if missing, as the
    parse cache creates it), unless some metadata was modified too recently to be sure that a
    later change shows in its stat. Failing to write is not an error: the next run scans."""
    if not now.settled:
        return
    entries = tuple(
        (
            p.name,
            p.value,
            None if p.dist is None else (p.dist.name, p.dist.version, p.dist.metadata),
        )
        for p in plugins
    )
    with contextlib.suppress(Refused, OSError, TypeError, ValueError):
        body = safedir.pack(FORMAT, "catalogue", (now.digest, entries))
        with safedir.open_directory(root, create=True) as opened:
            if opened is None:
                return
            dir_fd = opened[0]
            safedir.prepare(dir_fd)
            token = safedir.token()
            name = f"catalogue-{token}.msgpack"
            anchor = safedir.write_new(dir_fd, name, body)
            tmp = f".tmp-{safedir.token()}"
            try:
                safedir.write_new(
                    dir_fd, tmp, safedir.pack(FORMAT, "catalogue-head", (token, *anchor))
                )
                os.replace(tmp, HEAD, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                for leftover in (tmp, name):
                    with contextlib.suppress(OSError):
                        os.unlink(leftover, dir_fd=dir_fd)
                raise
            _prune(dir_fd, keep=name)


def _prune(dir_fd: int, keep: str) -> None:
    """Delete the bodies no head names any more: only netlint's own names, only regular files
    of this user, never through a link; another run's body only once it is a minute old (a
    racing run may have just written it and be about to name it)."""
    now = time.time_ns()
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return
    for name in names:
        if name == keep or _BODY.fullmatch(name) is None:
            continue
        safedir.remove_if_older(dir_fd, name, _STALE_NS, now, uid)
