"""Creates and destroys the containers of a molecule scenario: its create and destroy playbooks run this.

    python3 tests/podman/hosts.py create|destroy PLATFORMS_JSON

PLATFORMS_JSON is the scenario's `platforms` of molecule.yml (molecule_yml.platforms). The podman driver's own
playbooks did the same with some 40 module runs and async polls (about 9 s of controller CPU to create a
scenario's hosts, 7 s to destroy them, 6 s when there was nothing to destroy); this is one podman call per
host. What it does, as the driver did for these platforms:
  create   the scenario's podman network unless it exists, then per platform
           `podman run --detach --replace --name N --hostname N --network NET --label owner=molecule
           --volume V... IMAGE COMMAND...` (COMMAND split as a shell would)
  destroy  `podman rm --force --time 0 --ignore` of every platform's container, then its network when it exists
A platform key that is not handled here is refused: a setting in molecule.yml must not be dropped silently.
"""

import json
import shlex
import subprocess
import sys

KNOWN = {"name", "image", "pre_build_image", "network", "command", "volumes", "groups"}


def podman(*args, check=True):
    result = subprocess.run(["podman", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            check=False)
    if check and result.returncode != 0:
        sys.exit(f"hosts.py: podman {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def networks(platforms):
    return sorted({p["network"] for p in platforms if p.get("network")})


def create(platforms):
    for p in platforms:
        unknown = sorted(set(p) - KNOWN)
        if unknown:
            sys.exit(f"hosts.py: platform {p.get('name')}: {', '.join(unknown)} not handled (tests/podman/hosts.py)")
        if not p.get("pre_build_image"):
            sys.exit(f"hosts.py: platform {p['name']}: only pre_build_image: true is handled")
    for net in networks(platforms):
        if podman("network", "exists", net, check=False).returncode != 0:
            podman("network", "create", net)
    for p in platforms:
        argv = ["run", "--detach", "--replace", "--name", p["name"], "--hostname", p["name"],
                "--label", "owner=molecule"]
        if p.get("network"):
            argv += ["--network", p["network"]]
        for volume in p.get("volumes") or []:
            argv += ["--volume", volume]
        command = p.get("command") or []
        argv += [p["image"], *(shlex.split(command) if isinstance(command, str) else command)]
        podman(*argv)
        print(f"created {p['name']} ({p['image']})")


def destroy(platforms):
    names = [p["name"] for p in platforms]
    podman("rm", "--force", "--time", "0", "--ignore", *names)
    for net in networks(platforms):
        if podman("network", "exists", net, check=False).returncode == 0:
            podman("network", "rm", net)
    print(f"destroyed {', '.join(names)}")


def main(argv):
    if len(argv) != 3 or argv[1] not in ("create", "destroy"):
        sys.exit(__doc__)
    platforms = json.loads(argv[2])
    (create if argv[1] == "create" else destroy)(platforms)


if __name__ == "__main__":
    main(sys.argv)
