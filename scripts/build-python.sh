#!/usr/bin/env bash
# Build the CPython this server should run on in production: profile-guided and link-time optimised
# (`--enable-optimizations --with-lto`), as distributions build theirs. pyenv's default build has
# neither, and that costs this server a tenth to a fifth of its CPU (README, Production).
#
#   bash scripts/build-python.sh [PREFIX]        # default /opt/mfa-python; about 25 minutes on 2 cores
#   PYTHON=/opt/mfa-python/bin/python3.14 make venv     # a new .venv (rm -rf .venv first)
#
# The source is Debian's copy of the upstream release tarball, checked against a pinned SHA-256.
# Needs gcc, make and the usual -dev packages (libssl, libffi, zlib, libsqlite3, libbz2, liblzma, uuid).
set -euo pipefail

VERSION=3.14.4
SHA256=d923c51303e38e249136fc1bdf3568d56ecb03214efdef48516176d3d7faaef8
URL="http://deb.debian.org/debian/pool/main/p/python${VERSION%.*}/python${VERSION%.*}_${VERSION}.orig.tar.xz"
PREFIX=${1:-/opt/mfa-python}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsS --retry 3 -o "$work/python.tar.xz" "$URL"
echo "$SHA256  $work/python.tar.xz" | sha256sum --check --quiet
tar -xJf "$work/python.tar.xz" -C "$work"
cd "$work"/Python-"$VERSION"
# The profile run is a subset of CPython's own tests: one that fails on this host (run as root, no
# network; one did here) must not stop the build, the profile only needs the code to have run.
./configure --prefix="$PREFIX" --enable-optimizations --with-lto --without-ensurepip \
  PROFILE_TASK='-m test --pgo --timeout=$(TESTTIMEOUT) || true' >/dev/null
make -j"$(nproc)" >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
make altinstall >/dev/null
echo "$PREFIX/bin/python${VERSION%.*}"
