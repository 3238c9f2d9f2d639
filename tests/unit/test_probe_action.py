"""The commands of hisguard.infosec.probe, run here by /bin/sh as the host's shell would run them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))  # ansible_collections.hisguard.infosec -> the checkout

from ansible_collections.hisguard.infosec.plugins.action import probe  # noqa: E402

PROGRAM = '''\
"""A probe."""
from __future__ import annotations
import json, sys
def main() -> None:
    print(json.dumps({"argv": sys.argv, "stdin": sys.stdin.read(), "name": __name__}))
if __name__ == "__main__":
    main()
'''
ARGV = ["--file=/etc/x y", '{"a": "it\'s"}', "$HOME", ""]


def run(command: str, in_data: bytes | None = None) -> str:
    done = subprocess.run(["/bin/sh", "-c", command], input=in_data or b"", capture_output=True, check=True)
    return done.stdout.decode()


def test_python_program_and_its_stdin_inside_the_command():
    packed = probe.pack(PROGRAM, "data 数据\n")
    out = run(probe.python_command(sys.executable, "demo_probe.py", ARGV, packed), b"not read")
    assert out.strip() == (
        '{"argv": ["demo_probe.py", "--file=/etc/x y", "{\\"a\\": \\"it\'s\\"}", "$HOME", ""], '
        '"stdin": "data \\u6570\\u636e\\n", "name": "__main__"}'
    )


def test_python_program_on_the_commands_stdin():
    command = probe.python_command(sys.executable, "demo_probe.py", ARGV, None)
    assert "b64decode('" not in command
    out = run(command, probe.pack(PROGRAM, None))
    assert '"argv": ["demo_probe.py", "--file=/etc/x y"' in out and '"stdin": ""' in out


def test_shell_script_gets_its_name_and_arguments():
    out = run(
        probe.shell_command("/bin/bash", 'printf "%s|" "$0" "$@"; echo "$HG"', "read.sh", ["a b", "$c"])
    )
    assert out == "read.sh|a b|$c|\n"
