"""The C heap around the engine's heavy calls: freed blocks kept for the next step, then returned.

glibc serves a large block (above 128 KiB, adapting up to 32 MiB) by a fresh ``mmap`` and
unmaps it on free, so every training step faulted in and zero-filled its tapes again: on
10,000 points that was a third of a step (2.7 s against 1.9 s, one thread); from 42 points
to 500 the step was 10-25 % slower and twice as uneven. Inside :func:`kept`, blocks come from
the heap and stay there between steps; after it, glibc maps large blocks again and the free
memory is given back (``malloc_trim``). A thread other than the main one (the add-on's jobs)
allocates from its own arena of 64 MiB heaps, so there blocks above 64 MiB are still mapped
afresh. Elsewhere than glibc (macOS, Windows) it does nothing. Like the thread count
(:mod:`.threads`), the setting is global to the process, so the engine keeps it to its own calls.
"""

from __future__ import annotations

import contextlib
import ctypes

__all__ = ["kept"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_KEPT = {_M_TRIM_THRESHOLD: 2**31 - 1, _M_MMAP_MAX: 0}  # trim the top only past 2 GiB, never mmap
# after: glibc's own limits once its adaptive threshold has grown (setting any of these stops it
# adapting for good, and its starting 128 KiB made a 19 MB elementwise product 3.3x slower)
_AFTER = {_M_MMAP_THRESHOLD: 32 * 2**20, _M_TRIM_THRESHOLD: 64 * 2**20, _M_MMAP_MAX: 65536}


def _glibc():
    """The process's glibc, or None where malloc is another library's."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version, libc.mallopt, libc.malloc_trim  # noqa: B018 (glibc has all three)
    except (OSError, AttributeError, TypeError):
        return None
    return libc


_LIBC = _glibc()
_depth = 0  # nested calls restore only at the outermost


def _set(settings: dict[int, int]) -> None:
    for option, value in settings.items():
        _LIBC.mallopt(ctypes.c_int(option), ctypes.c_int(value))


@contextlib.contextmanager
def kept():
    """Inside the block freed memory stays in the heap for reuse; after it, large blocks are mapped
    again (above 32 MiB) and the free memory is returned."""
    global _depth
    if _LIBC is None:
        yield
        return
    if _depth == 0:
        _set(_KEPT)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            _set(_AFTER)
            _LIBC.malloc_trim(ctypes.c_size_t(0))
