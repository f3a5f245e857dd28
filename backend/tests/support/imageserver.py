"""A real HTTP server (127.0.0.1 by default) serving images and misbehaving on purpose.

Also a script, for a host of its own (tests/support/netns.py):
``python imageserver.py ROOT HOST PORT [DELAY_S]`` serves until killed, with each answer
``DELAY_S`` late (a slow image host), and prints the client address of every request.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class ImageServer:
    """Routes: /files/<name> (from ``root``), /missing (404), /flaky/<name> (503 once, then the
    file), /slow (sleeps past any test timeout), /huge (declares 1 GB), /endless (streams without
    a length), /text (HTML). ``hits`` counts requests per path; ``agents`` records User-Agents."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, delay_s: float = 0.0) -> None:
        self.root = root
        self.hits: Counter[str] = Counter()
        self.agents: list[str] = []
        self.delay_s = delay_s
        self.log_clients = False
        self.log_lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.hits[self.path] += 1
                server.agents.append(self.headers.get("User-Agent", ""))
                if server.log_clients:
                    with server.log_lock:  # one whole line per request
                        sys.stdout.write(f"{self.client_address[0]} {self.path}\n")
                        sys.stdout.flush()
                time.sleep(server.delay_s)
                server.route(self)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def route(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        if path.startswith("/files/"):
            self._send_file(handler, self.root / path.removeprefix("/files/"))
        elif path.startswith("/flaky/"):
            if self.hits[path] == 1:
                handler.send_error(503)
            else:
                self._send_file(handler, self.root / path.removeprefix("/flaky/"))
        elif path == "/slow":
            time.sleep(5)
            handler.send_error(504)
        elif path == "/huge":
            handler.send_response(200)
            handler.send_header("Content-Length", str(1 << 30))
            handler.end_headers()
        elif path == "/endless":
            handler.send_response(200)
            handler.end_headers()
            try:
                for _ in range(4096):
                    handler.wfile.write(b"\xff" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif path == "/text":
            body = b"<html>not an image</html>"
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        else:
            handler.send_error(404)

    @staticmethod
    def _send_file(handler: BaseHTTPRequestHandler, path: Path) -> None:
        if not path.is_file():
            handler.send_error(404)
            return
        body = path.read_bytes()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


if __name__ == "__main__":
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    served = ImageServer(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), delay)
    served.log_clients = True
    print("serving", served.url, flush=True)
    served._thread.join()
