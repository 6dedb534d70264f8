#!/bin/sh
# build-vault.sh [OUT] builds the HashiCorp Vault server that the
# secrets-vault tests run in dev mode, into OUT (default bin/vault), unless
# it is there already and newer than the module that pins it.
#
# Vault comes from the Go module proxy, built by the small module in
# plugins/secrets-vault/testvault (not part of hive's module): its go.mod
# pins Vault's api and sdk modules, which Vault's own go.mod replaces with
# folders its module archive lacks. The first build takes a long time
# (about half an hour on 2 cores, plus downloading some 500 modules);
# later ones use Go's build cache and take seconds.
set -eu

root=$(cd "$(dirname "$0")/../../.." && pwd)
mod="$root/plugins/secrets-vault/testvault"
out="${1:-$root/bin/vault}"
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac

if [ -x "$out" ] && [ "$out" -nt "$mod/go.mod" ] && [ "$out" -nt "$mod/go.sum" ]; then
	exit 0
fi
mkdir -p "$(dirname "$out")"
echo "build-vault: building Vault from $mod into $out (the first build takes many minutes)" >&2
cd "$mod"
GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out.tmp" .
mv "$out.tmp" "$out"
"$out" version >&2
