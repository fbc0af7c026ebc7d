#!/usr/bin/env bash
# System libraries the gateway needs beyond Python packages: Pango for WeasyPrint (letters) and a
# CJK font so Chinese letters render. Installs them when missing and we are allowed to (root).
set -u
need=()
command -v fc-list >/dev/null 2>&1 || need+=(fontconfig)
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || need+=(libpango-1.0-0 libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so' || need+=(libharfbuzz-subset0)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need[@]}" >/dev/null; }
else
  echo "warning: missing system packages (${need[*]}); letters may not render" >&2
fi
exit 0
