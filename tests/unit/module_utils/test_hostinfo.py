"""plugins/module_utils/_hostinfo.py: what venv_host_info reads of a host.

The package managers are small shell scripts in a tmp folder, found through `search_path` and run
with subprocess, so the real argv, exit codes and output parsing are exercised. The real dpkg-query
and the real module: tests/integration/test_venv_host_info.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _hostinfo as hostinfo


def run(argv):
    """What the module's run does (module.run_command with LC_ALL=C), on subprocess.run."""
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          env=dict(os.environ, LC_ALL="C"), check=False)
    return proc.returncode, proc.stdout, proc.stderr


def script(folder, name, body):
    path = os.path.join(str(folder), name)
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


# Every call's arguments are appended to calls.log (each ends with \037, each call with \036).
LOG_CALL = r"""
{ printf '%s\037' "$@"; printf '\036'; } >> "$(dirname "$0")/calls.log"
"""


def fake_query(option, format_option, cases):
    """A package manager's query: checks the two leading options, logs the call, answers per name (case arms)."""
    return LOG_CALL + r"""
[ "$1" = %s ] && [ "$2" = %s ] || { echo "unexpected arguments: $*" >&2; exit 2; }
shift 2
rc=0
for name in "$@"; do
  case "$name" in
%s
  esac
done
exit $rc
""" % (option, format_option, cases)


# dpkg-query as on Debian: one line per known name it was asked about, "no packages found" on
# stderr and exit code 1 for names it does not know.
FAKE_DPKG_QUERY = fake_query("--show", "--showformat", r"""
    libc6|libc6:amd64) printf 'libc6\tii \n' ;;
    dpkg) printf 'dpkg\tii \n' ;;
    python3-venv) printf 'python3-venv\tii \n' ;;
    held-pkg) printf 'held-pkg\thi \n' ;;
    removed-pkg) printf 'removed-pkg\trc \n' ;;
    unknown-pkg) printf 'unknown-pkg\tun \n' ;;
    half-pkg) printf 'half-pkg\tiF \n' ;;
    *) echo "dpkg-query: no packages found matching $name" >&2; rc=1 ;;""")

# rpm --query: NAME for an installed package, "package X is not installed" (on stdout) otherwise.
FAKE_RPM = fake_query("--query", "--queryformat", r"""
    bash|glibc|python3) echo "$name" ;;
    *) echo "package $name is not installed"; rc=1 ;;""")

# apt-cache policy: dpkg is upgradable, libc6 and python3-venv are not, held-pkg has no candidate
# (pinned below 0: nothing apt would install); unknown names print nothing.
FAKE_APT_CACHE = r"""
[ "$1" = policy ] || exit 2
shift
for name in "$@"; do
  case "$name" in
    dpkg) cat <<'EOF'
dpkg:
  Installed: 1.21.22
  Candidate: 1.21.23
  Version table:
     1.21.23 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
 *** 1.21.22 100
        100 /var/lib/dpkg/status
EOF
    ;;
    libc6|libc6:amd64) cat <<'EOF'
libc6:
  Installed: 2.36-9+deb12u14
  Candidate: 2.36-9+deb12u14
  Version table:
 *** 2.36-9+deb12u14 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
EOF
    ;;
    python3-venv) cat <<'EOF'
python3-venv:
  Installed: 3.11.2-1+b1
  Candidate: 3.11.2-1+b1
  Version table:
 *** 3.11.2-1+b1 500
        100 /var/lib/dpkg/status
EOF
    ;;
    held-pkg) cat <<'EOF'
held-pkg:
  Installed: 1.0
  Candidate: (none)
  Package pin: 1.0
  Version table:
 *** 1.0 -1
        100 /var/lib/dpkg/status
EOF
    ;;
  esac
done
"""


def host_bin(tmp_path, name, body):
    """A folder for search_path holding one fake program."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script(folder, name, body)
    return folder


@pytest.fixture
def dpkg_host(tmp_path):
    return host_bin(tmp_path, "dpkg-query", FAKE_DPKG_QUERY)


@pytest.fixture
def rpm_host(tmp_path):
    return host_bin(tmp_path, "rpm", FAKE_RPM)


DPKG_ARGS = ["--show", "--showformat", "${Package}\t${db:Status-Abbrev}\n"]
RPM_ARGS = ["--query", "--queryformat", "%{NAME}\n"]


def calls(folder):
    """The argument lists the fake package manager was called with."""
    path = folder / "calls.log"
    text = path.read_text() if path.exists() else ""
    return [call.split("\037")[:-1] for call in text.split("\036")[:-1]]


# --- parsers

def test_parse_dpkg_status_takes_installed_and_held_but_not_removed_unknown_or_half_configured():
    text = "libc6\tii \ndpkg\tii \nheld-pkg\thi \nremoved-pkg\trc \nunknown-pkg\tun \nhalf-pkg\tiF \nnotab ii\n\n"
    assert hostinfo.parse_dpkg_status(text) == {"libc6", "dpkg", "held-pkg"}


def test_parse_rpm_names_ignores_not_installed_lines_and_blanks():
    text = "bash\npackage foo is not installed\n\nglibc\n  python3  \n"
    assert hostinfo.parse_rpm_names(text) == {"bash", "glibc", "python3"}


def test_parse_apt_policy_reads_installed_and_candidate_per_package():
    text = ("dpkg:\n  Installed: 1.21.22\n  Candidate: 1.21.23\n  Version table:\n     1.21.23 500\n"
            "        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n"
            "gone:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n")
    assert hostinfo.parse_apt_policy(text) == {"dpkg": ("1.21.22", "1.21.23"), "gone": ("(none)", "(none)")}


def test_platform_facts_takes_the_platform_subset_with_empty_strings_for_missing_ones():
    collected = {"distribution": "Debian", "distribution_version": "12.8", "distribution_major_version": 12,
                 "distribution_release": "bookworm", "architecture": "x86_64", "system": "Linux",
                 "kernel": "6.1.0", "distribution_file_path": "/etc/os-release"}
    assert hostinfo.platform_facts(collected) == {
        "distribution": "Debian", "distribution_version": "12.8", "distribution_major_version": "12",
        "distribution_release": "bookworm", "architecture": "x86_64", "os_family": ""}


# --- package_status with a package manager on the search path

def test_dpkg_installed_and_missing_in_the_order_given(dpkg_host):
    names = ["python3-venv", "no-such-pkg", "libc6", "removed-pkg", "dpkg", "unknown-pkg", "held-pkg", "half-pkg"]
    status = hostinfo.package_status(run, names, str(dpkg_host))
    assert status["manager"] == "dpkg-query"
    assert status["installed"] == ["python3-venv", "libc6", "dpkg", "held-pkg"]
    assert status["missing"] == ["no-such-pkg", "removed-pkg", "unknown-pkg", "half-pkg"]
    # One dpkg-query call for all names, with the format the parser reads.
    assert calls(dpkg_host) == [DPKG_ARGS + names]


def test_dpkg_duplicates_blanks_and_native_arch_qualifier(dpkg_host):
    status = hostinfo.package_status(run, ["dpkg", " dpkg ", "", "libc6:amd64", "no-such-pkg", "no-such-pkg"],
                                     str(dpkg_host))
    assert status["installed"] == ["dpkg", "libc6:amd64"]
    assert status["missing"] == ["no-such-pkg"]


def test_name_version_globs_and_paths_are_missing_and_not_asked(dpkg_host):
    names = ["dpkg=1.21.22", "libc6", "python3-*", "libc?", "/tmp/x.deb", "dpkg>=1.0"]
    status = hostinfo.package_status(run, names, str(dpkg_host))
    assert status["installed"] == ["libc6"]
    assert status["missing"] == ["dpkg=1.21.22", "python3-*", "libc?", "/tmp/x.deb", "dpkg>=1.0"]
    assert calls(dpkg_host) == [DPKG_ARGS + ["libc6"]]


def test_only_non_bare_names_do_not_run_the_package_manager(dpkg_host):
    status = hostinfo.package_status(run, ["dpkg=1.0", "lib*"], str(dpkg_host))
    assert status["installed"] == [] and status["missing"] == ["dpkg=1.0", "lib*"]
    assert calls(dpkg_host) == []


def test_rpm_installed_and_missing(rpm_host):
    names = ["python3", "no-such-pkg", "bash", "bash", "python3-3.9.18", "glibc"]
    status = hostinfo.package_status(run, names, str(rpm_host))
    assert status["manager"] == "rpm"
    assert status["installed"] == ["python3", "bash", "glibc"]
    assert status["missing"] == ["no-such-pkg", "python3-3.9.18"]
    assert status["outdated"] is None and status["cache_age"] is None
    assert calls(rpm_host) == [RPM_ARGS + ["python3", "no-such-pkg", "bash", "python3-3.9.18", "glibc"]]


def test_dpkg_is_preferred_when_both_managers_are_there(dpkg_host):
    script(dpkg_host, "rpm", "echo rpm must not run >&2; exit 3\n")
    assert hostinfo.package_status(run, ["dpkg"], str(dpkg_host))["manager"] == "dpkg-query"


def test_no_package_manager_reports_every_name_missing(tmp_path):
    status = hostinfo.package_status(run, ["libc6", "dpkg", "libc6"], str(tmp_path))
    assert status == {"manager": "", "installed": [], "missing": ["libc6", "dpkg"], "outdated": None, "cache_age": None}


def test_a_package_manager_that_is_not_executable_is_not_used(tmp_path):
    path = script(tmp_path, "dpkg-query", "exit 0\n")
    os.chmod(path, 0o644)
    assert hostinfo.package_status(run, ["libc6"], str(tmp_path))["manager"] == ""


def test_a_broken_package_database_reports_everything_missing(tmp_path):
    script(tmp_path, "dpkg-query", "echo 'dpkg-query: error: parsing file /var/lib/dpkg/status' >&2; exit 2\n")
    status = hostinfo.package_status(run, ["libc6", "dpkg"], str(tmp_path))
    assert status["manager"] == "dpkg-query"
    assert status["installed"] == [] and status["missing"] == ["libc6", "dpkg"]


def test_no_names(dpkg_host):
    status = hostinfo.package_status(run, [], str(dpkg_host))
    assert status["installed"] == [] and status["missing"] == []
    assert calls(dpkg_host) == []


# --- apt's view: outdated packages and the age of the package lists

def test_outdated_packages_from_apt_cache_policy(dpkg_host):
    script(dpkg_host, "apt-cache", FAKE_APT_CACHE)
    status = hostinfo.package_status(run, ["libc6", "dpkg", "no-such-pkg", "python3-venv"], str(dpkg_host))
    assert status["installed"] == ["libc6", "dpkg", "python3-venv"]
    assert status["outdated"] == ["dpkg"]


def test_upgrades_false_does_not_ask_apt_cache(dpkg_host):
    script(dpkg_host, "apt-cache", FAKE_APT_CACHE)
    status = hostinfo.package_status(run, ["dpkg", "libc6"], str(dpkg_host), upgrades=False)
    # the fake apt-cache would say dpkg is outdated (test_outdated_packages_from_apt_cache_policy): not asked
    assert status["installed"] == ["dpkg", "libc6"] and status["outdated"] is None


def test_outdated_packages_with_an_arch_qualifier(dpkg_host):
    script(dpkg_host, "apt-cache", FAKE_APT_CACHE)
    assert hostinfo.outdated_packages(run, ["libc6:amd64", "dpkg"], str(dpkg_host)) == ["dpkg"]


def test_a_package_without_candidate_is_not_outdated(dpkg_host):
    script(dpkg_host, "apt-cache", FAKE_APT_CACHE)
    assert hostinfo.outdated_packages(run, ["held-pkg", "dpkg"], str(dpkg_host)) == ["dpkg"]


def test_outdated_is_unknown_without_apt_cache_or_when_it_fails_or_does_not_know_a_package(dpkg_host):
    assert hostinfo.package_status(run, ["dpkg"], str(dpkg_host))["outdated"] is None
    script(dpkg_host, "apt-cache", FAKE_APT_CACHE)
    assert hostinfo.outdated_packages(run, ["dpkg", "removed-pkg"], str(dpkg_host)) is None
    assert hostinfo.outdated_packages(run, [], str(dpkg_host)) == []
    script(dpkg_host, "apt-cache", "echo 'E: Could not open lock file' >&2; exit 100\n")
    assert hostinfo.outdated_packages(run, ["dpkg"], str(dpkg_host)) is None


def test_apt_cache_age_from_the_update_stamp_then_the_lists(tmp_path):
    stamp, lists = tmp_path / "update-success-stamp", tmp_path / "lists"
    lists.mkdir()
    os.utime(str(lists), (1000, 1000))
    assert hostinfo.apt_cache_age(now=1300, stamp=str(stamp), lists=str(lists)) == 300
    stamp.write_text("")
    os.utime(str(stamp), (1200, 1200))
    assert hostinfo.apt_cache_age(now=1300, stamp=str(stamp), lists=str(lists)) == 100
    assert hostinfo.apt_cache_age(now=1100, stamp=str(stamp), lists=str(lists)) == 0
    assert hostinfo.apt_cache_age(stamp=str(tmp_path / "none"), lists=str(tmp_path / "none")) is None


# --- python_info

def test_python_info_of_a_real_interpreter():
    info = hostinfo.python_info(run, sys.executable)
    assert info == {"executable": os.path.abspath(sys.executable),
                    "version": "%d.%d" % sys.version_info[:2], "error": ""}


def test_python_info_finds_a_name_on_path(tmp_path, monkeypatch):
    os.symlink(sys.executable, str(tmp_path / "mypython"))
    monkeypatch.setenv("PATH", str(tmp_path))
    info = hostinfo.python_info(run, "mypython")
    assert info["executable"] == str(tmp_path / "mypython")
    assert info["version"] == "%d.%d" % sys.version_info[:2] and info["error"] == ""


def test_python_info_of_a_missing_interpreter_is_an_error_not_an_exception(tmp_path):
    missing_name = hostinfo.python_info(run, "no-such-python-3.99")
    assert missing_name["executable"] == "" and missing_name["version"] == ""
    assert "no-such-python-3.99" in missing_name["error"] and "not found" in missing_name["error"]
    missing_path = hostinfo.python_info(run, str(tmp_path / "python3"))
    assert missing_path["version"] == "" and "does not exist" in missing_path["error"]


def test_python_info_of_an_interpreter_that_fails(tmp_path):
    path = script(tmp_path, "python3", "echo 'python3: error while loading shared libraries: libpython3.11.so' >&2\nexit 1\n")
    info = hostinfo.python_info(run, path)
    assert info["executable"] == path and info["version"] == ""
    assert info["error"] == "%s failed (exit code 1): python3: error while loading shared libraries: libpython3.11.so" % path


def test_python_info_of_an_interpreter_that_prints_no_version(tmp_path):
    path = script(tmp_path, "python3", "echo 'Python 2.7.18'\n")
    info = hostinfo.python_info(run, path)
    assert info["version"] == "" and info["error"] == "%s failed (exit code 0): Python 2.7.18" % path


def test_python_info_of_a_file_that_cannot_be_executed(tmp_path):
    # Executable bit, but no interpreter line and no binary format: exec fails (OSError), which is
    # reported like any other interpreter that does not run.
    path = tmp_path / "python3"
    path.write_bytes(b"\x00\x01not a program\n")
    os.chmod(str(path), 0o755)
    info = hostinfo.python_info(run, str(path))
    assert info["version"] == "" and str(path) in info["error"]
    assert info["executable"] == str(path)


# --- host_info

def test_host_info_puts_the_three_together(dpkg_host):
    collected = {"distribution": "Debian", "architecture": "x86_64", "os_family": "Debian"}
    info = hostinfo.host_info(run, sys.executable, ["dpkg", "nope"], collected, search_path=str(dpkg_host))
    assert sorted(info) == ["distro_packages", "platform_facts", "python"]
    assert info["platform_facts"]["distribution"] == "Debian" and info["platform_facts"]["distribution_version"] == ""
    assert info["python"]["version"] == "%d.%d" % sys.version_info[:2]
    assert info["distro_packages"]["installed"] == ["dpkg"] and info["distro_packages"]["missing"] == ["nope"]


def test_default_search_path_adds_the_sbin_folders(monkeypatch):
    monkeypatch.setenv("PATH", "/opt/bin")
    assert hostinfo.default_search_path().split(os.pathsep) == ["/opt/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]


# --- the venv's state file, as the role's probe reads it (venv_info)

def _venv_with_state(folder, **state):
    import json
    path = os.path.join(str(folder), "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    version = "%d.%d.%d" % sys.version_info[:3]
    record = dict({"format": 1, "fingerprint": "f", "packages": {}, "links": {},
                   "python": {"realpath": os.path.realpath(sys.executable), "version": version, "signature": []}}, **state)
    with open(os.path.join(path, "wheelhouse-venv.json"), "w") as handle:
        json.dump(record, handle)
    return path


def test_venv_info_reports_the_recorded_inputs_of_an_intact_venv(tmp_path):
    path = _venv_with_state(tmp_path, inputs_id="abc")
    assert hostinfo.venv_info(path) == {"path": path, "exists": True, "inputs_id": "abc", "intact": True, "problems": [],
                                        "rolled_back_from": {"inputs_ids": [], "at": "", "release": ""}}


def test_venv_info_names_the_inputs_a_rollback_switched_away_from(tmp_path):
    held = {"release": "3-20261202T030000", "at": "2026-12-02T03:00:00+0000", "fingerprint": "f2 f1", "inputs_id": "i2 i1"}
    path = _venv_with_state(tmp_path, inputs_id="i0", rolled_back_from=held)
    assert hostinfo.venv_info(path)["rolled_back_from"] == {"inputs_ids": ["i2", "i1"], "at": "2026-12-02T03:00:00+0000",
                                                            "release": "3-20261202T030000"}


def test_venv_info_a_missing_venv_or_one_without_state_is_not_intact(tmp_path):
    missing = hostinfo.venv_info(str(tmp_path / "nothing"))
    assert not missing["exists"] and not missing["intact"] and missing["problems"] == ["%s does not exist" % (tmp_path / "nothing")]
    path = _venv_with_state(tmp_path)
    os.unlink(os.path.join(path, "wheelhouse-venv.json"))
    assert "has no state file of venv_build" in hostinfo.venv_info(path)["problems"][0]


def test_venv_info_names_a_pyvenv_cfg_without_a_version_in_words(tmp_path):
    path = _venv_with_state(tmp_path)
    with open(os.path.join(path, "pyvenv.cfg"), "w") as handle:
        handle.write("home = /usr/bin\n")
    problems = hostinfo.venv_info(path)["problems"]
    assert "its pyvenv.cfg names no Python version (version = X.Y.Z)" in problems, problems
    assert not any("None" in problem or "another Python" in problem for problem in problems), problems


def test_venv_info_drift_is_not_intact(tmp_path):
    path = _venv_with_state(tmp_path, inputs_id="abc")
    site = [os.path.join(root, d) for root, dirs, _files in os.walk(path) for d in dirs if d == "site-packages"][0]
    meta = os.path.join(site, "stray-1.0.dist-info")
    os.makedirs(meta)
    with open(os.path.join(meta, "METADATA"), "w") as handle:
        handle.write("Name: stray\nVersion: 1.0\n\n")
    open(os.path.join(meta, "RECORD"), "w").close()
    info = hostinfo.venv_info(path)
    assert not info["intact"] and info["problems"] == ["its packages differ from those recorded"]
    assert info["inputs_id"] == "abc"


def test_venv_info_an_unfinished_install_or_pending_facts_is_not_intact(tmp_path):
    path = _venv_with_state(tmp_path, install_started="2024-01-01T00:00:00", facts_pending=True)
    problems = hostinfo.venv_info(path)["problems"]
    assert problems == ["an earlier install did not finish, or metadata is damaged",
                        "the facts of an earlier change were not written yet"]
