"""Fetch every object under a prefix from moto and compare it with the source tree (du's filters).

usage: check_moto.py --root DIR --prefix P --bucket B   (endpoint and keys from DU_MOTO_URL/_AK/_SK)
"""
import argparse
import hashlib
import os
import sys

import boto3

sys.path.insert(0, os.path.dirname(__file__))
from check_upload import media_files  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--bucket", required=True)
    a = ap.parse_args()
    s3 = boto3.client("s3", endpoint_url=os.environ["DU_MOTO_URL"], region_name="us-east-1",
                      aws_access_key_id=os.environ["DU_MOTO_AK"],
                      aws_secret_access_key=os.environ["DU_MOTO_SK"])
    n = 0
    for rel, path in media_files(a.root):
        key = f"{a.prefix}/{rel}"
        body = s3.get_object(Bucket=a.bucket, Key=key)["Body"].read()
        with open(path, "rb") as f:
            if hashlib.md5(f.read()).digest() != hashlib.md5(body).digest():
                sys.exit(f"object differs from the file: {key!r}")
        n += 1
    print(f"ok {n} files")


if __name__ == "__main__":
    main()
