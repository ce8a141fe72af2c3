#!/usr/bin/env bash
# Shared helpers for Quark's scripts: messages, failing loudly, apt installs on demand.
say() { echo "[quark] $*" >&2; }
die() { echo "[quark] ERROR: $*" >&2; exit 1; }

apt_updated=0
# need_apt PKG...: installs the Debian packages that are not installed yet.
need_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  say "installing ${missing[*]} (apt)"
  if [[ $apt_updated -eq 0 ]]; then
    $sudo apt-get update -qq || die "apt-get update failed"
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# Build dependencies of the workspace's crates (hwlocality links libhwloc and libudev).
need_build_deps() {
  need_apt pkg-config libhwloc-dev libudev-dev hwloc gcc
}
