"""Make a sensor tree for du's tests: nested folders, media and non-media files, nasty names.

usage: mktree.py DIR --files N [--big BYTES] [--seed S] [--layout card|small] [--sensor]
Writes DIR/… and prints nothing. The tests' one tree generator:
  card   (default) N recordings over 7 sensors and 28 days, names with spaces, unicode,
         + % # ? & = ' ~ and a newline, some empty, files to ignore, and an optional big .mp4;
         with --sensor, its non-empty .wav are AudioMoth recordings (sensorfiles.py): one device a
         sensor folder, recorded at noon UTC on one of the last 28 days (so dashboards see them);
  small  a small card (helpers.bash mk_tree): N .wav in sensor-a/2024-05-01, N/2+1 .JPG in
         sensor-b/cam, one .mp4 in sensor-c, and three files to ignore (notes.txt, ._*, .hidden).
"""
import argparse
import datetime as dt
import os
import random

import sensorfiles

NASTY = ["a b", "ü-ñ-日本", "plus+sign", "pct%41", "hash#1", "q?mark", "amp&and", "eq=val",
         "quote'1", "tilde~", "semi;colon", "new\nline", "star*", "brackets[1]", "(paren)", "dollar$x"]
EXTS = ["wav", "WAV", "jpg", "JPG", "jpeg", "mp4", "mov", "avi"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--big", type=int, default=0, help="size of one extra big .mp4 file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--layout", choices=["card", "small"], default="card")
    ap.add_argument("--sensor", action="store_true", help="card: the .wav are AudioMoth recordings")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    if a.layout == "small":
        small(a.dir, a.files, rnd)
        return
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
        body = rnd.randbytes(size)
        if a.sensor and ext.lower() == "wav" and size:
            when = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=27 - (i // 7) % 28)
            body = sensorfiles.audiomoth_bytes("12:00:00 " + when.strftime("%d/%m/%Y"), "UTC",
                                               "24F31905%08X" % (i % 7), body[:size // 2 * 2])
        with open(os.path.join(d, f"{stem}.{ext}"), "wb") as f:
            f.write(body)
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


def small(top, n, rnd):
    def put(rel, size):
        path = os.path.join(top, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(rnd.randbytes(size))
    for i in range(1, n + 1):
        put(f"sensor-a/2024-05-01/rec_{i}.wav", i * 97 + 13)
    for i in range(1, n // 2 + 2):
        put(f"sensor-b/cam/IMG_{i}.JPG", i * 211)
    put("sensor-c/clip.mp4", 5000)
    with open(os.path.join(top, "sensor-a/notes.txt"), "w") as f:
        f.write("notes\n")
    put("sensor-a/._rec_1.wav", 100)
    put("sensor-b/.hidden.jpg", 100)


if __name__ == "__main__":
    main()
