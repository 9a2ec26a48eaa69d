# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is every package location reachable? Asked before anything changes, so the error names it."""

from __future__ import annotations

import os
import ssl

try:
    from urllib.error import HTTPError, URLError
    from urllib.parse import urlsplit
    from urllib.request import Request, urlopen
except ImportError:  # pragma: no cover - Python 2 is not supported by this collection
    raise

from ansible_collections.wheelhouse.venv.plugins.module_utils.errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils.masking import mask_text

TIMEOUT = 20


def _ssl_context(spec, host):
    if host in spec.trusted_hosts:
        return ssl._create_unverified_context()  # the user trusts this host explicitly (--trusted-host)
    cafile = None
    for key in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = spec.environment.get(key) or os.environ.get(key)
        if value and os.path.isfile(value):
            cafile = value
            break
    return ssl.create_default_context(cafile=cafile)


def _probe(spec, url, what):
    """Raise VenvBuildError naming what cannot be reached; HTTP answers below 400 are fine."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not os.path.exists(parts.path):
            raise VenvBuildError("%s %s cannot be reached: %s does not exist" % (what, mask_text(url), parts.path))
        return
    if parts.scheme not in ("http", "https"):
        return  # other schemes are the installer's business
    headers = {"User-Agent": "wheelhouse.venv reachability check"}
    if parts.username or parts.password:
        import base64
        token = base64.b64encode(("%s:%s" % (parts.username or "", parts.password or "")).encode()).decode()
        headers["Authorization"] = "Basic " + token
        netloc = parts.hostname + (":%d" % parts.port if parts.port else "")
        url = parts._replace(netloc=netloc).geturl()
    context = _ssl_context(spec, parts.hostname) if parts.scheme == "https" else None
    request = Request(url, headers=headers, method="HEAD")
    try:
        kwargs = {"timeout": TIMEOUT}
        if context is not None:
            kwargs["context"] = context
        response = urlopen(request, **kwargs)
        response.close()
    except HTTPError as exc:
        if exc.code in (401, 403):
            raise VenvBuildError("%s %s refused access (HTTP %d): check the credentials" % (what, mask_text(url), exc.code))
        if exc.code == 405 or (what != "find_links location" and exc.code == 404):
            return  # the server answers; some indexes serve no page at their root
        raise VenvBuildError("%s %s cannot be reached: HTTP %d %s" % (what, mask_text(url), exc.code, exc.reason))
    except (URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise VenvBuildError("%s %s cannot be reached: %s" % (what, mask_text(url), mask_text(str(reason))))


def check_locations(spec):
    """Every find-links location and (unless no_index) every index URL must answer."""
    for location in spec.find_links:
        if "://" not in location:
            if not os.path.exists(location):
                raise VenvBuildError("find_links location %s cannot be reached: no such file or directory" % location)
            continue
        _probe(spec, location, "find_links location")
    if spec.no_index:
        return
    for url in ([spec.index_url] if spec.index_url else []) + spec.extra_index_urls:
        _probe(spec, url, "index")
