"""Files netlint keeps inside the repository it lints, which it does not trust.

The parse cache (:mod:`netlint.run.cache`) and the plugin list (:mod:`netlint.run.catalogue_cache`)
both live in ``.netlint_cache/`` at the project root, and both follow the rules written here once:

- the directory is checked with ``lstat`` and opened without following links; a symlink, a
  non-directory, a directory of another user or one every user may write to is refused
  (:class:`Refused`, whose message ``--verbose`` shows);
- every file in it is opened relative to a descriptor of the directory with ``O_NOFOLLOW``; new
  files are created with ``O_EXCL`` under fresh random names and never rewritten;
- a file is read only when it is a regular file of this user, within a size bound, and (given
  an :data:`Anchor`) still the very file netlint wrote: a file committed to the repository gets
  a new inode and ctime at checkout, which nobody can set in advance;
- bodies are msgpack data only, behind a magic line, a format number and a kind; decoding gives
  plain values that the caller checks field by field, raising :class:`Reject` for anything else;
- only regular files of this user are deleted, never through a link.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat as stat_module
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import msgpack  # type: ignore[import-untyped]

from netlint.core.source import read_bounded

CACHE_DIR: Final = ".netlint_cache"
_MAGIC: Final = b"netlint-cache\n"
_TOKEN_BYTES: Final = 8
_GITIGNORE: Final = b"# Created by netlint: the cache is not for version control.\n*\n"
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
#: The msgpack extension type of integers beyond 64 bits.
_BIG_INT: Final = 1

#: (st_ino, st_ctime_ns, st_mtime_ns, st_size) of a file netlint wrote.
Anchor = tuple[int, int, int, int]


class Refused(Exception):
    """The cache directory cannot be used safely; the message says why (for --verbose)."""


class Reject(Exception):
    """Data that this netlint did not write: the whole file is ignored."""


def anchor_of(st: os.stat_result) -> Anchor:
    return (st.st_ino, st.st_ctime_ns, st.st_mtime_ns, st.st_size)


# --- The format ------------------------------------------------------------------------------


def _default(value: object) -> object:
    """Integers beyond 64 bits (a YAML port may be any integer) as decimal text."""
    if type(value) is int:
        return msgpack.ExtType(_BIG_INT, str(value).encode())
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _ext(code: int, data: bytes) -> int:
    if code == _BIG_INT and 0 < len(data) <= 4300 and re.fullmatch(rb"-?[0-9]+", data):
        return int(data)
    raise Reject


def pack_body(body: object) -> bytes:
    """``body`` (tuples, lists, dicts, str, bytes, int, float, bool, None) as msgpack."""
    packed: bytes = msgpack.packb(body, default=_default, unicode_errors="surrogatepass")
    return packed


def unpack_body(blob: bytes | memoryview) -> Any:
    """What :func:`pack_body` wrote, arrays as tuples; raises on anything else."""
    return msgpack.unpackb(
        blob,
        use_list=False,
        raw=False,
        unicode_errors="surrogatepass",
        strict_map_key=True,
        ext_hook=_ext,
    )


def pack(version: int, kind: str, body: object) -> bytes:
    """A file of ``kind`` in format ``version``: the magic line, then the msgpack data."""
    return _MAGIC + pack_body((version, kind, body))


def unpack(version: int, kind: str, blob: bytes) -> Any:
    """The body of a file of ``kind`` in format ``version``; raises Reject (or another error:
    the caller rejects on any exception) when it is anything else."""
    if not blob.startswith(_MAGIC):
        raise Reject
    top = unpack_body(memoryview(blob)[len(_MAGIC) :])
    if type(top) is not tuple or len(top) != 3 or top[0] != version or top[1] != kind:
        raise Reject
    return top[2]


def tuple_of(v: object, size: int = -1) -> tuple[Any, ...]:
    """``v`` when it is a tuple (of ``size`` items, when given); else Reject."""
    if type(v) is tuple and (size < 0 or len(v) == size):
        return v
    raise Reject


# --- The directory and its files ------------------------------------------------------------


def _supported() -> bool:
    needed = {os.open, os.stat, os.unlink, os.mkdir, os.rename}  # os.replace goes with rename
    return bool(_O_NOFOLLOW and _O_DIRECTORY) and needed <= os.supports_dir_fd


@contextlib.contextmanager
def open_directory(
    root: Path, *, create: bool, identity: tuple[int, int] | None = None
) -> Iterator[tuple[int, tuple[int, int]] | None]:
    """A descriptor of ``root/.netlint_cache`` and its (st_dev, st_ino), or None when it does
    not exist (and ``create`` is false). Raises Refused for a symlink, a non-directory, a
    directory of another user or one writable by everyone, or one that is not ``identity``
    (swapped since it was first opened); OSError when the root cannot be opened."""
    if not _supported():
        raise Refused("cache disabled: this platform cannot open files without following links")
    # Named relative to the project root: the root's own path may hold any character, and
    # notes are printed as they are.
    shown = CACHE_DIR
    root_fd = os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(CACHE_DIR, dir_fd=root_fd)
        try:
            seen = os.stat(CACHE_DIR, dir_fd=root_fd, follow_symlinks=False)
        except FileNotFoundError:
            yield None
            return
        if stat_module.S_ISLNK(seen.st_mode):
            raise Refused(
                f"cache disabled: {shown} is a symbolic link (netlint does not follow it)"
            )
        if not stat_module.S_ISDIR(seen.st_mode):
            raise Refused(f"cache disabled: {shown} is not a directory")
        if hasattr(os, "geteuid") and seen.st_uid != os.geteuid():
            raise Refused(f"cache disabled: {shown} belongs to another user")
        if seen.st_mode & stat_module.S_IWOTH:
            raise Refused(f"cache disabled: {shown} is writable by every user")
        try:
            fd = os.open(
                CACHE_DIR, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=root_fd
            )
        except OSError as exc:
            raise Refused(f"cache disabled: cannot open {shown}: {exc.strerror}") from None
    finally:
        os.close(root_fd)
    try:
        opened = os.fstat(fd)
        found = (opened.st_dev, opened.st_ino)
        if found != (seen.st_dev, seen.st_ino) or (identity is not None and found != identity):
            raise Refused(f"cache disabled: {shown} was replaced while netlint used it")
        yield fd, found
    finally:
        os.close(fd)


def read(dir_fd: int, name: str, limit: int, anchor: Anchor | None = None) -> bytes | None:
    """A regular file of the cache directory, never through a link, when it belongs to this
    user (in a directory others may write to, theirs could name anchors of their own files), is
    at most ``limit`` bytes and (with ``anchor``) is still the very file netlint wrote. Names
    come partly from cache files (a head names its state): one that is not a plain file name of
    the directory (``/``, ``..``) is never opened, as ``O_NOFOLLOW`` guards the last part only.
    """
    if "/" in name or "\0" in name or name in (".", ".."):
        return None
    try:
        fd = os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat_module.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            return None
        if anchor is not None and anchor_of(st) != anchor:
            return None
        data = read_bounded(fd, st.st_size)  # one byte more tells a file that grew
        return data if len(data) == st.st_size else None
    except OSError:
        return None
    finally:
        os.close(fd)


def write_new(dir_fd: int, name: str, blob: bytes) -> Anchor:
    """Create ``name`` (which must not exist: no link or planted file is written through) with
    ``blob``; the stat it ends with. Raises OSError, leaving nothing behind."""
    fd = os.open(
        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600, dir_fd=dir_fd
    )
    try:
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        return anchor_of(os.stat(name, dir_fd=dir_fd, follow_symlinks=False))
    except BaseException:  # Ctrl-C or a full disk: never leave a partial file behind
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
        raise


def token() -> str:
    """A fresh random name part: new files never take a name anyone could plant in advance."""
    return secrets.token_hex(_TOKEN_BYTES)


def prepare(dir_fd: int) -> None:
    """The cache's own .gitignore, created only where nothing (not even a link) has the name."""
    with contextlib.suppress(FileExistsError):
        write_new(dir_fd, ".gitignore", _GITIGNORE)


def remove_if_older(dir_fd: int, name: str, age_ns: int, now: int, uid: int | None) -> None:
    """Delete ``name`` in ``dir_fd`` once modified more than ``age_ns`` before ``now``: only a
    regular file of this user (``uid``, None where there are none), never through a link."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return
    if not stat_module.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid):
        return
    if now - st.st_mtime_ns > age_ns:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
