# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upload a built wheel set to a package index (the venv_wheel_build module's publish option).

What the index holds is read from the PEP 503 simple page of each project of the set (one GET each):
files it lacks are uploaded with twine from the builder venv; files it holds with the same sha256 are
left alone; a file it holds with other bytes fails the run before any target installs (the targets
install with hash checking and would refuse it; one that is the start of the set's wheel is named as an upload
cut off: pypiserver keeps what it received when twine is killed mid-upload). After an upload the pages are read
again: every uploaded file must be listed with its sha256.
"""

from __future__ import annotations

import hashlib
import os
import re

from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from ansible_collections.wheelhouse.venv.plugins.module_utils import _reach as reach
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._faults import fault_point
from ansible_collections.wheelhouse.venv.plugins.module_utils._masking import mask_text
from ansible_collections.wheelhouse.venv.plugins.module_utils._pep508 import canonical_name


class _Links(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def parse_simple_page(html, page_url):
    """{file name: (sha256 or '', absolute URL)} of the files a PEP 503 project page lists."""
    parser = _Links()
    parser.feed(html)
    files = {}
    for href in parser.hrefs:
        url, _sep, fragment = href.partition("#")
        filename = os.path.basename(urlsplit(url).path)
        if not filename:
            continue
        digest = fragment[len("sha256="):].lower() if fragment.startswith("sha256=") else ""
        files[filename] = (digest, urljoin(page_url, url))
    return files


def with_credentials(url, username, password):
    """url with username:password (quoted) in it; url as it is without a username."""
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit((parts.scheme, userinfo + "@" + parts.netloc.rsplit("@", 1)[-1], parts.path, parts.query,
                       parts.fragment))


class Publisher(object):
    """params: the module's publish option (url, index_url, username, password); environment and trusted
    hosts as for the build (CA bundle variables, plain-HTTP hosts); runner: the module's commands.Runner."""

    def __init__(self, params, builder_venv, environment, trusted_hosts, runner, log_file="", wheel_path=""):
        self.p = params
        self.wheel_path = wheel_path
        self.builder_venv = builder_venv
        self.environment = dict(environment or {})
        self.trusted = list(trusted_hosts or [])
        host = urlsplit(params["index_url"]).hostname
        if urlsplit(params["index_url"]).scheme == "http" and host not in self.trusted:
            self.trusted.append(host)
        self.runner = runner
        self.log_file = log_file

    def page(self, project):
        """What the index lists for project: {file name: (sha256 or '', URL)}; {} when it has no such project."""
        base = self.p["index_url"].rstrip("/") + "/" + canonical_name(project) + "/"
        url = with_credentials(base, self.p.get("username") or "", self.p.get("password") or "")
        # pip follows the index's redirect to the normalized name too; 404: the project is not there yet
        response = reach._request(url, "GET", "the package index page", self.trusted, self.environment, tolerated=(404,))
        if response is None:
            return {}
        try:
            html = response.read().decode("utf-8", "replace")
        finally:
            response.close()
        return parse_simple_page(html, base)

    def held_sha256(self, listed):
        """The sha256 of a listed file: from the page, or from its bytes when the page gives none."""
        digest, url = listed
        if digest:
            return digest
        return hashlib.sha256(self.held_bytes(url)).hexdigest()

    def held_bytes(self, url):
        return reach.fetch(with_credentials(url, self.p.get("username") or "", self.p.get("password") or ""),
                           "the file on the package index", self.trusted, self.environment)

    def cut_short(self, listed, wheel):
        """(bytes held, bytes of the wheel) when the index holds the start of the set's wheel, else None."""
        try:
            with open(os.path.join(self.wheel_path, wheel["filename"]), "rb") as handle:
                ours = handle.read()
            held = self.held_bytes(listed[1])
        except (IOError, OSError, VenvBuildError):
            return None
        return (len(held), len(ours)) if len(held) < len(ours) and ours.startswith(held) else None

    def missing(self, wheels, before=True):
        """The wheels (records with name, filename, sha256) the index lacks; fails on one it holds with other bytes
        (before: read before any upload of this run, as the message says)."""
        nothing = "; nothing was uploaded" if before else ""
        pages, lacking = {}, []
        for wheel in wheels:
            project = canonical_name(wheel["name"])
            if project not in pages:
                pages[project] = self.page(project)
            listed = pages[project].get(wheel["filename"])
            if listed is None:
                lacking.append(wheel)
                continue
            held = self.held_sha256(listed)
            cut = self.cut_short(listed, wheel) if held != wheel["sha256"] and self.wheel_path else None
            if cut:
                raise VenvBuildError(
                    "the package index %s holds %s cut short: its %d bytes are the start of the wheel of the set (%d "
                    "bytes), an upload that was cut off (twine or the run killed mid-upload, or the index server unable to "
                    "write it whole - a full disk; pypiserver keeps what it received). The targets install with hash "
                    "checking and would refuse it. Remove that file from the index, then run again: the next run "
                    "uploads it whole%s"
                    % (mask_text(self.p["index_url"]), wheel["filename"], cut[0], cut[1], nothing))
            if held != wheel["sha256"]:
                raise VenvBuildError(
                    "the package index %s holds %s with sha256 %s, but the wheel set has it with sha256 %s: the targets "
                    "install with hash checking and would refuse it. Remove that file from the index (it was altered, "
                    "or another build uploaded a wheel of the same name), then run again%s"
                    % (mask_text(self.p["index_url"]), wheel["filename"], held, wheel["sha256"], nothing))
        return lacking

    def upload(self, wheel_path, wheels):
        """Upload the wheels with the builder venv's twine, then check that the index lists each with its sha256.

        Returns (the file names this run uploaded, warnings). Another build publishing the same file at the same
        time (a pure-Python wheel from PyPI is in the set of every platform, and the build hosts of a play publish
        at once) makes twine fail on the first file the index already holds: when the index then lists that file
        with the set's sha256, the pages are read again and twine uploads what is still lacking; a file with other
        bytes fails as missing() says, any other failure of twine fails the run.
        """
        twine = os.path.join(self.builder_venv, "bin", "twine")
        if not os.access(twine, os.X_OK):
            raise VenvBuildError("%s does not exist: the builder venv needs twine to upload to %s (the role installs it "
                                 "when venv_wheel_index_publish_url is set)" % (twine, mask_text(self.p["url"])))
        uploaded, warnings, lacking = [], [], list(wheels)
        while lacking:
            rc, sent, error = self.twine(twine, wheel_path, lacking)
            if rc == 0:
                uploaded += [w["filename"] for w in lacking]
                break
            # twine stops at the file it could not upload, the last one it names; the ones before it went up
            failed = sent[-1] if sent and rc > 0 else None
            uploaded += sent[:-1]
            if failed is None:
                raise error
            try:
                still = self.missing(lacking, before=False)
            except VenvBuildError as found:
                raise VenvBuildError("%s\nThe index read again after that: %s" % (error.msg, found.msg), rc=rc)
            if failed in [w["filename"] for w in still]:
                raise error
            warnings.append("twine could not upload %s to %s, and the index now lists it with the sha256 of the set: "
                            "another build uploaded it at the same time (a wheel that the sets of two build hosts "
                            "share), or the index stored it but answered with an error; the files still lacking "
                            "were uploaded after it"
                            % (failed, mask_text(self.p["url"])))
            lacking = still
        fault_point("publish-uploaded")
        still = self.missing(wheels, before=False)
        if still:
            raise VenvBuildError("twine uploaded to %s, but the index %s does not list %s: check that the upload "
                                 "endpoint belongs to that index" % (mask_text(self.p["url"]),
                                                                     mask_text(self.p["index_url"]),
                                                                     ", ".join(w["filename"] for w in still)))
        return uploaded, warnings

    def twine(self, twine, wheel_path, wheels):
        """One `twine upload` of the wheels: (rc, the file names twine said it was uploading, the error to raise
        when it failed, else None)."""
        env = dict((str(k), str(v)) for k, v in self.environment.items())
        # credentials through the environment: never on a command line, in the commands or the log
        env.update(TWINE_USERNAME=self.p.get("username") or "", TWINE_PASSWORD=self.p.get("password") or "",
                   TWINE_NON_INTERACTIVE="1")
        # no --skip-existing: twine 7 refuses it for indexes other than PyPI; the pages were read instead
        argv = [twine, "--no-color", "upload", "--disable-progress-bar", "--repository-url", self.p["url"]]
        argv += [os.path.join(wheel_path, w["filename"]) for w in wheels]
        rc, out, err = self.runner(argv, env, wheel_path)
        # twine prints `Uploading <file>` before it sends one, folded at the width of its console: read without
        # the white space
        said = re.sub(r"\s+", "", out or "")
        found = [(said.find("Uploading" + w["filename"]), w["filename"]) for w in wheels]
        sent = [name for at, name in sorted(found) if at >= 0]
        if rc == 0:
            return rc, sent, None
        where = " The whole output is in %s." % self.log_file if self.log_file else ""
        # twine's log lines come padded to the width
        told = "\n".join(line.rstrip() for line in (err or out or "").strip().splitlines())
        error = VenvBuildError(mask_text("the upload to %s failed (rc=%d): %s\n%s%s"
                                         % (self.p["url"], rc, self.runner.commands[-1], told[-2000:], where)), rc=rc)
        return rc, sent, error
