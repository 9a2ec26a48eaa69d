"""The python_venv_build role for real on localhost: ansible-playbook builds wheels, then the venv.

One machine is build host and target ("local" wheel source). The venv's packages come from a
wheelhouse made here (tests/lib/wheelfactory.py) and from a git repository made here (a VCS
requirement built into a wheel), so only the builder venv's tools (pip-tools, setuptools, wheel,
pbr) come from the package index. The distribution package lists are emptied to keep the runs
short (scripts/main.sh and the molecule scenarios install them for real).

The tests run in file order and share one wheel tree and one venv (the lab, rolelab.py): first run in
check mode, real run, no-op run, rebuild, changed requirements, tampered wheel, then the wheel sources (pull,
push, uv, index) and wheel building off. The rest of the role's tests, with a lab of their own, are in
test_python_venv_build_role_fleet.py, so that the two files run on two workers side by side.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import socket
import subprocess

import pytest
import yaml

from httpserve import serve
from pkgindex import Index, upload_handler
from wheelfactory import make_sdist_running, make_wheel

from rolelab import (  # noqa: F401 pylint: disable=unused-import
    INDEX_SECRET, PYTHON, ROOT, RoleRun, environment, lab, marker, platform_dir, platform_dir_of, read_fact,
    recorded_lock, run_role, sha256_of, venv_freeze,
)


def test_check_mode_before_the_first_build_reports_changes_and_creates_nothing(lab):
    run = run_role(lab, "check1", check=True)
    assert run.rc == 0, run
    assert run.changed and run.changed > 0, run
    assert "are not built yet" in run.out, run
    assert not os.path.exists(lab["venv"])
    assert not os.path.exists(lab["repo"])
    assert not os.path.exists(lab["builder"])
    assert read_fact(lab) is None and marker(lab) is None


def test_first_run_builds_the_wheels_and_installs_the_venv_from_them(lab):
    run = run_role(lab, "run1")
    assert run.rc == 0, run
    assert venv_freeze(lab) == ["alpha==1.1", "beta==1.0", "tinypkg==0.3"]
    platform = platform_dir(lab)
    assert re.match(r".*/debian-\d+-x86_64-py3\.\d+$", platform), platform
    wheel_files = sorted(w for w in os.listdir(os.path.join(platform, "wheels")) if w.endswith(".whl"))
    assert [w.split("-")[0] for w in wheel_files] == ["alpha", "beta", "tinypkg"]
    # beside the wheels their PEP 751 lock, which the venv records (where this target finds it, and its sha256)
    lock = os.path.join(platform, "wheels", "pylock.app.toml")
    assert recorded_lock(lab["venv"]) == {"location": lock, "sha256": sha256_of(lock)}
    hashes = open(os.path.join(platform, "requirements", "app-hashes.txt")).read().splitlines()
    assert [h.split(" ")[0] for h in hashes] == ["alpha==1.1", "beta==1.0", "tinypkg==0.3"]
    assert all(re.search(r" --hash=sha256:[0-9a-f]{64}$", h) for h in hashes)
    assert open(os.path.join(platform, "requirements", "app-constraints.txt")).read().split() == [
        "alpha==1.1", "beta==1.0", "tinypkg==0.3"]
    # The venv got the VCS requirement as its wheel, pinned and hashed like every other.
    venv_requirements = open(os.path.join(lab["venv"], "requirements.txt")).read()
    assert "git+" not in venv_requirements and "tinypkg==0.3 --hash=sha256:" in venv_requirements
    assert read_fact(lab) == "run1"
    assert marker(lab) == "run1"
    # Both logs name the commands that built the wheels and installed the venv.
    assert "pip-compile" in open(os.path.join(lab["work"], "logs", "wheel-build.log")).read()
    assert "--require-hashes" in open(os.path.join(lab["work"], "logs", "install.log")).read()
    assert "The venv %s changed" % lab["venv"] in run.out
    site = [p for p in os.listdir(os.path.join(lab["venv"], "lib")) if p.startswith("python3")][0]
    link = os.path.join(lab["venv"], "lib", site, "site-packages", "apt_pkg.cpython-%s-x86_64-linux-gnu.so"
                        % site[len("python"):].replace(".", ""))
    assert os.path.islink(link) and os.readlink(link).startswith("/usr/lib/python3/dist-packages/"), link
    subprocess.run([os.path.join(lab["venv"], "bin", "python"), "-c", "import apt_pkg, apt"], check=True)


def test_second_run_changes_nothing_and_notifies_nobody(lab):
    run = run_role(lab, "run2")
    assert run.rc == 0, run
    assert run.changed == 0, run
    assert read_fact(lab) == "run1"
    assert marker(lab) == "run1"


def test_check_mode_after_the_build_reports_no_change(lab):
    run = run_role(lab, "check2", check=True)
    assert run.rc == 0, run
    assert run.changed == 0, run


def test_facts_are_visible_through_setup(lab):
    proc = subprocess.run(["ansible", "localhost", "-c", "local", "-e", "ansible_python_interpreter=" + PYTHON,
                           "-m", "ansible.builtin.setup", "-a", "filter=ansible_local"],
                          env=environment(), stdout=subprocess.PIPE, universal_newlines=True, cwd=ROOT, check=False)
    assert '"run": "run1"' in proc.stdout, proc.stdout


def test_venv_rebuild_replaces_the_venv_then_a_plain_run_is_a_no_op(lab):
    # the venv's own pyvenv.cfg tells the venv built by the first run from a rebuilt one (a file of the user's
    # inside the venv would be refused, or carried, by the rebuild: never deleted)
    def venv_identity():
        return os.stat(os.path.join(lab["venv"], "pyvenv.cfg")).st_ino

    first = venv_identity()
    refused = run_role(lab, "rebuild-unverified", venv_rebuild=True, venv_verify_imports=["alpha_mod", "nosuch_mod"])
    assert refused.rc != 0 and "verification failed: verify_imports" in refused.out, refused
    assert venv_identity() == first and marker(lab) == "run1", "a rebuild that fails its checks keeps the old venv"
    run = run_role(lab, "rebuild", venv_rebuild=True, venv_verify_imports=["alpha_mod", "apt_pkg"],
                   venv_verify_command=["python", "-c", "import beta_mod"])
    assert run.rc == 0, run
    assert run.changed > 0, run
    assert venv_identity() != first, "venv_rebuild kept the old venv"
    assert venv_freeze(lab) == ["alpha==1.1", "beta==1.0", "tinypkg==0.3"]
    assert read_fact(lab) == "rebuild" and marker(lab) == "rebuild"
    again = run_role(lab, "after-rebuild")
    assert again.rc == 0 and again.changed == 0, again


def test_changed_constraints_rebuild_the_wheel_set_and_update_the_venv(lab):
    run = run_role(lab, "pin", venv_build_constraints=["alpha==1.0"])
    assert run.rc == 0, run
    assert venv_freeze(lab) == ["alpha==1.0", "beta==1.0", "tinypkg==0.3"]
    source = open(os.path.join(platform_dir(lab), "requirements", "app-source-constraints.txt")).read()
    assert source.strip() == "alpha==1.0"
    again = run_role(lab, "pin2", venv_build_constraints=["alpha==1.0"])
    assert again.rc == 0 and again.changed == 0, again


def test_a_wheel_altered_after_the_build_is_refused_until_the_wheels_are_rebuilt(lab):
    wheel_dir = os.path.join(platform_dir(lab), "wheels")
    beta = [w for w in os.listdir(wheel_dir) if w.startswith("beta-")][0]
    with open(os.path.join(wheel_dir, beta), "ab") as handle:
        handle.write(b"tampered")
    run = run_role(lab, "tampered", venv_build_constraints=["alpha==1.0"], venv_rebuild=True)
    assert run.rc != 0, run
    assert "differs from the one built" in run.out and "venv_wheels_rebuild=true" in run.out, run
    assert venv_freeze(lab) == ["alpha==1.0", "beta==1.0", "tinypkg==0.3"], "the venv was touched"
    fixed = run_role(lab, "wheels-rebuilt", venv_build_constraints=["alpha==1.0"], venv_wheels_rebuild=True)
    assert fixed.rc == 0, fixed
    with open(os.path.join(wheel_dir, beta), "rb") as handle:
        assert not handle.read().endswith(b"tampered")
    again = run_role(lab, "after-wheels-rebuilt", venv_build_constraints=["alpha==1.0"])
    assert again.rc == 0 and again.changed == 0, again


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def wheel_repo(lab):
    """playbooks/wheel_repo.yml run against a private nginx instance (own main config, pid, port)."""
    folder = os.path.join(lab["work"], "nginx")
    os.makedirs(os.path.join(folder, "conf.d"))
    port = free_port()
    conf = os.path.join(folder, "nginx.conf")
    with open(conf, "w") as handle:
        handle.write(
            "user root;\npid {f}/nginx.pid;\nerror_log {f}/error.log;\nevents {{ worker_connections 64; }}\n"
            "http {{\n  access_log {f}/access.log;\n  client_body_temp_path {f}/body;\n"
            "  include {f}/conf.d/*.conf;\n}}\n".format(f=folder))
    inventory = os.path.join(folder, "inventory.yml")
    with open(inventory, "w") as handle:
        yaml.safe_dump({"all": {"children": {"repo_all": {"hosts": {"buildbox": {"ansible_connection": "local"}}}}}}, handle)
    cmd = ["ansible-playbook", "-i", inventory, os.path.join(ROOT, "playbooks", "wheel_repo.yml"),
           "-e", "ansible_python_interpreter=" + PYTHON, "-e", "wheel_repo_nginx_package=nginx-light",
           "-e", "venv_wheel_repo_path=" + lab["repo"], "-e", "wheel_repo_listen=127.0.0.1:%d" % port,
           "-e", "wheel_repo_site_file=" + os.path.join(folder, "conf.d", "wheelhouse-venv.conf"),
           "-e", "wheel_repo_nginx_conf=" + conf, "-e", "wheel_repo_nginx_pid_file=" + os.path.join(folder, "nginx.pid")]
    runs = [RoleRun(subprocess.run(cmd, cwd=ROOT, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   universal_newlines=True, timeout=600, check=False)) for _run in range(2)]
    yield {"url": "http://127.0.0.1:%d" % port, "runs": runs, "access_log": os.path.join(folder, "access.log")}
    subprocess.run(["nginx", "-c", conf, "-s", "quit"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def test_wheel_repo_playbook_serves_the_wheel_tree_read_only(lab, wheel_repo):
    first, second = wheel_repo["runs"]
    assert first.rc == 0 and first.changed > 0, first
    assert second.rc == 0 and second.changed == 0, second
    import urllib.request
    import urllib.error
    rel = os.path.relpath(os.path.join(platform_dir(lab), "wheels"), lab["repo"])
    listing = urllib.request.urlopen("%s/%s/" % (wheel_repo["url"], rel), timeout=10).read().decode()
    assert "beta-1.0-py3-none-any.whl" in listing
    for method in ("PUT", "DELETE"):
        request = urllib.request.Request("%s/%s/x.whl" % (wheel_repo["url"], rel), data=b"x", method=method)
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=10)
        assert error.value.code in (403, 405)
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen("%s/%s/.wheel-build.lock" % (wheel_repo["url"], os.path.dirname(rel) + "/requirements"), timeout=10)


def test_pull_mode_installs_a_target_over_http_from_the_build_group(lab, wheel_repo):
    inventory = {"all": {"children": {
        "repo_all": {"hosts": {"buildbox": {"ansible_connection": "local"}}},
        "targets": {"hosts": {"t1": {"ansible_connection": "local"}}},
    }}}
    pulled = os.path.join(lab["work"], "venvs", "pulled")
    run = run_role(lab, "pull", inventory=inventory, venv_wheel_repo_url=wheel_repo["url"],
                   venv_install_destination_path=pulled)
    assert run.rc == 0, run
    with open(wheel_repo["access_log"]) as handle:
        log = handle.read()
    assert re.search(r'"GET /wheelhouse/main/[^/]+/wheels/ HTTP', log), log
    assert re.search(r'"GET /wheelhouse/main/[^/]+/wheels/tinypkg-0\.3-py3-none-any\.whl HTTP[^"]*" 200', log), log
    requirements = open(os.path.join(pulled, "requirements.txt")).read()
    assert "alpha==1.1 --hash=sha256:" in requirements
    lock = recorded_lock(pulled)
    assert lock["location"] == "%s/wheelhouse/main/%s/wheels/pylock.pulled.toml" % (
        wheel_repo["url"].rstrip("/"), os.path.basename(platform_dir(lab))), lock
    # plain HTTP: the repository's host is passed as trusted, or pip would ignore it on any host but localhost
    assert "--trusted-host 127.0.0.1" in open(os.path.join(lab["work"], "logs", "install.log")).read()
    # no wheel to compare on the target: the SBOM's hashes are the lock's, those of the files served
    with open(os.path.join(pulled, "sbom.cdx.json")) as handle:
        components = dict((c["name"], c) for c in json.load(handle)["components"])
    served = os.path.join(platform_dir(lab), "wheels")
    for name in ("alpha", "tinypkg"):
        wheel = [w for w in os.listdir(served) if w.startswith(name + "-") and w.endswith(".whl")
                 and w.split("-")[1] == components[name]["version"]]
        assert components[name]["hashes"] == [{"alg": "SHA-256", "content": sha256_of(os.path.join(served, wheel[0]))}]
        assert {"name": "wheelhouse.venv:wheel-hash-from", "value": "lock"} in components[name]["properties"]
    again = run_role(lab, "pull2", inventory=inventory, venv_wheel_repo_url=wheel_repo["url"],
                     venv_install_destination_path=pulled)
    assert again.rc == 0 and again.changed == 0, again


def test_push_mode_copies_the_wheels_through_the_controller(lab):
    inventory = {"all": {"children": {"targets": {"hosts": {
        name: {"ansible_connection": "local", "venv_install_destination_path": os.path.join(lab["work"], "venvs", name)}
        for name in ("push1", "push2")}}}}}
    controller = os.path.join(lab["work"], "controller-cache")
    target = os.path.join(lab["work"], "push-target")
    options = dict(venv_install_destination_path=None, venv_wheel_push_controller_path=controller,
                   venv_wheel_push_target_path=target)
    run = run_role(lab, "push", inventory=inventory, **options)
    assert run.rc == 0, run
    expected = sorted(w for w in os.listdir(os.path.join(platform_dir(lab), "wheels"))
                      if w.split("-")[0] in ("alpha", "beta", "tinypkg") and not w.startswith("alpha-1.0")
                      or w == "pylock.push1.toml")
    assert sorted(os.listdir(controller)) == expected
    assert sorted(os.listdir(target)) == expected
    for name in ("push1", "push2"):
        requirements = open(os.path.join(lab["work"], "venvs", name, "requirements.txt")).read()
        assert "tinypkg==0.3 --hash=sha256:" in requirements
        # one build for both (the same inputs), named after push1, their build host (local); its lock came with the
        # wheels, the same bytes, and each venv records the one beside the wheels it installed from
        built = os.path.join(platform_dir(lab), "wheels", "pylock.push1.toml")
        assert sha256_of(os.path.join(target, "pylock.push1.toml")) == sha256_of(built)
        lock = built if name == "push1" else os.path.join(target, "pylock.push1.toml")
        assert recorded_lock(os.path.join(lab["work"], "venvs", name)) == {"location": lock, "sha256": sha256_of(built)}
    assert "Copy the wheels of push1 from the controller to this target" in run.out
    again = run_role(lab, "push2", inventory=inventory, **options)
    assert again.rc == 0 and again.changed == 0, again


def test_uv_resolves_on_the_build_host_and_installs_on_the_target(lab):
    """uv resolves on the build host; the target, without uv on PATH, installs uv from the wheel folder."""
    from ansible_collections.wheelhouse.venv.plugins.module_utils._wheelbuild import installed_version
    uv_version = installed_version(lab["builder"], "uv")
    assert uv_version, "the builder venv has uv"
    tools = os.path.join(lab["work"], "tools")
    subprocess.run([os.path.join(ROOT, ".venv", "bin", "python"), "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary", ":all:", "--dest", tools, "uv==" + uv_version],
                   env=environment(), check=True, timeout=600)
    uv_venv = os.path.join(lab["work"], "venvs", "uvapp")
    options = dict(venv_install_tool="uv", venv_install_destination_path=uv_venv, dev_tools_on_path=False,
                   venv_pip_build_args="--no-index --find-links %s --find-links %s" % (lab["wheelhouse"], tools))
    run = run_role(lab, "uv", **options)
    assert run.rc == 0, run
    with open(os.path.join(platform_dir(lab), "requirements", "uvapp-build.json")) as handle:
        build = json.load(handle)
    assert build["inputs"]["tool"] == "uv"
    assert sorted(w["name"] for w in build["wheels"]) == ["alpha", "beta", "tinypkg"]
    assert [w["name"] + "==" + w["version"] for w in build["tool_wheels"]] == ["uv==" + uv_version]
    with open(os.path.join(uv_venv, "wheelhouse-venv.json")) as handle:
        assert json.load(handle)["install_tool"] == "uv"
    assert os.access(os.path.join(uv_venv, ".uv", "bin", "uv"), os.X_OK), "uv was not installed from the wheel folder"
    assert "tinypkg==0.3 --hash=sha256:" in open(os.path.join(uv_venv, "requirements.txt")).read()
    again = run_role(lab, "uv2", **options)
    assert again.rc == 0 and again.changed == 0, again


def test_index_mode_uploads_the_set_and_the_venv_records_the_lock_and_the_sbom_hashes(lab):
    """Source index on localhost (build host and target): the real twine uploads to a small index
    (tests/lib/pkgindex.py) behind a password; the index holds no lock, its text comes with the install."""
    index = Index(pathlib.Path(lab["work"]) / "pkgindex")
    repo = os.path.join(lab["work"], "repo-index")
    venv = os.path.join(lab["work"], "venvs", "idxapp")
    with serve(upload_handler(index, "uploader", INDEX_SECRET), index.root) as url:
        options = dict(venv_install_destination_path=venv, venv_wheel_repo_path=repo,
                       venv_pip_packages=["alpha"], venv_packages_to_symlink=[],
                       # twine joins the builder's tools: a builder of its own, the shared one stays as it is
                       venv_build_host_venv_path=os.path.join(lab["work"], "builder-index"),
                       venv_wheel_index_url=url + "simple/", venv_wheel_index_publish_url=url,
                       venv_wheel_index_username="uploader", venv_wheel_index_password=INDEX_SECRET)
        run = run_role(lab, "idx1", **options)
        assert run.rc == 0, run
        uploaded = sorted(os.listdir(str(index.root / "packages")))
        assert [w.split("-")[0] for w in uploaded] == ["alpha", "beta"], uploaded
        lock = os.path.join(platform_dir_of(repo), "wheels", "pylock.idxapp.toml")
        assert recorded_lock(venv) == {"location": "localhost:" + lock, "sha256": sha256_of(lock)}
        with open(os.path.join(venv, "sbom.cdx.json")) as handle:
            components = dict((c["name"], c) for c in json.load(handle)["components"])
        for wheel in uploaded:
            name = wheel.split("-")[0]
            assert components[name]["hashes"] == [
                {"alg": "SHA-256", "content": sha256_of(str(index.root / "packages" / wheel))}], components[name]
            assert {"name": "wheelhouse.venv:wheel-hash-from", "value": "lock"} in components[name]["properties"]
        assert INDEX_SECRET not in run.out
        again = run_role(lab, "idx2", **options)
        assert again.rc == 0 and again.changed == 0, again


def test_index_credentials_stay_out_of_the_served_files_and_the_output(lab):
    secret_venv = os.path.join(lab["work"], "venvs", "secretapp")
    # --no-index: the credentialed index is never contacted, but it is part of the build's inputs.
    args = "--no-index --find-links %s --extra-index-url https://deploy:s3cr3t-t0ken@127.0.0.1:9/simple" % lab["wheelhouse"]
    run = run_role(lab, "secret", venv_install_destination_path=secret_venv, venv_pip_build_args=args)
    assert run.rc == 0, run
    assert "s3cr3t-t0ken" not in run.out
    for folder, _dirs, files in os.walk(lab["repo"]):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                assert b"s3cr3t-t0ken" not in handle.read(), os.path.join(folder, name)
    build = json.load(open(os.path.join(platform_dir(lab), "requirements", "secretapp-build.json")))
    assert "https://deploy:********@127.0.0.1:9/simple" in build["inputs"]["build_args"]


def test_without_wheel_building_a_target_installs_from_the_index_with_the_build_requirements(lab):
    index_venv = os.path.join(lab["work"], "venvs", "fromindex")
    options = dict(venv_wheel_build_enable=False, venv_install_destination_path=index_venv,
                   venv_pip_install_args="--find-links %s" % lab["wheelhouse"], venv_pip_package_state="latest")
    run = run_role(lab, "index", **options)
    assert run.rc == 0, run
    assert "Build the wheels of" not in run.out, "a target without wheel building built wheels"
    requirements = open(os.path.join(index_venv, "requirements.txt")).read()
    assert "--hash" not in requirements and "tinypkg @ git+file://localhost/" in requirements
    assert open(os.path.join(index_venv, "global-constraints.txt")).read().split() == ["beta<2"]
    names = [line.split("==")[0] for line in subprocess.run(
        [os.path.join(index_venv, "bin", "python"), "-m", "pip", "list", "--format=freeze"],
        stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()]
    assert {"alpha", "beta", "tinypkg", "pbr", "setuptools", "wheel"} <= set(names)
    again = run_role(lab, "index2", **options)
    assert again.rc == 0 and again.changed == 0, again


def test_without_wheel_building_the_build_requirements_are_installed_before_the_packages(lab):
    # needstool's setup.py runs wh-buildtool-version, a console script of wh-buildtool: there only when
    # wh-buildtool is installed before needstool's metadata is prepared.
    make_wheel(lab["wheelhouse"], "wh-buildtool", "1.0", console_script=True)
    make_sdist_running(lab["wheelhouse"], "needstool", "1.0", ["wh-buildtool-version"])
    tooled = os.path.join(lab["work"], "venvs", "selfbuilt")
    options = dict(venv_wheel_build_enable=False, venv_install_destination_path=tooled, venv_pip_packages=["needstool"],
                   venv_build_global_constraints=[], venv_build_requirements=[], venv_build_requirements_extra=["wh-buildtool"],
                   venv_pip_install_args="--no-index --find-links %s --no-build-isolation" % lab["wheelhouse"])
    run = run_role(lab, "selfbuilt", **options)
    assert run.rc == 0, run
    freeze = venv_freeze(dict(lab, venv=tooled))
    assert "needstool==1.0" in freeze and "wh-buildtool==1.0" in freeze
    again = run_role(lab, "selfbuilt2", **options)
    assert again.rc == 0 and again.changed == 0, again
