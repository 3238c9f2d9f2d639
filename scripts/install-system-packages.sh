#!/bin/bash
# Installs the Debian packages listed in scripts/apt-packages/*.txt that are missing (needs root).
# Used by `make setup` and by `hisguard lab up`; a no-op when everything is there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# Every systemd container of the lab and of molecule takes inotify instances; the default 128 runs out
# with a dozen containers and new ones then hang in "initializing".
if [ "$(id -u)" -eq 0 ] && [ "$(sysctl -n fs.inotify.max_user_instances)" -lt 1024 ]; then
  sysctl -qw fs.inotify.max_user_instances=1024
fi

mapfile -t wanted < <(sed -e 's/#.*//' -e '/^\s*$/d' "$here"/apt-packages/*.txt | sort -u)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run as root (or: sudo $0)" >&2
  exit 2
fi
echo "installing Debian packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
