#!/bin/bash
# Every lab host: SSH access for the controller, the central log host, a persistent route if asked.
# Env: LAB_DEFAULT_ROUTE (optional gateway), LAB_LOG_HOST. Files in /tmp/lab-provision/.
set -euo pipefail
src=/tmp/lab-provision
install -d -m 0700 /root/.ssh
install -m 0600 "$src/authorized_keys" /root/.ssh/authorized_keys
install -m 0600 "$src/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 0644 "$src/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n' \
  > /etc/ssh/sshd_config.d/10-lab.conf
systemctl enable --now ssh >/dev/null 2>&1

if [ -n "${LAB_DEFAULT_ROUTE:-}" ]; then
  cat > /etc/systemd/system/lab-default-route.service <<UNIT
[Unit]
Description=Lab: default route via ${LAB_DEFAULT_ROUTE}
After=network.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/ip route replace default via ${LAB_DEFAULT_ROUTE}
[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now lab-default-route.service
fi

if [ -n "${LAB_LOG_HOST:-}" ]; then
  echo "*.* @@${LAB_LOG_HOST}:514" > /etc/rsyslog.d/90-central-log-host.conf
  systemctl enable --now rsyslog >/dev/null 2>&1
fi
