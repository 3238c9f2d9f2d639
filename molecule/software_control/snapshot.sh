# Type, mode, owner, size, mtime and link target of every entry, then the content hash of every file, of the
# host's configuration and apt/dpkg state (run by prepare.yml and the verify tests through podman exec).
for d in /etc /var/lib/dpkg /var/lib/apt /var/cache/apt /var/log/apt; do
  find "$d" -xdev -printf '%y %#m %u:%g %s %T@ %p -> %l\n'
  find "$d" -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
done | LC_ALL=C sort
