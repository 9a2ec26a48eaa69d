"""Fault-injection tier: venv_build killed, starved of disk, raced and fed damaged files, then the invariants.

Every case starts from the same venv (alpha 1.0 made by a real run once per session, copied back
before each case), injects one fault into a run that changes it, then checks: no user file lost, the
venv imports the old or the new package set (or is repaired by the next run where the installer was
killed in place), the next normal run converges with changed reported exactly once, the facts hold
the new value and nothing is left behind. With WH_RELIABILITY_DOCS=1 the session writes
docs/reliability.md from the outcomes (tests/faults/report.py).
"""

from __future__ import annotations

import configparser
import glob
import os

import pytest
import yaml

from harness import TARGET_PYTHON, Player, copy_tree, leftovers, read, venv_version
from wheelfactory import make_wheel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# outcome of every case, by fault class, for docs/reliability.md
OUTCOMES = []
SENTINEL = "user data: never delete me\n"
# alpha's wheels hold many modules, so that an install lasts long enough to be interrupted
BULK = 400


def foreign_files_option():
    """True when venv_build has the option foreign_files (files of the user inside the venv are carried)."""
    from ansible_collections.wheelhouse.venv.plugins.modules import venv_build
    return "foreign_files" in yaml.safe_load(venv_build.DOCUMENTATION)["options"]


@pytest.fixture(scope="session")
def fault_wheelhouse(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("fault-wheelhouse"))
    bulk = dict(("alpha_mod/bulk/m%04d.py" % i, "X = %d\n" % i) for i in range(BULK))
    make_wheel(folder, "alpha", "1.0", ["beta>=1"], console_script=True, extra_files=bulk)
    make_wheel(folder, "alpha", "1.1", ["beta>=1"], console_script=True, extra_files=bulk)
    make_wheel(folder, "beta", "1.0")
    make_wheel(folder, "beta", "2.0")
    make_wheel(folder, "buildtool", "1.0")
    # about 6 MB that does not compress: fills a small disk
    ballast = dict(("ballast_mod/b%d.py" % i, "B = %r\n" % os.urandom(300000).hex()) for i in range(10))
    make_wheel(folder, "ballast", "1.0", extra_files=ballast)
    return folder


class Spec(object):
    """What one run asks for: requirements, system_site_packages, the fact it writes; and alpha's version."""

    def __init__(self, name, alpha, site_packages=False, extra=None, options=None):
        self.name = name
        self.options = options or {}
        self.alpha = alpha
        self.site_packages = site_packages
        self.fact = "%s%s" % (alpha, "+system" if site_packages else "")
        self.extra = extra or []

    def args(self, site):
        args = {
            "path": site.path,
            "python": TARGET_PYTHON,
            "requirements": ["alpha==%s" % self.alpha] + self.extra,
            "system_site_packages": self.site_packages,
            "find_links": [site.wheelhouse],
            "no_index": True,
            "log_file": os.path.join(site.root, "venv_build.log"),
            "facts_dir": site.facts_dir,
            "facts": [{"section": "app", "option": "alpha", "value": self.fact}],
        }
        if site.carry:
            args["foreign_files"] = "carry"
        args.update(self.options)
        return args


OLD = Spec("old", "1.0")
UPGRADE = Spec("upgrade in place", "1.1")
REBUILD = Spec("rebuild", "1.1", site_packages=True)
# keep_previous: the replaced venv is kept as a release (tests/integration/test_venv_build_releases.py)
KEEP = Spec("upgrade keeping the old venv", "1.1", options={"keep_previous": 1})
# an upgrade whose build requirements (a build tool) are installed by an installer run of their own first
UPGRADE_TOOL = Spec("upgrade in place with a build tool", "1.1", options={"build_requirements": ["buildtool==1.0"]})


class Site(object):
    """A venv at <root>/venvs/app with user files beside it (and inside with foreign_files=carry)."""

    def __init__(self, root, wheelhouse, workdir, carry):
        self.root = root
        self.parent = os.path.join(root, "venvs")
        self.path = os.path.join(self.parent, "app")
        self.facts_dir = os.path.join(root, "facts.d")
        self.wheelhouse = wheelhouse
        self.player = Player(workdir)
        self.carry = carry

    def sentinels(self):
        found = [os.path.join(self.parent, "keep-me.txt")]
        if self.carry:
            found.append(os.path.join(self.path, "notes", "keep-me-too.txt"))
        return found

    def put_sentinels(self):
        for name in self.sentinels():
            os.makedirs(os.path.dirname(name), exist_ok=True)
            with open(name, "w") as handle:
                handle.write(SENTINEL)

    def lost(self, recoverable=False):
        """User files that are gone or changed; with recoverable, one carried into a leftover of a killed run
        (.NAME.venv_build-* beside the venv, which the next run moves back) is not lost yet."""
        lost = [name for name in self.sentinels() if read(name) != SENTINEL]
        if recoverable:
            prefix = os.path.join(self.parent, "." + os.path.basename(self.path) + ".venv_build-")
            lost = [name for name in lost
                    if not any(read(os.path.join(leftover, os.path.relpath(name, self.path))) == SENTINEL
                               for leftover in glob.glob(glob.escape(prefix) + "*"))]
        return lost

    def removed(self):
        """The venv is gone from path: nothing there, or only the user's entries state=absent keeps."""
        if not os.path.lexists(self.path):
            return True
        kept = set(os.path.relpath(n, self.path).split(os.sep, 1)[0] for n in self.sentinels() if n.startswith(self.path + os.sep))
        return os.path.isdir(self.path) and set(os.listdir(self.path)) <= kept

    def fact(self):
        parser = configparser.ConfigParser()
        parser.read(os.path.join(self.facts_dir, "app.fact"))
        return parser.get("app", "alpha", fallback=None)

    def system_site_packages(self):
        cfg = read(os.path.join(self.path, "pyvenv.cfg")) or ""
        return "include-system-site-packages = true" in cfg

    def run(self, spec, fault_at=None):
        return self.player.run(spec.args(self), fault_at)

    def start(self, spec, fault_at=None):
        return self.player.start(spec.args(self), fault_at)

    def check(self, case, fault_class, faulty, target, in_place, reported=None, notes=()):
        """The invariants after a fault (faulty: the task result of the faulted run, None when killed).

        reported: whether a faulted run already reported the change (by default: faulty says changed).
        notes: further problems the caller found (they fail the case, not the counts below).

        Records the outcome for docs/reliability.md, then fails the test naming what does not hold.
        """
        problems = []
        lost = self.lost(recoverable=True)
        if lost:
            problems.append("user files lost: %s" % lost)
        now = venv_version(self.path)
        if now not in (OLD.alpha, target.alpha) and not in_place:
            problems.append("after the fault the venv imports neither the old nor the new alpha (%r)" % now)
        if reported is None:
            reported = faulty is not None and faulty.get("changed") and not faulty.get("failed")
        reported = bool(reported)
        following = self.run(target)
        further = self.run(target)
        converged = []
        if following.get("failed") or further.get("failed"):
            converged.append("the next runs failed: %s / %s" % (following.get("msg"), further.get("msg")))
        if following.get("changed") is reported or further.get("changed") is not False:
            converged.append("changed not reported exactly once: fault run %s, next run %s, further run %s"
                             % (reported, following.get("changed"), further.get("changed")))
        if venv_version(self.path) != target.alpha or self.system_site_packages() != target.site_packages:
            site = glob.glob(os.path.join(self.path, "lib", "python*", "site-packages"))
            converged.append("the venv is not the new one: alpha %r, system_site_packages %s (the next run: %s; "
                             "in site-packages: %s)"
                             % (venv_version(self.path), self.system_site_packages(), following.get("reasons"),
                                sorted(e for e in os.listdir(site[0]) if "lpha" in e) if site else None))
        if (further.get("packages") or {}).get("alpha") != target.alpha:
            converged.append("the result reports alpha %r, the venv has %s"
                             % ((further.get("packages") or {}).get("alpha"), target.alpha))
        if self.fact() != target.fact:
            converged.append("the fact is %r, not %r" % (self.fact(), target.fact))
        if leftovers(self.path):
            converged.append("left behind: %s" % leftovers(self.path))
        lost_after = self.lost()
        if lost_after:
            converged.append("user files lost by the next run: %s" % lost_after)
        failures = problems + converged + list(notes)
        OUTCOMES.append({"class": fault_class, "case": case, "lost_nothing": not problems and not lost_after,
                         "converged": not converged, "problems": [p[:300] for p in failures]})
        assert not failures, "%s: %s" % (case, "; ".join(failures))


@pytest.fixture(scope="session")
def site_template(tmp_path_factory, fault_wheelhouse):
    """The starting point of every case, made by a real run once: venv with alpha 1.0, its fact."""
    base = str(tmp_path_factory.mktemp("faults"))
    site = Site(os.path.join(base, "site"), fault_wheelhouse, base, foreign_files_option())
    first = site.run(OLD)
    assert first["changed"] and not first.get("failed"), first["raw_output"]
    site.put_sentinels()
    template = os.path.join(base, "template")
    copy_tree(site.root, template)
    return site, template


@pytest.fixture
def site(site_template, tmp_path):
    """The site as the template left it, for one case."""
    template_site, template = site_template
    copy_tree(template, template_site.root)
    template_site.player = Player(str(tmp_path))
    return template_site


def pytest_sessionfinish():
    if os.environ.get("WH_RELIABILITY_DOCS") == "1" and OUTCOMES:
        from report import write_report
        write_report(os.path.join(ROOT, "docs", "reliability.md"), OUTCOMES, BULK)
