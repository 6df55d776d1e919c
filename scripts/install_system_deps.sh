#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "Missing system packages: ${need[*]} (run as root or install them: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "[setup] installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts these services on install; tests run their own on loopback.
  for svc in postgresql redis-server nginx; do
    (command -v systemctl >/dev/null && systemctl stop "$svc" 2>/dev/null) || service "$svc" stop 2>/dev/null || true
  done
else
  echo "[setup] system packages present"
fi
