#!/usr/bin/python3
"""A tiny IMDSv2 look-alike for test_creds: 127.0.0.1, free port printed on stdout.

PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds and returns a token; every GET
needs X-aws-ec2-metadata-token with that token, else 401 (as EC2 does with IMDSv2 required).

  --fail-first-token   answer the first token PUT with 503 (exercises the client's retry)
  --no-role            answer the role listing with 404 (an instance without an IAM role)
  --log FILE           append one line per request: METHOD PATH STATUS
"""
import argparse
import datetime
import http.server
import json
import sys
import threading

TOKEN = "imds-test-token-0123456789"
ROLE = "du-test-role"
AK = "ASIAIMDSTESTKEY00001"
SK = "imdsSecretKey/ThisMustNeverBePrinted+0123"
SESSION = "imdsSessionToken-ThisMustNeverBePrinted"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fail-first-token", action="store_true")
    ap.add_argument("--no-role", action="store_true")
    ap.add_argument("--log")
    args = ap.parse_args()
    state = {"token_puts": 0}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            pass

        def answer(self, status, body=b"", ctype="text/plain"):
            if args.log:
                with lock, open(args.log, "a") as f:
                    f.write(f"{self.command} {self.path} {status}\n")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self):
            if self.path != "/latest/api/token":
                return self.answer(404)
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.answer(400)
            with lock:
                state["token_puts"] += 1
                first = state["token_puts"] == 1
            if args.fail_first_token and first:
                return self.answer(503)
            self.answer(200, TOKEN.encode())

        def do_GET(self):
            if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                return self.answer(401)
            base = "/latest/meta-data/iam/security-credentials/"
            if self.path == base:
                if args.no_role:
                    return self.answer(404)
                return self.answer(200, (ROLE + "\n").encode())
            if self.path == base + ROLE:
                exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=6)
                doc = {
                    "Code": "Success",
                    "LastUpdated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "Type": "AWS-HMAC",
                    "AccessKeyId": AK,
                    "SecretAccessKey": SK,
                    "Token": SESSION,
                    "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                return self.answer(200, json.dumps(doc).encode(), "application/json")
            self.answer(404)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    sys.stdout.close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
