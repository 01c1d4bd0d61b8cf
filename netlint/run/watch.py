"""What changed in a project's folders since the last look, from the kernel (Linux inotify),
for the daemon (netlint.run.resident): with it, a run reads the files that changed without a
stat of every file.

Trusted only where the kernel sees every change: a local file system (a network or FUSE
mount may change under it without an event), every folder watched (none over the user's
limit), the event queue never overflowed. Anything else, and every change this cannot place
exactly (a folder made or removed, a file that is not one of the project's manifests, git's
index), makes the caller look at the whole project again, as a run of its own does. Events are
queued by the kernel before the write that causes them returns, so a change made before a
run is asked for is always read at its start.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import struct
import sys
from collections.abc import Iterable
from typing import Final

_IN_MODIFY: Final = 0x2
_IN_ATTRIB: Final = 0x4
_IN_CLOSE_WRITE: Final = 0x8
_IN_MOVED_FROM: Final = 0x40
_IN_MOVED_TO: Final = 0x80
_IN_CREATE: Final = 0x100
_IN_DELETE: Final = 0x200
_IN_DELETE_SELF: Final = 0x400
_IN_MOVE_SELF: Final = 0x800
_IN_Q_OVERFLOW: Final = 0x4000
_IN_IGNORED: Final = 0x8000
_IN_ISDIR: Final = 0x40000000
_IN_ONLYDIR: Final = 0x01000000
_IN_DONT_FOLLOW: Final = 0x02000000
_IN_EXCL_UNLINK: Final = 0x04000000
_MASK: Final = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
    | _IN_DONT_FOLLOW
    | _IN_EXCL_UNLINK
)
#: Events that say the folder itself is gone or that events were lost.
_LOST: Final = _IN_Q_OVERFLOW | _IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF
_HEADER: Final = struct.Struct("iIII")
#: File systems on which every change is made by this kernel (so it sees every one).
_LOCAL: Final = frozenset(
    (
        "ext2",
        "ext3",
        "ext4",
        "xfs",
        "btrfs",
        "tmpfs",
        "overlay",
        "zfs",
        "f2fs",
        "jfs",
        "reiserfs",
        "bcachefs",
        "nilfs2",
        "ramfs",
    )
)
#: More folders than this and the project is looked at whole each run instead.
MAX_FOLDERS: Final = 50_000


class Changes:
    """What the events since the last ``take`` say: the files changed (absolute paths), and
    whether something happened that only a look at the whole project can place."""

    __slots__ = ("files", "unplaced")

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.unplaced = False


class Watch:
    """The folders of one project, watched. ``None`` from ``open`` where it cannot be."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._folders: dict[int, str] = {}
        self._watched: set[str] = set()
        self.broken = False
        self.added_last = False

    @classmethod
    def open(cls, top: str) -> Watch | None:
        if not sys.platform.startswith("linux") or _file_system(top) not in _LOCAL:
            return None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return None
        if fd < 0:
            return None
        watch = cls(fd)
        watch._libc = libc
        return watch

    _libc: ctypes.CDLL

    def add(self, folders: Iterable[str]) -> bool:
        """Watch these folders too (absolute, real paths); False when one cannot be (the
        watch is then broken: the caller looks at everything each run). ``added_last`` says
        whether any was not watched yet."""
        self.added_last = False
        for folder in folders:
            if folder in self._watched:
                continue
            if len(self._watched) >= MAX_FOLDERS:
                self.broken = True
                return False
            wd = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), ctypes.c_uint32(_MASK))
            if wd < 0:
                # Not there (a folder a build looked for that does not exist, or one gone):
                # its parent's watch sees it made.
                if ctypes.get_errno() in (errno.ENOENT, errno.ENOTDIR):
                    continue
                self.broken = True
                return False
            self.added_last = True
            # A folder moved before its event was taken keeps its watch (inotify follows the
            # inode): the same descriptor comes back, under the new path.
            moved = self._folders.get(wd)
            if moved is not None:
                self._watched.discard(moved)
            self._folders[wd] = folder
            self._watched.add(folder)
        return True

    def take(self) -> Changes:
        """The changes since the last call (nothing blocks: the queue is read as it is)."""
        changes = Changes()
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                self.broken = True
                break
            if not data:
                break
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, _, length = _HEADER.unpack_from(data, offset)
                raw = data[offset + _HEADER.size : offset + _HEADER.size + length]
                offset += _HEADER.size + length
                if mask & _LOST:
                    changes.unplaced = True
                    if mask & (_IN_IGNORED | _IN_MOVE_SELF | _IN_DELETE_SELF):
                        # Its path no longer names what is watched: forgotten, so that the
                        # next look watches whatever is there now (a folder moved away would
                        # otherwise go on being watched under its old path).
                        folder = self._folders.pop(wd, None)
                        if folder is not None:
                            self._watched.discard(folder)
                            if not mask & _IN_IGNORED:
                                self._libc.inotify_rm_watch(self._fd, wd)
                    continue
                folder = self._folders.get(wd)
                name = raw.split(b"\0", 1)[0]
                if folder is None or not name or mask & _IN_ISDIR:
                    changes.unplaced = True
                    continue
                changes.files.add(f"{folder}/{os.fsdecode(name)}")
        if self.broken:
            changes.unplaced = True
        return changes

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _file_system(path: str) -> str | None:
    """The type of the file system ``path`` lies on (the longest mount point above it)."""
    best, kind = -1, None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields = line.split(" - ", 1)
                head = fields[0].split()
                if len(fields) != 2 or len(head) < 5:
                    continue
                point = head[4].replace("\\040", " ")
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) > best:
                    best, kind = len(point), fields[1].split()[0]
    except OSError:
        return None
    return kind
