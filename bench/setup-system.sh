#!/bin/sh
# System tools for bench/edge_bench.py (and wrk for bench/api_bench.py): Debian's nginx-light and wrk.
# Idempotent: installs only what is missing; `apt-get update` only when the first install attempt fails.
# Needs root (or sudo) on Debian/Ubuntu.
#
#   sh bench/setup-system.sh
set -eu

missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
# Debian puts nginx in /usr/sbin, which may not be on a non-root PATH.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    missing="$missing nginx-light"
fi

if [ -z "$missing" ]; then
    echo "setup-system: nginx and wrk already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-system: missing:$missing, and apt-get is not available; install them by hand" >&2
    exit 2
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup-system: need root (or sudo) to install:$missing" >&2
        exit 2
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "setup-system: installing$missing"
# shellcheck disable=SC2086  # word splitting of the package list is intended
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; then
    echo "setup-system: install failed; running apt-get update and retrying"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi

# The Debian package starts (and enables) an nginx on port 80 where an init system runs; the bench starts its
# own nginx with its own config and does not need that one. We leave it as the package set it up.
echo "setup-system: done ($(command -v wrk), $(command -v nginx || echo /usr/sbin/nginx))"
