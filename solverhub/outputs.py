"""Safe output paths: every file or folder a command writes goes through here.

An output is only ever written as a *regular file* (new, or an existing one
replaced atomically: a temporary file in the same folder, then ``os.replace``)
or into a *folder meant for it* (new, or an existing directory). Anything else
at the path is refused with one line naming the path and what is allowed,
before any work is done: a FIFO (writing would block), a character or block
device node (as root, replacing ``/dev/full`` would destroy the node), a
socket, a symlink to any of those, a dangling symlink, a directory where a
file is expected, a regular file where a folder is expected, and a path whose
parent is not a folder. An output never names an input of the same command
or another output of it. A symlink to a regular file (or to a folder) is
written through: the link stays and its target is replaced.

The checks run twice: once when the command starts (``check_output_file``,
``check_output_dir``, ``check_store``, ``check_distinct``), and again, cheaply,
right before the write (``atomic_write_text``, ``atomic_output``).
"""
from __future__ import annotations

__all__ = ["FILE_ALLOWED", "DIR_ALLOWED", "atomic_output", "atomic_write_text", "check_distinct",
           "check_output_dir", "check_output_file", "check_store", "kind_of"]

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from .errors import Location, OptionError

FILE_ALLOWED = "a new file name or an existing regular file (replaced atomically)"
DIR_ALLOWED = "a new folder name or an existing folder"
STORE_ALLOWED = "a new file name or an existing SQLite result store"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def kind_of(mode: int) -> str:
    """``st_mode`` in words: ``a regular file``, ``a FIFO (named pipe)``, ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symlink"
    return "a special file"


def _fail(path, flag: str, what: str, allowed: str) -> OptionError:
    return OptionError(f"{flag}: {what}", location=Location(str(path)), allowed=allowed)


def _text_path(path, flag: str) -> Path:
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not text.strip():
        raise OptionError(f"{flag}: an empty path", allowed=FILE_ALLOWED)
    if "\x00" in text:
        raise _fail(text.replace("\x00", "\\x00"), flag, "a path with a NUL byte", FILE_ALLOWED)
    return Path(text)


def _lstat(path: Path, flag: str, allowed: str):
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):   # a parent is missing or a file: _check_parent says which
        return None
    except OSError as err:   # ENAMETOOLONG, ENOTDIR (a parent is a file), EACCES, ELOOP
        raise _fail(path, flag, f"not a usable path ({err.strerror or err})", allowed) from None


def _target_mode(path: Path, flag: str, allowed: str) -> tuple[int | None, bool]:
    """(mode of what the path names, following symlinks, or None if nothing; is it a symlink)."""
    st = _lstat(path, flag, allowed)
    if st is None:
        return None, False
    if not stat.S_ISLNK(st.st_mode):
        return st.st_mode, False
    try:
        return os.stat(path).st_mode, True
    except FileNotFoundError:
        raise _fail(path, flag, "a symlink to nothing (dangling)", allowed) from None
    except OSError as err:
        raise _fail(path, flag, f"a symlink that cannot be followed ({err.strerror or err})", allowed) from None


def _check_parent(path: Path, flag: str, allowed: str) -> None:
    """The nearest existing ancestor must be a folder (missing ones are created at write time)."""
    parent = path.parent
    while True:
        try:
            st = os.stat(parent)
        except FileNotFoundError:
            if parent == parent.parent:
                return
            parent = parent.parent
            continue
        except OSError as err:
            raise _fail(path, flag, f"cannot write: its folder {parent} is not usable ({err.strerror or err})", allowed) from None
        if not stat.S_ISDIR(st.st_mode):
            raise _fail(path, flag, f"cannot write: its parent {parent} is {kind_of(st.st_mode)}, not a folder", allowed)
        return


def check_output_file(path, flag: str, *, allowed: str = FILE_ALLOWED) -> Path:
    """Refuse ``path`` as an output file unless it is new or (a symlink to) a regular file."""
    path = _text_path(path, flag)
    mode, is_link = _target_mode(path, flag, allowed)
    if mode is None:
        _check_parent(path, flag, allowed)
        return path
    if not stat.S_ISREG(mode):
        what = f"a symlink to {kind_of(mode)}" if is_link else kind_of(mode)
        raise _fail(path, flag, f"is {what}, not a regular file", allowed)
    return path


def check_output_dir(path, flag: str, *, files: Iterable[str] = (), allowed: str = DIR_ALLOWED) -> Path:
    """Refuse ``path`` as an output folder unless it is new or (a symlink to) a directory; the
    ``files`` the command will write inside it are checked with :func:`check_output_file`."""
    path = _text_path(path, flag)
    mode, is_link = _target_mode(path, flag, allowed)
    if mode is None:
        _check_parent(path, flag, allowed)
        return path
    if not stat.S_ISDIR(mode):
        what = f"a symlink to {kind_of(mode)}" if is_link else kind_of(mode)
        raise _fail(path, flag, f"is {what}, not a folder", allowed)
    for name in files:
        check_output_file(path / name, flag)
    return path


def check_store(path, flag: str = "--store", *, allowed: str = STORE_ALLOWED) -> Path:
    """A result store: new, or an existing SQLite file; its SQLite side files
    (``-wal``, ``-shm``, ``-journal``) must be regular files when present. A regular file
    that is not SQLite (a text file, a JSON export) is refused, never opened for writing."""
    path = check_output_file(path, flag, allowed=allowed)
    for suffix in _SQLITE_SIDECARS:
        side = Path(str(path) + suffix)
        mode, is_link = _target_mode(side, flag, allowed)
        if mode is not None and not stat.S_ISREG(mode):
            what = f"a symlink to {kind_of(mode)}" if is_link else kind_of(mode)
            raise _fail(path, flag, f"its SQLite side file {side.name} is {what}", allowed)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return path
    except OSError as err:
        raise _fail(path, flag, f"cannot be read ({err.strerror or err})", allowed) from None
    if size == 0:      # an empty file is an empty SQLite database
        return path
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as err:
        raise _fail(path, flag, f"cannot be read ({err.strerror or err})", allowed) from None
    if head != _SQLITE_MAGIC:
        raise _fail(path, flag, "is a regular file that is not a SQLite database (left untouched)", allowed)
    return path


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(os.path.realpath(a)) == os.path.abspath(os.path.realpath(b))


def check_distinct(outputs: Mapping[str, object], inputs: Iterable[object] = ()) -> None:
    """No output names an input, nor the same file as another output (``{flag: path}``; None skipped).
    A folder output (the HTML report) must not be an input or another output either."""
    given = [(flag, os.fspath(p)) for flag, p in outputs.items() if p is not None]
    ins = [os.fspath(p) for p in inputs]
    for i, (flag, path) in enumerate(given):
        for inp in ins:
            if _same(Path(path), Path(inp)):
                raise _fail(path, flag, f"is an input of this command ({inp})",
                            "an output path that is not one of the command's inputs")
        for other_flag, other in given[i + 1:]:
            if _same(Path(path), Path(other)):
                raise _fail(path, flag, f"is also the {other_flag} output",
                            "a different path for each output")


def _write_target(path: Path, flag: str) -> Path:
    """Re-check right before writing; a symlink to a regular file is written through."""
    path = check_output_file(path, flag)
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


@contextlib.contextmanager
def atomic_output(path, flag: str) -> Iterator[Path]:
    """``with atomic_output(path, "--out") as tmp: write(tmp)``: the data goes to a new
    temporary file (created exclusively, so never an existing FIFO or device) beside the
    target, which replaces ``path`` only once it is complete; on error it is removed and
    ``path`` is untouched. Missing parent folders are created."""
    target = _write_target(Path(path), flag)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise _fail(path, flag, f"cannot write ({err.strerror or err})", FILE_ALLOWED) from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        yield tmp
        os.chmod(tmp, mode)
        _write_target(Path(path), flag)    # the path may have changed while the work ran
        os.replace(tmp, target)
    except OSError as err:
        raise _fail(path, flag, f"cannot write ({err.strerror or err})", FILE_ALLOWED) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def atomic_write_text(path, text: str, flag: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_output`); return ``path``."""
    with atomic_output(path, flag) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)
