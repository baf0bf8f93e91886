#!/usr/bin/env bash
# Installs the Debian packages tokprep needs to build, test and demo, only when some are missing.
# Sourced by scripts/test.sh and scripts/demo.sh; safe to run on its own.
set -euo pipefail

TOKPREP_PKGS=(
    build-essential cmake pkg-config git ca-certificates
    libavformat-dev libavcodec-dev libavfilter-dev libavutil-dev libswscale-dev libswresample-dev
    libcurl4-openssl-dev libcjson-dev libyaml-dev libsqlite3-dev libhiredis-dev libcmocka-dev
    nettle-dev libmicrohttpd-dev
    ffmpeg python3 procps
)

tokprep_install_deps() {
    local missing=() p
    for p in "${TOKPREP_PKGS[@]}" "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    echo "tokprep: installing missing packages: ${missing[*]}" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    tokprep_install_deps "$@"
fi
