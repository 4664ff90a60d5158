#!/bin/sh
# The runtime stage's install, shared by the Dockerfile and the test that reproduces it:
# unpacks the packed kvs-infer into APP_DIR and installs its production dependencies from the lockfile.
# Usage: install-runtime.sh PKG_DIR APP_DIR   (PKG_DIR holds kvs-infer-*.tgz and package-lock.json;
# prune-package.mjs sits beside this script)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pkg_dir=$1
app_dir=$2
mkdir -p "$app_dir"
tar -xzf "$pkg_dir"/kvs-infer-*.tgz -C "$app_dir" --strip-components=1
cp "$pkg_dir/package-lock.json" "$app_dir/"
cd "$app_dir"
# No install scripts: the native modules (node-av, sharp, jpeg-turbo) come prebuilt, and the
# package's own prepare (a TypeScript build) has already run: dist/ is in the tarball.
npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# node-av's optional WebRTC stack (werift and the 50-odd packages only it brings in, about 30 MB) serves
# node-av/webrtc, which kvs-infer never imports. --omit=optional is no way out: it would also drop the
# prebuilt binaries of node-av and sharp, which are optional dependencies of theirs.
node "$here/prune-package.mjs" . werift
# @julusian/jpeg-turbo ships its binaries in the package; cmake-js (and the 50-odd packages only it brings in,
# about 8 MB) is its fallback compiler for a platform without one, and nothing here runs install scripts.
node "$here/prune-package.mjs" . cmake-js
