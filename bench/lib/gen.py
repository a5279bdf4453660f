#!/usr/bin/python3
"""Benchmark datasets (cached: a tree whose DIR.done marker matches is not made again).

    gen.py small DIR N [SIZE]    N files of SIZE (4096) random bytes in nested sensor folders:
                                 DIR/sensor-SS/YYYY-MM-DD/HH/rec_NNNNNNN.wav, 50 files per folder
    gen.py big FILE BYTES        one file of random bytes
"""
import os
import shutil
import sys


def small(root, n, size):
    done = root.rstrip("/") + ".done"  # beside the tree: other clients upload everything in it
    want = f"{n} {size}\n"
    if os.path.exists(done) and open(done).read() == want:
        return
    if os.path.exists(root):
        shutil.rmtree(root)
    per_dir, hours, days = 50, 24, 28
    for i in range(n):
        d = i // per_dir
        sensor, rest = divmod(d, hours * days)
        day, hour = divmod(rest, hours)
        path = os.path.join(root, f"sensor-{sensor:02d}", f"2024-02-{day + 1:02d}", f"{hour:02d}")
        if i % per_dir == 0:
            os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, f"rec_{i:07d}.wav"), "wb") as f:
            f.write(os.urandom(size))
    with open(done, "w") as f:
        f.write(want)


def big(path, nbytes):
    if os.path.exists(path) and os.path.getsize(path) == nbytes:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        left = nbytes
        while left:
            k = min(left, 1 << 24)
            f.write(os.urandom(k))
            left -= k
    os.rename(tmp, path)


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "small":
        small(a[1], int(a[2]), int(a[3]) if len(a) > 3 else 4096)
    elif len(a) == 3 and a[0] == "big":
        big(a[1], int(a[2]))
    else:
        sys.exit(__doc__)
