"""Memory that executors hold, as the host sees it, polled while a test runs.

Usage: cgroup_held.py SECONDS PID...   prints the largest sum seen, in MiB.

An executor's memory is its private heap (Pss_Anon of /proc/PID/smaps_rollup:
pages shared copy-on-write with the zygote count in proportion) plus what its
tmpfs mounts hold (/work, /tmp, /dev/shm, read through /proc/PID/root, as
root). This does not ask the cgroup: it is what the cgroup must bound, so a
test that uses it fails when the executor is not in its group.
"""
import os
import sys
import time


def held(pid):
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss_Anon:"):
                    total += int(line.split()[1]) * 1024
        for mount in ("work", "tmp", "dev/shm"):
            st = os.statvfs(f"/proc/{pid}/root/{mount}")
            total += (st.f_blocks - st.f_bfree) * st.f_frsize
    except OSError:
        return 0                # gone (killed): it holds nothing any more
    return total


def main():
    seconds = float(sys.argv[1])
    pids = sys.argv[2:]
    peak = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        peak = max(peak, sum(held(p) for p in pids))
        time.sleep(0.05)
    print(peak >> 20)


main()
