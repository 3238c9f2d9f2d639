#!/bin/bash
# srv-his: PostgreSQL with the HIS database (schema and seed data in /tmp/lab-provision/his.sql).
set -euo pipefail
sed -i "s/^#\?listen_addresses.*/listen_addresses = '*'/" /etc/postgresql/15/main/postgresql.conf
systemctl enable --now postgresql >/dev/null 2>&1
for _ in $(seq 100); do su postgres -c "pg_isready -q" && break; sleep 0.1; done
su postgres -c "psql -q -v ON_ERROR_STOP=1" < /tmp/lab-provision/his.sql
