#!/usr/bin/env bash
# The main job: wheels built on this machine, then a venv installed from them, through the role
# wheelhouse.venv.python_venv_build (playbooks/venv.yml) on localhost.
#   scripts/main.sh                         the demo venv below
#   scripts/main.sh -e venv_rebuild=true    any ansible-playbook argument is passed on
#   scripts/main.sh -e venv_install_destination_path=/opt/venvs/tools -e '{"venv_pip_packages": ["httpie"]}'
# A second run changes nothing (changed=0).
set -euo pipefail
. "$(dirname "$0")/env.sh"

"$WH_ROOT/scripts/bootstrap.sh"
cd "$WH_ROOT"

exec ansible-playbook -i localhost, -c local playbooks/venv.yml \
  -e "ansible_python_interpreter=$WH_TARGET_PYTHON" \
  -e "venv_python_executable=$WH_TARGET_PYTHON" \
  -e "venv_install_destination_path=${WH_MAIN_VENV:-/opt/venvs/wheelhouse-demo}" \
  -e '{"venv_pip_packages": ["requests", "PyYAML"]}' \
  -e venv_distro_package_state=present \
  -e '{"venv_facts_when_changed": [{"section": "wheelhouse_demo", "option": "python_packages", "value": "requests PyYAML"}]}' \
  "$@"
