#!/bin/bash
# Read-only snapshot for the logging role (P2.4.10 / P2.5.2): one pass over journald, rsyslog,
# logrotate and auditd, printed as sections "@@@ <name> <exit code>" followed by the output.
# Changes nothing (logrotate -d is its debug mode). Inputs in the environment:
#   HISGUARD_AUDIT_RULES_FILE, HISGUARD_AUDIT_COMPILED_FILE, HISGUARD_REMOTE_LOGROTATE_FILE
shopt -s nullglob
section() {  # name command...
    local out rc
    out=$("${@:2}" 2>&1)
    rc=$?
    printf '@@@ %s %s\n%s\n' "$1" "$rc" "$out"
}
section journald systemd-analyze cat-config systemd/journald.conf
section journal_dir test -d /var/log/journal
section rsyslog_service systemctl show --property=ActiveState,UnitFileState rsyslog.service
section rsyslog_config cat /etc/rsyslog.conf /etc/rsyslog.d/*.conf
section logrotate logrotate -d /etc/logrotate.conf
section maxage grep -HnE '^\s*maxage\s+[0-9]+' /etc/logrotate.conf /etc/logrotate.d/*
section remote_logrotate_file test -e "$HISGUARD_REMOTE_LOGROTATE_FILE"
section auditctl_status auditctl -s
section auditctl_rules auditctl -l
section audit_rules_file sha256sum "$HISGUARD_AUDIT_RULES_FILE"
section audit_compiled cat "$HISGUARD_AUDIT_COMPILED_FILE"
section auditd_service systemctl show --property=ActiveState,UnitFileState auditd.service
exit 0
