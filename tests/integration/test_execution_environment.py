"""meta/execution-environment.yml as ansible-builder reads it from the installed release tarball.

The collection needs nothing in an execution environment beyond ansible-core: its filters and role run on
ansible-core and the standard library, its modules run on the managed hosts. The files it names say so
(comments only), and `ansible-builder introspect` lists nothing for it; a line added to them is listed,
so the paths in meta/execution-environment.yml are the files ansible-builder reads.
"""

from __future__ import annotations

import os
import shutil

import yaml

from collection_tarball import run, tool_environment


def introspect(collections_path):
    out = run(["ansible-builder", "introspect", collections_path], cwd=collections_path,
              env=tool_environment(collections_path))
    return yaml.safe_load(out.split("\n---\n", 1)[1])


def ee_files(collection):
    with open(os.path.join(collection, "meta", "execution-environment.yml")) as handle:
        meta = yaml.safe_load(handle)
    assert meta["version"] == 1
    deps = meta["dependencies"]
    assert sorted(deps) == ["python", "system"]
    return {kind: os.path.join(collection, path) for kind, path in deps.items()}


def test_the_collection_declares_no_dependency_beyond_ansible_core(installed_collection):
    collection = os.path.join(installed_collection, "ansible_collections", "wheelhouse", "venv")
    for kind, path in sorted(ee_files(collection).items()):
        with open(path) as handle:
            lines = [line for line in handle.read().splitlines() if line.strip()]
        assert lines and all(line.startswith("#") for line in lines), "%s: %s" % (kind, path)
    assert introspect(installed_collection) == {"python": [], "system": []}


def test_introspect_lists_what_the_files_declare(tmp_path, installed_collection):
    copy = str(tmp_path / "collections")
    shutil.copytree(installed_collection, copy)
    files = ee_files(os.path.join(copy, "ansible_collections", "wheelhouse", "venv"))
    with open(files["python"], "a") as handle:
        handle.write("probe-package>=1\n")
    with open(files["system"], "a") as handle:
        handle.write("probe-tool [platform:rpm]\n")
    assert introspect(copy) == {
        "python": ["probe-package>=1  # from collection wheelhouse.venv"],
        "system": ["probe-tool [platform:rpm]  # from collection wheelhouse.venv"],
    }
