#!/bin/bash
# Read-only snapshot for the logging role (P2.4.10 / P2.5.2): one pass over journald, rsyslog,
# logrotate and auditd, the resolution of the central log host and the forwarding targets, and the
# TCP sockets, printed as sections "@@@ <name> <exit code>" followed by the output.
# Changes nothing (logrotate -d is its debug mode). Inputs in the environment:
#   HISGUARD_AUDIT_RULES_FILE, HISGUARD_AUDIT_COMPILED_FILE, HISGUARD_REMOTE_LOGROTATE_FILE,
#   HISGUARD_CENTRAL_TARGET, HISGUARD_CENTRAL_HOST, HISGUARD_CENTRAL_PORT, HISGUARD_IS_CENTRAL (true|false)
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

# Every name the rsyslog configuration may forward to: a superset of the forwards the role parses
# (`target="..."` of any action, the legacy `@@host:port`, with and without the port).
forward_targets() {
    local config
    config=$(cat /etc/rsyslog.conf /etc/rsyslog.d/*.conf 2>/dev/null | sed -E 's/^\s*#.*$//')
    grep -ozE 'target\s*=\s*"[^"]*"' <<<"$config" | tr '\0' '\n' | sed -E 's/^target\s*=\s*"(.*)"$/\1/'
    grep -oE '^\s*\S+\s+@@?(\([^)]*\))?\[?[A-Za-z0-9._:-]+' <<<"$config" \
        | sed -E 's/^\s*\S+\s+@@?(\([^)]*\))?\[?//; p; s/:[0-9]+$//'
}
# The configuration may name the central host differently (srv-backup.lab.internal vs 10.77.10.11):
# the role compares addresses as the host resolves them. One line per name: the name, its addresses.
resolve() {
    local t
    for t in "$@"; do
        printf '%s' "$t"
        getent ahosts "$t" | while read -r a _; do printf ' %s' "$a"; done
        echo
    done
}
mapfile -t targets < <(forward_targets | grep '[[:alnum:]]' | sort -u)
mapfile -t names < <(printf '%s\n' "$HISGUARD_CENTRAL_TARGET" "$HISGUARD_CENTRAL_HOST" "${targets[@]}" | grep . | sort -u)
printf '@@@ resolved 0\n%s\n' "$(resolve "${names[@]}" 2>/dev/null)"

# A forwarding rsyslog connects on its first message: on a client, a few seconds' grace (5 reads,
# 2 s apart) after a restart until a connection on the port is established.
port=$HISGUARD_CENTRAL_PORT
for attempt in 1 2 3 4 5; do
    sockets=$(ss -Htan "( sport = :$port or dport = :$port )" 2>/dev/null)
    rc=$?
    if [[ $HISGUARD_IS_CENTRAL == true || ${#targets[@]} -eq 0 ]] \
        || ! systemctl is-active --quiet rsyslog.service || grep -q '^ESTAB' <<<"$sockets"; then
        break
    fi
    [[ $attempt -lt 5 ]] && sleep 2
done
printf '@@@ sockets %s\n%s\n' "$rc" "$sockets"
exit 0
