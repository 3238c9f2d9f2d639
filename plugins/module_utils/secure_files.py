# Copyright: hisguard contributors
# Apache License 2.0 (see LICENSE)
"""Files that hold device configurations with their secrets: written atomically with mode 0600 in
directories of mode 0700, optionally encrypted with ansible-vault (the plaintext goes to
ansible-vault on stdin and never touches the disk)."""

from __future__ import annotations

import os
import sys
import tempfile

VAULT_HEADER = "$ANSIBLE_VAULT;"


class SecureFileError(Exception):
    """A message for the operator."""


def make_private_dir(path):
    """Create `path` (and parents) with mode 0700; tighten an existing directory to 0700."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def write_private(path, data):
    """Write `data` (str or bytes) to `path` atomically with mode 0600."""
    directory = os.path.dirname(os.path.abspath(path))
    make_private_dir(directory)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_text(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def is_vault(text):
    return (text or "").startswith(VAULT_HEADER)


def vault_binary(module):
    """ansible-vault beside the running Python (the controller's venv), else from PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-vault")
    if os.access(beside, os.X_OK):
        return beside
    return module.get_bin_path("ansible-vault", required=True)


def _check_password_file(path):
    if not path or not os.path.isfile(path):
        raise SecureFileError(f"vault password file {path} does not exist")
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise SecureFileError(
            f"vault password file {path} has mode {mode:04o}; it must be readable by its owner only "
            f"(chmod 600 {path})"
        )


def vault_encrypt(module, text, password_file):
    """`text` encrypted with ansible-vault (str); the plaintext is passed on stdin."""
    _check_password_file(password_file)
    rc, out, err = module.run_command(
        [vault_binary(module), "encrypt", "--vault-password-file", password_file, "--output", "-"],
        data=text,
        binary_data=True,
    )
    if rc != 0 or not is_vault(out):
        raise SecureFileError(f"ansible-vault could not encrypt the configuration: {err.strip()[-300:]}")
    return out


def vault_decrypt(module, path, password_file):
    """The plaintext of the vault-encrypted file `path`."""
    _check_password_file(password_file)
    rc, out, err = module.run_command(
        [vault_binary(module), "decrypt", "--vault-password-file", password_file, "--output", "-", path]
    )
    if rc != 0:
        raise SecureFileError(
            f"ansible-vault could not decrypt {path}: {err.strip()[-300:]} (wrong vault password file?)"
        )
    return out
