#!/bin/bash
# Runs inside the image's chroot: builds the internal mirror's content under /srv/mirror
# (an apt repository and the antivirus signatures). Only the `mirror` lab host serves it.
set -euo pipefail
pool=/srv/mirror/debian/pool/main
install -d "$pool" /srv/mirror/clamav /tmp/debs

# Every package the build downloaded, so roles can install them from the intranet mirror.
cp /var/cache/apt/archives/*.deb "$pool"/
# telnet: a seed; pwquality and its dictionary: what the accounts role installs on enforce.
(cd "$pool" && apt-get download telnet inetutils-telnet libpam-pwquality libpwquality1 libpwquality-common \
  libcrack2 cracklib-runtime file libmagic1 libmagic-mgc >/dev/null)

# A small in-house package: workstations carry 1.0.0, the mirror has the 1.0.1 security update.
make_deb() {  # name version description
  local dir=/tmp/debs/$1_$2
  install -d "$dir/DEBIAN" "$dir/usr/share/doc/$1"
  printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: hisguard lab <lab@lab.internal>\nSection: misc\nPriority: optional\nDescription: %s\n' \
    "$1" "$2" "$3" > "$dir/DEBIAN/control"
  echo "$3" > "$dir/usr/share/doc/$1/README"
  dpkg-deb --build --root-owner-group "$dir" "/tmp/debs/$1_$2_all.deb" >/dev/null
}
make_deb his-client 1.0.0 "HIS workstation client (lab stand-in)"
make_deb his-client 1.0.1 "HIS workstation client (lab stand-in), security fix"
make_deb sunloginclient 15.2.0 "Remote desktop client (lab stand-in for an unapproved remote-control tool)"
dpkg -i /tmp/debs/his-client_1.0.0_all.deb >/dev/null
cp /tmp/debs/his-client_1.0.1_all.deb "$pool"/
install -d /opt/lab-seeds && cp /tmp/debs/sunloginclient_15.2.0_all.deb /opt/lab-seeds/

cd /srv/mirror/debian
install -d dists/bookworm/main/binary-amd64
apt-ftparchive packages pool > dists/bookworm/main/binary-amd64/Packages
gzip -kf dists/bookworm/main/binary-amd64/Packages
apt-ftparchive -o APT::FTPArchive::Release::Suite=bookworm -o APT::FTPArchive::Release::Codename=bookworm \
  release dists/bookworm > dists/bookworm/Release

# Signatures: the EICAR test file as an MD5 signature (freshclam cannot reach the Internet here).
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > /tmp/eicar.com
sigtool --md5 /tmp/eicar.com | sed 's/eicar.com$/Eicar-Test-Signature.HISGUARD/' > /srv/mirror/clamav/hisguard-eicar.hdb
rm -rf /tmp/debs /tmp/eicar.com
