#!/usr/bin/env bash
# Smoke test of an aarch64 credo wheel on an x86-64 machine, under qemu-user emulation.
#
# Debian's arm64 Python 3.11 and the shared libraries it needs are downloaded as .deb files and
# unpacked into a private sysroot (nothing arm64 is installed on the host); NumPy's aarch64 wheel
# comes from PyPI; the credo wheel is unpacked beside it into a `site-packages` folder. Then
# scripts/wheel_smoke.py runs under `qemu-aarch64 -L sysroot`, exactly as on an x86-64 venv.
# Needs: root (apt-get), Debian 12's archive, qemu-user (installed here when missing).
set -euo pipefail
wheel=$(realpath "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
work=${AARCH64_SYSROOT:-/tmp/credo-aarch64}
pip=${PIP:-$here/.venv/bin/pip}

command -v qemu-aarch64 >/dev/null || { apt-get update -q && apt-get install -y -q qemu-user; } >/dev/null

if [ ! -x "$work/root/usr/bin/python3.11" ]; then
  mkdir -p "$work/debs" "$work/root"
  pkgs="libc6 libgcc-s1 libstdc++6 libpython3.11-minimal python3.11-minimal libpython3.11-stdlib
        zlib1g libexpat1 libffi8 libssl3 libbz2-1.0 liblzma5 libcrypt1 libuuid1 libtinfo6 libncursesw6
        libsqlite3-0 libreadline8 libnsl2 libtirpc3 libdb5.3 libgssapi-krb5-2 libkrb5-3 libk5crypto3
        libkrb5support0 libcom-err2 libkeyutils1"
  added=0
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then dpkg --add-architecture arm64; added=1; fi
  apt-get update -q >/dev/null
  (cd "$work/debs" && apt-get download $(for p in $pkgs; do printf '%s:arm64 ' "$p"; done) >/dev/null 2>&1)
  if [ "$added" = 1 ]; then dpkg --remove-architecture arm64 && apt-get update -q >/dev/null; fi
  for d in "$work"/debs/*.deb; do dpkg -x "$d" "$work/root"; done
fi

site="$work/site-packages"
rm -rf "$site" && mkdir -p "$site" "$work/wheels"
"$pip" download -q "numpy>=1.24,<2.3" --platform manylinux2014_aarch64 --only-binary=:all: \
  --python-version 3.11 --implementation cp -d "$work/wheels"
python3 -m zipfile -e "$(ls "$work"/wheels/numpy-*aarch64*.whl | head -1)" "$site"
python3 -m zipfile -e "$wheel" "$site"

run() { qemu-aarch64 -L "$work/root" -E PYTHONPATH="$site" "$work/root/usr/bin/python3.11" "$@"; }
run -c "import platform, sys; print('python', sys.version.split()[0], 'on', platform.machine())"
cd /tmp && run "$here/scripts/wheel_smoke.py"
