"""Fault class "publish to an index": venv_wheel_build's publish option killed with SIGKILL, against a real index.

Real parts only: pypiserver (of the dev venv, requirements-dev.txt) runs on 127.0.0.1 for this module, with
uploads behind an htpasswd user and no fallback to PyPI; twine comes from PyPI into the builder venv through
the module's builder option (as the role installs it); the wheel set (alpha, beta of a few MB so that its
upload takes a moment, gamma: local wheels) is built once. Every case restores that build, empties the index,
kills one run that publishes the set (at a named step, the playbook's whole tree or twine alone), then checks:
the index lists no file with other bytes than the set's; the next normal run succeeds and uploads exactly the
files the index lacks (its `published`); a further run reports changed=false and uploads nothing; the password
shows in no result, log or file.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import OUTCOMES
from harness import TARGET_PYTHON, Player, copy_tree, kill, read, uploader_pid
from wheelfactory import make_wheel

FAULT_CLASS = "publish to an index"
USER = "uploader"
SECRET = "pub-s3cr3t/pw"
# the builder venv as the role makes it for venv_wheel_index_publish_url (roles/python_venv_build/vars/main.yml)
BUILDER_REQUIREMENTS = ["pip-tools>=7.4", "setuptools>=77", "twine>=6.1"]
PROJECTS = ("alpha", "beta", "gamma")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class IndexServer(object):
    """pypiserver serving the folder root: uploads for USER only (htpasswd), sha256 on the links, no fallback."""

    def __init__(self, base, root=None):
        try:
            import pypiserver  # noqa: F401  pylint: disable=unused-import
            from passlib.apache import HtpasswdFile
        except ImportError as missing:
            raise AssertionError("%s: pypiserver and passlib come with requirements-dev.txt (scripts/bootstrap.sh "
                                 "makes .venv anew when that file changes)" % missing)

        # root: a folder of the caller's (a small tmpfs), else packages/ under base
        self.root = root or os.path.join(base, "packages")
        os.makedirs(self.root, exist_ok=bool(root))
        self.log = os.path.join(base, "pypiserver.log")
        passwords = HtpasswdFile(os.path.join(base, "htpasswd"), new=True)
        passwords.set_password(USER, SECRET)
        passwords.save()
        self.url = "http://127.0.0.1:%d/" % free_port()
        port = self.url.rsplit(":", 1)[1].strip("/")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pypiserver", "run", "--host", "127.0.0.1", "--port", port,
                 "--authenticate", "update", "--passwords", passwords.path, "--hash-algo", "sha256",
                 "--disable-fallback", "--backend", "simple-dir", "--log-file", self.log, self.root],
                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while self.page("alpha") is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("pypiserver did not start: %s" % read(self.log))
            time.sleep(0.1)

    def page(self, project):
        """{file name: sha256} the simple page of project lists; None while the server does not answer."""
        try:
            with urllib.request.urlopen(self.url + "simple/%s/" % project, timeout=5) as response:
                html = response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return {} if error.code == 404 else None
        except OSError:
            return None
        return dict((m.group(1), m.group(2)) for m in re.finditer(r'href="[^"#]*/([^/"#]+)#sha256=([0-9a-f]+)"', html))

    def files(self):
        """{file name: sha256 of its bytes} of the index's folder."""
        found = {}
        for name in os.listdir(self.root):
            with open(os.path.join(self.root, name), "rb") as handle:
                found[name] = hashlib.sha256(handle.read()).hexdigest()
        return found

    def empty(self):
        for name in os.listdir(self.root):
            os.unlink(os.path.join(self.root, name))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class SlowLink(object):
    """A TCP relay on 127.0.0.1 to port: the client's bytes go on at `rate` bytes a second (a slow network), counted in
    `sent`; a client that goes away (killed) closes its connection to the server as it would have done itself."""

    def __init__(self, port, rate=4 << 20):
        self.port = port
        self.rate = rate
        self.sent = 0
        self.pumps = 0  # directions of connections still open
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d/" % self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(("127.0.0.1", self.port))
            self.pumps += 2
            threading.Thread(target=self.pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, False), daemon=True).start()

    def pump(self, source, dest, slow):
        try:
            while True:
                data = source.recv(16384)
                if not data:
                    break
                if slow:
                    time.sleep(len(data) / float(self.rate))
                    self.sent += len(data)
                dest.sendall(data)
        except OSError:
            pass
        for sock in (source, dest):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.pumps -= 1

    def settle(self, timeout=30):
        """Wait until every connection through the link is closed (what a killed client sent has gone on)."""
        deadline = time.monotonic() + timeout
        while self.pumps > 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self):
        self.listener.close()


@pytest.fixture(scope="module")
def index_server(tmp_path_factory):
    server = IndexServer(str(tmp_path_factory.mktemp("pypiserver")))
    # uploads go through a slow link, so that a kill lands in the middle of one; the pages are read directly
    server.upload_link = SlowLink(int(server.url.rsplit(":", 1)[1].strip("/")))
    try:
        yield server
    finally:
        server.upload_link.close()
        server.stop()


class Publishing(object):
    """A wheel set built for the venv `app` under root, published to the index server by every run."""

    def __init__(self, root, server, workdir):
        self.root = root
        self.server = server
        self.wheelhouse = os.path.join(root, "wheelhouse")
        self.platform = os.path.join(root, "platform")
        self.log_file = os.path.join(root, "wheel-build.log")
        self.player = Player(workdir, module="venv_wheel_build")
        self.outputs = []
        self.wheels = {}  # file name -> sha256 of the set, from the build
        self.builder_venv = os.path.join(root, "builder")

    def twin(self, root, server, workdir):
        """Another build host with this set (the same wheels, builder venv and wheelhouse) under root, publishing
        to server."""
        other = Publishing(root, server, workdir)
        other.wheelhouse, other.builder_venv, other.wheels = self.wheelhouse, self.builder_venv, self.wheels
        copy_tree(self.platform, other.platform)
        return other

    def saved(self, template):
        """A copy of the build (requirements, wheels, lock) in template, for restore; template."""
        copy_tree(self.platform, template)
        return template

    def restore(self, template, workdir):
        """The build as template holds it, no build log, an empty index, a player in workdir."""
        copy_tree(template, self.platform)
        if os.path.exists(self.log_file):
            os.unlink(self.log_file)
        self.server.empty()
        self.player = Player(workdir, module="venv_wheel_build")
        self.outputs = []

    def args(self, publish=True):
        args = {"name": "app", "builder_venv": self.builder_venv,
                "builder": {"python": TARGET_PYTHON, "requirements": BUILDER_REQUIREMENTS},
                "requirements": ["alpha"], "requirements_path": os.path.join(self.platform, "requirements"),
                "wheel_path": os.path.join(self.platform, "wheels"), "lock_timeout": 5, "log_file": self.log_file,
                "build_args": "--no-index --find-links %s" % self.wheelhouse}
        if publish:
            args["publish"] = {"url": self.server.upload_link.url, "index_url": self.server.url + "simple/", "username": USER,
                               "password": SECRET}
        return args

    def run(self, fault_at=None, publish=True):
        result = self.player.run(self.args(publish), fault_at)
        self.outputs.append(result["raw_output"])
        return result

    def start(self):
        return self.player.start(self.args())

    def broken(self):
        """What the index holds that is not the set's: in its folder, or listed on a page with another sha256."""
        found = ["%s in the index folder has sha256 %s" % (name, digest) for name, digest in self.server.files().items()
                 if self.wheels.get(name) != digest]
        for project in PROJECTS:
            listed = self.server.page(project)
            if listed is None:
                found.append("the index does not answer for %s" % project)
            found += ["%s is listed with sha256 %s" % (name, digest) for name, digest in (listed or {}).items()
                      if self.wheels.get(name) != digest]
        return found

    def leaked(self):
        """Where the password shows: results of the runs, the build log, the files of the set, pypiserver's log."""
        places = ["the result of run %d" % (i + 1) for i, out in enumerate(self.outputs) if SECRET in out]
        files = [self.log_file, self.server.log]
        for folder, _dirs, names in os.walk(self.platform):
            files += [os.path.join(folder, n) for n in names]
        for path in files:
            if os.path.exists(path):
                with open(path, "rb") as handle:
                    if SECRET.encode() in handle.read():
                        places.append(path)
        return places

    def cut_short(self):
        """{file name: (bytes held, bytes of the wheel)} of the files the index holds as the start of the set's."""
        cut = {}
        for name in self.server.files():
            with open(os.path.join(self.server.root, name), "rb") as handle:
                held = handle.read()
            with open(os.path.join(self.platform, "wheels", name), "rb") as handle:
                ours = handle.read()
            if len(held) < len(ours) and ours.startswith(held):
                cut[name] = (len(held), len(ours))
        return cut

    def check(self, case, faulty):
        """The invariants after a fault (faulty: the task result of the faulted run, None when killed before one).

        An upload cut off that the index server kept (pypiserver does) breaks the first one; the next run must
        then name the file cut short, and once it is removed by hand (as that message says) the runs converge:
        the case is recorded as not holding and ends as an expected failure (xfail), anything else fails it.
        Records the outcome for docs/reliability.md.
        """
        cut = self.cut_short()
        problems = [p for p in self.broken() if p.split(" ", 1)[0] not in cut]
        kept = ["pypiserver kept %s cut short (%d of %d bytes): the next run refused it, naming it cut short; removed by "
                "hand as that message says, the runs after converged" % ((name,) + sizes) for name, sizes in sorted(cut.items())]
        converged = []
        if cut:
            refused = self.run()
            if not refused.get("failed") or "holds %s cut short" % min(cut) not in refused.get("msg", ""):
                converged.append("the run after the fault did not name %s cut short: %s" % (min(cut), refused.get("msg")))
            for name in cut:
                os.unlink(os.path.join(self.server.root, name))
        held = set(self.server.files())
        lacking = sorted(name for name in self.wheels if name not in held)
        following = self.run()
        further = self.run()
        if following.get("failed") or further.get("failed"):
            converged.append("the next runs failed: %s / %s" % (following.get("msg"), further.get("msg")))
        if sorted(following.get("published") or []) != lacking or following.get("changed") is not bool(lacking):
            converged.append("the next run published %s (changed %s), the index lacked %s"
                             % (following.get("published"), following.get("changed"), lacking))
        if further.get("changed") is not False or further.get("published"):
            converged.append("the further run changed %s, published %s" % (further.get("changed"), further.get("published")))
        if self.server.files() != self.wheels or self.broken():
            converged.append("the index holds %s, not the set %s: %s" % (sorted(self.server.files()), sorted(self.wheels),
                                                                         self.broken()))
        leaks = ["the password shows in %s" % place for place in self.leaked()]
        failures = problems + converged + leaks
        OUTCOMES.append({"class": FAULT_CLASS, "case": case, "lost_nothing": not problems and not leaks and not cut,
                         "converged": not converged and not cut, "problems": [p[:300] for p in kept + failures]})
        assert not failures, "%s (the fault run: %s): %s" % (case, faulty and faulty.get("msg"), "; ".join(failures))
        if cut:
            pytest.xfail("; ".join(kept))


@pytest.fixture(scope="module")
def publishing_template(tmp_path_factory, index_server):
    """The wheel set built once (with the builder venv and its twine) without publishing; a copy to restore."""
    base = str(tmp_path_factory.mktemp("publish-faults"))
    site = Publishing(os.path.join(base, "site"), index_server, base)
    os.makedirs(site.wheelhouse)
    make_wheel(site.wheelhouse, "alpha", "1.0", ["beta>=1", "gamma>=1"])
    # random bytes do not compress: an upload of some 4 MB, long enough to be caught under way
    make_wheel(site.wheelhouse, "beta", "1.0", extra_files={"beta_mod/blob.py": "B = %r\n" % os.urandom(2 << 20).hex()})
    make_wheel(site.wheelhouse, "gamma", "1.0")
    first = site.run(publish=False)
    assert first["changed"] and not first.get("failed"), first["raw_output"]
    assert os.access(os.path.join(site.root, "builder", "bin", "twine"), os.X_OK), first["builder"]
    site.wheels = dict((w["filename"], w["sha256"]) for w in first["wheels"])
    assert sorted(site.wheels) == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl", "gamma-1.0-py3-none-any.whl"]
    return site, site.saved(os.path.join(base, "template"))


@pytest.fixture
def publishing(publishing_template, tmp_path):
    """The built set as the template left it, an empty index, a player of its own: for one case."""
    site, template = publishing_template
    site.restore(template, str(tmp_path))
    return site


def test_publish_named_step(publishing):
    """Killed after twine returned, before the pages are read again: all uploaded, nothing reported."""
    faulty = publishing.run(fault_at="publish-uploaded")
    assert faulty.get("failed"), "the run did not die at publish-uploaded: %s" % faulty["raw_output"]
    publishing.check("publish, killed at publish-uploaded", faulty)


def moments(site):
    """Moments of a publish seen from outside: what shows it."""
    return {
        "twine started": lambda run: uploader_pid(run.proc.pid),
        # alpha is some 1 KB: beta (4 MB) is on its way to the index, half of it through the slow link at most
        "beta under way": lambda run: site.server.upload_link.sent > (1 << 20),
    }


def kill_during_publish(site, moment, whole_tree):
    site.server.upload_link.sent = 0
    run = site.start()
    if not run.wait_for(moments(site)[moment]):
        raise AssertionError("the run ended before the moment %s: %s" % (moment, run.result()))
    if whole_tree:
        run.kill_tree()
    else:
        pid = uploader_pid(run.proc.pid)
        assert pid, "no twine process to kill"
        kill(pid)
    result = run.result()
    if result is not None:
        site.outputs.append(result["raw_output"])
    # what the killed twine had sent reaches the index; pypiserver (one request at a time) answers a page once
    # it has handled the upload
    site.server.upload_link.settle()
    site.server.page("alpha")
    return result


@pytest.mark.parametrize("moment", ["twine started", "beta under way"])
def test_publish_kill_tree(publishing, moment):
    faulty = kill_during_publish(publishing, moment, whole_tree=True)
    publishing.check("publish, tree killed at: %s" % moment, faulty)


@pytest.mark.parametrize("moment", ["twine started", "beta under way"])
def test_publish_kill_twine(publishing, moment):
    faulty = kill_during_publish(publishing, moment, whole_tree=False)
    assert faulty and faulty.get("failed") and "failed (rc=-9)" in faulty["msg"], faulty
    publishing.check("publish, twine killed at: %s" % moment, faulty)


def test_two_build_hosts_publish_the_same_set_at_once(publishing, tmp_path):
    """Two build hosts whose sets share their files (pure-Python wheels, the same on every platform) publish to one
    index at once, as the build hosts of a play do. The first run's twine is held (SIGSTOP) as it starts, after the
    run read the pages; the other build host publishes the whole set meanwhile; then twine goes on and pypiserver
    refuses a file it holds (400 to twine). The first run must take the index as it is (every file listed with the set's
    sha256), report no upload of its own and warn; the index holds the set. Not a kill: no entry in reliability.md.
    """
    site = publishing
    other = site.twin(str(tmp_path / "other"), site.server, str(tmp_path / "other"))
    run = site.start()
    twine = run.wait_for(lambda r: uploader_pid(r.proc.pid))
    assert twine, "the run ended before twine started: %s" % run.result()
    os.kill(twine, signal.SIGSTOP)
    try:
        # pypiserver answers one request at a time: a twine held in the middle of one would hold the other run too
        assert site.server.upload_link.pumps == 0, "twine had connected to the index before it was held"
        second = other.run()
    finally:
        os.kill(twine, signal.SIGCONT)
    first = run.result()
    assert first is not None, "the first run printed no result"
    site.outputs.append(first["raw_output"])
    assert not second.get("failed") and sorted(second["published"]) == sorted(site.wheels), second["raw_output"]
    assert not first.get("failed"), first["msg"]
    assert first["published"] == [] and first["changed"] is False, first["raw_output"]
    assert any("another build uploaded it at the same time" in w for w in first.get("warnings", [])), first["raw_output"]
    assert site.server.files() == site.wheels and not site.broken()
    for again in (site.run(), other.run()):
        assert again["changed"] is False and again["published"] == [], again["raw_output"]
    assert not site.leaked() and not other.leaked()


def test_publish_to_an_index_whose_disk_fills_up(publishing, tmp_path):
    """The index server's folder is a tmpfs of 3 MB: the 4 MB beta does not fit. pypiserver fails the upload (500),
    keeps what it wrote, and answers twine's retry that the file exists (400). The run must fail naming twine's
    error and the file held cut short; once that file is removed and the disk grown (what its message and the
    server's log lead the operator to), the next run uploads what the index lacks, the one after it nothing.
    """
    site = publishing
    mount = str(tmp_path / "packages")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mount], check=True)
    full = None
    try:
        full = IndexServer(str(tmp_path), root=mount)
        full.upload_link = SlowLink(int(full.url.rsplit(":", 1)[1].strip("/")), rate=1 << 30)
        other = site.twin(str(tmp_path / "site"), full, str(tmp_path))
        failed = other.run()
        assert failed.get("failed"), failed["raw_output"]
        assert "the upload to %s failed (rc=1)" % full.upload_link.url in failed["msg"], failed["msg"]
        assert "Internal Server Error" in failed["msg"] or "500" in failed["msg"], failed["msg"]
        cut = other.cut_short()
        assert list(cut) == ["beta-1.0-py3-none-any.whl"], (cut, full.files())
        assert "holds beta-1.0-py3-none-any.whl cut short" in failed["msg"] and "a full disk" in failed["msg"]
        assert "nothing was uploaded" not in failed["msg"], failed["msg"]
        assert "No space left on device" in read(full.log)
        os.unlink(os.path.join(mount, "beta-1.0-py3-none-any.whl"))
        subprocess.run(["mount", "-o", "remount,size=16m", mount], check=True)
        following, further = other.run(), other.run()
        assert not following.get("failed") and following["published"] == ["beta-1.0-py3-none-any.whl", "gamma-1.0-py3-none-any.whl"], \
            following["raw_output"]
        assert further["changed"] is False and further["published"] == [], further["raw_output"]
        assert full.files() == site.wheels and not other.leaked()
    finally:
        if full is not None:
            full.upload_link.close()
            full.stop()
        subprocess.run(["umount", "-l", mount], check=False)
