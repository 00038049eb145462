#!/usr/bin/env bash
# Prints the path of the Databricks CLI the tests drive (bundle validate/deploy/run against a fake
# workspace), building it once from its Go module into a cache outside the clone, so a fresh clone on
# the same machine reuses it. Exit 3: no Go toolchain and no databricks binary on this machine.
set -euo pipefail

version="${DATABRICKS_CLI_VERSION:-1.12.1}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/bricksml/databricks-$version"
bin="$cache/databricks"

works() { "$1" --version 2>/dev/null | grep -q "Databricks CLI v$version"; }

if [[ -x "$bin" ]] && works "$bin"; then
    echo "$bin"
    exit 0
fi

go="$(command -v go || true)"
[[ -z "$go" && -x /usr/local/go/bin/go ]] && go=/usr/local/go/bin/go
if [[ -z "$go" ]]; then
    # Without Go, a CLI of the pinned version on PATH (databricks/setup-cli in GitHub Actions) does.
    # The old PyPI `databricks-cli` (0.18) answers --version differently and is never taken.
    if command -v databricks >/dev/null && works "$(command -v databricks)"; then
        command -v databricks
        exit 0
    fi
    echo "no Go toolchain and no databricks binary v$version: cannot run the Databricks CLI checks" >&2
    exit 3
fi

mkdir -p "$cache"
# Two test workers or two clones may ask at once: one builds, the other waits and reuses.
exec 9>"$cache/.lock"
flock 9
if [[ -x "$bin" ]] && works "$bin"; then
    echo "$bin"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# `go install github.com/databricks/cli@v$version` asks the module proxy for the module's version
# list (to print deprecations), which the proxy here refuses with 403; requiring the module from a
# throwaway go.mod builds the same package at the same version, each module checked against the Go
# checksum database.
cat >"$work/go.mod" <<EOF
module bricksml.invalid/databricks-cli

go 1.26.0

require github.com/databricks/cli v$version
EOF
IFS=. read -r major minor patch <<<"$version"
pkg=github.com/databricks/cli/internal/build
# A plain build calls itself "<next>-dev"; the release's own stamps make it the release it is.
ldflags="-s -w -X $pkg.buildVersion=$version -X $pkg.buildTag=v$version"
ldflags+=" -X $pkg.buildMajor=$major -X $pkg.buildMinor=$minor -X $pkg.buildPatch=$patch"
echo "building the Databricks CLI v$version with $("$go" version | cut -d' ' -f3) (once; cached in $cache)" >&2
start=$SECONDS
(cd "$work" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$go" build -trimpath -ldflags "$ldflags" \
    -o "$work/databricks" github.com/databricks/cli)
works "$work/databricks" || { echo "the built CLI does not report v$version" >&2; exit 1; }
mv "$work/databricks" "$bin.partial"
mv -f "$bin.partial" "$bin"
echo "built in $((SECONDS - start)) s: $bin" >&2
echo "$bin"
