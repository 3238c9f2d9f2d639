#!/bin/sh
# Prepares one server of the scenario (run by prepare.yml with ansible.builtin.script, one task per host
# instead of a dozen: the podman connection is slow on a busy machine).
# Usage: setup-server.sh good|bad UPS_NAME
#   good: sshd and rsyslog running, UPS on line, last backup an hour ago, one sudo command in the auth log
#   bad:  sshd running, rsyslog stopped and no /var/log/auth.log, UPS on battery, last backup 72 h ago
set -eu
kind=$1 ups=$2
timeout 90 systemctl is-system-running --wait >/dev/null || true
state=$(systemctl is-system-running || true)
case $state in running | degraded) ;; *) echo "systemd is $state after 90 s" >&2; exit 1 ;; esac

ssh-keygen -A >/dev/null
systemctl enable --now ssh >/dev/null 2>&1
if [ "$kind" = good ]; then
  systemctl enable --now rsyslog >/dev/null 2>&1
  status=OL charge=100 runtime=2400 voltage=230.0 age=3600
else
  systemctl disable --now rsyslog >/dev/null 2>&1
  rm -f /var/log/auth.log
  status="OB DISCHRG" charge=64 runtime=1300 voltage=0.0 age=$((72 * 3600))
fi

# The UPS, as the lab's srv-backup simulates it (src/hisguard/lab/provision/backup.sh).
cat > /etc/nut/ups.conf <<CONF
[$ups]
  driver = dummy-ups
  port = $ups.dev
  mode = dummy-loop
  desc = "Machine-room UPS (molecule)"
CONF
cat > "/etc/nut/$ups.dev" <<CONF
device.mfr: LabPower
device.model: Smart-UPS 3000
ups.status: $status
battery.charge: $charge
battery.runtime: $runtime
ups.load: 23
input.voltage: $voltage
CONF
sed -i 's/^MODE=.*/MODE=standalone/' /etc/nut/nut.conf
chown root:nut /etc/nut/ups.conf "/etc/nut/$ups.dev"
chmod 0640 /etc/nut/ups.conf "/etc/nut/$ups.dev"
systemctl enable --now "nut-driver@$ups.service" nut-server.service >/dev/null 2>&1
tries=0
until [ "$(upsc "$ups@localhost" ups.status 2>/dev/null)" = "$status" ]; do
  tries=$((tries + 1))
  [ $tries -lt 20 ] || { echo "upsd does not serve $ups" >&2; exit 1; }
  sleep 1
done

# The backup role's status file (only the fields the inspection reads).
epoch=$(($(date +%s) - age))
mkdir -p -m 0700 /var/lib/hisguard/backup
printf '{"last_success": {"epoch": %s, "time": "%s", "short_id": "a1b2c3d4"}, "last_run": {"result": "success"}}\n' \
  "$epoch" "$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)" > /var/lib/hisguard/backup/status.json
chmod 0600 /var/lib/hisguard/backup/status.json

if [ "$kind" = good ]; then
  sudo -n true # a sudo command for the weekly log review
fi
