# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named fault points: where the fault-injection suite kills a run (kill -9 of the module itself).

A run whose environment has WHEELHOUSE_VENV_FAULT_AT=<name> kills itself with SIGKILL when it
reaches the step of that name, as a power cut or an OOM kill would at that moment. Without the
variable a fault point costs one dictionary look-up. The names are listed in docs/reliability.md.
"""

from __future__ import annotations

import os
import signal

FAULT_VARIABLE = "WHEELHOUSE_VENV_FAULT_AT"


def fault_point(name):
    """SIGKILL this process when the environment names this step."""
    if os.environ.get(FAULT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
