#!/usr/bin/env bash
# A real Valhalla for the route search's tests: the binaries of PyPI's pyvalhalla 3.9.1
# wheel (valhalla_build_tiles, valhalla_service and the libraries they need), unpacked into
# ${CARBUROAM_VALHALLA_DIR:-~/.cache/carburoam-valhalla/wheel}, and Debian's osmium-tool (the
# tests write their road network as OSM XML and osmium turns it into .osm.pbf).
# Idempotent: does nothing when both are there. Prints the folder.
set -euo pipefail

dir="${CARBUROAM_VALHALLA_DIR:-$HOME/.cache/carburoam-valhalla/wheel}"
cache="$(dirname "$dir")"
wheel="pyvalhalla-3.9.1-cp312-abi3-manylinux_2_28_x86_64.whl"

if [ ! -x "$dir/valhalla/bin/valhalla_service" ]; then
  mkdir -p "$cache"
  if [ ! -f "$cache/$wheel" ]; then
    # The wheel is cp312-abi3: its binaries run as they are on this Python 3.11 machine.
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_28_x86_64 pyvalhalla==3.9.1 -d "$cache" >&2
  fi
  rm -rf "$dir.tmp"
  python3 -m zipfile -e "$cache/$wheel" "$dir.tmp" >&2
  chmod +x "$dir.tmp"/valhalla/bin/*
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi

if ! command -v osmium >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  # A fresh machine has no package lists yet: update them when the first try finds nothing.
  $sudo apt-get install -y -qq osmium-tool >&2 ||
    { $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq osmium-tool >&2; }
fi

# Check that the service starts on this machine.
LD_LIBRARY_PATH="$dir/pyvalhalla.libs" "$dir/valhalla/bin/valhalla_service" --help >/dev/null
echo "$dir"
