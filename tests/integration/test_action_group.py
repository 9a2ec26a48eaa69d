"""meta/runtime.yml's action group: module_defaults set once for the collection reach its modules."""

from __future__ import annotations

import json

from conftest import imports


def test_module_defaults_of_the_group_reach_venv_build(ansible, venv_args):
    path = venv_args.pop("path")
    proc = ansible.play([{"name": "only path and requirements here", "register": "r",
                          "wheelhouse.venv.venv_build": {"path": path, "requirements": ["alpha==1.0"]}}],
                        play_keys={"module_defaults": {"group/wheelhouse.venv.all": venv_args}})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    # no_index and find_links came from the group's defaults: without them pip would look at PyPI
    assert result["changed"] is True and result["packages"]["alpha"] == "1.0"
    assert result["log_file"] == venv_args["log_file"]
    assert imports(path, "alpha")
