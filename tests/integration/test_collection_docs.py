"""The collection's documentation as antsibull-docs reads it: `antsibull-docs lint-collection-docs --plugin-docs`
passes, each filter has its own documentation, and the docsite HTML builds from the installed release tarball
with a page for the role, each module and each filter (docs/development.md: Documentation site).

antsibull-docs and Sphinx are in .venv (requirements-dev.txt). The build is offline: the links to other sites'
pages (ansible.builtin, the Ansible docs) stay unresolved, and every other Sphinx warning fails the test.
"""

from __future__ import annotations

import html
import inspect
import json
import os
import re

import pytest

from collection_tarball import ROOT, run, tool_environment

DOCS_BIN = os.path.join(ROOT, ".venv", "bin")
FQCN = "wheelhouse.venv"


def collection_dir(installed):
    return os.path.join(installed, "ansible_collections", "wheelhouse", "venv")


@pytest.fixture(scope="module")
def docs_env(installed_collection):
    if not os.access(os.path.join(DOCS_BIN, "antsibull-docs"), os.X_OK):
        pytest.fail("%s has no antsibull-docs: run scripts/bootstrap.sh (it makes .venv from "
                    "requirements-dev.txt)" % DOCS_BIN)
    return tool_environment(installed_collection, bin_dir=DOCS_BIN)


@pytest.fixture(scope="module")
def metadata(installed_collection, docs_env):
    """What ansible-doc knows of the installed collection: {plugin type: {FQCN: docs}}."""
    out = run(["ansible-doc", "--metadata-dump", "--no-fail-on-errors", FQCN], cwd=installed_collection, env=docs_env,
              stdout_only=True)  # ansible-core 2.21 warns on stderr of its own internal collection
    dump = json.loads(out)
    assert not dump.get("errors"), dump["errors"]
    return {kind: {name: data for name, data in plugins.items() if name.startswith(FQCN + ".")}
            for kind, plugins in dump["all"].items() if kind in ("module", "filter", "role")}


def test_lint_collection_docs_passes(installed_collection, docs_env):
    path = collection_dir(installed_collection)
    out = run([os.path.join(DOCS_BIN, "antsibull-docs"), "lint-collection-docs", "--plugin-docs", path],
              cwd=path, env=docs_env)
    assert out.strip() == "", "antsibull-docs lint-collection-docs reported:\n" + out


def filter_functions():
    from ansible_collections.wheelhouse.venv.plugins.filter.venv_build import FilterModule
    return FilterModule().filters()


def test_each_filter_has_its_own_documentation(metadata):
    """DOCUMENTATION, EXAMPLES and RETURN of its own (plugins/filter/<name>.yml), its options its arguments."""
    functions = filter_functions()
    assert sorted(metadata["filter"]) == sorted("%s.%s" % (FQCN, name) for name in functions)
    for name, function in sorted(functions.items()):
        data = metadata["filter"]["%s.%s" % (FQCN, name)]
        doc = data["doc"]
        assert doc["name"] == name, "%s shows the documentation of %s" % (name, doc["name"])
        assert data["examples"] and ("%s.%s" % (FQCN, name)) in data["examples"], name
        assert list(data["return"]) == ["_value"], name
        arguments = list(inspect.signature(function).parameters)
        assert sorted(doc["options"]) == sorted(["_input"] + arguments[1:]), name
        positional = [part.strip() for part in (doc.get("positional") or "").split(",") if part.strip()]
        assert positional == arguments[1:], "%s: positional must list %s" % (name, arguments[1:])
        assert doc["options"]["_input"].get("required") is True, name


@pytest.fixture(scope="module")
def docsite(tmp_path_factory, installed_collection, docs_env):
    """The docsite as `antsibull-docs sphinx-init` sets it up and its build.sh builds it, offline."""
    site = str(tmp_path_factory.mktemp("docsite"))
    antsibull = os.path.join(DOCS_BIN, "antsibull-docs")
    run([antsibull, "sphinx-init", "--use-current", "--fail-on-error", "--dest-dir", site, FQCN], cwd=site, env=docs_env)
    rst = os.path.join(site, "rst")
    os.makedirs(rst, exist_ok=True)
    os.chmod(rst, 0o755)  # antsibull-docs wants it writable by its owner only (as build.sh does)
    run([antsibull, "--config-file", "antsibull-docs.cfg", "collection", "--cleanup", "everything", "--fail-on-error",
         "--use-current", "--dest-dir", rst, FQCN], cwd=site, env=docs_env)
    with open(os.path.join(site, "conf.py"), "a") as handle:
        handle.write("\n# Offline: no inventories of other sites to fetch.\nintersphinx_mapping = {}\n")
    warnings = os.path.join(site, "warnings.txt")
    run([os.path.join(DOCS_BIN, "sphinx-build"), "-M", "html", rst, os.path.join(site, "build"), "-c", site,
         "--keep-going", "-q", "-w", warnings], cwd=site, env=docs_env)
    with open(warnings) as handle:
        return {"html": os.path.join(site, "build", "html"), "warnings": handle.read().splitlines()}


def page_text(docsite, name):
    path = os.path.join(docsite["html"], "collections", "wheelhouse", "venv", name + ".html")
    assert os.path.isfile(path), "no page %s" % name
    with open(path) as handle:
        text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", handle.read(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


def test_docsite_warns_only_of_links_to_other_sites(docsite):
    other = [line for line in docsite["warnings"]
             if not re.search(r"WARNING: undefined label: '(?!ansible_collections\.wheelhouse\.venv\.)[^']+'", line)]
    assert other == []


def test_docsite_has_no_error_page(docsite):
    malformed = []
    for folder, _dirs, files in os.walk(docsite["html"]):
        for name in files:
            if name.endswith(".html"):
                with open(os.path.join(folder, name)) as handle:
                    if "was malformed" in handle.read():
                        malformed.append(os.path.relpath(os.path.join(folder, name), docsite["html"]))
    assert malformed == []


def test_role_page_shows_every_variable(docsite, metadata):
    (role,) = metadata["role"].values()
    options = role["entry_points"]["main"]["options"]
    text = page_text(docsite, "python_venv_build_role")
    assert "Entry point main" in text
    assert [name for name in options if (" %s " % name) not in text] == []
    # A computed default is described in words (meta/argument_specs.yml), a literal one is shown as such.
    assert "Default - /var/lib/wheelhouse/venvs/wheel-builder-<NAME>" in text
    assert 'Default: "repo_all"' in text


@pytest.mark.parametrize("module", ["venv_build", "venv_host_info", "venv_wheel_build"])
def test_module_page_shows_every_option_and_return_value(docsite, metadata, module):
    data = metadata["module"]["%s.%s" % (FQCN, module)]
    text = page_text(docsite, module + "_module")
    assert "%s.%s module" % (FQCN, module) in text
    assert [name for name in data["doc"]["options"] if (" %s " % name) not in text] == []
    assert [name for name in data["return"] if (" %s " % name) not in text] == []
    assert "Examples" in text and "Return Values" in text


def test_filter_pages_show_their_options(docsite, metadata):
    for name in sorted(filter_functions()):
        doc = metadata["filter"]["%s.%s" % (FQCN, name)]["doc"]
        text = page_text(docsite, name + "_filter")
        assert "%s.%s filter" % (FQCN, name) in text, name
        assert [option for option in doc["options"] if option != "_input" and (" %s " % option) not in text] == [], name
