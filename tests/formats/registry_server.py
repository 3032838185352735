#!/usr/bin/env python3
"""A Confluent-compatible schema registry for tests (no real registry can be
installed here; docker-compose brings the real one under --profile registry).

It implements what serializers and streamrun use, with the registry's own
reply shapes and error codes:
  POST /subjects/{s}/versions        register (same schema text: same id)
  POST /subjects/{s}                 look a schema up under a subject
  GET  /schemas/ids/{id}             {"schema", "schemaType" (absent for AVRO)}
  GET  /subjects, /subjects/{s}/versions, /subjects/{s}/versions/{n|latest}
  GET/PUT /config, /config/{s}       compatibility level (stored, not enforced)
Options: --port 0 --port-file F (the bound port is written there),
--user NAME:PASSWORD (basic auth required), --log F (one line per request).
"""
import argparse
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

LOCK = threading.Lock()
SCHEMAS = {}   # id -> (type, text, references)
BY_TEXT = {}   # (type, text) -> id
SUBJECTS = {}  # subject -> [id, ...] (version n is index n-1)
CONFIG = {"": "BACKWARD"}


def canonical(schema_type, text):
    if schema_type in ("AVRO", "JSON"):
        try:
            return json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)
        except ValueError:
            return text
    return text


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    auth = None
    log_file = None

    def log_message(self, fmt, *args):
        if self.log_file:
            with open(self.log_file, "a") as f:
                f.write("%s %s\n" % (self.command, self.path))

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message):
        self.reply(status, {"error_code": code, "message": message})

    def authorized(self):
        if not self.auth:
            return True
        want = "Basic " + base64.b64encode(self.auth.encode()).decode()
        if self.headers.get("Authorization") == want:
            return True
        self.error(401, 40101, "Unauthorized")
        return False

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b"{}"
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def parts(self):
        path = self.path.split("?")[0]
        return [unquote(p) for p in path.strip("/").split("/") if p]

    def schema_reply(self, sid, subject=None, version=None):
        schema_type, text, refs = SCHEMAS[sid]
        out = {"id": sid, "schema": text}
        if schema_type != "AVRO":
            out["schemaType"] = schema_type
        if refs:
            out["references"] = refs
        if subject is not None:
            out["subject"] = subject
            out["version"] = version
        return out

    def do_GET(self):
        if not self.authorized():
            return
        p = self.parts()
        with LOCK:
            if len(p) == 3 and p[0] == "schemas" and p[1] == "ids":
                sid = int(p[2]) if p[2].isdigit() else -1
                if sid not in SCHEMAS:
                    return self.error(404, 40403, "Schema %s not found" % p[2])
                out = self.schema_reply(sid)
                out.pop("id")
                return self.reply(200, out)
            if p == ["subjects"]:
                return self.reply(200, sorted(SUBJECTS))
            if len(p) >= 3 and p[0] == "subjects" and p[2] == "versions":
                if p[1] not in SUBJECTS:
                    return self.error(404, 40401, "Subject '%s' not found." % p[1])
                ids = SUBJECTS[p[1]]
                if len(p) == 3:
                    return self.reply(200, list(range(1, len(ids) + 1)))
                n = len(ids) if p[3] == "latest" else (int(p[3]) if p[3].isdigit() else 0)
                if n < 1 or n > len(ids):
                    return self.error(404, 40402, "Version %s not found." % p[3])
                return self.reply(200, self.schema_reply(ids[n - 1], p[1], n))
            if p and p[0] == "config":
                level = CONFIG.get(p[1] if len(p) > 1 else "", CONFIG[""])
                return self.reply(200, {"compatibilityLevel": level})
        self.error(404, 404, "Not found")

    def do_PUT(self):
        if not self.authorized():
            return
        p = self.parts()
        b = self.body() or {}
        if p and p[0] == "config" and "compatibility" in b:
            with LOCK:
                CONFIG[p[1] if len(p) > 1 else ""] = b["compatibility"]
            return self.reply(200, {"compatibility": b["compatibility"]})
        self.error(404, 404, "Not found")

    def do_POST(self):
        if not self.authorized():
            return
        p = self.parts()
        b = self.body()
        if b is None or not isinstance(b.get("schema"), str):
            return self.error(422, 42201, "Invalid schema")
        schema_type = b.get("schemaType") or "AVRO"
        if schema_type not in ("AVRO", "PROTOBUF", "JSON"):
            return self.error(422, 42201, "Invalid schema type %s" % schema_type)
        if schema_type in ("AVRO", "JSON"):
            try:
                json.loads(b["schema"])
            except ValueError:
                return self.error(422, 42201, "Invalid schema: not JSON")
        key = (schema_type, canonical(schema_type, b["schema"]))
        with LOCK:
            if len(p) == 3 and p[0] == "subjects" and p[2] == "versions":
                sid = BY_TEXT.get(key)
                if sid is None:
                    sid = len(SCHEMAS) + 1
                    SCHEMAS[sid] = (schema_type, b["schema"], b.get("references") or [])
                    BY_TEXT[key] = sid
                versions = SUBJECTS.setdefault(p[1], [])
                if sid not in versions:
                    versions.append(sid)
                return self.reply(200, {"id": sid})
            if len(p) == 2 and p[0] == "subjects":
                if p[1] not in SUBJECTS:
                    return self.error(404, 40401, "Subject '%s' not found." % p[1])
                sid = BY_TEXT.get(key)
                if sid is None or sid not in SUBJECTS[p[1]]:
                    return self.error(404, 40403, "Schema not found")
                return self.reply(200, self.schema_reply(sid, p[1], SUBJECTS[p[1]].index(sid) + 1))
        self.error(404, 404, "Not found")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--user")
    ap.add_argument("--log")
    a = ap.parse_args()
    Handler.auth = a.user
    Handler.log_file = a.log
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        import os
        os.replace(a.port_file + ".tmp", a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
