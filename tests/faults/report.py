"""docs/reliability.md from the outcomes of the fault-injection suite (written when WH_RELIABILITY_DOCS=1)."""

from __future__ import annotations

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
    ("kill -9 of the playbook's process tree", "ansible-playbook runs in a session of its own; when a moment "
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
    ("two runs racing", "Two ansible-playbook processes on one path started together: upgrade/upgrade "
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

# The threat model closes the page: it says what the suite's hostile cases stand on (hand-written, kept here
# so that a regenerated page keeps it).
THREAT_MODEL = """## Threat model

Who can write what, on a target:

- **root** (Ansible's `become` user) runs `venv_build`: its arguments, the base interpreter (option
  `python`), the collection's code and the folders above the venv are trusted.
- **the venv's owner** (option `owner`, say the service's user) can write everything inside the venv,
  and the kept releases in `.NAME.releases/`: the module gives it the whole tree. It cannot write the
  folder that holds the venv (the module never makes that folder the owner's).
- **other local users** can read the venv's files the installer made readable; files holding a credential
  (an index URL with a password in `requirements.txt`, the log) are `0600`, the log folder `0700`.
- **the network** (the index, `find_links`, the build host's wheels over HTTP) is trusted only as far as
  hashes go: `require_hashes`, a `lock`, or the role's per-set sha256 lock, whose wheels are refused when
  altered after the build.

What the module does with what it reads from the venv (untrusted when the owner is not root):

| input | checks | when it fails them |
|---|---|---|
| the state file `wheelhouse-venv.json` | read without following a link at it, never waiting on a FIFO, at most 16 MiB; JSON of the module's shape; each field of the form the module writes (`release` is `<n>-<YYYYmmddTHHMMSS>`, `entries` and link names are single names) | a damaged file is ignored and rewritten (the installer runs); a bad field is dropped with a warning naming it and the file rewritten |
| `pyvenv.cfg`, `METADATA`, `RECORD`, `direct_url.json`, the installer files | the same reading rules; bytes that are not UTF-8 are replaced | a link or FIFO counts as missing (no venv, damaged metadata, a file that differs) |
| paths in `RECORD` | resolved inside the venv only | a path that leaves the venv is ignored |
| release ids | the module's own form, naming an entry of `.NAME.releases/` | treated as missing: a kept release gets a new id and is never lost |
| entries inside the venv | what the venv creator lays down and what an installed `RECORD` lists are ours; anything else is foreign | foreign entries are never removed: the run refuses before any change naming them (`foreign_files: refuse`), or carries them |
| `bin/python` | a link must lead to the interpreter recorded when the venv was made; a copy must have its size | the venv is rebuilt |

File operations on the venv never follow a link planted in it: removals use `shutil.rmtree` (which does not
descend into links), ownership changes use `lchown`, the module's own files are replaced by writing a new file
and renaming it over the old name, and venvs move by `rename`. The module's own waits are bounded: the interpreter
probe (60 s), the verifications (`verify_timeout`); a second run on the same path waits for the path's lock
while the first finishes (its steps bounded the same way), and the installer's network waits are pip's
and uv's (`--timeout`, `UV_HTTP_TIMEOUT` through `extra_args` and `environment`).

What this does not cover, by design: the module runs the venv's own `python -m pip` (or uv) to install, as
root when root runs it. An owner who can write the venv's site-packages can change what that pip does, so a
root run into a venv another user may write runs code that user wrote: that is so for every tool that
installs into a venv (`ansible.builtin.pip`, upstream's role). Where the service's user must not gain root,
leave `owner` unset (the venv stays root's, readable by the service), or run the task as that user
(`become_user`). A user who swaps a directory of the venv for a link while a root run walks it (a race
between the walk's `lstat` and the `lchown`) is out of scope for the same reason.
"""


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
    lines += ["", THREAT_MODEL.rstrip("\n")]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
