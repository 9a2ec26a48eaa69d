"""What scenario multi_distro's hosts are: their Python by distribution, and the wheels they hold."""

import re

PYTHON = {"bookworm": "3.11", "trixie": "3.13"}
PLATFORM = {"bookworm": "debian-12-x86_64-py3.11", "trixie": "debian-13-x86_64-py3.13"}
# Debian's own wheels for ensurepip are pure Python (py3-none-any): only cpXY-tagged wheels can be wrong.
CP_TAG = re.compile(r"-cp(\d)(\d+)-")


def suite_of(host):
    """Hosts are named <role>-<suite> in molecule.yml."""
    return host.backend.name.split("-", 1)[1]


def wrong_and_checked_wheels(host):
    """(cpXY wheels of another Python than this host's, markupsafe's cpXY wheels) found anywhere on the host."""
    want = PYTHON[suite_of(host)].replace(".", "")
    out = host.check_output("find / -xdev -name '*.whl'")
    tagged = [w for w in out.splitlines() if CP_TAG.search(w.rsplit("/", 1)[-1])]
    wrong = [w for w in tagged if "".join(CP_TAG.search(w.rsplit("/", 1)[-1]).groups()) != want]
    markupsafe = [w for w in tagged if w.rsplit("/", 1)[-1].lower().startswith("markupsafe-")]
    return wrong, markupsafe
