"""The engine's heap setting (``engine.heap``): inside it a large block freed and taken again is
not faulted in afresh; after it, glibc maps large blocks again."""

import ctypes
import resource

import pytest

from engine import heap

pytestmark = pytest.mark.skipif(heap._LIBC is None, reason="the heap setting applies to glibc only")

BLOCK = 48 * 2**20  # bytes: well above glibc's mmap threshold (adaptive, 32 MiB at most)


def _filled_and_freed() -> None:
    libc = heap._LIBC
    libc.malloc.restype = ctypes.c_void_p
    block = libc.malloc(ctypes.c_size_t(BLOCK))
    ctypes.memset(block, 1, BLOCK)
    libc.free(ctypes.c_void_p(block))


def _faults_of_reuse() -> int:
    """Minor page faults of filling a fresh block, after one of the same size was filled and freed."""
    _filled_and_freed()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    _filled_and_freed()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_a_freed_block_is_reused_inside_and_mapped_afresh_after():
    pages = BLOCK // resource.getpagesize()
    with heap.kept():
        inside = _faults_of_reuse()
        with heap.kept():  # nested calls keep the setting
            nested = _faults_of_reuse()
    after = _faults_of_reuse()
    assert inside < 0.05 * pages and nested < 0.05 * pages
    assert after > 0.5 * pages
