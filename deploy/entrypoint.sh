#!/bin/sh
# Entry point of the aergo-rs image: prepares the data directory from the
# files the orchestrator mounts, then runs `aergo` with the given arguments.
#
#   AERGO_GENESIS   the chain's genesis.json (copied on first start; a data
#                   directory of another chain is refused)
#   AERGO_CONFIG    the node's config.toml (copied at every start, so a new
#                   configuration rolls out with a restart)
#   AERGO_NODE_KEY  the node's key (copied on first start, owner-only; a data
#                   directory holding another key is refused)
#   AERGO_DATA      the data directory (default /data, a volume)
#
# Without these variables the arguments run as they are (`aergo --help`,
# `aergo node --dev`, ...).
set -eu
data="${AERGO_DATA:-/data}"

# Copies $1 to $2 unless $2 exists; if it exists it must be identical.
place_once() {
  [ -f "$1" ] || { echo "aergo-entrypoint: $1 is missing" >&2; exit 1; }
  if [ -f "$2" ]; then
    if ! cmp -s "$1" "$2"; then
      echo "aergo-entrypoint: $2 differs from $1: this data directory belongs to another node or chain" >&2
      exit 1
    fi
  else
    cp "$1" "$2.tmp" || exit 1
    mv "$2.tmp" "$2" || exit 1
  fi
}

if [ -n "${AERGO_GENESIS:-}" ]; then
  : "${AERGO_CONFIG:?AERGO_CONFIG must name the node's config.toml}"
  : "${AERGO_NODE_KEY:?AERGO_NODE_KEY must name the node's key file}"
  mkdir -p "$data"
  umask 077
  place_once "$AERGO_NODE_KEY" "$data/node.key"
  umask 022
  [ -f "$AERGO_CONFIG" ] || { echo "aergo-entrypoint: $AERGO_CONFIG is missing" >&2; exit 1; }
  cp "$AERGO_CONFIG" "$data/config.toml.tmp" || exit 1
  mv "$data/config.toml.tmp" "$data/config.toml" || exit 1
  # Last: a data directory with a genesis is an initialised one.
  place_once "$AERGO_GENESIS" "$data/genesis.json"
fi
exec aergo "$@"
