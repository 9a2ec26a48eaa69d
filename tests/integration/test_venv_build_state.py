"""venv_build and the truth of its state: pending facts, interrupted installers, files deleted by hand, damaged state."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, TARGET_PYTHON, imports, tree_snapshot, venv_run
from wheelfactory import make_wheel

STATE = "wheelhouse-venv.json"
FACTS = [{"section": "app", "option": "version", "value": "1"}]


def site_packages(path):
    return glob.glob(os.path.join(path, "lib", "python3.*", "site-packages"))[0]


def killed_at(ansible, point, **args):
    ansible.env["WHEELHOUSE_VENV_FAULT_AT"] = point
    try:
        result = ansible.module(**args)
    finally:
        del ansible.env["WHEELHOUSE_VENV_FAULT_AT"]
    assert result.get("failed") is True, result["raw_output"]
    return result


def test_facts_of_a_killed_run_are_written_by_the_next_run(ansible, venv_args):
    args = dict(requirements=["alpha"], facts=FACTS, **venv_args)
    fact_file = os.path.join(venv_args["facts_dir"], "app.fact")
    killed_at(ansible, "before-facts", **args)
    assert imports(venv_args["path"], "alpha") and not os.path.exists(fact_file)
    predicted = ansible.module(check=True, **args)
    assert predicted["changed"] is True and predicted["facts_written"] is True
    assert not os.path.exists(fact_file)
    finished = ansible.module(**args)
    assert finished["changed"] is True and finished["facts_written"] is True, finished["raw_output"]
    assert finished["reasons"] == ["the facts of an earlier change were not written yet"]
    assert finished["commands"] == []
    assert open(fact_file).read() == "[app]\nversion = 1\nsbom = %s/sbom.cdx.json\n" % venv_args["path"]
    assert "facts_pending" not in json.load(open(os.path.join(venv_args["path"], STATE)))
    assert ansible.module(**args)["changed"] is False


def test_facts_file_that_cannot_be_written_fails_as_changed_and_is_retried(ansible, venv_args):
    args = dict(requirements=["alpha"], facts=FACTS, **venv_args)
    fact_file = os.path.join(venv_args["facts_dir"], "app.fact")
    os.makedirs(fact_file)  # a directory where the facts file belongs
    failed = ansible.module(**args)
    assert failed.get("failed") is True and failed["changed"] is True, failed["raw_output"]
    assert "its facts file %s could not be written: Is a directory" % fact_file in failed["msg"]
    assert "Traceback" not in failed["raw_output"]
    os.rmdir(fact_file)
    with open(fact_file, "wb") as handle:
        handle.write(b"[other]\nowner = caf\xe9\n")  # not UTF-8: kept as it is
    finished = ansible.module(**args)
    assert finished["changed"] is True and finished["facts_written"] is True, finished["raw_output"]
    assert open(fact_file, "rb").read() == (b"[other]\nowner = caf\xe9\n\n[app]\nversion = 1\nsbom = %s/sbom.cdx.json\n"
                                            % venv_args["path"].encode())
    assert ansible.module(**args)["changed"] is False


def test_installer_leftovers_are_ignored_and_cleaned(ansible, venv_args):
    path = venv_args["path"]
    args = dict(requirements=["alpha"], constraints=["alpha==1.0"], **venv_args)
    ansible.module(**args)
    site = site_packages(path)
    # what pip leaves when an upgrade is killed: the old files renamed to names starting with '~'
    shutil.copytree(os.path.join(site, "alpha-1.0.dist-info"), os.path.join(site, "~lpha-0.9.dist-info"))
    with open(os.path.join(site, "~lpha-0.9.dist-info", "METADATA"), "w") as handle:
        handle.write("Metadata-Version: 2.1\nName: alpha\nVersion: 0.9\n\n")
    shutil.copytree(os.path.join(site, "alpha_mod"), os.path.join(site, "~lpha_mod"))
    before = tree_snapshot(path)
    predicted = ansible.module(check=True, **args)
    assert predicted["changed"] is True and predicted["packages"]["alpha"] == "1.0"
    assert tree_snapshot(path) == before
    repaired = ansible.module(**args)
    assert repaired["changed"] is True, repaired["raw_output"]
    assert repaired["reasons"][0].startswith("an earlier install was interrupted; removing the installer's leftovers")
    assert repaired["packages"]["alpha"] == "1.0" and repaired["upgraded"] == {}
    assert not [e for e in os.listdir(site) if e.startswith("~")]
    assert json.load(open(os.path.join(path, STATE)))["packages"]["alpha"] == "1.0"
    assert imports(path, "alpha")
    assert ansible.module(**args)["changed"] is False


def test_install_killed_in_place_is_not_trusted(ansible, venv_args):
    path = venv_args["path"]
    args = dict(requirements=["alpha"], **venv_args)
    ansible.module(**args)
    killed_at(ansible, "update-installed", **dict(args, requirements=["alpha", "gamma"]))
    assert "install_started" in json.load(open(os.path.join(path, STATE)))
    # back to the inputs of the state file: the venv is not what it records (gamma came in)
    again = ansible.module(**args)
    assert again["changed"] is True, again["raw_output"]
    assert again["reasons"][0].startswith("an earlier install was interrupted (started ")
    assert "install_started" not in json.load(open(os.path.join(path, STATE)))
    assert ansible.module(**args)["changed"] is False


def test_failed_install_that_changed_the_venv_says_so(ansible, venv_args):
    path = venv_args["path"]
    args = dict(requirements=["alpha"], **venv_args)
    ansible.module(**args)
    blocker = os.path.join(site_packages(path), "gamma_mod", "__init__.py")
    os.makedirs(blocker)  # gamma's module file cannot be written: pip fails after installing delta
    failed = ansible.module(**dict(args, requirements=["alpha", "gamma"]))
    assert failed.get("failed") is True, failed["raw_output"]
    assert failed["changed"] is True  # pip had installed delta and gamma's metadata: the venv changed
    assert "as it was before" not in failed["msg"]
    assert "the venv at %s changed before the failure (added delta 1.0, added gamma 1.0); the next run installs " \
        "again and repairs it" % path in failed["msg"]
    shutil.rmtree(os.path.dirname(blocker))
    repaired = ansible.module(**dict(args, requirements=["alpha", "gamma"]))
    assert repaired["changed"] is True and repaired["packages"]["gamma"] == "1.0", repaired["raw_output"]
    assert repaired["reasons"][0].startswith("an earlier install was interrupted (started ")
    assert repaired["reasons"][0].endswith("; reinstalling gamma (files missing)")
    assert imports(path, "gamma", "delta")


@pytest.mark.parametrize("tool", ["pip", "uv"])
def test_module_removed_by_hand_is_reinstalled(ansible, venv_args, tool):
    path = venv_args["path"]
    args = dict(requirements=["alpha"], **venv_args)
    if tool == "uv":
        args.update(install_tool="uv", uv_executable=os.path.join(ROOT, ".venv", "bin", "uv"))
    ansible.module(**args)
    os.unlink(os.path.join(site_packages(path), "alpha_mod", "__init__.py"))
    works = "import alpha_mod; print(alpha_mod.VERSION)"
    assert venv_run(path, works).returncode != 0
    predicted = ansible.module(check=True, **args)
    assert predicted["changed"] is True and "files of installed packages were removed: alpha" in predicted["reasons"][0]
    repaired = ansible.module(**args)
    assert repaired["changed"] is True, repaired["raw_output"]
    repair = "--force-reinstall --no-deps alpha==1.1" if tool == "pip" else "--no-deps --reinstall-package alpha alpha==1.1"
    assert any(repair in c for c in repaired["commands"]), repaired["commands"]
    assert venv_run(path, works).stdout == "1.1\n"
    assert ansible.module(**args)["changed"] is False


def test_drift_is_judged_as_python_sees_it(ansible, venv_args):
    """A module file below a package's top level changed by hand, and bin/python replaced by a broken executable:
    both break imports; each is repaired by the next run, then the runs are no-ops."""
    path = venv_args["path"]
    args = dict(requirements=["gamma"], **venv_args)
    ansible.module(**args)
    deep = os.path.join(site_packages(path), "gamma_mod", "deep.py")
    with open(deep, "w") as handle:
        handle.write("raise ImportError('changed by hand')\n")
    works = "import gamma_mod.deep; print(gamma_mod.deep.DEEP)"
    assert venv_run(path, works).returncode != 0
    repaired = ansible.module(**args)
    assert repaired["changed"] is True, repaired["raw_output"]
    assert "files of installed packages were removed or changed: gamma (" in repaired["reasons"][0]
    assert venv_run(path, works).stdout == "True\n"

    python = os.path.join(path, "bin", "python")
    os.unlink(python)
    with open(python, "w") as handle:
        handle.write("#!/bin/sh\nexit 3\n")
    os.chmod(python, 0o755)
    assert venv_run(path, works).returncode == 3
    rebuilt = ansible.module(**args)
    assert rebuilt["changed"] is True and "the venv's bin/python is not " in rebuilt["reasons"][0], rebuilt["raw_output"]
    assert venv_run(path, works).stdout == "True\n"
    assert ansible.module(**args)["changed"] is False


def test_damaged_metadata_is_named_and_reinstalled(ansible, venv_args):
    path = venv_args["path"]
    args = dict(requirements=["alpha"], **venv_args)
    ansible.module(**args)
    meta = os.path.join(site_packages(path), "beta-2.0.dist-info")
    with open(os.path.join(meta, "METADATA"), "wb") as handle:
        handle.write(b"\x00\x9c garbage")
    repaired = ansible.module(**args)
    assert repaired["changed"] is True, repaired["raw_output"]
    assert repaired["reasons"] == ["%s/METADATA is damaged (it holds binary data): reinstalling beta" % meta]
    assert repaired["packages"]["beta"] == "2.0"
    assert open(os.path.join(meta, "METADATA")).read().startswith("Metadata-Version: 2.1\nName: beta\n")
    assert not [e for e in os.listdir(site_packages(path)) if e.startswith("~")]
    assert imports(path, "alpha", "beta")
    assert ansible.module(**args)["changed"] is False


def test_dist_info_whose_record_was_never_written_is_reinstalled(ansible, venv_args):
    """What a kill -9 leaves between the installer writing beta's METADATA and its RECORD: no module, no RECORD."""
    path = venv_args["path"]
    args = dict(requirements=["alpha"], **venv_args)
    ansible.module(**args)
    site = site_packages(path)
    meta = os.path.join(site, "beta-2.0.dist-info")
    os.unlink(os.path.join(meta, "RECORD"))
    for entry in os.listdir(site):
        if entry.startswith("beta") and not entry.endswith(".dist-info"):
            target = os.path.join(site, entry)
            shutil.rmtree(target) if os.path.isdir(target) else os.unlink(target)
    assert not imports(path, "beta")
    predicted = ansible.module(check=True, **args)
    assert predicted["changed"] is True and "reinstalling beta" in predicted["reasons"][0], predicted["raw_output"]
    repaired = ansible.module(**args)
    assert repaired["changed"] is True, repaired["raw_output"]
    assert repaired["reasons"] == ["%s/RECORD is damaged (it is missing: the install of beta 2.0 did not finish): "
                                   "reinstalling beta" % meta]
    assert os.path.isfile(os.path.join(meta, "RECORD"))
    assert not [e for e in os.listdir(site) if e.startswith("~")]
    assert imports(path, "alpha", "beta")
    assert ansible.module(**args)["changed"] is False


def test_state_file_of_the_wrong_shape_is_recovered_with_a_warning(ansible, venv_args):
    path = venv_args["path"]
    args = dict(requirements=["alpha"], **venv_args)
    first = ansible.module(**args)
    state_file = os.path.join(path, STATE)
    with open(state_file, "w") as handle:
        json.dump({"format": 1, "packages": "x", "python": 3}, handle)
    recovered = ansible.module(**args)
    assert recovered.get("failed") is not True, recovered["raw_output"]
    assert recovered["changed"] is False and recovered["packages"] == first["packages"]
    assert any(state_file in w and "wrong shape" in w for w in recovered.get("warnings", [])), recovered["raw_output"]
    assert json.load(open(state_file))["packages"] == first["packages"]
    quiet = ansible.module(**args)
    assert quiet["changed"] is False and not quiet.get("warnings")


def system_distribution():
    """(name, version) of a distribution in the system site-packages of the target Python (six where it is there)."""
    code = ("import importlib.metadata as m, json, site; print(json.dumps(sorted(set((d.metadata['Name'], d.version) "
            "for d in m.distributions(path=site.getsitepackages()) if d.metadata['Name']))))")
    proc = subprocess.run([TARGET_PYTHON, "-I", "-c", code], stdout=subprocess.PIPE, universal_newlines=True, check=True)
    found = [(name, version) for name, version in json.loads(proc.stdout)
             if re.match(r"^[0-9]+(\.[0-9]+)*$", version) and name.lower() not in ("pip", "setuptools", "wheel")]
    if not found:
        pytest.skip("%s has no distribution in its system site-packages" % TARGET_PYTHON)
    return ([item for item in found if item[0].lower() == "six"] + found)[0]


def test_a_requirement_the_system_site_packages_satisfy_is_not_reported_removed(ansible, venv_args, tmp_path, wheelhouse):
    """system_site_packages: a requirement the system's site-packages satisfy is not installed into the venv; the
    run that made the venv use the system's copy does not report it removed (the venv still imports that version),
    and neither does a no-op, check mode or a later change (issue 23, point 11)."""
    name, version = system_distribution()
    canonical = re.sub(r"[-_.]+", "-", name).lower()
    own = str(tmp_path / "own-wheels")
    os.makedirs(own)
    make_wheel(own, name, version)
    args = dict(venv_args, requirements=["alpha==1.0", "%s==%s" % (name, version)], find_links=[wheelhouse, own])
    first = ansible.module(**args)
    assert first["packages"][canonical] == version, first["raw_output"]  # no system site-packages: in the venv
    args["system_site_packages"] = True
    switched = ansible.module(**args)
    assert switched["changed"] is True and switched["reasons"][0] == "system_site_packages changed to True"
    assert canonical not in switched["packages"], switched["packages"]  # the system's copy serves it now
    assert switched["removed"] == {}, switched["removed"]
    assert "%s %s is used from the system site-packages" % (canonical, version) in "; ".join(switched["reasons"])
    for later in (ansible.module(**args), ansible.module(check=True, **args)):
        assert later["changed"] is False and later["removed"] == {} and later["reasons"] == [], later["raw_output"]
    upgrade = dict(args, requirements=["alpha==1.1", "%s==%s" % (name, version)])
    upgraded = ansible.module(**upgrade)
    assert upgraded["changed"] is True and upgraded["removed"] == {} and upgraded["added"] == {}, upgraded["raw_output"]
    assert upgraded["upgraded"] == {"alpha": {"before": "1.0", "after": "1.1"}}
    assert ansible.module(**upgrade)["changed"] is False


def test_a_rollback_to_a_venv_using_system_site_packages_does_not_report_them_removed(ansible, venv_args, tmp_path,
                                                                                      wheelhouse):
    name, version = system_distribution()
    canonical = re.sub(r"[-_.]+", "-", name).lower()
    own = str(tmp_path / "own-wheels")
    os.makedirs(own)
    make_wheel(own, name, version)
    args = dict(venv_args, requirements=["alpha==1.0", "%s==%s" % (name, version)], find_links=[wheelhouse, own],
                keep_previous=1)
    system = ansible.module(system_site_packages=True, **args)
    assert canonical not in system["packages"], system["raw_output"]
    own_copy = ansible.module(system_site_packages=False, **args)
    assert own_copy["packages"][canonical] == version and own_copy["releases"] == [system["release"]]
    back = ansible.module(rollback=True, system_site_packages=False, **args)
    assert back["changed"] is True and back["release"] == system["release"], back["raw_output"]
    assert back["removed"] == {} and back["added"] == {} and back["upgraded"] == {}, back["raw_output"]
    assert "%s %s is used from the system site-packages" % (canonical, version) in "; ".join(back["reasons"])


def test_a_file_of_the_venv_that_cannot_be_replaced_after_an_install_in_place_fails_clearly(ansible, venv_args):
    """Not a full or read-only disk: an immutable file (chattr +i, which root cannot write either) where the module
    puts the venv's requirements after the installer ran. A clear message that names the file and what the venv is
    left as, changed=true, no traceback; once the file can be written, the next run finishes."""
    path = venv_args["path"]
    args = dict(requirements=["alpha"], constraints=["alpha==1.0"], **venv_args)
    ansible.module(**args)
    constraints = os.path.join(path, "constraints.txt")
    if subprocess.run(["chattr", "+i", constraints], stderr=subprocess.PIPE, check=False).returncode != 0:
        pytest.skip("chattr +i does not work on the file system of %s" % path)
    try:
        failed = ansible.module(**dict(args, constraints=["alpha==1.1"]))
    finally:
        subprocess.run(["chattr", "-i", constraints], check=True)
    assert failed.get("failed") is True and "Traceback" not in failed["raw_output"], failed["raw_output"]
    assert "MODULE FAILURE" not in failed["msg"] and constraints in failed["msg"], failed["msg"]
    assert "the venv at %s changed before the failure (alpha 1.0->1.1)" % path in failed["msg"], failed["msg"]
    assert failed["changed"] is True
    finished = ansible.module(**dict(args, constraints=["alpha==1.1"]))
    assert finished["changed"] is True and finished["packages"]["alpha"] == "1.1", finished["raw_output"]
    assert ansible.module(**dict(args, constraints=["alpha==1.1"]))["changed"] is False
