#!/usr/bin/python3
"""A webhook receiver for du's tests: records every request and answers as told.

    receiver.py --port-file P --log L [--pid-file F] [--fail-first N] [--status-always CODE]
                [--sleep-first N --sleep SECONDS] [--retry-after SECONDS]

Listens on 127.0.0.1 on a free port, written to P once it accepts connections. Every request is
appended to L as one JSON line: {"n", "method", "path", "headers" (names lower-cased), "body",
"body_b64" (the exact bytes),
"chunked", "status"} - written before the answer, so a request the client gave up on is there too.

Answers, for the n-th request (1-based): with --status-always CODE, CODE; else sleep SECONDS first
when n <= sleep-first (the client should time out); then 500 when n <= fail-first; else 200.
Chunked request bodies are decoded.
"""
import argparse
import base64
import http.server
import json
import os
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pid-file")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--status-always", type=int, default=0)
    ap.add_argument("--sleep-first", type=int, default=0)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--retry-after", type=int, default=0)
    args = ap.parse_args()

    lock = threading.Lock()
    count = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet: the log file is the record
            pass

        def read_body(self):
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                out = bytearray()
                while True:
                    line = self.rfile.readline()
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return bytes(out), True
                    out += self.rfile.read(size)
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length", "0") or 0)
            return self.rfile.read(n), False

        def answer(self, status, obj, extra=()):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body, chunked = self.read_body()
            with lock:
                count[0] += 1
                n = count[0]
            if args.status_always:
                status = args.status_always
            elif n <= args.fail_first:
                status = 500
            else:
                status = 200
            rec = {
                "n": n,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "body_b64": base64.b64encode(body).decode(),
                "chunked": chunked,
                "status": status,
                "slept": n <= args.sleep_first,
            }
            with lock:
                with open(args.log, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            try:
                if n <= args.sleep_first:
                    time.sleep(args.sleep)
                extra = [("Retry-After", str(args.retry_after))] if args.retry_after and status != 200 else []
                self.answer(status, {"ok": status < 300, "n": n}, extra)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_PUT = do_POST

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
