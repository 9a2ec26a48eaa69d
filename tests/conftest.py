"""Shared by every pytest tier: the collection importable by its FQCN, test helpers on sys.path."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "wheelhouse", "venv")

if not os.path.islink(LINK) and not os.path.isdir(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
for folder in (COLLECTIONS, os.path.join(ROOT, "tests", "lib")):
    if folder not in sys.path:
        sys.path.insert(0, folder)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "controller: run the collection's modules through ansible-playbook, not directly "
        "(tests/lib/modrun.py): for what the controller takes part in (no_log, check and diff mode, facts, ...)")
