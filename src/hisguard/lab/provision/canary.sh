#!/bin/bash
# inet-canary: a host on the simulated Internet (RFC 5737): HTTP on 80 and DNS answering every name.
set -euo pipefail
install -d /srv/canary
echo "hisguard inet-canary: if an intranet host can read this, it is not isolated" > /srv/canary/index.html
cat > /etc/systemd/system/lab-canary-http.service <<'UNIT'
[Unit]
Description=Lab: Internet canary HTTP
[Service]
ExecStart=/usr/bin/python3 -m http.server 80 --bind 0.0.0.0 --directory /srv/canary
[Install]
WantedBy=multi-user.target
UNIT
cat > /etc/systemd/system/lab-canary-dns.service <<UNIT
[Unit]
Description=Lab: Internet canary DNS (answers every name with its own address)
[Service]
ExecStart=/usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts --address=/#/${LAB_CANARY_IP}
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now lab-canary-http.service lab-canary-dns.service >/dev/null 2>&1
