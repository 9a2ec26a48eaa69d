# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files both modules write on the host: whole files replaced atomically, and the masked run log."""

from __future__ import annotations

import os
import tempfile
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import masking


def write_atomic(path, text, mode=0o644):
    """Replace path with text (str or bytes) in one rename: a reader sees the old content or the new, never a part."""
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class MaskedLog(object):
    """Appends to a log file, credentials masked; the first write of a run starts with a header line."""

    def __init__(self, path, header):
        self.path = path
        self.header = header
        self.opened = False

    def write(self, text):
        folder = os.path.dirname(self.path)
        if folder and not os.path.isdir(folder):
            os.makedirs(folder, 0o755)
        with open(self.path, "a") as handle:
            if not self.opened:
                handle.write("\n=== %s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), self.header))
                self.opened = True
            handle.write(masking.mask_text(text).rstrip("\n") + "\n")
