"""venv_build never removes what is not part of a venv: foreign files, leftovers of killed runs, symlinked paths, the lock."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import time

import pytest

from conftest import TARGET_PYTHON, imports, tree_snapshot

FAULT = "WHEELHOUSE_VENV_FAULT_AT"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def project_with_venv(path):
    """A project directory with a venv made by hand in it (`python3 -m venv .`), next to src/ and a config file."""
    os.makedirs(path)
    subprocess.run([TARGET_PYTHON, "-m", "venv", "--without-pip", "."], cwd=path, check=True)
    write(os.path.join(path, "src", "app.py"), "print('app')\n")
    write(os.path.join(path, "app.cfg"), "[app]\nkey = value\n")
    return {rel: open(os.path.join(path, rel)).read() for rel in ("src/app.py", "app.cfg")}


def killed_at(ansible, point, **args):
    ansible.env = dict(ansible.env, **{FAULT: point})
    try:
        return ansible.module(**args)
    finally:
        del ansible.env[FAULT]


def test_replacing_a_project_dir_venv_is_refused_or_carries_the_files(ansible, venv_args):
    path = venv_args["path"]
    files = project_with_venv(path)
    before = tree_snapshot(path)
    args = dict(venv_args, requirements=["alpha"], system_site_packages=True)

    checked = ansible.module(check=True, **args)
    refused = ansible.module(**args)
    for result in (checked, refused):
        assert result["failed"] is True, result["raw_output"]
        assert "app.cfg, src" in result["msg"] and "foreign_files=carry" in result["msg"], result["msg"]
        assert "system_site_packages changed" in result["msg"]
    assert tree_snapshot(path) == before
    assert sorted(os.listdir(os.path.dirname(path))) == ["app"]

    carried_check = ansible.module(check=True, foreign_files="carry", **args)
    assert carried_check["changed"] is True and any("app.cfg, src" in r for r in carried_check["reasons"])
    assert tree_snapshot(path) == before
    carried = ansible.module(foreign_files="carry", **args)
    assert carried["changed"] is True, carried["raw_output"]
    assert any("carried into the rebuilt venv" in r and "app.cfg, src" in r for r in carried["reasons"])
    assert imports(path, "alpha")
    assert {rel: open(os.path.join(path, rel)).read() for rel in files} == files
    assert sorted(os.listdir(os.path.dirname(path))) == [".app.venv_build.lock", "app"]


def test_user_files_in_a_module_made_venv_survive_a_rebuild_with_carry(ansible, venv_args):
    path = venv_args["path"]
    args = dict(venv_args, requirements=["alpha"])
    ansible.module(**args)
    write(os.path.join(path, "notes.txt"), "mine\n")
    write(os.path.join(path, "bin", "my-tool"), "#!/bin/sh\n")
    refused = ansible.module(rebuild=True, **args)
    assert refused["failed"] is True and "bin/my-tool, notes.txt" in refused["msg"], refused["raw_output"]
    assert "alpha-version" not in refused["msg"], "a console script of an installed package is the venv's"

    rebuilt = ansible.module(rebuild=True, foreign_files="carry", **args)
    assert rebuilt["changed"] is True, rebuilt["raw_output"]
    assert open(os.path.join(path, "notes.txt")).read() == "mine\n"
    assert open(os.path.join(path, "bin", "my-tool")).read() == "#!/bin/sh\n"
    assert imports(path, "alpha")


def test_absent_keeps_foreign_entries_and_the_directory(ansible, venv_args):
    path = venv_args["path"]
    ansible.module(requirements=["alpha"], **venv_args)
    write(os.path.join(path, "notes.txt"), "mine\n")
    checked = ansible.module(check=True, state="absent", **venv_args)
    assert checked["changed"] is True and checked["kept"] == ["notes.txt"]
    assert imports(path, "alpha")
    removed = ansible.module(state="absent", **venv_args)
    assert removed["changed"] is True and removed["kept"] == ["notes.txt"], removed["raw_output"]
    assert any("notes.txt" in w for w in removed["warnings"])
    assert os.listdir(path) == ["notes.txt"]
    assert sorted(os.listdir(os.path.dirname(path))) == [".app.venv_build.lock", "app"]
    # absent again: no venv to remove, the user's entries kept and named the same way (not "not a venv")
    for check in (True, False):
        again = ansible.module(check=check, state="absent", **venv_args)
        assert again.get("failed") is not True and again["changed"] is False, again["raw_output"]
        assert again["kept"] == ["notes.txt"] and any("notes.txt" in w for w in again["warnings"]), again["raw_output"]
    assert os.listdir(path) == ["notes.txt"]


def test_absent_on_a_symlink_removes_the_venv_it_points_to_and_the_link(ansible, venv_args, tmp_path):
    release = str(tmp_path / "releases" / "r1")
    link = str(tmp_path / "current")
    os.makedirs(release)  # an empty release directory (a link to nothing is refused)
    os.symlink(release, link)
    args = dict(venv_args, path=link)
    made = ansible.module(requirements=["alpha"], **args)
    assert made["changed"] is True and made["path"] == link, made["raw_output"]
    assert os.path.islink(link) and imports(release, "alpha")

    checked = ansible.module(check=True, state="absent", **args)
    assert checked["changed"] is True and os.path.islink(link) and imports(release, "alpha")
    removed = ansible.module(state="absent", **args)
    assert removed["changed"] is True, removed["raw_output"]
    assert not os.path.lexists(link) and not os.path.lexists(release)
    assert os.listdir(os.path.dirname(release)) == [".r1.venv_build.lock"]
    again = ansible.module(state="absent", **args)
    assert again["changed"] is False, again["raw_output"]

    os.symlink(release, link)  # a link to nothing: present refuses naming it, absent removes the link
    refused = ansible.module(requirements=["alpha"], **args)
    assert refused["failed"] is True and "%s is a symbolic link to %s, which does not exist" % (link, release) in refused["msg"]
    assert ansible.module(state="absent", **args)["changed"] is True and not os.path.lexists(link)


def test_a_rebuild_through_a_symlink_keeps_the_link_and_leaves_no_old_target(ansible, venv_args, tmp_path):
    release = str(tmp_path / "releases" / "r1")
    link = str(tmp_path / "current")
    os.makedirs(release)  # an empty release directory (a link to nothing is refused)
    os.symlink(release, link)
    args = dict(venv_args, path=link, requirements=["alpha"])
    ansible.module(**args)
    inode = os.stat(release).st_ino
    predicted = ansible.module(rebuild=True, check=True, **args)
    rebuilt = ansible.module(rebuild=True, **args)
    assert rebuilt["changed"] is True, rebuilt["raw_output"]
    # check mode names the commands the real run runs, through the link: at the link's target (the real run's
    # staging directory beside it has a name of the moment)
    staged = [re.sub(r"/\.r1\.venv_build-[^/ ]+", "/r1", c) for c in rebuilt["commands"]]
    assert predicted["changed"] is True and predicted["commands"] == staged, (predicted["commands"], staged)
    assert os.readlink(link) == release
    assert os.stat(release).st_ino != inode, "the venv at the link's target was replaced"
    assert imports(link, "alpha")
    script = open(os.path.join(release, "bin", "alpha-version")).readline()
    assert script == "#!%s/bin/python\n" % release
    assert sorted(os.listdir(os.path.dirname(release))) == [".r1.venv_build.lock", "r1"]
    assert [n for n in os.listdir(str(tmp_path)) if n.startswith(".")] == [], "nothing beside the link"


def test_leftovers_of_a_killed_rebuild_are_removed_by_the_next_run(ansible, venv_args):
    path = venv_args["path"]
    args = dict(venv_args, requirements=["alpha"])
    ansible.module(**args)
    write(os.path.join(path, "notes.txt"), "mine\n")
    killed = killed_at(ansible, "build-before-swap", rebuild=True, foreign_files="carry", **args)
    assert killed["failed"] is True
    parent = os.path.dirname(path)
    leftovers = [n for n in os.listdir(parent) if n.startswith(".app.venv_build-")]
    assert len(leftovers) == 1 and os.path.exists(os.path.join(parent, leftovers[0], "notes.txt"))

    checked = ansible.module(check=True, **args)
    assert checked["changed"] is False and any("leftovers of an interrupted run" in r for r in checked["reasons"])
    assert os.path.exists(os.path.join(parent, leftovers[0]))

    cleaned = ansible.module(**args)
    assert cleaned["changed"] is False, cleaned["raw_output"]
    assert any("removed leftovers of an interrupted run: %s" % os.path.join(parent, leftovers[0]) in w
               for w in cleaned["warnings"])
    assert sorted(os.listdir(parent)) == [".app.venv_build.lock", "app"]
    assert open(os.path.join(path, "notes.txt")).read() == "mine\n", "the carried file went back"
    assert imports(path, "alpha")


def test_absent_waits_for_the_lock_of_a_running_install(ansible, venv_args):
    path = venv_args["path"]
    ansible.module(requirements=["alpha"], **venv_args)
    lock = os.path.join(os.path.dirname(path), ".app.venv_build.lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # as a running install holds it
        playbook = os.path.join(ansible.workdir, "absent.yml")
        with open(playbook, "w") as out:
            json.dump([{"hosts": "localhost", "gather_facts": False,
                        "vars": {"ansible_python_interpreter": TARGET_PYTHON},
                        "tasks": [{"wheelhouse.venv.venv_build": dict(venv_args, state="absent")}]}], out)
        proc = subprocess.Popen(["ansible-playbook", "-i", "localhost,", "-c", "local", playbook], env=ansible.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        time.sleep(4)
        assert proc.poll() is None, proc.communicate()[0]
        assert imports(path, "alpha"), "absent did not wait for the lock"
        fcntl.flock(handle, fcntl.LOCK_UN)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, out
    assert not os.path.lexists(path)
    assert sorted(os.listdir(os.path.dirname(path))) == [".app.venv_build.lock"]


@pytest.fixture
def tmpfs():
    """Mount a small tmpfs at a folder (root with mount rights only); unmounted afterwards."""
    mounted = []

    def mount(folder, size):
        os.makedirs(folder, exist_ok=True)
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", folder],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        if proc.returncode != 0:
            pytest.skip("cannot mount a tmpfs here: %s" % proc.stdout.strip())
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", folder], check=False)


def test_a_venv_at_a_mount_point_is_refused_before_any_change(ansible, venv_args, tmpfs):
    path = tmpfs(venv_args["path"], "64m")
    for check in (True, False):
        result = ansible.module(check=check, requirements=["alpha"], **venv_args)
        assert result["failed"] is True, result["raw_output"]
        assert "%s is a mount point" % path in result["msg"] and "below the mount point" in result["msg"]
    assert os.listdir(path) == [] and os.listdir(os.path.dirname(path)) == ["app"]


def test_a_full_disk_during_a_build_names_the_path_and_leaves_nothing(ansible, venv_args, tmpfs):
    parent = tmpfs(os.path.dirname(venv_args["path"]), "1m")
    result = ansible.module(requirements=["alpha"], **venv_args)
    assert result["failed"] is True, result["raw_output"]
    assert result["msg"].startswith("no space left on device while building the new venv in %s/.app.venv_build-" % parent)
    assert "the venv at %s is unchanged" % venv_args["path"] in result["msg"], result["msg"]
    assert os.listdir(parent) == [".app.venv_build.lock"]


def test_a_removal_killed_half_way_leaves_no_venv_at_path_and_is_finished_next_run(ansible, venv_args):
    path = venv_args["path"]
    ansible.module(requirements=["alpha"], **venv_args)
    killed = killed_at(ansible, "absent-renamed", state="absent", **venv_args)
    assert killed["failed"] is True
    parent = os.path.dirname(path)
    assert not os.path.lexists(path), "the venv was renamed away first"
    assert [n for n in os.listdir(parent) if n.startswith(".app.venv_build-removing-")]
    again = ansible.module(state="absent", **venv_args)
    assert again["changed"] is False and any("removed leftovers" in w for w in again["warnings"]), again["raw_output"]
    assert os.listdir(parent) == [".app.venv_build.lock"]


def test_a_removal_keeping_user_files_killed_half_way_is_finished_by_the_next_absent(ansible, venv_args):
    path = venv_args["path"]
    ansible.module(requirements=["alpha"], **venv_args)
    write(os.path.join(path, "notes.txt"), "mine\n")
    killed_at(ansible, "absent-renamed", state="absent", **venv_args)
    assert os.listdir(path) == ["notes.txt"], "the venv's parts were renamed away first"
    again = ansible.module(state="absent", **venv_args)
    assert again.get("failed") is not True and again["changed"] is False, again["raw_output"]
    assert again["kept"] == ["notes.txt"] and any("removed leftovers" in w for w in again["warnings"])
    assert os.listdir(path) == ["notes.txt"] and open(os.path.join(path, "notes.txt")).read() == "mine\n"
    assert sorted(os.listdir(os.path.dirname(path))) == [".app.venv_build.lock", "app"]


def test_a_hand_made_venv_with_a_requirements_file_of_its_own_is_not_overwritten(ansible, venv_args):
    """`python3 -m venv .` in a project that has requirements.txt: the module never writes over the user's file."""
    path = venv_args["path"]
    files = project_with_venv(path)
    write(os.path.join(path, "requirements.txt"), "flask\n")
    before = tree_snapshot(path)
    args = dict(venv_args, requirements=["alpha"])
    for check in (True, False):
        refused = ansible.module(check=check, **args)
        assert refused["failed"] is True, refused["raw_output"]
        assert "requirements.txt" in refused["msg"] and "did not write" in refused["msg"], refused["msg"]
    assert tree_snapshot(path) == before
    # renamed by the user: the next run (this venv has no pip: rebuilt, carrying the project in) installs
    os.rename(os.path.join(path, "requirements.txt"), os.path.join(path, "requirements-app.txt"))
    done = ansible.module(rebuild=True, foreign_files="carry", **args)
    assert done["changed"] is True and imports(path, "alpha"), done["raw_output"]
    assert {rel: open(os.path.join(path, rel)).read() for rel in files} == files
    assert open(os.path.join(path, "requirements-app.txt")).read() == "flask\n"


def test_absent_then_present_with_carry_makes_the_venv_around_the_kept_files(ansible, venv_args):
    """What state=absent kept (a directory of user files) is refused by default and becomes a venv with carry."""
    path = venv_args["path"]
    args = dict(venv_args, requirements=["alpha"])
    ansible.module(**args)
    write(os.path.join(path, "notes", "todo.txt"), "mine\n")
    gone = ansible.module(state="absent", **venv_args)
    assert gone["changed"] is True and gone["kept"] == ["notes"], gone["raw_output"]
    assert sorted(os.listdir(path)) == ["notes"]
    refused = ansible.module(**args)
    assert refused["failed"] is True and "foreign_files=carry" in refused["msg"], refused["raw_output"]
    assert sorted(os.listdir(path)) == ["notes"]
    checked = ansible.module(check=True, foreign_files="carry", **args)
    assert checked["changed"] is True and any("carried into the new venv" in r for r in checked["reasons"])
    assert sorted(os.listdir(path)) == ["notes"]
    made = ansible.module(foreign_files="carry", **args)
    assert made["changed"] is True and imports(path, "alpha"), made["raw_output"]
    assert open(os.path.join(path, "notes", "todo.txt")).read() == "mine\n"
    again = ansible.module(foreign_files="carry", **args)
    assert again["changed"] is False, again["raw_output"]


def test_system_and_home_directories_are_refused_in_check_mode_too_whatever_foreign_files_says(ansible, venv_args):
    """/usr with foreign_files=carry once planned to become a venv in check mode; /root with state=absent."""
    before = {path: sorted(os.listdir(path)) for path in ("/usr", "/root")}
    for path, extra in (("/usr", {"foreign_files": "carry"}), ("/root", {"state": "absent"})):
        for check in (True, False):
            result = ansible.module(check=check, **dict(venv_args, path=path, requirements=["alpha"], **extra))
            assert result.get("failed") and result["changed"] is False, result["raw_output"]
            assert "path %s is " % path in result["msg"] and "Give the venv a folder of its own" in result["msg"]
    assert {path: sorted(os.listdir(path)) for path in ("/usr", "/root")} == before
    assert not os.path.exists(venv_args["log_file"])


def test_user_files_deep_inside_a_module_made_venv_are_refused_carried_and_kept_by_absent(ansible, venv_args):
    """Inside lib/pythonX.Y/site-packages/, include/, share/ and lib/: one module venv through refuse, carry, absent."""
    path = venv_args["path"]
    args = dict(venv_args, requirements=["alpha"])
    ansible.module(**args)
    site = os.path.join("lib", [n for n in os.listdir(os.path.join(path, "lib")) if n.startswith("python")][0],
                        "site-packages")
    files = {os.path.join(site, "user_mod.py"): "VERSION = 'mine'\n", "include/mine.h": "#define MINE 1\n",
             "share/mine/notes.txt": "mine\n", "lib/mine.txt": "mine\n"}
    for rel, text in files.items():
        write(os.path.join(path, rel), text)
    named = ", ".join(sorted(files.keys() - {"share/mine/notes.txt"} | {"share/mine"}))
    before = tree_snapshot(path)
    for check in (True, False):
        refused = ansible.module(check=check, rebuild=True, **args)
        assert refused["failed"] is True, refused["raw_output"]
        assert "holds entries that are not part of a venv: %s." % named in refused["msg"], refused["msg"]
    assert tree_snapshot(path) == before

    carried = ansible.module(rebuild=True, foreign_files="carry", **args)
    assert carried["changed"] is True and any(named in r for r in carried["reasons"]), carried["raw_output"]
    assert {rel: open(os.path.join(path, rel)).read() for rel in files} == files
    assert imports(path, "alpha", "user")
    assert sorted(os.listdir(os.path.dirname(path))) == [".app.venv_build.lock", "app"]

    checked = ansible.module(check=True, state="absent", **venv_args)
    assert checked["changed"] is True and ", ".join(checked["kept"]) == named, checked["raw_output"]
    removed = ansible.module(state="absent", **venv_args)
    assert removed["changed"] is True and ", ".join(removed["kept"]) == named, removed["raw_output"]
    assert any(named in w for w in removed["warnings"])
    assert {rel: open(os.path.join(path, rel)).read() for rel in files} == files
    assert sorted(os.listdir(path)) == ["include", "lib", "share"] and sorted(os.listdir(os.path.dirname(path))) == [
        ".app.venv_build.lock", "app"]
    assert sorted(os.listdir(os.path.join(path, site))) == ["user_mod.py"]
    kept = tree_snapshot(path)
    again = ansible.module(state="absent", **venv_args)  # nothing of a venv left: a no-op that keeps and names the same
    assert again.get("failed") is not True and again["changed"] is False, again["raw_output"]
    assert ", ".join(again["kept"]) == named and any(named in w for w in again["warnings"]), again["raw_output"]
    assert tree_snapshot(path) == kept


def test_a_carry_the_real_run_refuses_is_refused_in_check_mode_too(ansible, venv_args, other_python):
    """A user's folder in the old Python's site-packages has no place in a venv of another Python: the real run
    refuses the carry, before any change; check mode must say so too, not predict a carried rebuild."""
    path = venv_args["path"]
    made = ansible.module(requirements=["alpha"], **venv_args)
    site = os.path.join(path, "lib", "python%s" % ".".join(made["python_version"].split(".")[:2]), "site-packages")
    os.makedirs(os.path.join(site, "mine"))
    with open(os.path.join(site, "mine", "notes.txt"), "w") as handle:
        handle.write("the user's\n")
    args = dict(venv_args, python=other_python["path"], foreign_files="carry")
    before = tree_snapshot(os.path.dirname(path))
    for check in (True, False):
        refused = ansible.module(check=check, requirements=["alpha"], **args)
        assert refused.get("failed") is True, (check, refused["raw_output"])
        assert "cannot carry %s" % os.path.relpath(os.path.join(site, "mine"), path) in refused["msg"], refused["msg"]
        assert tree_snapshot(os.path.dirname(path)) == before
