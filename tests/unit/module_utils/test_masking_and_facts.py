from __future__ import annotations

import re

import pytest

from ansible_collections.wheelhouse.venv.plugins.module_utils import _facts as facts, _masking as masking
from ansible_collections.wheelhouse.venv.plugins.module_utils._errors import VenvBuildError
from ansible_collections.wheelhouse.venv.plugins.module_utils._inputs import VenvSpec


def test_password_in_url_is_masked():
    text = "Looking in indexes: https://deploy:s3cr3t@pypi.example.com/simple"
    masked = masking.mask_text(text)
    assert "s3cr3t" not in masked
    assert "https://deploy:********@pypi.example.com/simple" in masked


def test_lone_token_is_masked_for_web_urls_only():
    assert masking.mask_text("https://ghp_TOKEN@git.example.com/x") == "https://********@git.example.com/x"
    assert masking.mask_text("git+https://ghp_TOKEN@git.example.com/x") == "git+https://********@git.example.com/x"
    assert masking.mask_text("git+ssh://git@git.example.com/x") == "git+ssh://git@git.example.com/x"


def test_mask_data_walks_nested_results():
    data = {"commands": ["pip install --index-url https://u:pw@h/simple"], "n": 3, "d": {"k": ("https://u:pw@h",)}}
    masked = masking.mask_data(data)
    assert "pw" not in repr(masked)
    assert masked["n"] == 3


def test_find_secrets_in_params():
    params = {"index_url": "https://u:hunter2@h/simple", "extra_index_urls": ["https://tok@h2/simple"],
              "environment": {"PIP_INDEX_URL": "https://a:b@h3"}, "path": "/opt/v"}
    assert masking.find_secrets_in(params) == {"hunter2", "tok", "b"}


def test_strip_credentials():
    assert masking.strip_credentials("https://u:p@h/simple") == "https://h/simple"
    assert masking.strip_credentials("/local/dir") == "/local/dir"


def test_merge_facts_into_empty_file():
    text = facts.merge_facts("", [{"section": "glance", "option": "venv_tag", "value": "29.0.0"}])
    assert text == "[glance]\nventag = 29.0.0\n".replace("ventag", "venv_tag")


def test_merge_facts_keeps_what_others_wrote():
    before = "# managed by others\n[nova]\nvenv_tag = 1\n\n[glance]\nold = yes\nvenv_tag = 28\n"
    after = facts.merge_facts(before, [
        {"section": "glance", "option": "venv_tag", "value": "29"},
        {"section": "glance", "option": "new", "value": True},
        {"section": "cinder", "option": "venv_tag", "value": None},
    ])
    assert after == ("# managed by others\n[nova]\nvenv_tag = 1\n\n[glance]\nold = yes\nvenv_tag = 29\nnew = True\n"
                     "\n[cinder]\nvenv_tag = \n")


def test_merge_facts_is_stable():
    items = [{"section": "s", "option": "o", "value": "v"}]
    once = facts.merge_facts("[s]\no = old\n", items)
    assert facts.merge_facts(once, items) == once


class _SetupModule(object):
    """What ansible.builtin.setup hands its local facts collector: the fact path, and a place for warnings."""

    def __init__(self, fact_path):
        self.params = {"fact_path": fact_path}
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def _read_back(tmp_path, text):
    """The facts of text as ansible.builtin.setup reads them (its own loader, ansible_local[file])."""
    from ansible.module_utils.facts.system.local import LocalFactCollector
    (tmp_path / "app.fact").write_text(text)
    module = _SetupModule(str(tmp_path))
    found = LocalFactCollector().collect(module=module)["local"]["app"]
    assert module.warnings == []
    return found


HOSTILE = ["100%", "%(here)s", "a;b", "; starts like a comment", "# hash", "a = b = c", "[not a section]",
           "x: y", "ünï cödé €", "", 42, True, "https://u:pw@h/x"]


def test_facts_read_back_exactly_through_the_setup_loader(tmp_path):
    items = [{"section": "app", "option": "v%d" % i, "value": value} for i, value in enumerate(HOSTILE)]
    VenvSpec({"path": "/opt/app/venv", "facts": items})  # all accepted
    text = facts.merge_facts("[other]\nkept = yes\n", masking.mask_data(items))
    found = _read_back(tmp_path, text)
    wanted = dict(("v%d" % i, masking.mask_text(str(value))) for i, value in enumerate(HOSTILE))
    assert found == {"other": {"kept": "yes"}, "app": wanted}
    assert facts.merge_facts(text, masking.mask_data(items)) == text


@pytest.mark.parametrize("item, named", [
    ({"section": "app", "option": "tag", "value": " padded"}, "app.tag"),
    ({"section": "app", "option": "tag", "value": "trailing "}, "app.tag"),
    ({"section": "app", "option": "tag", "value": "two\nlines"}, "app.tag"),
    ({"section": "app", "option": "a:b", "value": "x"}, "a:b"),
    ({"section": "app", "option": "#tag", "value": "x"}, "#tag"),
    ({"section": "app", "option": " tag", "value": "x"}, " tag"),
    ({"section": "DEFAULT", "option": "tag", "value": "x"}, "DEFAULT"),
])
def test_facts_that_cannot_read_back_fail_before_anything_changes(item, named):
    with pytest.raises(VenvBuildError, match="facts:.*%s" % re.escape(named)):
        VenvSpec({"path": "/opt/app/venv", "facts": [item]})


def test_registered_secrets_are_masked_as_ansible_masks_results():
    """Values Ansible strips from results (no_log_values) are masked in text the module logs, the longest first."""
    from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking
    _masking.register_secrets(["pw-short", "pw-short-and-longer", "", None])
    try:
        assert _masking.mask_text("a pw-short-and-longer b pw-short") == "a ******** b ********"
        assert _masking.environment_secrets({"UV_INDEX_PASSWORD": "x1", "PATH": "/bin", "A": "https://u:p@h/"}) \
            == {"x1", "p"}
    finally:
        _masking._SECRETS.clear()  # pylint: disable=protected-access
