#!/usr/bin/env bash
# Run here (not on the GPU machine), in the root of the checkout the device tool sends: downloads
# the two pure-Python wheels the GPU image lacks into .whl/ (ignored by git) for `carry`.
set -euo pipefail
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> "$(git rev-parse --git-path info/exclude)"
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
  "array-api-compat>=1.9" "array-api-strict>=2.3"
ls -la .whl
