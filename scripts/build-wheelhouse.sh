#!/bin/bash
# The offline wheelhouse for ansible-pull on workstations (and its lab test): ansible-core, the same
# version as the controller's, with its dependencies, in var/wheelhouse/. Run at setup time (it uses
# PyPI); workstations then install with `pip install --no-index --find-links <wheelhouse> ansible-core`.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(.venv/bin/python -c 'import ansible.release; print(ansible.release.__version__)' 2>/dev/null \
  || python3 -c 'import ansible.release; print(ansible.release.__version__)')
dest=var/wheelhouse
if ls "$dest"/ansible_core-"$version"-*.whl >/dev/null 2>&1; then
  exit 0
fi
mkdir -p "$dest"
.venv/bin/python -m pip download -q --only-binary=:all: --dest "$dest" "ansible-core==$version"
echo "wheelhouse: $dest (ansible-core $version)"
