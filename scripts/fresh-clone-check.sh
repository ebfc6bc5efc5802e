#!/usr/bin/env bash
# Checks the README's promise by hand (make test does not run this): clones
# the repository into a temporary directory and runs the README's two
# commands there, `make run` and `make test`, with nothing else set up,
# timing each. Needs what the README asks for: Go, gcc, Node.js 20+ with npm
# (and apt as root or with sudo, for what make test installs when missing).
#
#   scripts/fresh-clone-check.sh                 # clone this repository's HEAD
#   scripts/fresh-clone-check.sh URL [BRANCH]    # clone another copy
#   EMPTY_CACHES=1 scripts/fresh-clone-check.sh  # also start with empty Go caches (downloads every module)
#   KEEP=1 scripts/fresh-clone-check.sh          # keep the clone afterwards
#
# It prints each command's duration and exits non-zero at the first failure.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$here}
branch=${2:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wxcloudenv-fresh.XXXXXX")
cleanup() {
	if [ "${KEEP:-}" = 1 ]; then
		echo "fresh-clone-check: the clone is kept in $tmp/wxcloudenv" >&2
	else
		chmod -R u+w "$tmp" 2>/dev/null || true
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

if [ "${EMPTY_CACHES:-}" = 1 ]; then
	export GOCACHE="$tmp/gocache" GOMODCACHE="$tmp/gomodcache"
fi

echo "fresh-clone-check: cloning $src${branch:+ ($branch)} into $tmp/wxcloudenv" >&2
git clone --quiet ${branch:+--branch "$branch"} "$src" "$tmp/wxcloudenv"
cd "$tmp/wxcloudenv"
git log -1 --format='fresh-clone-check: commit %h %s' >&2

step() {
	local name=$1
	shift
	local start=$SECONDS
	echo "fresh-clone-check: $name ..." >&2
	if ! "$@"; then
		echo "fresh-clone-check: $name FAILED after $((SECONDS - start)) s" >&2
		exit 1
	fi
	echo "fresh-clone-check: $name ok in $((SECONDS - start)) s" >&2
}

# make run: standard output must be the event alone, valid JSON.
run_check() {
	make run >run.json
	node -e 'const e = JSON.parse(require("fs").readFileSync("run.json", "utf8")); if (e.source !== "wxcloudenv") process.exit(1)' ||
		{ echo "make run did not print one JSON event on standard output:" >&2; head -c 2000 run.json >&2; return 1; }
}

total=$SECONDS
step "make run" run_check
step "make test" make test
echo "fresh-clone-check: green: the README's two commands took $((SECONDS - total)) s in all" >&2
