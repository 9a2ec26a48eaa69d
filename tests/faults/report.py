"""docs/reliability.md from the outcomes of the fault-injection suite (written when WH_RELIABILITY_DOCS=1)."""

from __future__ import annotations

import os
import time

# fault class -> (how it is tested, the pytest selection that reproduces it)
CLASSES = [
    ("named step", "The module kills itself with SIGKILL at a named step "
     "(`WHEELHOUSE_VENV_FAULT_AT=<name>`, `plugins/module_utils/_faults.py`) during an in-place upgrade "
     "(alpha 1.0 -> 1.1) and during a rebuild (system_site_packages flipped, alpha 1.0 -> 1.1). The steps: "
     "`build-installed` (new venv installed in its staging dir), `build-before-swap` (new venv complete, "
     "not swapped), `build-after-swap` (swapped, the old venv in the staging dir), `swap-before-old-removed` "
     "(the same, inside the swap), `update-installed` (in-place install done, files and state not written), "
     "`update-state-written` (state written, facts not), `before-facts` (everything but the facts file), "
     "`verifying` (installed, the verifications (`pip check`, imports, command) about to run: in place and in "
     "the staging dir), `build-requirements-installed` (an upgrade with `build_requirements`: the build tools "
     "installed by their own installer run, the requirements not yet); with `keep_previous` (an upgrade that "
     "builds beside and keeps the replaced venv): `build-after-swap`, `release-swapped` (the new venv live, the "
     "replaced one not yet moved into `.NAME.releases/`), `release-kept` (moved, older releases not yet "
     "pruned). "
     "`build-installed` is not in the suite's set (like `build-before-swap`, and a rebuild case costs 10-20 s); "
     "`absent-renamed` (state=absent: the venv renamed away, not deleted yet) is tested by "
     "tests/integration/test_venv_build_safety.py.",
     "test_named_step"),
    ("kill -9 of the run's process tree", "Each run (the module's own process, as ansible-core's debug mode starts it; ansible-playbook with "
     "WH_MODULE_VIA=playbook) runs in a session of its own; when a moment "
     "shows from outside (pip's process appears, pip's `~` stash appears in site-packages, the new "
     "`*.dist-info` appears, the staging venv's `bin/python` appears) every process of the tree gets SIGKILL.",
     "test_kill_tree"),
    ("kill -9 of the installer", "Only the pip process (found in /proc: argv with `pip`, `install` and the "
     "venv's path) gets SIGKILL, at the same moments; the module itself sees the installer fail.",
     "test_kill_installer"),
    ("full disk", "The venv lives on a tmpfs of 96 MB of its own, a user file fills it to 3 MB free, then an "
     "upgrade or a rebuild that needs 6 MB more runs; the message must name the cause and the path, then "
     "the user file is removed and the next runs must converge.",
     "test_full_disk"),
    ("two runs racing", "Two runs of the module on one path started together: upgrade/upgrade "
     "(exactly one reports changed), rebuild/rebuild, upgrade/state=absent; and state=absent while the "
     "test holds the path's lock file.",
     "test_race or test_absent_waits"),
    ("publish to an index", "venv_wheel_build's `publish` against a real pypiserver on 127.0.0.1 (uploads "
     "behind an htpasswd user, `--disable-fallback`) with real twine from PyPI in the builder venv: a wheel set "
     "(alpha, beta of 4 MB, gamma) built once, an empty index per case, uploads through a relay at 4 MB/s so that a "
     "kill lands in the middle of one. Faults: the module kills itself at the named step `publish-uploaded` (twine "
     "returned, the pages not read again); the playbook's whole tree or twine alone gets SIGKILL when twine starts or "
     "when beta is under way (1 MB of it sent). Here **lost nothing** means: the index lists no file with other bytes "
     "than the set's and the password shows in no result, log or file; **converged**: the next run uploads exactly "
     "the files the index lacks (its `published`), a further run reports changed=false and uploads nothing. "
     "pypiserver keeps an upload cut off as a file of its own (the start of the wheel): the next run then fails, "
     "naming the file cut short, and converges once it is removed by hand; those cases end as expected failures "
     "(xfail) of the suite and count as not holding here.",
     "test_publish"),
    ("damaged files", "Before an upgrade: the state file a JSON list, of the wrong shape, truncated or not "
     "JSON; alpha's METADATA empty or binary garbage; bin/python3 a link to a deleted copy of the interpreter.",
     "test_damaged_files"),
]

# The threat model closes the page: it says what the suite's hostile cases stand on (hand-written, in
# threat_model.md beside this file, so that a regenerated page keeps it).
THREAT_MODEL_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "threat_model.md")


def write_report(path, outcomes, bulk):
    lines = [
        "# Reliability: what the fault-injection suite shows",
        "",
        "Generated by `tests/faults` (`WH_RELIABILITY_DOCS=1 scripts/test.sh faults`) on %s; do not edit by hand."
        % time.strftime("%Y-%m-%d"),
        "",
        "Every case of venv_build starts from a venv with alpha 1.0 (a wheel of %s modules, so an install lasts long enough "
        "to be interrupted) and a user file beside it (and inside it when `foreign_files=carry` exists), "
        "injects one fault into a run that changes the venv, then checks the invariants:" % bulk,
        "",
        "- **lost nothing**: the user files are intact, and the path is a venv that imports the old or the new "
        "alpha (where the installer was killed in place, the next run may have to repair it);",
        "- **converged**: the next normal run succeeds and, with a further run, reports `changed` exactly once; "
        "the venv imports the new alpha, the result reports it, the `.fact` file holds the new value, and no "
        "leftover (`.NAME.venv_build-*`, `NAME.old`, pip's `~` stash) remains.",
        "",
        "The class *publish to an index* (venv_wheel_build) has invariants of its own, in its section. A case "
        "where either does not hold fails the suite, except the expected failures (xfail) a section names; the "
        "tables count the last run that wrote this page.",
        "",
        "| fault class | runs tried | lost nothing | converged on the next run |",
        "|---|---|---|---|",
    ]
    for name, dummy, dummy2 in CLASSES:
        mine = [o for o in outcomes if o["class"] == name]
        if mine:
            counts = (len(mine), sum(o["lost_nothing"] for o in mine), sum(o["converged"] for o in mine))
            lines.append("| %s | %d | %d | %d |" % ((name,) + counts))
    for name, how, selection in CLASSES:
        mine = [o for o in outcomes if o["class"] == name]
        if not mine:
            continue
        lines += ["", "## %s" % name, "", how, "", "```console",
                  ". scripts/env.sh && python -m pytest -q -p no:cacheprovider tests/faults -k '%s'" % selection,
                  "```", "", "| case | lost nothing | converged | what did not hold |", "|---|---|---|---|"]
        for o in mine:
            what = "; ".join(o["problems"]).replace("|", "\\|").replace("\n", " ") or "-"
            lines.append("| %s | %s | %s | %s |" % (o["case"], "yes" if o["lost_nothing"] else "**no**",
                                                    "yes" if o["converged"] else "**no**", what))
    with open(THREAT_MODEL_FILE) as handle:
        lines += ["", handle.read().rstrip("\n")]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
