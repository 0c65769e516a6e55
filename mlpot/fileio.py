"""Safe files: atomic writes (temporary file, then rename) and exclusive locks."""

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Remove ``.NAME.PID.tmp`` files of ``path`` left by killed writers."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        pid = leftover.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            leftover.unlink(missing_ok=True)


@contextmanager
def atomic_path(path):
    """Yield a temporary path; on success it replaces ``path`` in one rename.

    If the block raises, the temporary file is removed and ``path`` is left
    as it was, so readers never see a half-written file. Temporary files of
    the same target left by writers that were killed are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class LockHeldError(RuntimeError):
    """Another live process holds the lock."""


@contextmanager
def exclusive_lock(path, what: str):
    """Hold an exclusive lock on ``path`` (created if missing) for the block.

    The lock is an ``fcntl.flock`` on the file, which the operating system
    releases when the holder exits, however it exits; the file records the
    holder's process id so that a refusal can name it. A lock file left by a
    process that is no longer running is taken over.

    Parameters
    ----------
    path : str or Path
        The lock file.
    what : str
        What the lock protects, for the error message (e.g. ``"the run in 'runs/a'"``).

    Yields
    ------
    str or None
        A note naming the dead process whose lock was taken over, or None.

    Raises
    ------
    LockHeldError
        A live process holds the lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise LockHeldError(
                f"{what} is in use by another process (pid {holder}, lock file "
                f"'{path}'); wait for it to finish, or stop it first"
            ) from None
        handle.seek(0)
        previous = handle.read().strip()
        note = None
        if previous.isdigit() and int(previous) != os.getpid():
            note = (
                f"took over the lock '{path}' left by process {previous}, "
                "which is no longer running"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield note
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
