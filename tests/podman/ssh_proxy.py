"""ssh's ProxyCommand for the molecule test bed: connects to a container's sshd on its podman network.

    ProxyCommand /usr/bin/python3 tests/podman/ssh_proxy.py %h %p
    ProxyUseFdpass yes

The host name ssh is given is the container's name; its address comes from `podman container inspect`.
The connected socket is handed to ssh (ProxyUseFdpass), so no process stays between ssh and sshd.
"""

import socket
import subprocess
import sys
import time

# sshd may still be starting when the first play reaches a new container.
CONNECT_WAIT = 15


def address_of(name):
    """The container's IP address on its (first) podman network."""
    result = subprocess.run(
        ["podman", "container", "inspect", "--format",
         "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        capture_output=True, text=True, check=False)
    addresses = result.stdout.split()
    if result.returncode != 0 or not addresses:
        sys.exit(f"ssh_proxy: no running container {name} with an address on a podman network: "
                 f"{result.stderr.strip() or 'podman container inspect printed none'}")
    return addresses[0]


def connect(address, port):
    """A TCP connection to address:port, waiting while nothing listens there yet."""
    deadline = time.monotonic() + CONNECT_WAIT
    while True:
        try:
            return socket.create_connection((address, port), timeout=5)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main():
    """Connects to the container named in argv and passes the socket to ssh."""
    name, port = sys.argv[1], int(sys.argv[2])
    address = address_of(name)
    try:
        conn = connect(address, port)
    except OSError as exc:
        sys.exit(f"ssh_proxy: cannot connect to {name} at {address}:{port}: {exc}")
    # ssh's end of stdout is a unix socket when ProxyUseFdpass is on: pass the connection over it.
    with socket.socket(fileno=sys.stdout.fileno()) as channel:
        socket.send_fds(channel, [b"\0"], [conn.fileno()])
        channel.detach()


if __name__ == "__main__":
    main()
