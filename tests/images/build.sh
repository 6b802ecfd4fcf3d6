#!/usr/bin/env bash
# Build the Debian images molecule runs the role in. No container registry is
# reachable here: debootstrap a minimal rootfs from the Debian mirror and
# `docker import` it. Usage: build.sh <debian release number> (12 or 13).
# Images: opsdeck/debian:<n>; rebuilt only when missing (FORCE=1 to rebuild).
set -euo pipefail

release="${1:?usage: build.sh 12|13}"
case "$release" in
  12) suite=bookworm ;;
  13) suite=trixie ;;
  *) echo "build.sh: unknown Debian release '$release' (12 or 13)" >&2; exit 2 ;;
esac
image="opsdeck/debian:${release}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

docker info >/dev/null 2>&1 || {
  echo "build.sh: no Docker engine is reachable (is dockerd running? .ci/run starts it)" >&2
  exit 1
}
if [ -z "${FORCE:-}" ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image exists"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# python3 for Ansible, sudo for become; the role installs tmux itself
debootstrap --variant=minbase --include=python3,python3-apt,sudo,ca-certificates,procps \
  "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
# apt inside the container uses the same mirror
printf 'deb %s %s main\n' "$mirror" "$suite" >"$work/rootfs/etc/apt/sources.list"
# keep the package lists (apt then knows where tmux is); drop the downloaded .debs
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb
tar -C "$work/rootfs" -c . | docker import \
  --change 'CMD ["sleep", "infinity"]' \
  --change 'ENV LANG=C.UTF-8' \
  - "$image" >/dev/null
echo "built $image"
