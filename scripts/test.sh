#!/usr/bin/env bash
# The one test command: runs every suite of Parley on a fresh clone. It
# installs or starts what the suites need, or stops and says what is missing;
# it never skips a suite.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
die() { printf '\nparley test: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go is not installed (https://go.dev/dl/, Go >= 1.26)."

# PostgreSQL: the adapter contract tests start a private server from the
# installed binaries, or use PARLEY_TEST_POSTGRES_URL.
if [ -z "${PARLEY_TEST_POSTGRES_URL:-}" ]; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing PostgreSQL server binaries (apt-get install postgresql)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null || die "could not install PostgreSQL; install it (apt-get install postgresql) or set PARLEY_TEST_POSTGRES_URL=postgres://user@host:5432/db"
    else
      die "PostgreSQL server binaries (initdb, pg_ctl) are missing: install them (Debian/Ubuntu: sudo apt-get install postgresql) or set PARLEY_TEST_POSTGRES_URL=postgres://user@host:5432/db"
    fi
  fi
fi

# Browser tests (test/browser): headless Chromium from Debian, driven by
# playwright-core from npm.
if [ ! -x "${PARLEY_TEST_CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Chromium for the browser tests (apt-get install chromium)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || die "could not install Chromium; install it (apt-get install chromium) or set PARLEY_TEST_CHROMIUM to a Chromium binary"
  else
    die "Chromium is missing for the browser tests: install it (Debian/Ubuntu: sudo apt-get install chromium) or set PARLEY_TEST_CHROMIUM to a Chromium binary"
  fi
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Node.js for the browser tests (apt-get install nodejs npm)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null || die "could not install Node.js; install nodejs and npm"
  else
    die "Node.js and npm are missing for the browser tests: install them (Debian/Ubuntu: sudo apt-get install nodejs npm)"
  fi
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  die "Node.js $(node --version 2>/dev/null) is too old: the web SDK and its tests need Node.js 20 or newer"
fi
# npm packages: installed from the lock file when missing or older than it.
stale_modules() { [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; }
if stale_modules test/browser; then
  say "installing playwright-core and axe-core for the browser tests (npm ci in test/browser)"
  (cd test/browser && npm ci --no-audit --no-fund >/dev/null) || die "npm ci in test/browser failed"
fi
if stale_modules web; then
  say "installing the web build tools (npm ci in web)"
  (cd web && npm ci --no-audit --no-fund >/dev/null) || die "npm ci in web failed"
fi
say "web: the embedded app bundle matches its sources; TypeScript type check"
(cd web && npm run --silent check) || die "the web check failed (a stale bundle: cd web && npm run build, then commit internal/webapp/dist)"

say "web: the SDK's tests against a real parley node (npm test in web)"
(cd web && npm test) || die "the web SDK tests failed (cd web && npm test shows which)"

say "go vet"
go vet ./...

say "go test -race (unit, contract, end-to-end, fuzz seeds, small load and fault scenarios)"
go test -race -count=1 -timeout 45m ./...

say "all suites passed"
