"""The snippets of README.md and docs/*.md marked runnable, run as a user pastes them (docs/development.md).

A marker is an HTML comment on the line before a fenced block:

    <!-- runnable: NAME [offline] [needs=NAME,...] [group=GROUP] [venv=PATH has=DIST,...] -->

A `yaml` block is a playbook, run once on localhost; an `sh` block runs with bash. What differs from a
user's run, and only that:
- /opt/ becomes <tmp>/<NAME>/opt/ (each snippet its own), /srv/ and /tmp/ become <tmp>/srv/ and <tmp>/tmp/
  (shared: the wheelhouse one snippet makes is there for the next);
- the index is a local one (PIP_INDEX_URL, a PEP 503 index served over HTTP from this test's wheels);
  an `offline` snippet gets the URL of a local server that answers 404 and records each request: a
  snippet that asks it anything fails;
- the playbook gets `-e ansible_python_interpreter=<target python>`, and that Python's folder comes first
  on PATH (`python3` in a snippet is the target's).
The index holds wheels made by tests/lib/wheelfactory.py under the names the snippets install
(requests, flask...): stand-ins with a module each, no network. `venv=... has=...` checks that the venv
has those distributions afterwards; `needs` runs those snippets first; `group` puts localhost in that
inventory group.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import shutil
import subprocess
import threading

import pytest

from httpserve import QuietHandler, serve
from playenv import plain_pip_environment
from wheelfactory import make_wheel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET_PYTHON = os.environ.get("WH_TARGET_PYTHON", "/usr/bin/python3")
DOCS = ["README.md"] + ["docs/" + name for name in sorted(os.listdir(os.path.join(ROOT, "docs"))) if name.endswith(".md")]
MARKER = re.compile(r"^<!-- runnable: (.+?) -->\s*$")
FENCE = re.compile(r"^```(\w+)\s*$")

# Every snippet marked runnable: a marker lost or added fails test_markers_find_every_snippet.
EXPECTED = ["README.md:module-index", "README.md:wheelhouse", "README.md:module-offline", "README.md:role-index",
            "README.md:role-offline", "docs/module.md:module-defaults"]

# What the local index serves: name, version, dependencies (the names the snippets install).
STAND_INS = [("requests", "2.32.3", ["urllib3>=1.21.1"]), ("urllib3", "2.2.3", []), ("flask", "3.1.0", []),
             ("gunicorn", "23.0.0", []), ("pbr", "6.1.0", []), ("setuptools", "0.1", []), ("wheel", "0.45.1", [])]


class Snippet(object):
    def __init__(self, doc, line, marker, lang, text):
        words = marker.split()
        self.doc, self.line, self.name, self.lang, self.text = doc, line, words[0], lang, text
        self.options = dict(w.split("=", 1) if "=" in w else (w, "") for w in words[1:])
        self.id = "%s:%s" % (doc, self.name)

    def option_list(self, key):
        return [v for v in self.options.get(key, "").split(",") if v]


def read_snippets():
    found = []
    for doc in DOCS:
        with open(os.path.join(ROOT, doc)) as handle:
            lines = handle.read().splitlines()
        for number, line in enumerate(lines):
            marker = MARKER.match(line)
            if not marker:
                continue
            fence = FENCE.match(lines[number + 1]) if number + 1 < len(lines) else None
            assert fence, "%s:%d: a runnable marker must be followed by a fenced block (```yaml or ```sh)" % (doc, number + 1)
            end = lines.index("```", number + 2)
            found.append(Snippet(doc, number + 1, marker.group(1), fence.group(1), "\n".join(lines[number + 2:end]) + "\n"))
    return found


SNIPPETS = read_snippets()


def test_paths_move_under_the_root_once():
    assert substitute("path: /opt/venvs/app\n  - /srv/wheels /tmp/x /usr/bin/python3 a/opt/b", "/tmp/r", "s") == \
        "path: /tmp/r/s/opt/venvs/app\n  - /tmp/r/srv/wheels /tmp/r/tmp/x /usr/bin/python3 a/opt/b"


def test_markers_find_every_snippet():
    assert [s.id for s in SNIPPETS] == EXPECTED
    assert all(s.lang in ("yaml", "sh") for s in SNIPPETS), [(s.id, s.lang) for s in SNIPPETS]


def substitute(text, root, name):
    """The documented path mapping: /opt/ per snippet, /srv/ and /tmp/ shared, under the test's root."""
    def moved(match):
        return "%s/%s/" % (root + "/" + name if match.group(1) == "opt" else root, match.group(1))
    return re.sub(r"(?<![\w./-])/(opt|srv|tmp)/", moved, text)


class Tripwire(http.server.BaseHTTPRequestHandler):
    """The index of offline snippets: every request is recorded and answered 404."""
    requests = []

    def do_GET(self):
        self.requests.append(self.path)
        self.send_error(404)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """A PEP 503 simple index of the stand-in wheels, over HTTP on 127.0.0.1."""
    top = str(tmp_path_factory.mktemp("index"))
    files = os.path.join(top, "files")
    os.makedirs(files)
    for name, version, requires in STAND_INS:
        wheel = make_wheel(files, name, version, requires)
        with open(wheel, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        page = os.path.join(top, "simple", name)
        os.makedirs(page)
        with open(os.path.join(page, "index.html"), "w") as handle:
            handle.write('<a href="../../files/%s#sha256=%s">%s</a>\n' % (os.path.basename(wheel), digest, os.path.basename(wheel)))
    with serve(QuietHandler, top) as online, serve(Tripwire) as offline:
        yield {"online": online + "simple/", "offline": offline + "%s/simple/"}


@pytest.fixture(scope="module")
def results(tmp_path_factory, index):
    """Every snippet run once, all at the same time (each waits for those it needs): {id: process}."""
    runner = Runner(str(tmp_path_factory.mktemp("snippets")), index)
    threads = [threading.Thread(target=runner.run, args=(snippet,)) for snippet in SNIPPETS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runner


class Runner(object):
    """Runs snippets once each under one root, those a snippet needs first."""

    def __init__(self, root, index):
        self.root = root
        self.index = index
        self.done = {}
        self.locks = dict((snippet.id, threading.Lock()) for snippet in SNIPPETS)

    def environment(self, snippet):
        env = plain_pip_environment()
        env["PIP_INDEX_URL"] = self.index["offline"] % snippet.name if "offline" in snippet.options else self.index["online"]
        env["PATH"] = os.path.dirname(TARGET_PYTHON) + os.pathsep + env["PATH"]
        return env

    def run(self, snippet):
        with self.locks[snippet.id]:
            if snippet.id not in self.done:
                self.done[snippet.id] = self.start(snippet)
        return self.done[snippet.id]

    def start(self, snippet):
        for need in snippet.option_list("needs"):
            needed = [s for s in SNIPPETS if s.doc == snippet.doc and s.name == need] or [s for s in SNIPPETS if s.name == need]
            if not needed:
                return subprocess.CompletedProcess([], 1, "%s needs %s, which no marker names" % (snippet.id, need))
            if self.run(needed[0]).returncode != 0:
                return subprocess.CompletedProcess([], 1, "%s, which %s needs, failed" % (needed[0].id, snippet.id))
        text = substitute(snippet.text, self.root, snippet.name)
        base = os.path.join(self.root, "files", snippet.name)
        os.makedirs(base)
        env = self.environment(snippet)
        if snippet.lang == "sh":
            argv = ["bash", "-euo", "pipefail", "-c", text]
        else:
            with open(os.path.join(base, "play.yml"), "w") as handle:
                handle.write(text)
            inventory = os.path.join(base, "inventory")
            with open(inventory, "w") as handle:
                group = snippet.options.get("group")
                handle.write(("[%s]\n" % group if group else "") + "localhost ansible_connection=local\n")
            playbook = shutil.which("ansible-playbook", path=plain_pip_environment()["PATH"])
            argv = [playbook, "-i", inventory, "-e", "ansible_python_interpreter=" + TARGET_PYTHON, "play.yml"]
        return subprocess.run(argv, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
def test_snippet_runs(results, snippet):
    proc = results.done[snippet.id]
    assert proc.returncode == 0, "%s (line %d) failed:\n%s" % (snippet.id, snippet.line, proc.stdout[-4000:])
    asked = [path for path in Tripwire.requests if path.startswith("/%s/" % snippet.name)]
    assert "offline" not in snippet.options or not asked, "%s is offline but asked the index for %s" % (snippet.id, asked)
    if "venv" in snippet.options:
        venv = substitute(snippet.options["venv"], results.root, snippet.name)
        code = "import importlib.metadata as m, sys; print(' '.join(m.version(n) for n in sys.argv[1:]))"
        check = subprocess.run([os.path.join(venv, "bin", "python"), "-c", code] + snippet.option_list("has"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        assert check.returncode == 0, "%s: the venv %s lacks one of %s: %s" % (snippet.id, venv, snippet.option_list("has"), check.stdout)
