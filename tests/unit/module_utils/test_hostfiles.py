"""The files both modules write: atomic replacement and the masked run log."""

from __future__ import annotations

import os
import stat

from ansible_collections.wheelhouse.venv.plugins.module_utils._hostfiles import MaskedLog, write_atomic


def test_write_atomic_replaces_the_file_with_its_mode_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old\n")
    write_atomic(str(path), "new\n", 0o640)
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o640
    assert os.listdir(str(tmp_path)) == ["state.json"]


def test_masked_log_writes_one_header_per_run_and_masks_credentials(tmp_path):
    path = tmp_path / "logs" / "run.log"
    log = MaskedLog(str(path), "venv_build /opt/app")
    log.write("$ pip install -i https://user:s3cr3t@index.example/simple app\n")
    log.write("done")
    MaskedLog(str(path), "venv_build /opt/app").write("second run")
    text = path.read_text()
    assert text.count("venv_build /opt/app") == 2
    assert "s3cr3t" not in text and "https://user:********@index.example/simple" in text
    lines = text.splitlines()
    assert lines[-2].startswith("=== ") and lines[-2].endswith(" venv_build /opt/app") and lines[-1] == "second run"
    assert lines[-4:-2] == ["done", ""]  # a blank line before each header


def test_masked_log_is_private_and_repairs_a_readable_one(tmp_path):
    made = tmp_path / "new" / "run.log"
    MaskedLog(str(made), "venv_build /opt/app").write("line")
    assert stat.S_IMODE(os.stat(str(made)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(made.parent)).st_mode) == 0o700
    old = tmp_path / "old.log"
    old.write_text("from an earlier version\n")
    os.chmod(str(old), 0o644)
    MaskedLog(str(old), "venv_build /opt/app").write("line")
    assert stat.S_IMODE(os.stat(str(old)).st_mode) == 0o600
    assert old.read_text().startswith("from an earlier version\n")
