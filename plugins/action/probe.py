# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Action plugin hisguard.infosec.probe: run a read-only program on the host in one exchange.

`ansible.builtin.script` costs four remote commands per host (make a temporary directory, copy the
file, run it, remove the directory); `command` with the program on stdin runs a second Python on the
host (AnsiballZ). This plugin runs one command: a Python program, compressed with the data it reads on
stdin, goes to `python3 -c <bootstrap>` on the command's standard input where the connection can pipe
(ssh, local) and inside the command otherwise (podman); a shell script runs as `bash -c <script>`.
Nothing is written on the host. Documentation lives in plugins/modules/probe.py.
"""

from __future__ import annotations

import base64
import json
import shlex
import zlib

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

_ARGUMENT_SPEC = {
    "script": {"type": "str"},
    "source": {"type": "str"},
    "name": {"type": "str"},
    "argv": {"type": "list", "elements": "str", "default": []},
    "stdin": {"type": "str"},
    "executable": {"type": "str"},
}

# The remote shell receives the whole command as one argument, which Linux caps at 128 KiB.
MAX_COMMAND_BYTES = 120_000

# Unpack [program, stdin data] (from the command's stdin, or from the command itself) and run the
# program as __main__ under its own name, its stdin data as sys.stdin.
_BOOTSTRAP = (
    "import base64,io,json,sys,zlib;"
    "__s,__d=json.loads(zlib.decompress({packed}));"
    "sys.argv[0]={name!r};"
    "sys.stdin=io.StringIO(__d) if __d is not None else sys.stdin;"
    "exec(compile(__s,{name!r},'exec'))"
)


def pack(source: str, stdin: str | None) -> bytes:
    return zlib.compress(json.dumps([source, stdin]).encode("utf-8"), 9)


def python_command(executable: str, name: str, argv: list[str], packed: bytes | None) -> str:
    """The command that runs the packed program with `argv`: from stdin when `packed` is None."""
    source = (
        "sys.stdin.buffer.read()"
        if packed is None
        else f"base64.b64decode('{base64.b64encode(packed).decode()}')"
    )
    bootstrap = _BOOTSTRAP.format(packed=source, name=name)
    return " ".join([shlex.quote(executable), "-c", shlex.quote(bootstrap), *map(shlex.quote, argv)])


def shell_command(executable: str, source: str, name: str, argv: list[str]) -> str:
    """The command that runs the shell script `source` with `argv` ($0 is its name)."""
    return " ".join(
        [shlex.quote(executable), "-c", shlex.quote(source), shlex.quote(name), *map(shlex.quote, argv)]
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True  # it only reads; the program itself must not change the host

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(
            argument_spec=_ARGUMENT_SPEC,
            mutually_exclusive=[("script", "source")],
            required_one_of=[("script", "source")],
        )
        name, source = self._program(args)
        is_shell = name.endswith(".sh")
        executable = args["executable"] or ("/bin/bash" if is_shell else self._python(task_vars))
        if is_shell:
            if args["stdin"] is not None:
                raise AnsibleActionFail(
                    f"{name}: `stdin` is for Python programs only; pass the data in `argv`"
                )
            command, in_data = shell_command(executable, source, name, args["argv"]), None
        else:
            packed = pack(source, args["stdin"])
            in_data = packed if self._connection.has_pipelining else None
            command = python_command(executable, name, args["argv"], None if in_data else packed)
        command = f"{self._compute_environment_string()} {command}".strip()
        size = len(command.encode("utf-8"))
        if size > MAX_COMMAND_BYTES:
            raise AnsibleActionFail(
                f"{name}: the command with its program and arguments is {size} bytes, over the "
                f"{MAX_COMMAND_BYTES} a remote command may have; make the program or its data smaller"
            )

        run = self._low_level_execute_command(command, in_data=in_data)
        stdout, stderr = to_text(run.get("stdout", "")), to_text(run.get("stderr", ""))
        result.update(
            rc=run["rc"],
            stdout=stdout,
            stdout_lines=stdout.splitlines(),
            stderr=stderr,
            stderr_lines=stderr.splitlines(),
            changed=False,
        )
        if run["rc"] != 0:
            result.update(failed=True, msg=f"{name} exited with {run['rc']}")
        return result

    def _program(self, args: dict) -> tuple[str, str]:
        if args["source"] is not None:
            return args["name"] or "probe.py", args["source"]
        try:
            path = self._find_needle("files", args["script"])
        except AnsibleActionFail as err:
            raise AnsibleActionFail(
                f"probe script {args['script']!r} not found in the role's files/: {err}"
            ) from None
        with open(path, encoding="utf-8") as handle:
            return args["name"] or args["script"], handle.read()

    def _python(self, task_vars: dict) -> str:
        interpreter = str(self._templar.template(task_vars.get("ansible_python_interpreter")) or "auto")
        return "python3" if interpreter.startswith("auto") else interpreter
