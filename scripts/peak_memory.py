"""Peak resident memory of this process, for the benchmarks and the resource tests.

Read from ``VmHWM`` in ``/proc/self/status``, the high-water mark of this process's own
address space. ``getrusage``'s ``ru_maxrss`` is not: Linux carries it across ``exec``, so a
child started by a large process (a test runner of 2 GB) reports the parent's peak as its own.
"""


def peak_mib() -> float:
    """The process's peak resident set so far, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("/proc/self/status has no VmHWM line")
