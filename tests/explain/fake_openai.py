#!/usr/bin/env python3
"""fake_openai.py - a small OpenAI-compatible chat-completions server for the Explain tests.

There is no language model on the test machines, so tests/unit/test_explain.c starts this
server on a free loopback port and points the Explain client at it. The server checks the
request the way a real endpoint would see it, and answers with a canned completion:

  * POST, path ending in /v1/chat/completions, Content-Type application/json
  * "Authorization: Bearer <key>" equal to the content of --key-file
  * JSON body with "model" equal to --model and messages [system, user]; the system message
    asks for a JSON object; the user message carries the evidence (top self and total
    functions, hottest stacks, "A -> B" call-graph edges) and every --expect string

A failed check answers HTTP 400 with {"error": {"message": "fake_openai: <what>"}}, which the
client reports as its fallback reason, so the test sees exactly what was wrong.

The first path segment picks the behaviour: /ok (also the default), /fenced (answer inside a
```json fence), /garbage (prose, no JSON), /timeout (answers after --delay seconds), /500,
/refusal, /badcat (unknown category). GET /stats returns {"requests": N}, the number of
completion requests received, so a test can prove that nothing was sent.

Prints "PORT <n>" on stdout once listening. Python 3 standard library only.
"""
import argparse
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = {"ok", "fenced", "garbage", "timeout", "500", "refusal", "badcat"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--answer-function", default="main.fromTheModel")
    ap.add_argument("--answer-category", default="lock")
    ap.add_argument("--delay", type=float, default=5.0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    with open(args.key_file) as f:
        key = f.read().strip()
    counter = {"n": 0}
    lock = threading.Lock()

    def answer_object(category):
        return {
            "bottleneck": {"function": args.answer_function,
                           "markdown": "FAKE-LLM bottleneck text"},
            "root_cause": {"category": category, "markdown": "FAKE-LLM root cause"},
            "recommended_fix": {"markdown": "FAKE-LLM fix"},
        }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def reply(self, status, obj):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def fail(self, why):
            self.reply(400, {"error": {"message": "fake_openai: " + why, "type": "invalid_request"}})

        def do_GET(self):
            if self.path == "/stats":
                with lock:
                    self.reply(200, {"requests": counter["n"]})
            else:
                self.fail("unexpected GET " + self.path)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            with lock:
                counter["n"] += 1
            parts = [p for p in self.path.split("/") if p]
            mode = parts[0] if parts and parts[0] in MODES else "ok"
            if not self.path.endswith("/v1/chat/completions"):
                return self.fail("path %s does not end in /v1/chat/completions" % self.path)
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                return self.fail("Content-Type is not application/json")
            if self.headers.get("Authorization") != "Bearer " + key:
                return self.fail("Authorization header is not 'Bearer <key from the key file>'")
            try:
                body = json.loads(raw)
            except ValueError as e:
                return self.fail("body is not JSON: %s" % e)
            if body.get("model") != args.model:
                return self.fail("model is %r, want %r" % (body.get("model"), args.model))
            msgs = body.get("messages")
            if not isinstance(msgs, list) or [m.get("role") for m in msgs] != ["system", "user"]:
                return self.fail("messages must be [system, user]")
            system, user = msgs[0].get("content"), msgs[1].get("content")
            if not isinstance(system, str) or "JSON object" not in system:
                return self.fail("system message does not ask for a JSON object")
            if not isinstance(user, str):
                return self.fail("user message is not a string")
            for want in ["Top self", "Top total", "Hottest stacks", " -> ",
                         "Rule-based analyzer findings"] + args.expect:
                if want not in user:
                    return self.fail("user message lacks %r" % want)

            if mode == "timeout":
                time.sleep(args.delay)
            if mode == "500":
                return self.reply(500, {"error": {"message": "model overloaded"}})
            message = {"role": "assistant"}
            if mode == "refusal":
                message["content"] = None
                message["refusal"] = "I can't help with that."
            elif mode == "garbage":
                message["content"] = "The database is probably slow; add an index."
            elif mode == "fenced":
                message["content"] = ("Here is my analysis:\n```json\n" +
                                      json.dumps(answer_object(args.answer_category), indent=2) +
                                      "\n```\nHope this helps.")
            else:
                cat = "database" if mode == "badcat" else args.answer_category
                message["content"] = json.dumps(answer_object(cat))
            self.reply(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "model": args.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            })

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
