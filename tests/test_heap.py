"""The engine's heap setting (``engine.heap``): inside it a large block freed and taken again is
not faulted in afresh; after it, glibc maps blocks above 32 MiB again and reuses smaller ones."""

import ctypes
import resource

import pytest

from engine import heap

pytestmark = pytest.mark.skipif(heap._LIBC is None, reason="the heap setting applies to glibc only")

BLOCK, SMALLER = 48 * 2**20, 16 * 2**20  # bytes: above and below glibc's largest mmap threshold


def _filled_and_freed(size: int) -> None:
    libc = heap._LIBC
    libc.malloc.restype = ctypes.c_void_p
    block = libc.malloc(ctypes.c_size_t(size))
    ctypes.memset(block, 1, size)
    libc.free(ctypes.c_void_p(block))


def _faults_of_reuse(size: int = BLOCK) -> int:
    """Minor page faults of filling a fresh block, after one of the same size was filled and freed."""
    _filled_and_freed(size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    _filled_and_freed(size)
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


def test_after_it_a_block_below_32_mib_is_still_reused():
    """Setting glibc's limits stops its threshold adapting; the limits left after are those it
    adapts to, not its starting 128 KiB, under which every such block was faulted in afresh."""
    with heap.kept():
        pass
    assert _faults_of_reuse(SMALLER) < 0.05 * SMALLER // resource.getpagesize()
