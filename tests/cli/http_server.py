#!/usr/bin/env python3
# Small HTTP/1.1 test server for the tests of the enrich_http step: it answers
# with configurable latency and can misbehave on purpose (slow answers,
# failures, timeouts, dropped connections, bad JSON) so retries, timeouts and
# error handling can be checked.
#
# Usage: python3 http_server.py --port-file PATH [--latency-ms N] [--log PATH]
#
# Binds 127.0.0.1 on a free port, writes the port number to PATH (atomically),
# and serves until SIGTERM/SIGINT, then exits 0.  Stdlib only, asyncio, one
# thread; connections are keep-alive unless the client says otherwise.
#
# Endpoints (GET or POST):
#   /score?id=ID&mode=MODE
#       200 {"id": ID, "score": S, "attempt": A[, "echo": BODY]}
#       S = sum of the UTF-8 bytes of ID % 1000; A = requests seen so far for
#       (ID, MODE), 1-based; "echo" is the request body (as JSON if it parses,
#       otherwise as a string), only when there is a body.
#       MODE (absent means "ok"; counts are per (ID, MODE)):
#         ok        success
#         fail2     attempts 1-2: 503 {"error":"unavailable"}, then success
#         fail      always 500 {"error":"broken"}
#         notfound  always 404 {"error":"no such id"}
#         slow2     attempts 1-2: sleep 10 s first, then success
#         drop2     attempts 1-2: close the connection without answering
#         badjson   200, body `not json`
#         array     200, body `[1,2,3]`
#         random    by sha256(ID): ~10% fail2, ~5% drop2, ~5% slow2, rest ok
#   /stats
#       200 {"requests": N, "by_id": {"ID|MODE": count, ...}}
#       N counts /score requests only (not /stats or bad requests).
#
# Every response (and every drop) comes after --latency-ms of asyncio.sleep.
# With --log PATH, one line per request is appended: "METHOD PATH STATUS",
# STATUS being "drop" for dropped connections.

import argparse
import asyncio
import hashlib
import json
import os
import signal
import sys
import traceback
import urllib.parse

SLOW_SECONDS = 10.0
MAX_HEAD = 64 * 1024          # request line + headers
MAX_BODY = 16 * 1024 * 1024
MODES = {"ok", "fail2", "fail", "notfound", "slow2", "drop2", "badjson",
         "array", "random"}
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found",
           405: "Method Not Allowed", 413: "Payload Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}

DROP = object()  # handler result meaning "close without answering"


class BadRequest(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class Server:
    def __init__(self, latency_ms, log_path):
        self.latency = latency_ms / 1000.0
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.total = 0
        self.counts = {}  # (id, mode) -> attempts seen
        self.tasks = set()

    def log(self, method, target, status):
        if self.log_file is not None:
            self.log_file.write(f"{method} {target} {status}\n")
            self.log_file.flush()

    # ---- HTTP plumbing -------------------------------------------------

    async def read_request(self, reader, writer):
        """Returns (method, target, headers, body, keep_alive), or None on a
        clean EOF between requests.  Raises BadRequest on malformed input."""
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as e:
                if e.partial.strip():
                    raise  # client went away mid-request
                return None
            except asyncio.LimitOverrunError:
                raise BadRequest("request head too large")
            head = head.lstrip(b"\r\n")  # tolerate stray CRLFs between requests
            if head:
                break

        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0].isalpha() or not parts[1] \
                or not parts[2].startswith("HTTP/1."):
            raise BadRequest("bad request line")
        method, target, version = parts

        headers = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip() or " " in name:
                raise BadRequest("bad header line")
            name = name.lower()
            value = value.strip()
            if name == "content-length" and name in headers \
                    and headers[name] != value:
                raise BadRequest("conflicting Content-Length")
            headers[name] = value

        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in connection
        else:
            keep_alive = "close" not in connection

        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")

        body = b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self.read_chunked(reader)
        elif "content-length" in headers:
            cl = headers["content-length"]
            if not cl.isdigit():
                raise BadRequest("bad Content-Length")
            n = int(cl)
            if n > MAX_BODY:
                raise BadRequest("body too large", 413)
            if n:
                body = await reader.readexactly(n)
        return method, target, headers, body, keep_alive

    async def read_chunked(self, reader):
        chunks = []
        size_total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size == 0:
                break
            size_total += size
            if size_total > MAX_BODY:
                raise BadRequest("body too large", 413)
            chunks.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise BadRequest("bad chunk terminator")
        while (await reader.readuntil(b"\r\n")) != b"\r\n":
            pass  # ignore trailers
        return b"".join(chunks)

    @staticmethod
    def encode_response(status, body, keep_alive):
        head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
                f"Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
                f"\r\n")
        return head.encode("latin-1") + body

    async def handle_connection(self, reader, writer):
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            while True:
                method, target = "-", "-"
                try:
                    req = await self.read_request(reader, writer)
                    if req is None:
                        break
                    method, target, headers, body, keep_alive = req
                    status, payload = await self.respond(method, target, body)
                except BadRequest as e:
                    if self.latency:
                        await asyncio.sleep(self.latency)
                    self.log(method, target, e.status)
                    data = json.dumps({"error": str(e)}).encode()
                    writer.write(self.encode_response(e.status, data, False))
                    await writer.drain()
                    break
                if status is DROP:
                    self.log(method, target, "drop")
                    break
                self.log(method, target, status)
                writer.write(self.encode_response(status, payload, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, OSError):
            pass  # client went away or sent garbage mid-request
        except asyncio.CancelledError:
            pass  # shutting down; end quietly (the task finishes here anyway)
        except Exception:
            traceback.print_exc()
        finally:
            self.tasks.discard(task)
            try:
                writer.close()
            except Exception:
                pass

    # ---- application ---------------------------------------------------

    async def respond(self, method, target, body):
        """Returns (status, body_bytes) or (DROP, None), after the delay."""
        status, payload, extra_sleep = self.route(method, target, body)
        delay = self.latency + extra_sleep
        if delay:
            await asyncio.sleep(delay)
        return status, payload

    def route(self, method, target, body):
        """Returns (status, body_bytes, extra_sleep_seconds)."""
        url = urllib.parse.urlsplit(target)
        if url.path not in ("/score", "/stats"):
            return 404, b'{"error":"unknown path"}', 0
        if method not in ("GET", "POST"):
            return 405, b'{"error":"method not allowed"}', 0
        if url.path == "/stats":
            stats = {"requests": self.total,
                     "by_id": {f"{i}|{m}": c for (i, m), c in self.counts.items()}}
            return 200, json.dumps(stats).encode(), 0

        qs = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if "id" not in qs:
            return 400, b'{"error":"missing id"}', 0
        ident = qs["id"][0]
        mode = qs.get("mode", ["ok"])[0] or "ok"
        if mode not in MODES:
            return 400, b'{"error":"unknown mode"}', 0

        self.total += 1
        key = (ident, mode)
        attempt = self.counts.get(key, 0) + 1
        self.counts[key] = attempt

        behaviour = mode
        if mode == "random":
            r = int.from_bytes(hashlib.sha256(ident.encode()).digest()[:8], "big") % 100
            behaviour = ("fail2" if r < 10 else "drop2" if r < 15
                         else "slow2" if r < 20 else "ok")

        if behaviour == "fail":
            return 500, b'{"error":"broken"}', 0
        if behaviour == "notfound":
            return 404, b'{"error":"no such id"}', 0
        if behaviour == "badjson":
            return 200, b"not json", 0
        if behaviour == "array":
            return 200, b"[1,2,3]", 0
        if behaviour == "fail2" and attempt <= 2:
            return 503, b'{"error":"unavailable"}', 0
        if behaviour == "drop2" and attempt <= 2:
            return DROP, None, 0
        extra = SLOW_SECONDS if behaviour == "slow2" and attempt <= 2 else 0

        result = {"id": ident, "score": sum(ident.encode()) % 1000,
                  "attempt": attempt}
        if body:
            text = body.decode("utf-8", "replace")
            try:
                result["echo"] = json.loads(text)
            except ValueError:
                result["echo"] = text
        return 200, json.dumps(result).encode(), extra


async def main():
    ap = argparse.ArgumentParser(description="HTTP test server for enrich_http tests")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--log")
    args = ap.parse_args()

    app = Server(args.latency_ms, args.log)
    server = await asyncio.start_server(app.handle_connection, "127.0.0.1", 0,
                                        limit=MAX_HEAD, backlog=1024)
    port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, args.port_file)

    await stop.wait()
    server.close()
    for task in list(app.tasks):
        task.cancel()
    await asyncio.gather(*app.tasks, return_exceptions=True)
    if app.log_file is not None:
        app.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
