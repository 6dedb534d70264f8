#!/usr/bin/env bash
# Builds hive's test images from source, with no registry: a static Go
# binary in a FROM scratch image. Tags: hive-test/web:v1, hive-test/web:v2
# (same program, VERSION differs), hive-test/web:crash (exits 3 at start),
# hive-test/web:v2-healthy (v2 with a HEALTHCHECK of /web healthcheck every
# second) and hive-test/web:v2-unhealthy (the same, never healthy: its
# /healthz answers 503).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/web" "$here"
cp "$here/Dockerfile" "$ctx/"
# The engine's classic builder needs no buildx; keep its deprecation notice quiet.
build() { docker build -q "$@" >/dev/null 2> >(grep -v -i -e deprecated -e buildx -e buildkit -e "environment-variable" -e "^ *$" >&2 || true); }
for v in v1 v2; do
  build --build-arg VERSION=$v -t hive-test/web:$v "$ctx"
done
printf 'FROM hive-test/web:v1\nENV CRASH=1\n' > "$ctx/Dockerfile.crash"
build -f "$ctx/Dockerfile.crash" -t hive-test/web:crash "$ctx"
printf 'FROM hive-test/web:v2\nHEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ["/web", "healthcheck"]\n' > "$ctx/Dockerfile.healthy"
build -f "$ctx/Dockerfile.healthy" -t hive-test/web:v2-healthy "$ctx"
printf 'FROM hive-test/web:v2-healthy\nENV UNHEALTHY=1\n' > "$ctx/Dockerfile.unhealthy"
build -f "$ctx/Dockerfile.unhealthy" -t hive-test/web:v2-unhealthy "$ctx"
echo "built hive-test/web:v1 hive-test/web:v2 hive-test/web:crash hive-test/web:v2-healthy hive-test/web:v2-unhealthy"
