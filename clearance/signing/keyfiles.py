"""Reading files of the signing key directory only when nobody but the service's user could have put them there.

A private key, the ``current`` marker and the directory holding them must be
owned by the user the process runs as, with no group or other access. Files
are opened with ``O_NOFOLLOW`` (a symlink is refused, never followed) and
checked on the open descriptor, so a file swapped between the check and the
read is still the file checked.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

# Far above a PEM-encoded Ed25519 key (~120 bytes); a larger file is not a key.
MAX_KEY_FILE_BYTES = 16 * 1024


class UnsafeKeyFile(Exception):
    """A key file (or key directory) that others could have written or can read."""


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """What changes when a file is replaced or rewritten."""

    device: int
    inode: int
    size: int
    modified_ns: int
    changed_ns: int

    @classmethod
    def of(cls, status: os.stat_result) -> FileIdentity:
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def exposure(status: os.stat_result, *, directory: bool = False) -> str | None:
    """Why a file (or directory) with ``status`` is not the service user's alone; None when it is."""
    kind_ok = stat.S_ISDIR(status.st_mode) if directory else stat.S_ISREG(status.st_mode)
    if not kind_ok:
        return "not a directory" if directory else "not a regular file"
    if status.st_uid != os.geteuid():
        return f"owned by uid {status.st_uid}, not the service's user (uid {os.geteuid()})"
    if status.st_mode & 0o077:
        return f"readable by others or writable by them (mode {stat.S_IMODE(status.st_mode):04o})"
    return None


def check_directory(path: Path) -> None:
    """Refuse a key directory that is a symlink, not the service user's, or open to group or others."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(status.st_mode):
        raise UnsafeKeyFile(f"{path} is a symlink; give the key directory's real path")
    problem = exposure(status, directory=True)
    if problem:
        raise UnsafeKeyFile(f"key directory {path}: {problem}; run: chmod 700 {path}")


def read_private(path: Path) -> tuple[bytes, FileIdentity]:
    """The bytes of a key-directory file, read through a descriptor that is checked before reading."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafeKeyFile(f"{path.name} is a symlink; key files are never followed") from None
        raise UnsafeKeyFile(f"{path.name}: {exc.strerror or exc}") from None
    try:
        status = os.fstat(fd)
        problem = exposure(status)
        if problem:
            raise UnsafeKeyFile(f"{path.name}: {problem}")
        if status.st_size > MAX_KEY_FILE_BYTES:
            raise UnsafeKeyFile(f"{path.name}: {status.st_size} bytes is not a key")
        with os.fdopen(os.dup(fd), "rb") as handle:
            content = handle.read(MAX_KEY_FILE_BYTES + 1)
        return content, FileIdentity.of(status)
    finally:
        os.close(fd)


def identity(path: Path) -> FileIdentity | None:
    """The identity of a file (not following a symlink), or None when it is gone."""
    try:
        return FileIdentity.of(os.lstat(path))
    except OSError:
        return None
