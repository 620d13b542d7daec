"""A minimal W3C WebDriver client over HTTP (what Selenium speaks to chromedriver), enough to drive headless Chromium
through the page in tests: no extra package, only Debian's `chromium` and `chromium-driver`."""
import base64, json, shutil, socket, subprocess, time, urllib.request


def free_port() -> int:
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


class Browser:
    "Headless Chromium driven through chromedriver on a loopback port."
    def __init__(self, width=1200, height=900):
        driver = shutil.which("chromedriver")
        if not driver: raise FileNotFoundError("chromedriver is not installed: apt-get install chromium chromium-driver")
        self.port = free_port()
        self.proc = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try: self._call("GET", "/status"); break
            except OSError: time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "args": args, "binary": shutil.which("chromium") or shutil.which("chromium-browser")}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        req = urllib.request.Request(self.base + path, method=method, headers={"Content-Type": "application/json"},
                                     data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(req, timeout=60) as r: return json.loads(r.read() or b"{}").get("value", {})

    def cmd(self, method, path, body=None): return self._call(method, f"/session/{self.session}{path}", body)
    def get(self, url): self.cmd("POST", "/url", {"url": url})
    def find_all(self, css):
        return [next(iter(e.values())) for e in self.cmd("POST", "/elements", {"using": "css selector", "value": css})]
    def type(self, css, text): self.cmd("POST", f"/element/{self.find_all(css)[0]}/value", {"text": text})
    def click(self, element): self.cmd("POST", f"/element/{element}/click", {})
    def text(self, element): return self.cmd("GET", f"/element/{element}/text")
    def screenshot(self, path):
        with open(path, "wb") as f: f.write(base64.b64decode(self.cmd("GET", "/screenshot")))

    def wait(self, css, n=1, timeout=60):
        "The elements matching `css` once there are at least `n` of them."
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(found := self.find_all(css)) >= n: return found
            time.sleep(0.2)
        raise TimeoutError(f"no {n} element(s) {css!r} after {timeout} s")

    def close(self):
        try: self._call("DELETE", f"/session/{self.session}")
        finally: self.proc.terminate(); self.proc.wait(10)
