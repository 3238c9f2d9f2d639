# What an audit must not change (run with sh -c inside a container by prepare.yml and the tests): type, mode,
# owner, size, mtime and link target of every entry under /etc and /var/lib/clamav, the hash of every file
# there, dpkg's and debconf's databases, and the state of the ClamAV and hisguard units.
for d in /etc /var/lib/clamav; do
  [ -d "$d" ] && find "$d" -xdev -printf '%y %#m %u:%g %s %T@ %p -> %l\n'
done | LC_ALL=C sort
for d in /etc /var/lib/clamav; do
  [ -d "$d" ] && find "$d" -xdev -type f -print0
done | LC_ALL=C sort -z | xargs -0 sha256sum
sha256sum /var/lib/dpkg/status /var/cache/debconf/config.dat
systemctl list-units --all --plain --no-legend 'clam*' 'hisguard*' | awk '{print $1, $2, $3, $4}'
