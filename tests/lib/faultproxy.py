#!/usr/bin/python3
"""A fault-injecting HTTP proxy between du and an S3 server, for du's tests (stdlib only).

    faultproxy.py --upstream http://127.0.0.1:PORT --port-file P [--pid-file F] [--log L]
                  [--seed N] [--set 'ratio=0.2&kinds=500,503,reset']

Listens on 127.0.0.1 (a free port, written to P once it accepts connections) and forwards every
request to the upstream server byte for byte: the request line, the headers (Host included) and
the body are sent exactly as received, so SigV4 signatures stay valid. One thread per client
connection; each keeps its own keep-alive connection to the upstream server.

Faults, decided per request (control requests excepted) from one random generator seeded with
--seed, in the order requests arrive:
  500       answer 500 InternalError (S3 XML body) without forwarding
  503       answer 503 SlowDown (S3 XML body) without forwarding
  reset     read half of the request body (or just the head), then close with RST (SO_LINGER 0)
  stall     sleep `stall` seconds, then forward normally
  slow      read the request body at `rate` bytes/s (Content-Length bodies), then forward: the client
            is held mid-body, its socket full
  truncate  forward; send back the answer with half of its body (or half of its head when the
            body is empty), then close: the request DID reach the server
  corrupt   forward with one byte of the request body flipped (bodies sent with Content-Length):
            what a checksum the server or the client checks must catch
A request is faulted with probability `ratio` (when it matches `methods` and the `match` regex);
the kind is drawn from `kinds` ("500,503:2,reset" = weights 1, 2, 1). `next=reset,500` forces
the kinds of the next matching requests, before any ratio draw.

Control, on the same port (answers are JSON):
  GET /__fault/set?ratio=R&kinds=K&stall=S&rate=B&methods=PUT,POST&match=REGEX&next=K1,K2&seed=N
                        replace the fault configuration (missing keys take their defaults;
                        seed re-seeds the generator)
  GET /__fault/clear    no faults
  GET /__fault/stats    counters (see below)
  GET /__fault/zero     zero the counters
Counters: requests by method; faults by kind; upstream statuses; per key: object PUTs
(put_object) and UploadPart (upload_part: in all, by part number in "parts", and by upload id and
part number in "uploads"), each as
"received" (every attempt that reached the proxy), "ok" (the upstream server answered 2xx, so the
bytes are stored) and "bytes" (body bytes received); CreateMultipartUpload (mpu_create) and
CompleteMultipartUpload (mpu_complete, the upload ids completed); arrivals per second of uptime
(per_second) and "t", the uptime now, to measure request rates; "inflight", requests open now;
"max_inflight", the most open at once.
"""
import argparse
import json
import os
import random
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

KINDS = ("500", "503", "reset", "stall", "truncate", "corrupt", "slow")
ERRORS = {
    "500": (500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
}
IDLE_TIMEOUT = 300


class Closed(Exception):
    """The peer closed the connection (or sent garbage)."""


class Reader:
    """Buffered reads from a socket: up to a delimiter, or an exact count."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _more(self):
        b = self.sock.recv(1 << 16)
        if not b:
            raise Closed()
        self.buf += b

    def until(self, delim, limit=1 << 20):
        while True:
            i = self.buf.find(delim)
            if i >= 0:
                out = bytes(self.buf[:i + len(delim)])
                del self.buf[:i + len(delim)]
                return out
            if len(self.buf) > limit:
                raise Closed()
            self._more()

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def rest(self):
        """Everything until the peer closes."""
        try:
            while True:
                self._more()
        except Closed:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


def parse_head(head):
    """(first line, {lower-case name: value}) of a raw HTTP head."""
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return lines[0], hdrs


def read_body(rd, hdrs, limit=None):
    """The raw body bytes (chunk framing kept) and the payload size. limit: stop after that many."""
    if "chunked" in hdrs.get("transfer-encoding", "").lower():
        raw = bytearray()
        size = 0
        while True:
            line = rd.until(b"\r\n")
            raw += line
            n = int(line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while True:  # trailers, then the empty line
                    t = rd.until(b"\r\n")
                    raw += t
                    if t == b"\r\n":
                        return bytes(raw), size
            raw += rd.exact(n + 2)
            size += n
    n = int(hdrs.get("content-length", "0") or 0)
    if limit is not None:
        n = min(n, limit)
    return rd.exact(n), n


def s3_error_body(code, message, rid):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            "<RequestId>%s</RequestId><HostId>faultproxy</HostId></Error>" % (code, message, rid)).encode()


class FaultConfig:
    def __init__(self, q=""):
        p = urllib.parse.parse_qs(q, keep_blank_values=True)
        g = lambda k, d: p[k][-1] if k in p else d
        self.ratio = float(g("ratio", "0"))
        self.stall = float(g("stall", "2"))
        self.rate = float(g("rate", str(20 * 1024 * 1024)))
        self.methods = [m.strip().upper() for m in g("methods", "").split(",") if m.strip()]
        self.match = g("match", "")
        self.match_re = re.compile(self.match) if self.match else None
        self.kinds, self.weights = [], []
        for item in g("kinds", "500").split(","):
            item = item.strip()
            if not item:
                continue
            k, _, w = item.partition(":")
            if k not in KINDS:
                raise ValueError("unknown fault kind %r" % k)
            self.kinds.append(k)
            self.weights.append(float(w or 1))
        self.next = [k.strip() for k in g("next", "").split(",") if k.strip()]
        for k in self.next:
            if k not in KINDS:
                raise ValueError("unknown fault kind %r" % k)
        self.seed = int(p["seed"][-1]) if "seed" in p else None

    def as_json(self):
        return {"ratio": self.ratio, "kinds": dict(zip(self.kinds, self.weights)), "stall": self.stall,
                "methods": self.methods, "match": self.match, "next": list(self.next)}


class State:
    def __init__(self, seed, initial):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.cfg = FaultConfig(initial)
        if self.cfg.seed is not None:
            self.rng.seed(self.cfg.seed)
        self.t0 = time.monotonic()
        self.rid = 0
        self.zero()

    def zero(self):
        self.s = {"requests": 0, "control": 0, "by_method": {}, "faults": {}, "status": {},
                  "put_object": {}, "upload_part": {}, "mpu_create": {}, "mpu_complete": {},
                  "mpu_abort": {}, "per_second": [], "inflight": 0, "max_inflight": 0}

    def decide(self, method, target):
        """The fault for this request, or None; counts its arrival. Under the lock."""
        with self.lock:
            s = self.s
            s["requests"] += 1
            s["inflight"] += 1
            s["max_inflight"] = max(s["max_inflight"], s["inflight"])
            s["by_method"][method] = s["by_method"].get(method, 0) + 1
            sec = int(time.monotonic() - self.t0)
            ps = s["per_second"]
            while len(ps) <= sec:
                ps.append(0)
            ps[sec] += 1
            self.rid += 1
            c = self.cfg
            if c.methods and method not in c.methods:
                return None
            if c.match_re and not c.match_re.search(target):
                return None
            kind = None
            if c.next:
                kind = c.next.pop(0)
            elif c.ratio > 0 and c.kinds and self.rng.random() < c.ratio:
                kind = self.rng.choices(c.kinds, c.weights)[0]
            if kind:
                s["faults"][kind] = s["faults"].get(kind, 0) + 1
            return kind

    def count(self, op, key, part, upload_id, nbytes, status):
        """Count one request after its fate is known (status None: no upstream answer)."""
        ok = status is not None and 200 <= status < 300
        with self.lock:
            s = self.s
            s["inflight"] -= 1
            if status is not None:
                s["status"][str(status)] = s["status"].get(str(status), 0) + 1
            if op in ("put_object", "upload_part"):
                e = s[op].setdefault(key, {"received": 0, "ok": 0, "bytes": 0})
                e["received"] += 1
                e["ok"] += ok
                e["bytes"] += nbytes
                if op == "upload_part":
                    ue = e.setdefault("uploads", {}).setdefault(upload_id, {})
                    for pe in (e.setdefault("parts", {}).setdefault(str(part), {"received": 0, "ok": 0}),
                               ue.setdefault(str(part), {"received": 0, "ok": 0})):
                        pe["received"] += 1
                        pe["ok"] += ok
            elif op == "mpu_create" and ok:
                s[op][key] = s[op].get(key, 0) + 1
            elif op in ("mpu_complete", "mpu_abort") and ok:
                s[op].setdefault(key, []).append(upload_id)

    def snapshot(self):
        with self.lock:
            d = json.loads(json.dumps(self.s))
            d["t"] = time.monotonic() - self.t0
            d["config"] = self.cfg.as_json()
            return d


def classify(method, target):
    """(operation, key, part number, upload id) of an S3 request in path style."""
    path, _, query = target.partition("?")
    q = urllib.parse.parse_qs(query, keep_blank_values=True)
    segs = path.split("/", 2)
    key = urllib.parse.unquote(segs[2]) if len(segs) > 2 else ""
    uid = q.get("uploadId", [""])[-1]
    if method == "PUT" and key:
        if "partNumber" in q and uid:
            return "upload_part", key, int(q["partNumber"][-1]), uid
        return "put_object", key, 0, ""
    if method == "POST" and key:
        if "uploads" in q:
            return "mpu_create", key, 0, ""
        if uid:
            return "mpu_complete", key, 0, uid
    if method == "DELETE" and key and uid:
        return "mpu_abort", key, 0, uid
    return "other", key, 0, uid


def rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Upstream:
    """One keep-alive connection to the upstream server, reopened when it went stale."""

    def __init__(self, host, port):
        self.addr = (host, port)
        self.sock = None
        self.rd = None

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = self.rd = None

    def _stale(self):
        # An idle keep-alive connection that is readable has been closed by the server.
        import select
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)

    def exchange(self, raw, head_only):
        """Send raw request bytes, return (raw response head, raw body, status, keep-alive)."""
        for attempt in (1, 2):
            fresh = self.sock is None
            if not fresh and self._stale():
                self.close()
                fresh = True
            if fresh:
                self.sock = socket.create_connection(self.addr, timeout=IDLE_TIMEOUT)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.rd = Reader(self.sock)
            try:
                self.sock.sendall(raw)
                head = self.rd.until(b"\r\n\r\n")
                break
            except (OSError, Closed):
                # A reused connection the server dropped meanwhile: once more on a new one.
                self.close()
                if fresh or attempt == 2:
                    raise
        while True:
            first, hdrs = parse_head(head)
            status = int(first.split()[1])
            if status != 100:
                break
            head = self.rd.until(b"\r\n\r\n")
        keep = "close" not in hdrs.get("connection", "").lower()
        if head_only or status in (204, 304):
            body = b""
        elif "chunked" in hdrs.get("transfer-encoding", "").lower() or "content-length" in hdrs:
            body, _ = read_body(self.rd, hdrs)
        else:
            body = self.rd.rest()
            keep = False
        if not keep:
            self.close()
        return head, body, status, keep


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.request.settimeout(IDLE_TIMEOUT)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.up = Upstream(*self.server.upstream)

    def finish(self):
        self.up.close()

    def handle(self):
        rd = Reader(self.request)
        try:
            while self.one(rd):
                pass
        except (Closed, OSError, ValueError):
            pass

    def reply(self, status, reason, body, ctype="application/json", extra=""):
        self.request.sendall(("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
                              % (status, reason, ctype, len(body), extra)).encode() + body)

    def control(self, target):
        st = self.server.state
        path, _, query = target.partition("?")
        with st.lock:
            st.s["control"] += 1
        try:
            if path == "/__fault/stats":
                out = st.snapshot()
            elif path in ("/__fault/set", "/__fault/clear"):
                cfg = FaultConfig(query if path == "/__fault/set" else "")
                with st.lock:
                    st.cfg = cfg
                    if cfg.seed is not None:
                        st.rng.seed(cfg.seed)
                out = cfg.as_json()
            elif path == "/__fault/zero":
                with st.lock:
                    st.zero()
                out = {"zeroed": True}
            else:
                self.reply(404, "Not Found", b'{"error":"no such control"}\n')
                return
        except ValueError as e:
            self.reply(400, "Bad Request", json.dumps({"error": str(e)}).encode() + b"\n")
            return
        self.reply(200, "OK", json.dumps(out, sort_keys=True).encode() + b"\n")

    def log(self, *fields):
        lf = self.server.logf
        if lf:
            with self.server.loglock:
                lf.write(" ".join(str(f) for f in fields) + "\n")
                lf.flush()

    def one(self, rd):
        """Serve one request; False when the connection is done."""
        head = rd.until(b"\r\n\r\n")
        first, hdrs = parse_head(head)
        parts = first.split(" ")
        if len(parts) != 3:
            raise Closed()
        method, target = parts[0], parts[1]
        client_close = "close" in hdrs.get("connection", "").lower()
        if target.startswith("/__fault/"):
            read_body(rd, hdrs)
            self.control(target)
            return not client_close

        st = self.server.state
        kind = st.decide(method, target)
        op, key, part, uid = classify(method, target)
        t0 = time.monotonic()
        status = None
        nbytes = 0
        try:
            if kind == "reset":
                n = int(hdrs.get("content-length", "0") or 0)
                if n and "chunked" not in hdrs.get("transfer-encoding", "").lower():
                    rd.exact(max(1, n // 2))
                    nbytes = max(1, n // 2)
                self.log(method, target, "fault=reset", "bytes=%d" % nbytes)
                rst_close(self.request)
                return False
            if kind == "slow" and "chunked" not in hdrs.get("transfer-encoding", "").lower():
                n = int(hdrs.get("content-length", "0") or 0)
                got = bytearray()
                while len(got) < n:
                    k = min(256 * 1024, n - len(got))
                    got += rd.exact(k)
                    time.sleep(k / st.cfg.rate)
                body, nbytes = bytes(got), n
            else:
                body, nbytes = read_body(rd, hdrs)
            if kind in ERRORS:
                code, reason, s3code, msg = ERRORS[kind]
                rid = "FAULT%08d" % st.rid
                xml = b"" if method == "HEAD" else s3_error_body(s3code, msg, rid)
                self.request.sendall(("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n"
                                      "Content-Length: %d\r\nx-amz-request-id: %s\r\n\r\n"
                                      % (code, reason, len(xml), rid)).encode() + xml)
                self.log(method, target, "fault=%s" % kind, code)
                return not client_close
            if kind == "stall":
                time.sleep(st.cfg.stall)
            if kind == "corrupt" and body:
                at = len(body) // 2
                body = body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1:]
            try:
                rhead, rbody, status, keep = self.up.exchange(head + body, method == "HEAD")
            except (OSError, Closed) as e:
                self.log(method, target, "upstream-error", repr(e))
                msg = b"upstream: " + str(e).encode()
                self.reply(502, "Bad Gateway", msg, "text/plain", "Connection: close\r\n")
                return False
            if kind == "truncate":
                if rbody:
                    self.request.sendall(rhead + rbody[:len(rbody) // 2])
                else:
                    self.request.sendall(rhead[:len(rhead) // 2])
                self.log(method, target, "fault=truncate", status)
                self.request.shutdown(socket.SHUT_RDWR)
                return False
            self.request.sendall(rhead + rbody)
            self.log(method, target, "fault=%s" % (kind or "-"), status, "%.3f" % (time.monotonic() - t0))
            return keep and not client_close
        finally:
            st.count(op, key, part, uid, nbytes, status)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="http://HOST:PORT of the S3 server")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--pid-file")
    ap.add_argument("--log", help="one line per request")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", default="", help="initial fault configuration, as for /__fault/set")
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.upstream)
    if u.scheme != "http" or not u.hostname or not u.port:
        sys.exit("faultproxy: --upstream must be http://HOST:PORT")
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.upstream = (u.hostname, u.port)
    srv.state = State(a.seed, a.set)
    srv.logf = open(a.log, "a") if a.log else None
    srv.loglock = threading.Lock()
    if a.pid_file:
        with open(a.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)  # readers never see a half-written port
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
