"""The stand-in engine's command-line client: what kubecert runs as ``docker`` (or ``podman``) in the kind
tests. It passes its arguments to the stand-in engine (engine.py) over a Unix socket and prints its answer.
Not a container engine: these machines have none; see engine.py for what it stands for."""

import base64
import json
import os
import socket
import sys


def main() -> int:
    with socket.socket(socket.AF_UNIX) as engine:
        engine.settimeout(120)
        engine.connect(os.environ["KUBECERT_STANDIN_ENGINE"])
        engine.sendall(json.dumps({"argv": sys.argv[1:], "as": os.path.basename(sys.argv[0])}).encode() + b"\n")
        answer = b""
        while chunk := engine.recv(1 << 16):
            answer += chunk
    reply = json.loads(answer)
    sys.stdout.buffer.write(base64.b64decode(reply["out"]))
    sys.stderr.write(reply["err"])
    return int(reply["rc"])


if __name__ == "__main__":
    sys.exit(main())
