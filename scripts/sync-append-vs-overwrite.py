#!/usr/bin/env python3
"""What an intent's sync costs on this disk: a line appended to a file and
synced (`fdatasync`), against the same line written over zeros the file
already holds (written and synced beforehand), as the spool does since it
pads itself (crates/store-sqlite/src/spool.rs). Prints the mean of each.

    scripts/sync-append-vs-overwrite.py [DIR] [CALLS] [ROUNDS]

DIR (default: target/tmp) must be on the disk the data dir lives on."""
import os
import sys
import time

directory = sys.argv[1] if len(sys.argv) > 1 else "target/tmp"
calls = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
line = b"x" * 220 + b"\n"  # about an intent's spool line
os.makedirs(directory, exist_ok=True)
path = os.path.join(directory, "sync-probe")


def mean_sync_us(padded: bool) -> float:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if padded:
            os.write(fd, b"\0" * (calls * len(line)))
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        start = time.perf_counter()
        for _ in range(calls):
            os.write(fd, line)
            os.fdatasync(fd)
        return (time.perf_counter() - start) / calls * 1e6
    finally:
        os.close(fd)
        os.unlink(path)


for r in range(rounds):
    print(f"round {r + 1}: append {mean_sync_us(False):.1f} us, over zeros {mean_sync_us(True):.1f} us")
