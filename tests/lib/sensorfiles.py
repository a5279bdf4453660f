#!/usr/bin/python3
"""Recordings as field recorders write them, built byte by byte, for du's tests.

    sensorfiles.py audiomoth FILE --when "10:30:00 01/05/2021" --zone "UTC+1" --device 24F319055FDF2F5B
                   [--seconds S] [--rate HZ] [--old]      AudioMoth WAV: fmt, LIST/INFO (ICMT, IART), data
    sensorfiles.py guano FILE --timestamp 2019-06-01T22:15:00-05:00 --serial S4U12345
                   [--make M] [--model M] [--seconds S] [--rate HZ]
                                                          bat recorder WAV: fmt, data, then a guan chunk
    sensorfiles.py exif FILE --when "2024:05:01 03:00:00" [--offset +02:00] --make M --model M
                   --serial SN [--pad BYTES]              camera trap JPEG: APP1 Exif (IFD0, Exif IFD)

The audio is silence of the length asked (16-bit); sizes in the headers are true unless a test
lies on purpose afterwards. Used by tests/e2e (45-rgw, 80-dashboard through mktree.py --sensor).
"""
import argparse
import struct


def chunk(cid, body):
    pad = b"\0" if len(body) % 2 else b""
    return cid + struct.pack("<I", len(body)) + body + pad


def fmt_chunk(rate, channels=1, bits=16):
    align = channels * bits // 8
    return chunk(b"fmt ", struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits))


def riff(chunks):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def audiomoth_comment(when, zone, device, old=False):
    if old:
        return ("Recorded at %s (%s) by AudioMoth %s at gain setting 2 while battery state was 4.5V."
                % (when, zone, device))
    return ("Recorded at %s (%s) by AudioMoth %s at medium gain while battery was 4.2V and temperature "
            "was 21.6C." % (when, zone, device))


def audiomoth_bytes(when, zone, device, data, rate=48000, old=False):
    info = b"INFO" + chunk(b"ICMT", audiomoth_comment(when, zone, device, old).encode() + b"\0") \
        + chunk(b"IART", ("AudioMoth " + device).encode() + b"\0")
    return riff([fmt_chunk(rate), chunk(b"LIST", info), chunk(b"data", data)])


def audiomoth(path, when, zone, device, seconds=1.0, rate=48000, old=False):
    with open(path, "wb") as f:
        f.write(audiomoth_bytes(when, zone, device, bytes(int(seconds * rate) * 2), rate, old))


def guano(path, timestamp, serial, make="Wildlife Acoustics", model="SM4BAT-FS", seconds=1.0, rate=256000):
    text = "GUANO|Version: 1.0\nTimestamp: %s\nMake: %s\nModel: %s\nSerial: %s\nLoc Position: 41.1 -73.2\n" \
        "WA|Song Meter|Prefix: BAT01\n" % (timestamp, make, model, serial)
    data = bytes(int(seconds * rate) * 2)
    with open(path, "wb") as f:
        f.write(riff([fmt_chunk(rate), chunk(b"data", data), chunk(b"guan", text.encode())]))


def ifd(entries, base, next_ifd=0):
    """entries: (tag, type, count, payload bytes). base: the IFD's offset in the TIFF data.
    Returns the IFD bytes followed by the values that do not fit in 4 bytes."""
    entries = sorted(entries)
    head = struct.pack("<H", len(entries))
    extra = b""
    data_at = base + 2 + 12 * len(entries) + 4
    for tag, typ, count, payload in entries:
        if len(payload) <= 4:
            head += struct.pack("<HHI", tag, typ, count) + payload.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, typ, count, data_at + len(extra))
            extra += payload + (b"\0" if len(payload) % 2 else b"")
    return head + struct.pack("<I", next_ifd) + extra


def ascii_entry(tag, s):
    b = s.encode() + b"\0"
    return (tag, 2, len(b), b)


def exif(path, when, make, model, serial, offset=None, pad=0):
    exif_entries = [ascii_entry(0x9003, when), ascii_entry(0xA431, serial)]
    if offset:
        exif_entries.append(ascii_entry(0x9011, offset))
    ifd0_entries = [ascii_entry(0x010F, make), ascii_entry(0x0110, model)]
    # IFD0 at 8 with the Exif IFD pointer; its size does not depend on the pointer's value.
    probe = ifd(ifd0_entries + [(0x8769, 4, 1, struct.pack("<I", 0))], 8)
    exif_at = 8 + len(probe)
    ifd0 = ifd(ifd0_entries + [(0x8769, 4, 1, struct.pack("<I", exif_at))], 8)
    tiff = b"II*\0" + struct.pack("<I", 8) + ifd0 + ifd(exif_entries, exif_at)
    app1 = b"Exif\0\0" + tiff
    jpeg = b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    # A tiny quantisation table and scan stand in for the picture; the end of image closes it.
    jpeg += b"\xff\xdb" + struct.pack(">H", 67) + b"\0" + bytes(range(1, 65))
    jpeg += b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00" + bytes(pad) + b"\xff\xd9"
    with open(path, "wb") as f:
        f.write(jpeg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["audiomoth", "guano", "exif"])
    ap.add_argument("file")
    ap.add_argument("--when")
    ap.add_argument("--zone", default="UTC")
    ap.add_argument("--device")
    ap.add_argument("--old", action="store_true")
    ap.add_argument("--timestamp")
    ap.add_argument("--serial")
    ap.add_argument("--make")
    ap.add_argument("--model")
    ap.add_argument("--offset")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rate", type=int)
    ap.add_argument("--pad", type=int, default=0)
    a = ap.parse_args()
    if a.kind == "audiomoth":
        audiomoth(a.file, a.when, a.zone, a.device, a.seconds, a.rate or 48000, a.old)
    elif a.kind == "guano":
        guano(a.file, a.timestamp, a.serial, a.make or "Wildlife Acoustics", a.model or "SM4BAT-FS", a.seconds,
              a.rate or 256000)
    else:
        exif(a.file, a.when, a.make, a.model, a.serial, a.offset, a.pad)


if __name__ == "__main__":
    main()
