#!/usr/bin/env python3
"""Generate S3 SigV4 test vectors with botocore, for tests/unit/test_sigv4.c.

Each output line is one JSON object describing a random S3 request as du's signer takes it
(raw unencoded path, raw query "a=1&b", the exact headers botocore signed) together with what
botocore's S3SigV4Auth made of it: canonical request, string to sign, signature, Authorization.

Nothing is committed: the vectors are produced at test time from a fixed seed, with botocore's
clock patched (botocore.auth.datetime, and get_current_datetime where botocore has it) so that timestamps are reproducible.

How the request reaches botocore matters, because S3SigV4Auth does not normalise or re-quote
the path: it signs the URL path exactly as given. botocore's REST serializer puts an S3 key into
the URL with percent_encode(key, safe='/~'), so that is how the URL is built here; the C side
receives the raw key and must arrive at the same bytes. The query goes in either as
request.params (botocore encodes and sorts it) or already encoded in the URL (as botocore's
serializer does for real requests; the signer then only splits and sorts), half of each.

usage: gen_sigv4_vectors.py [--count N] [--seed S]
"""
import argparse
import contextlib
import copy
import datetime
import hashlib
import json
import random
import sys
import types
from unittest import mock

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.compat import HTTPHeaders
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode
except ImportError as e:  # the C test reports this line and fails
    sys.stderr.write(f"gen_sigv4_vectors: botocore is not importable: {e}\n")
    sys.exit(3)

KEY_CHARS = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list("-._~")
    + list(" +=&%?#~'!*()$@:,;[]{}^`|\\\"<>")
    + ["é", "ü", "ß", "日本", "😀", "\u00a0", "Ω", "ç"]
)
PARAM_NAMES = [
    "uploads", "uploadId", "partNumber", "prefix", "delimiter", "max-keys", "list-type",
    "continuation-token", "start-after", "versionId", "x-id", "encoding-type", "tagging",
    "acl", "delete", "lifecycle",
]
# '&' separates pairs and '=' ends a name in du's raw query form, so names avoid both and
# values avoid '&'; everything else, including '=' in values, is fair game.
PARAM_CHARS = [c for c in KEY_CHARS if c not in ("&",)] + ["/", "=", "%20", "+"]
HEADER_NAMES = [
    "Content-Type", "Content-MD5", "Cache-Control", "Content-Disposition", "Content-Encoding",
    "Range", "If-Match", "If-None-Match", "x-amz-acl", "x-amz-storage-class",
    "x-amz-tagging", "x-amz-copy-source", "x-amz-server-side-encryption", "X-Amz-Meta-Owner",
    "user-agent", "expect", "x-amzn-trace-id",  # on botocore's never-sign list
]
VALUE_WORDS = ["text/plain", "bytes=0-9", "\"etag\"", "no-cache", "max-age=60", "a", "b",
               "REDUCED_REDUNDANCY", "AES256", "k=v&x=y", "1,2", "private", "x;y"]
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2", "us-west-2", "auto", "garage"]
METHODS = ["GET", "PUT", "HEAD", "DELETE", "POST"]


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        # A few credentials reused across vectors, so the C side's key cache gets hits too.
        self.creds = [(self.ak(), self.secret()) for _ in range(4)]

    def ak(self):
        return "AKIA" + "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))

    def secret(self):
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
        return "".join(self.rng.choice(alphabet) for _ in range(40))

    def word(self, chars, lo, hi):
        return "".join(self.rng.choice(chars) for _ in range(self.rng.randint(lo, hi)))

    def key(self):
        segs = []
        for _ in range(self.rng.randint(1, 4)):
            r = self.rng.random()
            if r < 0.05:
                segs.append(self.rng.choice([".", "..", ""]))  # S3 keeps them all
            else:
                segs.append(self.word(KEY_CHARS, 1, 12))
        return "/".join(segs)

    def query(self):
        params = []
        for _ in range(self.rng.choice([0, 0, 1, 1, 2, 3, 5])):
            r = self.rng.random()
            name = self.rng.choice(PARAM_NAMES) if r < 0.6 else self.word(
                [c for c in PARAM_CHARS if c not in ("=",)], 1, 8)
            r = self.rng.random()
            if r < 0.2:
                value = None          # "?uploads"
            elif r < 0.3:
                value = ""            # "?uploads="
            else:
                value = self.word(PARAM_CHARS, 1, 10)
            params.append((name, value))
            if self.rng.random() < 0.15:  # repeated name, different value
                params.append((name, self.word(PARAM_CHARS, 0, 6)))
        return params

    def header_value(self):
        words = [self.rng.choice(VALUE_WORDS + [self.word(KEY_CHARS[:62], 1, 6)])
                 for _ in range(self.rng.randint(1, 3))]
        blank = lambda: self.rng.choice([" ", "  ", "\t", " \t  ", ""])  # noqa: E731
        v = blank()
        for i, w in enumerate(words):
            v += w + (blank() or " " if i + 1 < len(words) else "")
        return v + blank()

    def headers(self):
        hs = HTTPHeaders()
        for _ in range(self.rng.randint(0, 4)):
            hs[self.rng.choice(HEADER_NAMES)] = self.header_value()
        if self.rng.random() < 0.2:
            name = "x-amz-meta-" + self.word("abcdefghij-", 1, 6)
            hs[name] = self.header_value()
            hs[name.upper()] = self.header_value()  # same header twice: joined with ','
        if self.rng.random() < 0.05:
            hs["Date"] = "Fri, 24 May 2013 00:00:00 GMT"  # botocore then signs Date, not X-Amz-Date
        return hs

    def when(self):
        start = datetime.datetime(2013, 1, 1)
        return start + datetime.timedelta(seconds=self.rng.randrange(18 * 365 * 86400))

    def vector(self):
        rng = self.rng
        ak, sk = rng.choice(self.creds) if rng.random() < 0.5 else (self.ak(), self.secret())
        token = None
        if rng.random() < 0.4:
            token = self.word("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=", 20, 80)
        region = rng.choice(REGIONS)
        method = rng.choice(METHODS)
        style = rng.choice(["virtual", "path", "local"])
        bucket = "bucket-" + self.word("abcdefghijklmnopqrstuvwxyz0123456789", 3, 10)
        key = self.key() if rng.random() < 0.9 else ""
        if style == "virtual":
            base, raw_path = f"https://{bucket}.s3.{region}.amazonaws.com", "/" + key
        elif style == "path":
            base, raw_path = f"https://s3.{region}.amazonaws.com", f"/{bucket}/{key}" if key else f"/{bucket}"
        else:
            base, raw_path = f"http://127.0.0.1:{rng.choice([4569, 9000, 5000])}", f"/{bucket}/{key}"
        params = self.query()
        body = b""
        if method in ("PUT", "POST") and rng.random() < 0.8:
            body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        unsigned = rng.random() < 0.4

        url = base + percent_encode(raw_path, safe="/~")
        as_params = rng.random() < 0.5
        if params and not as_params:
            url += "?" + "&".join(percent_encode(n) + ("" if v is None else "=" + percent_encode(v))
                                  for n, v in params)
        req = AWSRequest(method=method, url=url, headers=self.headers(), data=body,
                         params=[(n, "" if v is None else v) for n, v in params] if as_params else None)
        if unsigned:
            req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        else:
            req.context["client_config"] = Config(s3={"payload_signing_enabled": True})
        auth = botocore.auth.S3SigV4Auth(Credentials(ak, sk, token), "s3", region)
        check = copy.deepcopy(req)

        now = self.when()
        clock = type("FixedClock", (datetime.datetime,), {"utcnow": classmethod(lambda cls: now)})
        with contextlib.ExitStack() as patches:
            patches.enter_context(mock.patch.object(botocore.auth, "datetime",
                                                    types.SimpleNamespace(datetime=clock)))
            if hasattr(botocore.auth, "get_current_datetime"):  # botocore >= 1.3x reads the clock here
                patches.enter_context(mock.patch.object(botocore.auth, "get_current_datetime",
                                                        lambda *a, **k: now))
            # add_auth's own steps, kept apart so the Authorization header it adds is not signed
            req.context["timestamp"] = now.strftime(botocore.auth.SIGV4_TIMESTAMP)
            auth._modify_request_before_signing(req)
            creq = auth.canonical_request(req)
            sts = auth.string_to_sign(req, creq)
            sig = auth.signature(sts, req)
            signed = auth.headers_to_sign(req)
            auth._inject_signature_to_request(req, sig)
            authorization = req.headers["Authorization"]
            auth.add_auth(check)  # the ordinary path must agree, or this script is wrong
        if check.headers["Authorization"] != authorization:
            raise SystemExit("gen_sigv4_vectors: manual signing differs from add_auth")

        # Feed the C signer exactly what botocore signed, in a shuffled order with random case
        # (canonicalisation must sort and lower-case), keeping duplicates in their order.
        hdrs = list(signed.items())
        rank = {n: rng.random() for n, _ in hdrs}
        hdrs.sort(key=lambda nv: rank[nv[0]])
        hdrs = [("".join(c.upper() if rng.random() < 0.3 else c for c in n), v) for n, v in hdrs]
        raw_query = "&".join(n if v is None else f"{n}={v}" for n, v in params)
        payload = signed.get("x-amz-content-sha256")
        assert payload == (botocore.auth.UNSIGNED_PAYLOAD if unsigned else hashlib.sha256(body).hexdigest())
        return {
            "method": method, "path": raw_path, "query": raw_query, "headers": hdrs,
            "payload_hash": payload, "access_key": ak, "secret_key": sk, "region": region,
            "service": "s3", "amz_date": req.context["timestamp"], "token": token,
            "query_via": "params" if as_params else "url",
            "canonical_request": creq, "string_to_sign": sts, "signature": sig,
            "authorization": authorization,
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20130524)
    a = ap.parse_args()
    g = Generator(a.seed)
    out = sys.stdout
    for _ in range(a.count):
        out.write(json.dumps(g.vector(), ensure_ascii=False) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
