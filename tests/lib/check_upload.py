"""Check an upload against the source tree, the database and s3rver's files.

usage: check_upload.py --root DIR --prefix P --bucket B --s3data DIR --session N [--expect-uploaded K]
Asserts: every media file under root (du's default filters) has a row in the session (or in an
earlier one when --any-session) with status 'uploaded' and the file's md5, and s3rver holds the
same bytes under prefix/relpath. Prints "ok N files" or exits 1 with the first discrepancy.
"""
import argparse
import csv
import hashlib
import io
import os
import subprocess
import sys

MEDIA = {"wav", "jpg", "jpeg", "mp4", "mov", "avi"}


def media_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for n in filenames:
            if n.startswith("."):
                continue
            ext = n.rsplit(".", 1)[-1].lower() if "." in n else ""
            if ext in MEDIA:
                p = os.path.join(dirpath, n)
                yield os.path.relpath(p, root), p


def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def rows(where):
    out = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", "-c",
                          f"COPY (SELECT s3_key, status, md5, file_size, checksum_algorithm, checksum_value, checksum_type"
                          f" FROM file_uploads WHERE {where} "
                          "ORDER BY uploaded_at NULLS FIRST, id) "
                          "TO STDOUT WITH (FORMAT csv)"], check=True, capture_output=True).stdout
    # With several rows for a key (--any-session), the latest upload is the one that counts.
    return {r[0]: r for r in csv.reader(io.StringIO(out.decode()))}


def composite(path, value):
    """md5 of the parts' md5s + "-N", parts of du's size (DU_MULTIPART_CHUNK_SIZE, 16 MiB by default)."""
    n = int(value.rsplit("-", 1)[1])
    env = os.environ.get("DU_MULTIPART_CHUNK_SIZE", "16MiB")
    ps = int(env[:-3]) << 20 if env.endswith("MiB") else int(env)
    cat = b""
    with open(path, "rb") as f:
        while chunk := f.read(ps):
            cat += hashlib.md5(chunk).digest()
    return f"{hashlib.md5(cat).hexdigest()}-{n}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--s3data", required=True)
    ap.add_argument("--session", required=True)
    ap.add_argument("--any-session", action="store_true")
    a = ap.parse_args()
    where = "status = 'uploaded'" if a.any_session else f"session_id = {int(a.session)}"
    db = rows(where)
    n = 0
    for rel, path in media_files(a.root):
        key = f"{a.prefix}/{rel}"
        r = db.get(key)
        if r is None:
            sys.exit(f"no row for {key!r}")
        if r[1] != "uploaded":
            sys.exit(f"row for {key!r} is {r[1]!r}")
        m = md5(path)
        if r[2] == "" and r[4] == "md5" and r[6] == "COMPOSITE":
            # multipart in md5 mode: S3's composite ETag, md5 of the parts' md5s + "-N"
            if r[5] != composite(path, r[5]):
                sys.exit(f"row composite {r[5]!r} != file's {composite(path, r[5])!r} for {key!r}")
        elif r[2] != m:
            sys.exit(f"row md5 {r[2]!r} != file md5 {m!r} for {key!r}")
        obj = os.path.join(a.s3data, a.bucket, key + "._S3rver_object")
        if not os.path.exists(obj):
            sys.exit(f"object missing in s3rver: {key!r}")
        if md5(obj) != m:
            sys.exit(f"object bytes differ from the file: {key!r}")
        n += 1
    print(f"ok {n} files")


if __name__ == "__main__":
    main()
