#!/usr/bin/env python3
"""A deliberately misbehaving S3 endpoint for tests/e2e/90-bad-input.bats.

Answers just enough of S3 (HEAD bucket, ListObjectsV2, PUT object, multipart create / part /
complete / abort, HEAD object) to get du-upload going, then breaks the one answer the mode names.
Honest answers keep objects in memory. Each request is appended to --log as "METHOD PATH?QUERY",
and each object really stored as "STORED BUCKET/KEY", so a test can check that every row du
marks uploaded names an object that exists.

    bad_s3.py --port-file F --log L --mode MODE [--tls-cert C --tls-key K]

Modes (--mode by-bucket: each request takes the mode named by its bucket):
  ok                     behave (a control)
  head-403               HEAD bucket: 403 AccessDenied
  list-garbage           ListObjectsV2: 200 with bytes that are not XML
  list-truncated-body    ListObjectsV2: Content-Length promises more than is sent, connection closed
  list-cut-xml           ListObjectsV2: 200 with well-formed-so-far XML that stops mid-document
  list-truncated-no-token  IsTruncated true without NextContinuationToken
  list-error-200         ListObjectsV2: 200 with an <Error> document
  list-wrong-root        ListObjectsV2: 200 with another answer's root element
  put-wrong-etag         PUT object: 200 with an ETag that is not the body's MD5
  put-no-etag            PUT object: 200 without an ETag
  put-500                PUT object: 500 InternalError, always
  put-garbage-error      PUT object: 400 with a body that is not XML
  put-truncated          PUT object: 200 whose announced body never arrives (connection closed)
  part-wrong-etag        UploadPart: wrong ETag
  initiate-no-id         CreateMultipartUpload: 200 without an UploadId
  initiate-garbage       CreateMultipartUpload: 200 with garbage
  complete-200-error     CompleteMultipartUpload: 200 with an <Error> body (S3 really does this)
  complete-garbage       CompleteMultipartUpload: 200 with garbage
  complete-no-etag       CompleteMultipartUpload: 200 with a result lacking the ETag
  put-slow               PUT object: honest, but each takes 0.3 s (for files that vanish or change)
  list-no-size           ListObjectsV2: entries without <Size> (tests/e2e/25-sync.bats)
  list-etag-not-hex      ListObjectsV2: ETags that are not hex, LastModified in 2024 (25-sync.bats)
"""
import argparse
import hashlib
import http.server
import os
import re
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

MODE = "ok"
LOG = None
LOCK = threading.Lock()
OBJECTS = {}   # (bucket, key) -> bytes
UPLOADS = {}   # upload id -> {part number: bytes}

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def mode_for(bucket):
    """--mode by-bucket: the bucket's name is the mode (one server for many cases)."""
    return bucket if MODE == "by-bucket" else MODE


def error_xml(code, msg):
    return (XML_HEAD + "<Error><Code>%s</Code><Message>%s</Message><RequestId>bad-s3</RequestId></Error>"
            % (code, msg)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def note(self):
        if LOG:
            with LOCK, open(LOG, "a") as f:
                f.write("%s %s\n" % (self.command, self.path))

    def stored(self, bucket, key, data):
        with LOCK:
            OBJECTS[(bucket, key)] = data
            if LOG:
                with open(LOG, "a") as f:
                    f.write("STORED %s/%s\n" % (bucket, key))

    def split(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        return bucket, key, {k: v[0] for k, v in q.items()}

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, data=b"", headers=None, length=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.command != "HEAD" or length is not None:
            self.send_header("Content-Length", str(len(data) if length is None else length))
        else:
            self.send_header("Content-Length", "0")
        self.send_header("x-amz-request-id", "bad-s3")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def cut(self, status, data, promised):
        """Announce promised bytes, send data, close the connection."""
        self.send(status, data, {"Content-Type": "application/xml"}, length=promised)
        self.close_connection = True

    def do_HEAD(self):
        self.note()
        bucket, key, _ = self.split()
        mode = mode_for(bucket)
        if not key:
            if mode == "head-403":
                return self.send(403)
            return self.send(200)
        obj = OBJECTS.get((bucket, key))
        if obj is None:
            return self.send(404)
        return self.send(200, headers={"ETag": '"%s"' % hashlib.md5(obj).hexdigest()}, length=len(obj))

    def do_GET(self):
        self.note()
        bucket, key, q = self.split()
        mode = mode_for(bucket)
        if key or q.get("list-type") != "2":
            return self.send(404, error_xml("NoSuchKey", "no"), {"Content-Type": "application/xml"})
        prefix = q.get("prefix", "")
        ct = {"Content-Type": "application/xml"}
        if mode == "list-garbage":
            return self.send(200, b"\x00\xffthis is not <xml at all", ct)
        if mode == "list-truncated-body":
            return self.cut(200, (XML_HEAD + "<ListBucketResult><Name>").encode(), 4096)
        if mode == "list-cut-xml":
            return self.send(200, (XML_HEAD + "<ListBucketResult><Name>b</Name><Contents><Key>"
                                   + prefix + "x.wav</Key>").encode(), ct)
        if mode == "list-truncated-no-token":
            return self.send(200, (XML_HEAD + "<ListBucketResult><Name>%s</Name><IsTruncated>true"
                                   "</IsTruncated></ListBucketResult>" % bucket).encode(), ct)
        if mode == "list-error-200":
            return self.send(200, error_xml("InternalError", "We encountered an internal error"), ct)
        if mode == "list-wrong-root":
            return self.send(200, (XML_HEAD + "<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>").encode(), ct)
        with LOCK:
            keys = sorted(k for (b, k) in OBJECTS if b == bucket and k.startswith(prefix))
            items = "".join("<Contents><Key>%s</Key><Size>%d</Size><ETag>&quot;%s&quot;</ETag>"
                            "<LastModified>2024-01-01T00:00:00.000Z</LastModified></Contents>"
                            % (urllib.parse.quote(k), len(OBJECTS[(bucket, k)]),
                               hashlib.md5(OBJECTS[(bucket, k)]).hexdigest()) for k in keys)
        if mode == "list-no-size":
            items = re.sub(r"<Size>[0-9]+</Size>", "", items)
        if mode == "list-etag-not-hex":
            items = re.sub(r"&quot;[0-9a-f]{32}&quot;", "&quot;" + "zz" * 16 + "&quot;", items)
        enc = "<EncodingType>url</EncodingType>" if q.get("encoding-type") == "url" else ""
        if not enc:
            items = items.replace("%2F", "/")
        xml = (XML_HEAD + "<ListBucketResult><Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount>"
               "<IsTruncated>false</IsTruncated>%s%s</ListBucketResult>" % (bucket, prefix, len(keys), enc, items))
        return self.send(200, xml.encode(), ct)

    def do_PUT(self):
        self.note()
        bucket, key, q = self.split()
        mode = mode_for(bucket)
        data = self.body()
        md5 = hashlib.md5(data).hexdigest()
        if "partNumber" in q:
            if mode == "part-wrong-etag":
                return self.send(200, headers={"ETag": '"%s"' % ("0" * 32)})
            with LOCK:
                UPLOADS.setdefault(q.get("uploadId"), {})[int(q["partNumber"])] = data
            return self.send(200, headers={"ETag": '"%s"' % md5})
        if mode == "put-wrong-etag":
            return self.send(200, headers={"ETag": '"%s"' % hashlib.md5(data + b"x").hexdigest()})
        if mode == "put-no-etag":
            return self.send(200)
        if mode == "put-500":
            return self.send(500, error_xml("InternalError", "We encountered an internal error"),
                             {"Content-Type": "application/xml"})
        if mode == "put-garbage-error":
            return self.send(400, b"<<<garbage", {"Content-Type": "application/xml"})
        if mode == "put-truncated":
            return self.cut(200, b"", 100)
        if mode == "put-slow":
            time.sleep(0.3)
        self.stored(bucket, key, data)
        return self.send(200, headers={"ETag": '"%s"' % md5})

    def do_POST(self):
        self.note()
        bucket, key, q = self.split()
        mode = mode_for(bucket)
        data = self.body()
        ct = {"Content-Type": "application/xml"}
        if "uploads" in q:
            if mode == "initiate-no-id":
                return self.send(200, (XML_HEAD + "<InitiateMultipartUploadResult><Bucket>%s</Bucket>"
                                       "<Key>k</Key></InitiateMultipartUploadResult>" % bucket).encode(), ct)
            if mode == "initiate-garbage":
                return self.send(200, b"{\"json\": \"not xml\"}", ct)
            uid = uuid.uuid4().hex
            with LOCK:
                UPLOADS[uid] = {}
            return self.send(200, (XML_HEAD + "<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key>"
                                   "<UploadId>%s</UploadId></InitiateMultipartUploadResult>"
                                   % (bucket, key, uid)).encode(), ct)
        if "uploadId" in q:
            if mode == "complete-200-error":
                return self.send(200, error_xml("InternalError", "We encountered an internal error. Please try again."), ct)
            if mode == "complete-garbage":
                return self.send(200, b"\x89PNG garbage", ct)
            with LOCK:
                parts = UPLOADS.pop(q["uploadId"], None)
            if parts is None:
                return self.send(404, error_xml("NoSuchUpload", "no such upload"), ct)
            if mode == "complete-no-etag":
                return self.send(200, (XML_HEAD + "<CompleteMultipartUploadResult><Bucket>%s</Bucket>"
                                       "</CompleteMultipartUploadResult>" % bucket).encode(), ct)
            whole = b"".join(parts[n] for n in sorted(parts))
            digest = hashlib.md5(b"".join(hashlib.md5(parts[n]).digest() for n in sorted(parts))).hexdigest()
            self.stored(bucket, key, whole)
            return self.send(200, (XML_HEAD + "<CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key>"
                                   "<ETag>&quot;%s-%d&quot;</ETag></CompleteMultipartUploadResult>"
                                   % (bucket, key, digest, len(parts))).encode(), ct)
        return self.send(400, error_xml("InvalidRequest", "unsupported"), ct)

    def do_DELETE(self):
        self.note()
        bucket, key, q = self.split()
        with LOCK:
            UPLOADS.pop(q.get("uploadId"), None)
        return self.send(204)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global MODE, LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    a = ap.parse_args()
    MODE, LOG = a.mode, a.log
    srv = Server(("127.0.0.1", 0), Handler)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
