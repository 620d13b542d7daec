"""Real HTTP servers on loopback for the tests: a file server with Range requests that can drop a transfer half-way,
and a chat-completions server that misbehaves on purpose."""
import json, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server:
    "Run `handler` on 127.0.0.1 (a free port) in a thread; `url` is its address; stop() ends it."
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
    def stop(self): self.httpd.shutdown(); self.httpd.server_close()


def file_server(files:dict, drop_first:set=frozenset()):
    "Serve `files` (path -> bytes) with Range support; the first GET of a path in `drop_first` stops half-way."
    log, dropped = [], set()
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            body = files.get(self.path)
            log.append((self.path, self.headers.get("Range")))
            if body is None: self.send_response(404); self.end_headers(); return
            start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
            if start >= len(body): self.send_response(416); self.end_headers(); return
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(body) - start)); self.end_headers()
            if self.path in drop_first and self.path not in dropped:
                dropped.add(self.path); self.wfile.write(body[start:start + (len(body) - start) // 2]); self.wfile.flush()
                self.connection.close(); return
            self.wfile.write(body[start:])
    s = Server(H); s.log = log
    return s


def chat_server(answer, delay:float=0.0):
    "An OpenAI-style chat-completions server: `answer(prompt, n_seen)` returns text, an int HTTP status, or 'timeout'."
    seen, log = {}, []
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompt = req["messages"][-1]["content"]
            seen[prompt] = seen.get(prompt, 0) + 1
            log.append(prompt)
            if delay: time.sleep(delay)
            out = answer(prompt, seen[prompt])
            if out == "timeout": time.sleep(3); out = "too late"
            if isinstance(out, int): self.send_response(out); self.end_headers(); return
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": out}}]}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    s = Server(H); s.log, s.seen = log, seen
    return s
