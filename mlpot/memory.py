"""Keep large tensor buffers in the heap, so they are reused between calls.

glibc's ``malloc`` serves allocations above its mmap threshold (128 KiB at
first, growing dynamically up to 32 MiB) with fresh ``mmap`` calls and gives
them back with ``munmap`` on free; every force call on a few hundred atoms
then page-faults its multi-MiB edge tensors into memory again, which was
about half the time of a periodic 64-water box. :func:`reuse_large_allocations`
raises the mmap threshold to its maximum and the trim threshold with it, so
freed blocks stay in the heap and the next call reuses them.
"""

import ctypes
import ctypes.util

# mallopt parameters from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc caps M_MMAP_THRESHOLD at HEAP_MAX_SIZE / 2 = 32 MiB on 64-bit systems.
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 512 * 1024 * 1024

_done = False


def reuse_large_allocations() -> bool:
    """Raise glibc's mmap and trim thresholds once per process.

    Sets ``M_MMAP_THRESHOLD`` to 32 MiB and ``M_TRIM_THRESHOLD`` to 512 MiB
    with ``mallopt``, so allocations up to 32 MiB come from the heap and up
    to 512 MiB of freed memory stays there for reuse. Safe to call any number
    of times (only the first call does anything); a silent no-op where glibc
    is not the C library (macOS, Windows, musl).

    Returns
    -------
    bool
        Whether the thresholds are set (now or by an earlier call).
    """
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    return _done
