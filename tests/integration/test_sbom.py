"""The SBOM of every venv venv_build changes: sbom.cdx.json, validated against the CycloneDX 1.6 schema.

The builder's cases (licences, hashes, linked packages) are unit tests: tests/unit/module_utils/test_sbom.py.
"""

from __future__ import annotations

import json
import os
import subprocess

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from playenv import plain_pip_environment
from wheelfactory import make_wheel, sha256_of

SHIPPED = '{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}\n'


def read_sbom(path):
    with open(os.path.join(path, "sbom.cdx.json")) as handle:
        text = handle.read()
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert errors is None, errors
    return json.loads(text)


def versions(document):
    return dict((c["purl"].split("/")[1].split("@")[0], c["version"]) for c in document["components"])


def pip_list(path):
    proc = subprocess.run([os.path.join(path, "bin", "python"), "-m", "pip", "list", "--format=json"],
                          env=plain_pip_environment(), stdout=subprocess.PIPE, universal_newlines=True, check=True)
    return dict((p["name"].lower().replace("_", "-"), p["version"]) for p in json.loads(proc.stdout))


def test_a_venv_gets_a_valid_sbom_of_what_is_installed_updated_on_change_only(ansible, venv_args, wheelhouse, tmp_path):
    path = venv_args["path"]
    own = tmp_path / "own-wheels"
    own.mkdir()
    make_wheel(str(own), "sbomtool", "1.0", extra_files={"sbomtool-1.0.dist-info/sboms/x.json": SHIPPED})
    args = dict(venv_args, find_links=[wheelhouse, str(own)], requirements=["alpha", "sbomtool"],
                constraints=["alpha==1.0"], facts=[{"section": "app", "option": "tag", "value": "v1"}])
    created = ansible.module(**args)
    sbom_file = os.path.join(path, "sbom.cdx.json")
    assert created["changed"] is True and created["sbom"] == sbom_file, created["raw_output"]
    document = read_sbom(path)
    assert document["metadata"]["component"] == {
        "type": "application", "bom-ref": "venv:app", "name": "app",
        "properties": [{"name": "wheelhouse.venv:python-version", "value": created["python_version"]}]}
    assert versions(document) == pip_list(path)
    components = dict((c["name"], c) for c in document["components"])
    assert components["alpha"]["purl"] == "pkg:pypi/alpha@1.0"
    assert components["alpha"]["hashes"] == [{"alg": "SHA-256", "content": sha256_of(
        os.path.join(wheelhouse, "alpha-1.0-py3-none-any.whl"))}]
    reference, = components["sbomtool"]["externalReferences"]
    assert reference["type"] == "bom"
    with open(os.path.join(path, reference["url"])) as handle:
        assert handle.read() == SHIPPED
    with open(os.path.join(venv_args["facts_dir"], "app.fact")) as handle:
        assert handle.read() == "[app]\ntag = v1\nsbom = %s\n" % sbom_file

    with open(os.path.join(path, "notes.txt"), "w") as handle:
        handle.write("the operator's file\n")
    before = os.stat(sbom_file).st_mtime_ns
    upgrade = dict(args, constraints=["alpha==1.1"])
    predicted = ansible.module(check=True, **upgrade)
    assert predicted["changed"] is True and predicted["sbom"] == sbom_file
    assert os.stat(sbom_file).st_mtime_ns == before and read_sbom(path) == document

    updated = ansible.module(**upgrade)
    assert updated["changed"] is True and updated["sbom"] == sbom_file, updated["raw_output"]
    assert versions(read_sbom(path))["alpha"] == "1.1" and versions(read_sbom(path)) == pip_list(path)
    assert open(os.path.join(path, "notes.txt")).read() == "the operator's file\n"
    after = os.stat(sbom_file).st_mtime_ns
    assert after != before

    noop = ansible.module(**upgrade)
    assert noop["changed"] is False and noop["commands"] == [] and noop["sbom"] == sbom_file
    assert os.stat(sbom_file).st_mtime_ns == after


def test_a_rebuilt_venv_is_swapped_in_with_its_sbom_which_is_ours(ansible, venv_args):
    path = venv_args["path"]
    created = ansible.module(requirements=["gamma"], **venv_args)
    assert created["changed"] is True, created["raw_output"]
    first = read_sbom(path)
    # foreign_files=refuse (the default): the SBOM is not an entry of someone else that would stop the rebuild
    rebuilt = ansible.module(requirements=["gamma"], rebuild=True, **venv_args)
    assert rebuilt["changed"] is True and rebuilt["sbom"] == os.path.join(path, "sbom.cdx.json"), rebuilt["raw_output"]
    second = read_sbom(path)
    assert second["serialNumber"] != first["serialNumber"] and versions(second) == versions(first) == pip_list(path)
    deps = dict((d["ref"], d["dependsOn"]) for d in second["dependencies"])
    assert deps["pkg:pypi/gamma@1.0"] == ["pkg:pypi/delta@1.0"]
    with open(os.path.join(path, "wheelhouse-venv.json")) as handle:
        assert "sbom.cdx.json" in json.load(handle)["entries"]
    removed = ansible.module(state="absent", **venv_args)
    assert removed["changed"] is True and removed["sbom"] is None and not os.path.exists(path), removed["raw_output"]
