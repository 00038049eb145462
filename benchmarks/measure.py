"""What every measured child process runs to report its own peak memory.

``getrusage(RUSAGE_SELF).ru_maxrss`` would not do: a child started by vfork + exec, as ``subprocess``
starts it, inherits its parent's peak there (a child of an 800 MB parent reports 810 MB while its
own peak is 8 MB). ``VmHWM`` belongs to the child's own address space.
"""

PEAK = """
def peak_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def reset_peak():
    # Linux: the peak starts again from what the process holds now (clear_refs, value 5).
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
"""
