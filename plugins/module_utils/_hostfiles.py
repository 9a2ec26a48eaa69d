# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files both modules write on the host: whole files replaced atomically, and the masked run log."""

from __future__ import annotations

import os
import tempfile
import time

from ansible_collections.wheelhouse.venv.plugins.module_utils import _masking as masking

# Where root's runs log by default: private, as the installer echoes lines of the files it reads.
LOG_DIR = "/var/log/wheelhouse-venv"
LOG_DIR_MODE = 0o700
LOG_FILE_MODE = 0o600


def private_mode(text):
    """The mode of a file holding text: 0600 when it holds a credential, else 0644."""
    return 0o600 if masking.find_secrets(text) else 0o644


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
    """Appends to a log file (0600), credentials masked; the first write of a run starts with a header line.

    A folder it makes is 0700, and so is LOG_DIR (an existing log file or LOG_DIR with a wider mode is repaired).
    """

    def __init__(self, path, header):
        self.path = path
        self.header = header
        self.opened = False

    def write(self, text):
        folder = os.path.dirname(self.path)
        if folder and not os.path.isdir(folder):
            os.makedirs(folder, LOG_DIR_MODE)
        if not self.opened and os.path.normpath(folder) == LOG_DIR and (os.stat(folder).st_mode & 0o7777) != LOG_DIR_MODE:
            os.chmod(folder, LOG_DIR_MODE)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LOG_FILE_MODE)
        with os.fdopen(fd, "a") as handle:
            if not self.opened:
                if (os.fstat(fd).st_mode & 0o7777) != LOG_FILE_MODE:
                    os.fchmod(fd, LOG_FILE_MODE)
                handle.write("\n=== %s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), self.header))
                self.opened = True
            handle.write(masking.mask_text(text).rstrip("\n") + "\n")
