"""Local HTTP servers for tests: a folder (or any handler) served on 127.0.0.1, optionally behind basic auth.

    with serve(QuietHandler, folder) as url:            # "http://127.0.0.1:<port>/"
    with serve(basic_auth("deploy", SECRET), folder) as url:
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import threading


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging every request to stderr."""

    def log_message(self, *args):
        pass


class BasicAuthHandler(QuietHandler):
    """Serves the paths under `protected` to `user`:`password` only (401 with a challenge to anyone else).

    With `strip` the protected prefix is taken off the path before the file is looked up, so one folder is
    served both openly and behind the password (/private/x.txt is x.txt).
    """

    user = "deploy"
    password = ""
    protected = "/"
    strip = False

    def do_GET(self):
        if self.authorized():
            super().do_GET()

    def do_HEAD(self):
        if self.authorized():
            super().do_HEAD()

    def authorized(self):
        if not self.path.startswith(self.protected):
            return True
        expected = "Basic " + base64.b64encode(("%s:%s" % (self.user, self.password)).encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="tests"')
            self.end_headers()
            return False
        if self.strip and self.protected != "/":
            self.path = self.path[len(self.protected) - 1:]
        return True


def basic_auth(user, password, protected="/", strip=False, base=BasicAuthHandler):
    """A handler class serving the paths under `protected` to user:password only (see BasicAuthHandler)."""
    return type("BasicAuth", (base,), {"user": user, "password": password, "protected": protected, "strip": strip})


@contextlib.contextmanager
def serve(handler, folder=None):
    """Run an HTTP server with `handler` (serving `folder` when given) on a free port; yield its base URL."""
    factory = functools.partial(handler, directory=str(folder)) if folder is not None else handler
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
