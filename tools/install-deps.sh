#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing. Usage:
#   tools/install-deps.sh            build + test dependencies
#   tools/install-deps.sh data       + the Fashion-MNIST dataset and Graphviz (for the demo)
#   tools/install-deps.sh bench      + the benchmark anchors (PyTorch, libtorch, ADOL-C)
#   tools/install-deps.sh fuzz       + clang's libFuzzer runtime
set -euo pipefail
pkgs=(meson ninja-build g++ pkg-config cmake libfmt-dev doctest-dev libopenblas-dev zlib1g-dev
      nlohmann-json3-dev libcli11-dev)
for extra in "$@"; do
  case "$extra" in
    data) pkgs+=(dataset-fashion-mnist graphviz) ;;
    bench) pkgs+=(python3-torch libtorch-dev libadolc-dev python3-numpy) ;;
    fuzz) pkgs+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "install-deps: unknown group '$extra'" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/install-deps.log 2>&1; then
  "${sudo_cmd[@]}" apt-get update -q >>/tmp/install-deps.log 2>&1 || true
  if ! "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/install-deps.log 2>&1; then
    echo "install-deps: apt-get failed; see /tmp/install-deps.log" >&2
    tail -5 /tmp/install-deps.log >&2
    exit 1
  fi
fi
