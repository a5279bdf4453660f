"""moto S3 on 127.0.0.1 with SigV4 verification on, for du's strict tests.

Creates the buckets and an IAM user with an allow-all policy while checks are off, writes the
user's access key and secret (two lines) to --keys, then turns checks on and serves until killed.
moto re-computes signatures over werkzeug's re-quoted path, which breaks keys holding '+' and
similar; we make it use the raw request target instead (SERVERS.md).
"""
import argparse
import json
import signal
import sys
import time

import boto3
from moto import settings
from moto.server import ThreadedMotoServer


def patch_raw_uri():
    # moto's signature check reads request.path/url; give it the raw target the client signed.
    from moto.core import responses
    from urllib.parse import urlsplit

    orig = responses.BaseResponse.setup_class

    def setup_class(self, request, full_url, headers, use_raw_body=False):
        env = getattr(request, "environ", None)
        raw = env.get("RAW_URI") or env.get("REQUEST_URI") if env else None
        if raw:
            parts = urlsplit(full_url)
            full_url = f"{parts.scheme}://{parts.netloc}{raw}"
        return orig(self, request, full_url, headers, use_raw_body)

    responses.BaseResponse.setup_class = setup_class


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--buckets", default="du-test")
    ap.add_argument("--keys", required=True)
    ap.add_argument("--region", default="us-east-1")
    a = ap.parse_args()

    patch_raw_uri()
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 10**9
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=a.port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{a.port}"
    kw = dict(endpoint_url=url, region_name=a.region,
              aws_access_key_id="setup", aws_secret_access_key="setup")
    iam = boto3.client("iam", **kw)
    iam.create_user(UserName="du")
    iam.put_user_policy(UserName="du", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="du")["AccessKey"]
    s3 = boto3.client("s3", **kw)
    for b in a.buckets.split():
        s3.create_bucket(Bucket=b)
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    with open(a.keys + ".tmp", "w") as f:
        f.write(key["AccessKeyId"] + "\n" + key["SecretAccessKey"] + "\n")
    import os
    os.rename(a.keys + ".tmp", a.keys)
    signal.signal(signal.SIGTERM, lambda *_: (server.stop(), sys.exit(0)))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
