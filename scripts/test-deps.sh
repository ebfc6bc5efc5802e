#!/usr/bin/env bash
# Installs what `make test` needs beyond Go and a C compiler, each only when
# it is missing, so a second run does nothing:
#   redis-server  the store tests' Redis             (apt: redis-server)
#   chromium      the status page's browser tests    (apt: chromium)
#   dynalite      the store tests' DynamoDB, pinned  (npm ci, from package-lock.json)
# apt runs only as root or through password-less sudo; otherwise the script
# stops and says what to install. Set WXCLOUDENV_NO_INSTALL=1 to only check.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'test-deps: %s\n' "$*" >&2; }

have_chromium() {
	local c
	for c in chromium chromium-browser google-chrome google-chrome-stable; do
		command -v "$c" >/dev/null 2>&1 && return 0
	done
	return 1
}

# apt_install PKG... installs Debian packages, or fails saying how.
apt_install() {
	local sudo=""
	if [ "${WXCLOUDENV_NO_INSTALL:-}" = 1 ]; then
		say "missing: $* (WXCLOUDENV_NO_INSTALL=1: not installing)"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo="sudo"
		else
			say "missing: $*. Install them, e.g. 'sudo apt-get install $*' (Debian/Ubuntu)"
			say "or 'brew install redis chromium' (macOS), then run make test again"
			return 1
		fi
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		say "missing: $*, and there is no apt-get here: install them with your package manager"
		return 1
	fi
	say "installing $* with apt-get (about a minute)"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >&2
	$sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
have_chromium || missing+=(chromium)
if ! command -v npm >/dev/null 2>&1 && [ ! -f node_modules/dynalite/cli.js ]; then
	missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
	apt_install "${missing[@]}"
fi
# The package may start a system-wide Redis on 6379; the tests start their
# own on free ports and do not use it.

if [ ! -f node_modules/dynalite/cli.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		say "dynalite needs Node.js 20 or later with npm: install them (https://nodejs.org), then run make test again"
		exit 1
	fi
	major=$(node -p 'process.versions.node.split(".")[0]')
	if [ "$major" -lt 20 ]; then
		say "dynalite 4 needs Node.js 20 or later, found $(node --version): install a newer one (e.g. from NodeSource), then run make test again"
		exit 1
	fi
	if [ "${WXCLOUDENV_NO_INSTALL:-}" = 1 ]; then
		say "missing: node_modules/dynalite (run npm ci)"
		exit 1
	fi
	say "installing dynalite with npm ci (package-lock.json)"
	npm ci --no-audit --no-fund --loglevel=error >&2
fi
