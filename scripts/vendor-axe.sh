#!/usr/bin/env bash
# Vendors axe-core (the accessibility checker the browser tests run) into tests/vendor/axe-core/
# from the npm registry: the pinned version, its tarball checked against the registry's integrity
# hash. The result is committed; tests never download anything. Re-run to update (change VERSION).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.10.3
INTEGRITY="sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg=="
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "axe-core@$VERSION" --silent >/dev/null)
got="sha512-$(openssl dgst -sha512 -binary "$tmp/axe-core-$VERSION.tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "vendor-axe: axe-core-$VERSION.tgz does not match its pinned integrity ($got)" >&2
  exit 1
fi
tar -xzf "$tmp/axe-core-$VERSION.tgz" -C "$tmp"
out=tests/vendor/axe-core
mkdir -p "$out"
cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$out/"
echo "$VERSION" > "$out/VERSION"
echo "vendor-axe: axe-core $VERSION in $out"
