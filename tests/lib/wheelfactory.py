"""Real, installable wheels made in the test: a local wheelhouse with no network.

Each wheel holds one importable module (`<name>_mod` with VERSION) and declares its dependencies,
so pip and uv resolve, install, upgrade and uninstall them as they would any PyPI wheel.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile


def _record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def module_name(name):
    return re.sub(r"[^a-z0-9]", "_", name.lower()) + "_mod"


def make_wheel(folder, name, version, requires=(), extras=None, console_script=False, extra_files=None):
    """Write <name>-<version>-py3-none-any.whl into folder and return its path.

    extra_files: {path inside the wheel: text} added as they are (for example many modules, so
    that an install takes long enough to be interrupted).
    """
    dist = re.sub(r"[-_.]+", "_", name)
    dist_info = "%s-%s.dist-info" % (dist, version)
    mod = module_name(name)
    files = {
        "%s/__init__.py" % mod: "VERSION = %r\n\ndef main():\n    print(VERSION)\n" % version,
    }
    files.update(extra_files or {})
    metadata = ["Metadata-Version: 2.1", "Name: %s" % name, "Version: %s" % version]
    for req in requires:
        metadata.append("Requires-Dist: %s" % req)
    for extra, reqs in (extras or {}).items():
        metadata.append("Provides-Extra: %s" % extra)
        for req in reqs:
            metadata.append('Requires-Dist: %s ; extra == "%s"' % (req, extra))
    files["%s/METADATA" % dist_info] = "\n".join(metadata) + "\n\n"
    files["%s/WHEEL" % dist_info] = "Wheel-Version: 1.0\nGenerator: wheelfactory\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files["%s/top_level.txt" % dist_info] = mod + "\n"
    if console_script:
        files["%s/entry_points.txt" % dist_info] = "[console_scripts]\n%s-version = %s:main\n" % (name, mod)
    record_lines = []
    for path, text in sorted(files.items()):
        data = text.encode()
        record_lines.append("%s,%s,%d" % (path, _record_hash(data), len(data)))
    record_lines.append("%s/RECORD,," % dist_info)
    files["%s/RECORD" % dist_info] = "\n".join(record_lines) + "\n"
    path = os.path.join(folder, "%s-%s-py3-none-any.whl" % (dist, version))
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in sorted(files.items()):
            archive.writestr(member, text)
    return path


def sha256_of(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def make_sdist_running(folder, name, version, command):
    """Write <name>-<version>.tar.gz, a setuptools sdist whose setup.py runs command (a list) first.

    As a build backend that calls a build tool (cython, maturin) found only on PATH: the metadata
    step and the build both fail when the command is not there.
    """
    base = "%s-%s" % (name, version)
    mod = module_name(name)
    files = {
        "setup.py": "import subprocess\nfrom setuptools import setup\nsubprocess.check_call(%r)\n"
                    "setup(name=%r, version=%r, py_modules=[%r])\n" % (list(command), name, version, mod),
        "%s.py" % mod: "VERSION = %r\n" % version,
        "PKG-INFO": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version),
    }
    path = os.path.join(folder, base + ".tar.gz")
    with tarfile.open(path, "w:gz") as archive:
        for member, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo("%s/%s" % (base, member))
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
