# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials inside URLs never leave the module: find them, mask them."""

from __future__ import annotations

import re

MASK = "********"

# scheme://user:password@  or  scheme://token@  (userinfo ends at the first '@' before any '/').
_USERINFO = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s'\"]*)(?::(?P<password>[^@/\s'\"]*))?@"
)
# A user alone is a secret only for web indexes (https://TOKEN@host); ssh's git@host is not.
_TOKEN_SCHEMES = ("http://", "https://")


def _masked_userinfo(match):
    scheme, user, password = match.group("scheme"), match.group("user"), match.group("password")
    if password is not None:
        return "%s%s:%s@" % (scheme, user, MASK)
    if scheme.lower().split("+")[-1] in _TOKEN_SCHEMES and user:
        return "%s%s@" % (scheme, MASK)
    return match.group(0)


# Values Ansible strips from the module's results (AnsibleModule.no_log_values): masked in the log too.
_SECRETS = set()


def register_secrets(values):
    """Mask these strings wherever mask_text masks (the module's log, messages), as Ansible does in results."""
    _SECRETS.update(v for v in values if isinstance(v, str) and v)


def mask_text(text):
    """Return text with every URL credential, and every registered secret, replaced by the mask."""
    if not text:
        return text
    text = _USERINFO.sub(_masked_userinfo, text)
    for secret in sorted(_SECRETS, key=len, reverse=True):  # the longest first: one may hold another
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_data(data):
    """mask_text applied through lists, tuples and dicts (keys are left alone)."""
    if isinstance(data, str):
        return mask_text(data)
    if isinstance(data, dict):
        return dict((k, mask_data(v)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return type(data)(mask_data(v) for v in data)
    return data


def find_secrets(text):
    """Return the set of secret strings (passwords, lone tokens) found in URLs of text."""
    secrets = set()
    for match in _USERINFO.finditer(text or ""):
        password, user = match.group("password"), match.group("user")
        if password:
            secrets.add(password)
        elif password is None and user and match.group("scheme").lower().split("+")[-1] in _TOKEN_SCHEMES:
            secrets.add(user)
    return secrets


def find_secrets_in(data):
    """find_secrets through strings nested in lists, tuples and dicts (keys included)."""
    if isinstance(data, str):
        return find_secrets(data)
    found = set()
    if isinstance(data, dict):
        for key, value in data.items():
            found |= find_secrets_in(key) | find_secrets_in(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            found |= find_secrets_in(value)
    return found


def strip_credentials(url):
    """Return url without its userinfo: what identifies the location, not who logs in."""
    return _USERINFO.sub(lambda m: m.group("scheme"), url or "")


# Environment variables whose values are secrets, whatever they hold.
_SECRET_NAME = re.compile(r"(?i)(password|passwd|token|secret|credential|auth|api_?key)")


def environment_secrets(environment):
    """Values of the environment that must never show: URL credentials, and variables named like secrets."""
    secrets = find_secrets_in(environment or {})
    for key, value in (environment or {}).items():
        if _SECRET_NAME.search(str(key)) and value not in (None, ""):
            secrets.add(str(value))
    return secrets
