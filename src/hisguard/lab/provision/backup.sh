#!/bin/bash
# srv-backup: the off-site backup target (SFTP, user `restic`) and the central log host (rsyslog TCP 514).
set -euo pipefail
id restic >/dev/null 2>&1 || useradd --system --create-home --home-dir /srv/restic --shell /bin/bash restic
install -d -m 0700 -o restic -g restic /srv/restic/.ssh /srv/restic/repos
install -m 0600 -o restic -g restic /tmp/lab-provision/authorized_keys /srv/restic/.ssh/authorized_keys

cat > /etc/rsyslog.d/10-central-log-host.conf <<'CONF'
module(load="imtcp")
input(type="imtcp" port="514" ruleset="remote")
template(name="PerHost" type="string" string="/var/log/remote/%HOSTNAME%.log")
ruleset(name="remote") { action(type="omfile" dynaFile="PerHost") }
CONF
install -d /var/log/remote
systemctl enable rsyslog >/dev/null 2>&1
systemctl restart rsyslog

# The machine-room UPS, simulated by NUT's dummy-ups driver: tests edit /etc/nut/lab-ups.dev
# (e.g. `ups.status: OB DISCHRG`) and upsd serves the new values to `upsc lab-ups@localhost`.
cat > /etc/nut/ups.conf <<'CONF'
[lab-ups]
  driver = dummy-ups
  port = lab-ups.dev
  mode = dummy-loop
  desc = "Machine-room UPS (lab simulation)"
CONF
cat > /etc/nut/lab-ups.dev <<'CONF'
device.mfr: LabPower
device.model: Smart-UPS 3000
device.serial: LAB-UPS-0001
ups.status: OL
battery.charge: 100
battery.runtime: 2400
ups.load: 23
input.voltage: 230.0
CONF
sed -i 's/^MODE=.*/MODE=standalone/' /etc/nut/nut.conf
chown root:nut /etc/nut/ups.conf /etc/nut/lab-ups.dev
chmod 0640 /etc/nut/ups.conf /etc/nut/lab-ups.dev
systemctl enable --now nut-driver@lab-ups.service nut-server.service >/dev/null 2>&1
