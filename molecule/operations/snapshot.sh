# Type, mode, owner, size, mtime and link target of every entry, then the content hash of every file, of the
# paths a role could touch (run by prepare.yml and the verify tests through podman exec). /root/.ansible is
# Ansible's own temporary directory.
for d in /etc /usr/local /opt /srv /root /var/lib/hisguard /var/lib/nut /var/spool/cron; do
  [ -e "$d" ] || continue
  find "$d" -xdev -path /root/.ansible -prune -o -printf '%y %#m %u:%g %s %T@ %p -> %l\n'
  find "$d" -xdev -path /root/.ansible -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
done | LC_ALL=C sort
