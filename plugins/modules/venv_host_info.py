#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wheelhouse.venv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: venv_host_info
short_description: Read what a host's venvs depend on - its platform, an interpreter, its distribution packages
version_added: 0.2.0
description:
  - Answers in one call what the role C(wheelhouse.venv.python_venv_build) must know of a host before it
    plans - the facts the platform key is made of (distribution, its version, architecture, OS family),
    the C(MAJOR.MINOR) version of the interpreter O(python), and which of the distribution packages
    O(distro_packages) are installed.
  - Changes nothing and never fails for what it finds - an interpreter that does not run is reported in
    RV(python.error), so that a plan can name every host's problem at once.
  - A package is reported installed only when the package database (C(dpkg-query) or C(rpm)) lists it as
    installed under that exact name; virtual packages, C(name=version) and other forms are reported
    missing, so a package task gated on RV(distro_packages.missing) still runs for them.
  - Given O(venv), it also reads that venv's state file - the inputs its last install recorded and whether the
    venv is intact - so that the role can tell a target with nothing to do without asking anything else.
  - With C(dpkg-query) it also reports which installed packages apt would upgrade and the age of apt's
    package lists, so that a task with C(state=latest) can be skipped when it would do nothing
    (filter C(wheelhouse.venv.venv_package_task_needed)).
author:
  - wheelhouse.venv contributors (@wheelhouse)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads only, the same in check mode.
  diff_mode:
    support: N/A
  platform:
    support: full
    platforms: posix
options:
  python:
    description:
      - The interpreter whose version is read, a path or a name looked up on E(PATH).
    type: str
    default: python3
  distro_packages:
    description:
      - Distribution package names whose installation is checked.
    type: list
    elements: str
    default: []
  venv:
    description:
      - The path of a venv of M(wheelhouse.venv.venv_build) whose state file is read (RV(venv)), from files
        only - no process is started, no installer asked.
    type: path
    version_added: 0.2.0
  upgrades:
    description:
      - Whether to ask apt which of the installed O(distro_packages) it would upgrade (RV(distro_packages.outdated)),
        with C(apt-cache policy) - the slowest part of the module, about half a second.
      - V(false) leaves RV(distro_packages.outdated) V(null), which is enough to decide on a package task with
        C(state=present); the role C(wheelhouse.venv.python_venv_build) asks only when C(venv_distro_package_state)
        is C(latest).
    type: bool
    default: true
    version_added: 0.3.0
seealso:
  - module: wheelhouse.venv.venv_build
  - module: ansible.builtin.setup
  - module: ansible.builtin.package_facts
"""

EXAMPLES = r"""
- name: Read the interpreter and the build packages of the build host
  wheelhouse.venv.venv_host_info:
    python: /usr/bin/python3
    distro_packages: [build-essential, python3-dev, python3-venv]
  register: host

- name: Install the build packages only when some are missing
  ansible.builtin.package:
    name: "{{ host.distro_packages.missing }}"
  when: host.distro_packages.missing | length > 0

- name: Name the platform the host's wheels are built for
  ansible.builtin.debug:
    msg: "{{ host.platform_facts | wheelhouse.venv.venv_platform(host.python.version) }}"
  when: host.python.version | length > 0
"""

RETURN = r"""
platform_facts:
  description:
    - The host's facts the platform key is made of, under the names of M(ansible.builtin.setup)'s facts
      (filter C(wheelhouse.venv.venv_platform) takes them). A fact that cannot be read is an empty string.
  returned: always
  type: dict
  sample:
    architecture: x86_64
    distribution: Debian
    distribution_major_version: "12"
    distribution_release: bookworm
    distribution_version: "12.8"
    os_family: Debian
python:
  description: The interpreter O(python).
  returned: always
  type: dict
  contains:
    executable:
      description: Its absolute path (empty when it was not found).
      type: str
      sample: /usr/bin/python3
    version:
      description: Its C(MAJOR.MINOR) version, empty when it could not be run.
      type: str
      sample: "3.11"
    error:
      description: Why its version could not be read, or empty.
      type: str
      sample: ""
distro_packages:
  description: The packages of O(distro_packages), as the package database sees them.
  returned: always
  type: dict
  contains:
    manager:
      description: The package database asked (C(dpkg-query) or C(rpm)), empty when the host has neither.
      type: str
      sample: dpkg-query
    installed:
      description: The names that are installed, in the order of O(distro_packages).
      type: list
      elements: str
      sample: [python3-venv]
    missing:
      description: The names that are not installed or that could not be checked, in the order of O(distro_packages).
      type: list
      elements: str
      sample: [build-essential]
    outdated:
      description:
        - With C(dpkg-query), the installed names whose candidate version in apt's cache differs from the
          installed one (C(apt-cache policy)); V(null) when that cannot be told (C(rpm), no C(apt-cache)) or
          was not asked (O(upgrades=false)).
      type: list
      elements: str
      sample: []
    cache_age:
      description:
        - With C(dpkg-query), seconds since apt's package lists were last updated (what the C(cache_valid_time)
          of M(ansible.builtin.apt) is compared with); V(null) otherwise.
      type: int
      sample: 312
venv:
  description:
    - The venv O(venv) as its files show it.
  returned: when O(venv) is given
  type: dict
  contains:
    path:
      description: The path O(venv).
      type: str
    exists:
      description: Whether anything is at that path.
      type: bool
    inputs_id:
      description:
        - What the state file records of the inputs the venv was installed from (the O(wheelhouse.venv.venv_build#module:inputs_id)
          of its last install), empty when there is none.
      type: str
      sample: 3f5a0c...
    intact:
      description:
        - Whether the venv is as its last install left it - a venv with the state file of M(wheelhouse.venv.venv_build),
          its C(bin/python) there, the Python its state records, no unfinished install, the facts of the last change
          written, and the packages and links the state records (the top-level files of each package present).
      type: bool
    problems:
      description: Why it is not intact, empty when it is.
      type: list
      elements: str
    rolled_back_from:
      description:
        - What a rollback (O(wheelhouse.venv.venv_build#module:rollback)) switched this venv away from; a run of
          M(wheelhouse.venv.venv_build) with one of these inputs keeps the venv as it is. Empty lists and strings
          when the venv was never rolled back.
      type: dict
      version_added: 0.3.0
      contains:
        inputs_ids:
          description: The O(wheelhouse.venv.venv_build#module:inputs_id) of every venv rolled back from, newest first.
          type: list
          elements: str
        at:
          description: When the last rollback happened (ISO 8601).
          type: str
        release:
          description: The release the last rollback switched away from.
          type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facts.system.distribution import DistributionFactCollector
from ansible.module_utils.facts.system.platform import PlatformFactCollector

from ansible_collections.wheelhouse.venv.plugins.module_utils._hostinfo import host_info

ARGUMENT_SPEC = dict(
    python=dict(type="str", default="python3"),
    distro_packages=dict(type="list", elements="str", default=[]),
    venv=dict(type="path"),
    upgrades=dict(type="bool", default=True),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)

    def run(argv):
        # A program that cannot be started raises OSError (hostinfo reports it) instead of failing the module.
        return module.run_command(argv, check_rc=False, environ_update={"LC_ALL": "C"}, handle_exceptions=False,
                                  expand_user_and_vars=False)

    collected = PlatformFactCollector().collect(module=module)
    collected.update(DistributionFactCollector().collect(module=module, collected_facts=collected))
    result = host_info(run, module.params["python"], module.params["distro_packages"], collected,
                       venv=module.params["venv"], upgrades=module.params["upgrades"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
