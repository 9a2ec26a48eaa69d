# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is every package location reachable? Asked before anything changes, so the error names it."""

from __future__ import annotations

import os

from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit

from ansible.module_utils.urls import open_url

from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._masking import mask_text

TIMEOUT = 20


def _ca_path(environment):
    """The CA bundle the installer would use (PIP_CERT and friends), so both agree on what is reachable."""
    for key in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = (environment or {}).get(key) or os.environ.get(key)
        if value and os.path.isfile(value):
            return value
    return None


def _open(url, method, trusted_hosts, environment):
    """open_url of an http(s) URL; the credentials of the URL go in the Authorization header."""
    parts = urlsplit(url)
    netloc = parts.hostname + (":%d" % parts.port if parts.port else "")
    return open_url(
        parts._replace(netloc=netloc).geturl(), method=method, timeout=TIMEOUT,
        # unquoted as pip reads them: a password with '@' or '/' is given quoted in the URL
        url_username=unquote(parts.username) if parts.username else parts.username,
        url_password=unquote(parts.password) if parts.password else parts.password, force_basic_auth=bool(parts.username),
        validate_certs=parts.hostname not in trusted_hosts, ca_path=_ca_path(environment),
        http_agent="wheelhouse.venv reachability check", follow_redirects="all")


def _request(url, method, what, trusted_hosts, environment, tolerated=()):
    """The response to url, or VenvBuildError naming what cannot be reached; None for an HTTP code in tolerated."""
    verb = "cannot be read" if method == "GET" else "cannot be reached"
    try:
        return _open(url, method, trusted_hosts, environment)
    except HTTPError as exc:
        if exc.code in (401, 403):
            raise VenvBuildError("%s %s refused access (HTTP %d): check the credentials" % (what, mask_text(url), exc.code))
        if exc.code in tolerated:
            return None
        raise VenvBuildError("%s %s %s: HTTP %d %s" % (what, mask_text(url), verb, exc.code, exc.reason))
    except (URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise VenvBuildError("%s %s %s: %s" % (what, mask_text(url), verb, mask_text(str(reason))))
    except Exception as exc:  # open_url's SSLValidationError and ConnectionError derive from Exception only
        raise VenvBuildError("%s %s %s: %s" % (what, mask_text(url), verb, mask_text(str(exc))))


def fetch(url, what, trusted_hosts=(), environment=None):
    """The bytes at an http(s) URL (one GET), or VenvBuildError naming what cannot be read (credentials masked)."""
    response = _request(url, "GET", what, trusted_hosts, environment)
    try:
        return response.read()
    except (IOError, OSError) as exc:
        raise VenvBuildError("%s %s cannot be read: %s" % (what, mask_text(url), mask_text(str(exc))))
    finally:
        response.close()


def _probe(spec, url, what):
    """Raise VenvBuildError naming what cannot be reached; HTTP answers below 400 are fine."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not os.path.exists(parts.path):
            raise VenvBuildError("%s %s cannot be reached: %s does not exist" % (what, mask_text(url), parts.path))
        return
    if parts.scheme not in ("http", "https"):
        return  # other schemes are the installer's business
    # the server answers 405 to HEAD, or 404: some indexes serve no page at their root
    response = _request(url, "HEAD", what, spec.trusted_hosts, spec.environment,
                        (405,) if what == "find_links location" else (404, 405))
    if response is not None:
        response.close()


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
