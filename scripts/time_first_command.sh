#!/usr/bin/env bash
# Times the README's first command on a fresh Debian 12: makes one with debootstrap (minbase)
# in a folder, clones this repository into it, and runs `bash scripts/setup.sh &&
# build/bin/iis demo` there, printing the time of the setup (apt + build), of the demo, and
# of a second, cached demo. Needs root, debootstrap and network access to Debian's mirror.
#   sudo bash scripts/time_first_command.sh [folder, default /tmp/iis-fresh-debian]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/tmp/iis-fresh-debian}
[[ $(id -u) -eq 0 ]] || { echo "error: run as root (debootstrap, chroot)"; exit 1; }
command -v debootstrap > /dev/null || { echo "error: apt-get install debootstrap"; exit 1; }
rm -rf "$root"
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian > "$root.debootstrap.log" 2>&1
for fs in proc dev sys; do mount --bind "/$fs" "$root/$fs"; done
trap 'for fs in proc dev sys; do umount "$root/$fs" || true; done' EXIT
cp /etc/resolv.conf "$root/etc/resolv.conf"
git clone -q "$repo" "$root/root/iis"
chroot "$root" bash -c 'cd /root/iis && start=$(date +%s) &&
  bash scripts/setup.sh > /root/setup.log 2>&1 && t1=$(date +%s) &&
  build/bin/iis --plain-progress demo > /root/demo.log 2>&1 && t2=$(date +%s) &&
  echo "setup (apt + build) $((t1 - start)) s, demo $((t2 - t1)) s, first command $((t2 - start)) s" &&
  t3=$(date +%s%N) && build/bin/iis demo 2> /dev/null | tail -1 &&
  echo "cached demo $(( ($(date +%s%N) - t3) / 1000000 )) ms"'
echo "logs: $root/root/setup.log, $root/root/demo.log; results: $root/root/iis/runs/demo"
