"""A PEP 503 package index in a folder, served by tests/lib/httpserve.py, that takes uploads as twine sends them.

    index = Index(tmp_path / "index")                       # packages/<file>, simple/<project>/index.html
    with serve(upload_handler(index, "uploader", SECRET), index.root) as url:
        # url: twine's --repository-url; url + "simple/": pip's --index-url (both behind the password)
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import os
import re

from httpserve import BasicAuthHandler


def canonical_name(name):
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


class Index(object):
    """A PEP 503 index in a folder: simple/<project>/index.html linking ../../packages/<file>#sha256=..."""

    def __init__(self, root, hashes=True):
        self.root = root
        self.hashes = hashes
        (root / "packages").mkdir(parents=True, exist_ok=True)

    def add(self, filename, data):
        (self.root / "packages" / filename).write_bytes(data)
        self.write_page(filename)

    def remove(self, filename):
        os.unlink(str(self.root / "packages" / filename))
        self.write_page(filename)

    def write_page(self, filename):
        project = canonical_name(filename.split("-")[0])
        page = self.root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        links = []
        for name in sorted(os.listdir(str(self.root / "packages"))):
            if canonical_name(name.split("-")[0]) == project:
                digest = hashlib.sha256((self.root / "packages" / name).read_bytes()).hexdigest()
                links.append('<a href="../../packages/%s%s">%s</a>' % (name, "#sha256=" + digest if self.hashes else "", name))
        (page / "index.html").write_text("<html><body>%s</body></html>" % "\n".join(links))


class UploadHandler(BasicAuthHandler):
    """Serves the index folder; a POST of twine's upload form (field `content`) adds the file to `index`."""

    index = None

    def do_POST(self):
        if not self.authorized():
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + self.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + body)
        files = [part for part in form.iter_parts() if part.get_param("name", header="content-disposition") == "content"]
        if len(files) != 1 or not files[0].get_filename():
            self.send_response(400)
            self.end_headers()
            return
        self.index.add(os.path.basename(files[0].get_filename()), files[0].get_payload(decode=True))
        self.send_response(200)
        self.end_headers()


def upload_handler(index, user, password):
    """A handler class for serve(..., index.root): the index and its uploads, to user:password only."""
    return type("UploadIndex", (UploadHandler,), {"index": index, "user": user, "password": password})
