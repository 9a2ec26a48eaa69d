"""plugins/module_utils/_sbom.py: the venv's CycloneDX document, built from a site-packages the test writes.

The wheels are real (tests/lib/wheelfactory.py), installed here by unpacking their .dist-info as an
installer does; the document is validated against the CycloneDX 1.6 schema (cyclonedx-python-lib).
A real venv built by the module: tests/integration/test_sbom.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import zipfile

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ansible_collections.wheelhouse.venv.plugins.module_utils import _facts as facts, _pylock as pylock
from ansible_collections.wheelhouse.venv.plugins.module_utils import _sbom as sbom
from ansible_collections.wheelhouse.venv.plugins.module_utils import _records as records, _sync as sync_mod
from ansible_collections.wheelhouse.venv.plugins.module_utils._runctx import RunContext
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec
from ansible_collections.wheelhouse.venv.plugins.module_utils._venvstate import SBOM_FILE, foreign_entries, is_temporary_file

from httpserve import basic_auth, serve
from test_links import dpkg_on_path, linked, run_sync  # noqa: F401 pylint: disable=unused-import
from test_plan import INSTALLED, fake_venv, params
from wheelfactory import make_wheel, sha256_of

PY = "%d.%d.%d" % sys.version_info[:3]
STAMP = dict(timestamp="2030-01-01T00:00:00Z", serial="urn:uuid:00000000-0000-4000-8000-000000000000")


def site_packages(venv):
    site = os.path.join(venv, "lib", "python%s" % PY.rsplit(".", 1)[0], "site-packages")
    if not os.path.isdir(site):
        os.makedirs(site)
        with open(os.path.join(venv, "pyvenv.cfg"), "w") as handle:
            handle.write("home = /usr/bin\nversion = %s\n" % PY)
    return site


def install_wheel(venv, wheel):
    """Unpack the wheel's .dist-info into the venv (METADATA and WHEEL as they are, as pip and uv install them)."""
    site = site_packages(venv)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.split("/")[0].endswith(".dist-info"):
                archive.extract(member, site)


def add_dist(venv, name, version, headers=(), record=True, folder=None):
    """A .dist-info with METADATA of these extra header lines (and a RECORD, unless record is False)."""
    meta = os.path.join(site_packages(venv), folder or "%s-%s.dist-info" % (name, version))
    os.makedirs(meta)
    with open(os.path.join(meta, "METADATA"), "w") as handle:
        handle.write("\n".join(["Metadata-Version: 2.4", "Name: %s" % name, "Version: %s" % version] + list(headers))
                     + "\n\nThe description, not read.\nLicense: not a header\n")
    if record:
        with open(os.path.join(meta, "RECORD"), "w") as handle:
            handle.write("%s/METADATA,,\n" % os.path.basename(meta))
    return meta


def by_name(document):
    return dict((c["name"], c) for c in document["components"])


def validate(document):
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom.document_text(document))
    assert errors is None, errors


def test_one_component_per_distribution_with_purl_and_the_licence_the_metadata_states(tmp_path):
    venv = str(tmp_path / "app")
    add_dist(venv, "alpha", "1.0", ["License-Expression: MIT OR Apache-2.0", "License: ignored, the expression wins",
                                    "Requires-Dist: beta>=1", 'Requires-Dist: gamma_pkg; extra == "x"',
                                    'Requires-Dist: delta; sys_platform == "win32"',
                                    # a comparison newer packaging refuses to evaluate: no dependency, no failure
                                    'Requires-Dist: epsilon; platform_machine ~= "x86"'])
    add_dist(venv, "beta", "2.0", ["License: BSD-3-Clause", "Classifier: License :: OSI Approved :: BSD License"])
    add_dist(venv, "Gamma_Pkg", "1.0+local", ["Classifier: License :: OSI Approved",
                                              "Classifier: License :: OSI Approved :: Apache Software License",
                                              "Classifier: Programming Language :: Python"])
    add_dist(venv, "delta", "3", ["License: Copyright (c) 2030 Delta\n        Permission is hereby granted"])
    add_dist(venv, "epsilon", "1", ["License: UNKNOWN"])
    add_dist(venv, "broken", "1", record=False)  # an install that did not finish: not installed
    add_dist(venv, "alpha", "0.9", folder="~lpha-0.9.dist-info")  # pip's stash of an interrupted upgrade
    document = sbom.build_document(venv, "app", **STAMP)
    validate(document)
    assert document["specVersion"] == "1.6" and document["bomFormat"] == "CycloneDX"
    assert document["metadata"]["component"]["name"] == "app" and document["metadata"]["component"]["type"] == "application"
    assert [c["name"] for c in document["components"]] == ["alpha", "beta", "delta", "epsilon", "Gamma_Pkg"]
    comps = by_name(document)
    assert comps["Gamma_Pkg"]["purl"] == comps["Gamma_Pkg"]["bom-ref"] == "pkg:pypi/gamma-pkg@1.0%2Blocal"
    assert all(c["type"] == "library" for c in document["components"])
    assert comps["alpha"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    assert comps["beta"]["licenses"] == [{"license": {"name": "BSD-3-Clause"}}]
    assert comps["Gamma_Pkg"]["licenses"] == [{"license": {"name": "Apache Software License"}}]
    assert comps["delta"]["licenses"] == [{"license": {
        "name": "Copyright (c) 2030 Delta",
        "text": {"contentType": "text/plain", "content": "Copyright (c) 2030 Delta\nPermission is hereby granted"}}}]
    assert "licenses" not in comps["epsilon"]  # UNKNOWN says nothing: no licence is made up
    assert "hashes" not in comps["alpha"]  # no wheel known
    deps = dict((d["ref"], d["dependsOn"]) for d in document["dependencies"])
    assert deps["pkg:pypi/alpha@1.0"] == ["pkg:pypi/beta@2.0"]  # not the extra's, not another platform's
    assert deps["venv:app"] == sorted(c["bom-ref"] for c in document["components"])


def test_same_venv_same_document_but_for_serial_and_timestamp(tmp_path):
    venv = str(tmp_path / "app")
    for name in ("zeta", "alpha", "mu"):
        add_dist(venv, name, "1.0")
    first = sbom.sbom_text(venv, "app")
    second = json.loads(sbom.sbom_text(venv, "app"))
    first = json.loads(first)
    assert first["serialNumber"] != second["serialNumber"]
    for doc in (first, second):
        del doc["serialNumber"], doc["metadata"]["timestamp"]
    assert first == second


def test_wheel_hash_of_the_wheel_in_a_find_links_folder_that_was_installed(tmp_path):
    wheels = tmp_path / "wheels"
    other = tmp_path / "other"
    wheels.mkdir()
    other.mkdir()
    venv = str(tmp_path / "app")
    installed = make_wheel(str(wheels), "alpha", "1.0", ["beta"])
    install_wheel(venv, installed)
    install_wheel(venv, make_wheel(str(wheels), "beta", "1.0"))
    # a wheel of the same name and version but other metadata (another build): not the one installed
    make_wheel(str(other), "beta", "1.0", ["zeta"])
    os.remove(os.path.join(str(wheels), "beta-1.0-py3-none-any.whl"))
    document = sbom.build_document(venv, "app", ["https://example.invalid/wheels/", "file://%s" % wheels, str(other)],
                                   **STAMP)
    validate(document)
    comps = by_name(document)
    assert comps["alpha"]["hashes"] == [{"alg": "SHA-256", "content": sha256_of(installed)}]
    assert {"name": "wheelhouse.venv:wheel", "value": "alpha-1.0-py3-none-any.whl"} in comps["alpha"]["properties"]
    assert "hashes" not in comps["beta"]


def test_a_wheel_swapped_after_the_install_is_not_taken_for_the_installed_one(tmp_path):
    """Same name, version, METADATA and WHEEL, other code: its hash is not the installed wheel's (issue 23, point 7)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    venv = str(tmp_path / "app")
    install_wheel(venv, make_wheel(str(wheels), "alpha", "1.0"))
    assert "hashes" in by_name(sbom.build_document(venv, "app", [str(wheels)], **STAMP))["alpha"]
    make_wheel(str(wheels), "alpha", "1.0", extra_files={"alpha_mod/__init__.py": "import os; os.system('id')\n"})
    document = sbom.build_document(venv, "app", [str(wheels)], **STAMP)
    validate(document)
    assert "hashes" not in by_name(document)["alpha"]


def test_the_lock_states_the_hashes_of_what_this_run_installed_and_the_sbom_before_of_what_it_kept(tmp_path):
    # the wheels came over HTTP (no local folder to compare): the lock of this run's install names them
    venv = str(tmp_path / "app")
    add_dist(venv, "alpha", "1.1")
    add_dist(venv, "beta", "1.0")
    add_dist(venv, "gamma", "2.0")
    lock = pylock.packages_of(pylock.render([
        {"name": "alpha", "version": "1.1", "filename": "alpha-1.1-py3-none-any.whl", "sha256": "a" * 64},
        {"name": "beta", "version": "1.0", "filename": "beta-1.0-py3-none-any.whl", "sha256": "b" * 64},
        {"name": "gamma", "version": "2.0", "filename": "gamma-2.0-py3-none-any.whl", "sha256": "c" * 64}],
        "3.11", "app", "debian-12-x86_64-py3.11"))
    # the SBOM of before: beta's hash known, gamma 1.0 (another version) and alpha 1.0 (replaced now)
    before = sbom.document_text({"components": [
        {"name": "beta", "version": "1.0", "hashes": [{"alg": "SHA-256", "content": "d" * 64}],
         "properties": [{"name": "wheelhouse.venv:wheel", "value": "beta-1.0-py3-none-any.whl"}]},
        {"name": "alpha", "version": "1.0", "hashes": [{"alg": "SHA-256", "content": "e" * 64}],
         "properties": [{"name": "wheelhouse.venv:wheel", "value": "alpha-1.0-py3-none-any.whl"}]}]})
    # in place: the installer put in alpha 1.1 only; beta and gamma stayed as they were
    document = sbom.build_document(venv, "app", known=sbom.known_hashes(lock, {"alpha"}, before), **STAMP)
    validate(document)
    comps = by_name(document)
    assert comps["alpha"]["hashes"] == [{"alg": "SHA-256", "content": "a" * 64}]
    assert {"name": "wheelhouse.venv:wheel-hash-from", "value": "lock"} in comps["alpha"]["properties"]
    # kept: the hash it had (the lock's could be of a later build of the same version); gamma: nobody knows
    assert comps["beta"]["hashes"] == [{"alg": "SHA-256", "content": "d" * 64}]
    assert {"name": "wheelhouse.venv:wheel-hash-from", "value": "previous"} in comps["beta"]["properties"]
    assert "hashes" not in comps["gamma"]
    # a venv built beside: every distribution came from this install, the lock holds for all
    fresh = by_name(sbom.build_document(venv, "app", known=sbom.known_hashes(lock, None, before), **STAMP))
    assert [fresh[n]["hashes"][0]["content"] for n in ("alpha", "beta", "gamma")] == ["a" * 64, "b" * 64, "c" * 64]
    # a local wheel compared byte for byte wins over the lock
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    local = make_wheel(str(wheels), "delta", "1.0")
    install_wheel(venv, local)
    lock["delta"] = ("1.0", "f" * 64, "delta-1.0-py3-none-any.whl")
    comps = by_name(sbom.build_document(venv, "app", [str(wheels)], known=sbom.known_hashes(lock, None, None), **STAMP))
    assert comps["delta"]["hashes"] == [{"alg": "SHA-256", "content": sha256_of(local)}]


def test_the_lock_of_the_run_is_read_from_its_url_with_credentials_and_only_when_its_sha256_matches(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    text = pylock.render([{"name": "alpha", "version": "1.0", "filename": "alpha-1.0-py3-none-any.whl",
                           "sha256": "a" * 64}], "3.11", "app", "p")
    (served / "pylock.app.toml").write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with serve(basic_auth("deploy", "l0ck-pw"), served) as url:
        location = url.replace("http://", "http://deploy:l0ck-pw@") + "pylock.app.toml"
        log = str(tmp_path / "venv_build.log")

        warned = []

        def lock_of(**lock):
            run = RunContext(VenvSpec(params(str(tmp_path / "venv"), lock=lock, log_file=log)), False, None)
            packages = records.lock_packages(run)
            warned.extend(run.warnings)
            return packages

        assert lock_of(location=location, sha256=digest) == {"alpha": ("1.0", "a" * 64, "alpha-1.0-py3-none-any.whl")}
        assert warned == []
        # never recorded silently: a warning of the result says the lock is not the one recorded (issue 23, point 7)
        assert lock_of(location=location, sha256="0" * 64) == {}
        assert len(warned) == 1 and "not the one of lock.sha256" in warned[0]
        assert lock_of(location=url + "missing.toml") == {}
        assert len(warned) == 2 and "cannot be read" in warned[1] and "l0ck-pw" not in warned[1]
    with open(log) as handle:
        logged = handle.read()
    assert "not the one of lock.sha256" in logged and "cannot be read" in logged and "l0ck-pw" not in logged


def test_the_lock_given_with_its_content_is_read_from_the_content_not_from_its_location(tmp_path):
    # index mode: the location names the lock on the build host, which the target cannot read
    text = pylock.render([{"name": "alpha", "version": "1.0", "filename": "alpha-1.0-py3-none-any.whl",
                           "sha256": "a" * 64}], "3.11", "app", "p")
    log = str(tmp_path / "venv_build.log")
    lock = {"location": "build1:%s" % (tmp_path / "nowhere" / "pylock.app.toml"), "content": text,
            "sha256": hashlib.sha256(text.encode()).hexdigest()}
    found = records.lock_packages(RunContext(VenvSpec(params(str(tmp_path / "venv"), lock=lock, log_file=log)), False, None))
    assert found == {"alpha": ("1.0", "a" * 64, "alpha-1.0-py3-none-any.whl")}
    assert not os.path.exists(log), "nothing to say: the content was the lock"


def test_the_lock_of_the_run_is_read_from_a_path_or_file_url_and_a_fifo_in_its_place_is_refused(tmp_path):
    text = pylock.render([{"name": "alpha", "version": "1.0", "filename": "alpha-1.0-py3-none-any.whl",
                           "sha256": "a" * 64}], "3.11", "app", "p")
    (tmp_path / "pylock.app.toml").write_text(text)
    os.mkfifo(str(tmp_path / "pylock.fifo.toml"))
    log = str(tmp_path / "venv_build.log")

    def lock_of(location):
        return records.lock_packages(RunContext(VenvSpec(params(str(tmp_path / "venv"), lock={"location": location},
                                                                log_file=log)), False, None))

    expected = {"alpha": ("1.0", "a" * 64, "alpha-1.0-py3-none-any.whl")}
    assert lock_of(str(tmp_path / "pylock.app.toml")) == expected
    assert lock_of("file://" + str(tmp_path / "pylock.app.toml")) == expected
    # a FIFO is named, not opened: opening it would wait for a writer that never comes
    found = []
    reader = threading.Thread(target=lambda: found.append(lock_of(str(tmp_path / "pylock.fifo.toml"))), daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "reading a FIFO as the lock file blocks the run"
    assert found == [{}]
    with open(log) as handle:
        assert "pylock.fifo.toml is not a regular file (it is a FIFO)" in handle.read()


def test_a_wheel_recorded_by_url_with_its_hash_in_direct_url_json(tmp_path):
    venv = str(tmp_path / "app")
    meta = add_dist(venv, "alpha", "1.0")
    with open(os.path.join(meta, "direct_url.json"), "w") as handle:
        json.dump({"url": "https://example.invalid/alpha-1.0-py3-none-any.whl",
                   "archive_info": {"hash": "sha256=" + "A" * 64, "hashes": {"sha256": "a" * 64}}}, handle)
    meta = add_dist(venv, "beta", "1.0")
    with open(os.path.join(meta, "direct_url.json"), "w") as handle:  # an sdist: not the hash of a wheel
        json.dump({"url": "https://example.invalid/beta-1.0.tar.gz", "archive_info": {"hashes": {"sha256": "b" * 64}}},
                  handle)
    comps = by_name(sbom.build_document(venv, "app", **STAMP))
    assert comps["alpha"]["hashes"] == [{"alg": "SHA-256", "content": "a" * 64}]
    assert "hashes" not in comps["beta"]


def test_sboms_a_wheel_ships_are_referenced_by_path_and_hash(tmp_path):
    venv = str(tmp_path / "app")
    shipped = '{"bomFormat": "CycloneDX", "specVersion": "1.6"}\n'
    wheel = make_wheel(str(tmp_path), "alpha", "1.0", extra_files={"alpha-1.0.dist-info/sboms/rust deps.cdx.json": shipped})
    install_wheel(venv, wheel)
    document = sbom.build_document(venv, "app", **STAMP)
    validate(document)
    reference, = by_name(document)["alpha"]["externalReferences"]
    rel = os.path.join("lib", "python%s" % PY.rsplit(".", 1)[0], "site-packages", "alpha-1.0.dist-info", "sboms",
                       "rust deps.cdx.json")
    assert reference["type"] == "bom" and reference["url"] == rel.replace(" ", "%20")
    assert reference["hashes"] == [{"alg": "SHA-256", "content": sha256_of(os.path.join(venv, rel))}]


def test_linked_distribution_packages_are_listed_with_where_they_come_from(tmp_path):
    system = str(tmp_path / "dist-packages")
    os.makedirs(system)
    with open(os.path.join(system, "python_apt-2.6.0.egg-info"), "w") as handle:
        handle.write("Metadata-Version: 1.1\nName: python-apt\nVersion: 2.6.0\nLicense: GNU GPL\n")
    venv = str(tmp_path / "app")
    os.symlink(os.path.join(system, "python_apt-2.6.0.egg-info"),
               os.path.join(site_packages(venv), "python_apt-2.6.0.egg-info"))
    document = sbom.build_document(venv, "app", **STAMP)
    validate(document)
    apt = by_name(document)["python-apt"]
    assert apt["licenses"] == [{"license": {"name": "GNU GPL"}}]
    assert {"name": "wheelhouse.venv:linked-from", "value": os.path.join(system, "python_apt-2.6.0.egg-info")} \
        in apt["properties"]


def test_the_sbom_and_its_temporary_file_are_ours_a_file_beside_it_is_not(tmp_path):
    venv = str(tmp_path / "app")
    site_packages(venv)
    for name in ("wheelhouse-venv.json", SBOM_FILE, "notes.txt"):
        (tmp_path / "app" / name).write_text("{}")
    assert foreign_entries(venv) == ["notes.txt"]
    assert is_temporary_file(".sbom.cdx.json.a1B2c3D4") and not is_temporary_file(".sbom.cdx.json")


def test_facts_name_the_sbom_in_each_section_they_write():
    items = [{"section": "app", "option": "tag", "value": "v1"}, {"section": "app", "option": "x", "value": "1"},
             {"section": "mine", "option": "sbom", "value": "/elsewhere.json"}]
    assert facts.with_sbom(items, "/opt/app/sbom.cdx.json") == items + [
        {"section": "app", "option": "sbom", "value": "/opt/app/sbom.cdx.json"}]
    assert facts.with_sbom(items, None) == items


def test_links_made_in_place_rewrite_the_sbom_check_mode_only_names_it(linked):
    sbom_file = os.path.join(linked["path"], SBOM_FILE)
    predicted = run_sync(linked, ["python3-one"], check=True)[0]
    assert predicted["changed"] is True and predicted["sbom"] == sbom_file and not os.path.exists(sbom_file)
    made = run_sync(linked, ["python3-one"])[0]
    assert made["changed"] is True and made["sbom"] == sbom_file and made["commands"] == []
    validate(json.loads(open(sbom_file).read()))
    written = os.stat(sbom_file).st_mtime_ns
    assert run_sync(linked, ["python3-one"])[0]["changed"] is False and os.stat(sbom_file).st_mtime_ns == written


def test_an_sbom_in_a_venv_the_module_never_managed_is_refused_before_any_change(tmp_path):
    path = fake_venv(str(tmp_path / "venv"), INSTALLED)
    with open(os.path.join(path, SBOM_FILE), "w") as handle:
        handle.write("theirs\n")

    def run(argv, env):
        raise AssertionError("no process may start: %s" % argv)

    with pytest.raises(VenvBuildError, match="holds sbom.cdx.json, which this module did not write"):
        sync_mod.sync(VenvSpec(params(path, log_file=str(tmp_path / "log"))), False, run)
    assert open(os.path.join(path, SBOM_FILE)).read() == "theirs\n"
