#!/usr/bin/env bash
# The connection test community.docker runs for its connection plugins, through
# opsdeck.tmux.shared: raw, copy and fetch with unicode names, pipelining on and off.
# INVENTORY names one group "shared" of hosts that use the plugin (written by the driver).
set -eux

: "${INVENTORY:?set INVENTORY to an inventory with a group named shared}"
local_tmp="${LOCAL_TMP:-$(mktemp -d)}/ansible-local"
remote_tmp="${REMOTE_TMP:-/tmp}/ansible-remote-$$"

for pipelining in true false; do
  ANSIBLE_PIPELINING="$pipelining" ansible-playbook -i "$INVENTORY" test_connection.yml \
    -e target_hosts=shared -e "local_tmp=${local_tmp}" -e "remote_tmp=${remote_tmp}" \
    -e "pipelining=${pipelining}" "$@"
done
