#!/usr/bin/env bash
# Installs the system libraries the native core links against (Debian/Ubuntu):
# FAISS (static libfaiss.a, built with OpenMP), OpenBLAS and oneDNN (the
# rankers' fp32/bf16/int8 matmuls; Debian's build uses the OpenMP runtime),
# plus the C++ toolchain node-gyp needs, and promtool (package prometheus) for
# the metrics test. Uses sudo only when not already root. Installs only what
# is missing, so running it again changes nothing.
set -euo pipefail

pkgs=(libfaiss-dev libopenblas-dev libdnnl-dev g++ make python3 pkg-config openssl prometheus)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: ${pkgs[*]}"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# Only promtool is wanted from prometheus: on a systemd machine the package
# also enables and starts a Prometheus server (:9090); stop the one it just added.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
