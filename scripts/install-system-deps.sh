#!/usr/bin/env bash
# Installs the system libraries the native core links against (Debian/Ubuntu):
# FAISS (static libfaiss.a, built with OpenMP), OpenBLAS and oneDNN (the
# rankers' fp32/bf16/int8 matmuls; Debian's build uses the OpenMP runtime),
# plus the C++ toolchain node-gyp needs, promtool (package prometheus) for
# the metrics test, and redis-server and nginx for the scale-out tests and
# scripts/cluster.sh (the tests start their own), and PyTorch with NumPy
# (python3-torch, python3-numpy) for the trainers in train/. Uses sudo only
# when not already root. Installs only what is missing, so running it again
# changes nothing.
set -euo pipefail

pkgs=(libfaiss-dev libopenblas-dev libdnnl-dev g++ make python3 pkg-config openssl prometheus redis-server nginx curl python3-torch python3-numpy)
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
# Only the binaries are wanted from prometheus (promtool), redis-server and
# nginx (the tests start their own on free loopback ports): on a systemd
# machine the packages also enable and start servers (:9090, :6379, :80);
# stop the ones just added.
if [ -d /run/systemd/system ]; then
  for svc in prometheus redis-server nginx; do
    [[ " ${missing[*]} " == *" $svc "* ]] && $SUDO systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
  done
fi
