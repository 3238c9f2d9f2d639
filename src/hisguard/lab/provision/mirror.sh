#!/bin/bash
# mirror: serves /srv/mirror (apt repository and antivirus signatures) over HTTP to the intranet.
set -euo pipefail
# Signatures are as fresh as the lab: the image may have been built days ago.
touch /srv/mirror/clamav/*
cat > /etc/systemd/system/lab-mirror.service <<'UNIT'
[Unit]
Description=Lab: internal package and signature mirror (HTTP)
After=network.target
[Service]
ExecStart=/usr/bin/python3 -m http.server 80 --bind 0.0.0.0 --directory /srv/mirror
Restart=on-failure
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now lab-mirror.service
for _ in $(seq 50); do curl -fsS -o /dev/null http://127.0.0.1/debian/dists/bookworm/Release && exit 0; sleep 0.1; done
echo "mirror did not start serving" >&2; exit 1
