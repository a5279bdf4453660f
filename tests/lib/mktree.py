"""Make a sensor tree for du's tests: nested folders, media and non-media files, nasty names.

usage: mktree.py DIR --files N [--big BYTES] [--seed S]
Writes DIR/… and prints nothing. Names include spaces, unicode, + % # ? & = ' ~ and a newline.
"""
import argparse
import os
import random

NASTY = ["a b", "ü-ñ-日本", "plus+sign", "pct%41", "hash#1", "q?mark", "amp&and", "eq=val",
         "quote'1", "tilde~", "semi;colon", "new\nline", "star*", "brackets[1]", "(paren)", "dollar$x"]
EXTS = ["wav", "WAV", "jpg", "JPG", "jpeg", "mp4", "mov", "avi"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--big", type=int, default=0, help="size of one extra big .mp4 file")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    for i in range(a.files):
        sensor = f"sensor-{i % 7:02d}"
        day = f"2024-05-{1 + (i // 7) % 28:02d}"
        d = os.path.join(a.dir, sensor, day)
        os.makedirs(d, exist_ok=True)
        stem = f"rec_{i:05d}"
        if i % 25 == 0:
            stem = f"{NASTY[(i // 25) % len(NASTY)]}_{i}"
        ext = EXTS[i % len(EXTS)]
        size = rnd.randint(0, 6000) if i % 50 else 0
        with open(os.path.join(d, f"{stem}.{ext}"), "wb") as f:
            f.write(rnd.randbytes(size))
    # Things that must be ignored.
    os.makedirs(os.path.join(a.dir, "sensor-00", ".Trash"), exist_ok=True)
    for name in ["sensor-00/notes.txt", "sensor-00/._rec_00000.wav", "sensor-00/.hidden.wav",
                 "sensor-00/.Trash/old.wav", "sensor-01/readme.md", "sensor-01/data.csv"]:
        with open(os.path.join(a.dir, name), "wb") as f:
            f.write(b"ignored")
    if a.big:
        d = os.path.join(a.dir, "sensor-video")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "long clip.mp4"), "wb") as f:
            left = a.big
            while left:
                n = min(left, 1 << 20)
                f.write(rnd.randbytes(n))
                left -= n


if __name__ == "__main__":
    main()
