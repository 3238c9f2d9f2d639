#!/bin/bash
# Runs inside the image's chroot after the packages are installed: generic, host-independent setup.
# Per-host setup happens at `lab up` (src/hisguard/lab/provision/).
set -euo pipefail

# Host keys are made per lab host by the controller, so its known_hosts is exact.
rm -f /etc/ssh/ssh_host_*
# The same machine-id in every container confuses journald and DHCP-style identities.
: > /etc/machine-id

# Services that only some hosts run, and ssh (no host keys yet): provisioning enables them.
for unit in ssh postgresql clamav-daemon clamav-freshclam usbguard usbguard-dbus auditd nut-server nut-monitor nut-driver rsyslog; do
  systemctl disable "$unit" >/dev/null 2>&1 || true
done
systemctl mask freshclam.service >/dev/null 2>&1 || true
# Units that cannot work in a container and only add noise to `systemctl is-system-running`.
for unit in systemd-udevd systemd-udev-trigger systemd-udevd-kernel.socket systemd-udevd-control.socket \
            getty@tty1 console-getty systemd-modules-load sys-kernel-config.mount; do
  systemctl mask "$unit" >/dev/null 2>&1 || true
done

# The intranet's apt source is the internal mirror; nothing points at the Internet.
rm -f /etc/apt/sources.list.d/*
echo "deb [trusted=yes] http://mirror.lab.internal/debian bookworm main" > /etc/apt/sources.list

install -d -m 0700 /root/.ssh
