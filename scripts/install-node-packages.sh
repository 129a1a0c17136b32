#!/usr/bin/env bash
# Installs the Debian packages a real node of the hermetic target runs on
# (containerd, runc, the CNI plugins, busybox for the data image, xfsprogs for
# online growth), only those missing. Installing starts no service here.
set -euo pipefail
pkgs=(containerd runc containernetworking-plugins busybox-static xfsprogs)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "node packages: missing ${missing[*]}; install them as root (apt-get install ${missing[*]}): the real node needs them" >&2
  exit 2
fi
if ! command -v apt-get >/dev/null; then
  echo "node packages: missing ${missing[*]} and no apt-get to install them (Debian packages)" >&2
  exit 2
fi
start=$SECONDS
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/tmp/vsconform-apt.log 2>&1; then
  echo "node packages: apt-get install ${missing[*]} failed (log: /tmp/vsconform-apt.log)" >&2
  exit 2
fi
echo "installed ${missing[*]} in $((SECONDS - start))s"
