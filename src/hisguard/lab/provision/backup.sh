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
