# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error type of this collection's module_utils."""

from __future__ import annotations


class VenvBuildError(Exception):
    """Raised by module_utils; the module turns it into fail_json(msg=..., **details)."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details
