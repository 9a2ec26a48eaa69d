"""Writes a tiny installable wheel, so that the target needs neither a network nor an index.

    python make_wheel.py FOLDER NAME VERSION [REQUIREMENT ...]

writes FOLDER/<name>-<version>-py3-none-any.whl holding one module, <name>_mod, whose VERSION is
VERSION, and declaring REQUIREMENT as its dependencies. The same wheels as tests/lib/wheelfactory.py
makes for the pytest suites (a target ships with nothing but its own files).
"""

import base64
import hashlib
import os
import re
import sys
import zipfile


def record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def main(folder, name, version, requires):
    dist = re.sub(r"[-_.]+", "_", name)
    dist_info = "%s-%s.dist-info" % (dist, version)
    mod = re.sub(r"[^a-z0-9]", "_", name.lower()) + "_mod"
    metadata = ["Metadata-Version: 2.1", "Name: %s" % name, "Version: %s" % version]
    metadata += ["Requires-Dist: %s" % req for req in requires]
    files = {
        "%s/__init__.py" % mod: "VERSION = %r\n" % version,
        "%s/METADATA" % dist_info: "\n".join(metadata) + "\n\n",
        "%s/WHEEL" % dist_info: "Wheel-Version: 1.0\nGenerator: make_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "%s/top_level.txt" % dist_info: mod + "\n",
    }
    record = ["%s,%s,%d" % (path, record_hash(text.encode()), len(text.encode())) for path, text in sorted(files.items())]
    files["%s/RECORD" % dist_info] = "\n".join(record + ["%s/RECORD,," % dist_info]) + "\n"
    path = os.path.join(folder, "%s-%s-py3-none-any.whl" % (dist, version))
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in sorted(files.items()):
            archive.writestr(member, text)
    print(path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
