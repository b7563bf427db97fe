#!/bin/sh
# make deps: install the Debian packages that are missing, and say nothing when none are.
#
#   scripts/deps.sh PACKAGE...
#
# Who may install decides how:
#   - root                    runs apt-get itself (containers usually have no sudo);
#   - a user with sudo        runs `sudo env DEBIAN_FRONTEND=noninteractive apt-get ...`
#                             (sudo drops variables set before it, so env carries it);
#   - a user without sudo     gets one line naming the packages, and exit status 1.
# Tests/SetupTests run this script under each of the three with stand-in commands on PATH.
set -u

missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
missing=${missing# }

if [ "$(id -u)" = 0 ]; then
    run() { env DEBIAN_FRONTEND=noninteractive "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    run() { sudo env DEBIAN_FRONTEND=noninteractive "$@"; }
else
    echo "make deps: missing Debian packages: $missing; install them as root: apt-get install $missing" >&2
    exit 1
fi

echo "make deps: installing $missing"
# shellcheck disable=SC2086 # one word per package
run apt-get update -qq && run apt-get install -y -qq --no-install-recommends $missing >/dev/null
