#!/bin/bash
# Workstations: a compliant baseline unless a seed (LAB_SEEDS, space separated) breaks it on purpose.
set -euo pipefail
seeds=" ${LAB_SEEDS:-} "
has() { [[ "$seeds" == *" $1 "* ]]; }
# apt waits for a lock another apt run holds (a timer, a playbook) instead of failing the provisioning.
apt() { DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 "$@" >/dev/null; }

if ! has usb_storage_allowed; then
  printf 'install usb-storage /bin/false\ninstall uas /bin/false\ninstall sr_mod /bin/false\ninstall cdrom /bin/false\nblacklist usb-storage\nblacklist uas\nblacklist sr_mod\nblacklist cdrom\n' \
    > /etc/modprobe.d/lab-baseline-removable-media.conf
fi

if has no_antivirus; then
  apt purge -y clamav clamav-daemon clamav-freshclam clamdscan
else
  curl -fsS -o /var/lib/clamav/hisguard-eicar.hdb http://mirror.lab.internal/clamav/hisguard-eicar.hdb
  chown clamav:clamav /var/lib/clamav/hisguard-eicar.hdb
  install -d /etc/systemd/system/clamav-daemon.service.d /etc/systemd/system/clamav-daemon.socket.d
  printf '[Unit]\nConditionPathExistsGlob=\n' > /etc/systemd/system/clamav-daemon.service.d/lab.conf
  printf '[Unit]\nConditionPathExistsGlob=\n' > /etc/systemd/system/clamav-daemon.socket.d/lab.conf
  systemctl daemon-reload
  systemctl enable --now clamav-daemon.service >/dev/null 2>&1
fi

if has remote_desktop; then
  apt install -y /opt/lab-seeds/sunloginclient_*.deb
fi

if has unapproved_package; then
  apt update
  apt install -y telnet
fi

if has shared_account; then
  # A shared "guest" login with a usable password (the kind of account P1.3.3 forbids).
  id guest >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --comment "公用账号" guest
  echo 'guest:Guest@2024' | chpasswd
fi
