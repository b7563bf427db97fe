#!/bin/sh
# The closing line of `make test`: "N passed, M failed", from the xunit file the suite wrote
# (XCTest's parallel mode prints no totals of its own), then each failed test by name.
#   scripts/test-summary.sh XUNIT-FILE [SUITE-EXIT-STATUS]
# Exits non-zero when a test failed, the suite exited non-zero, or no results were written.
set -u
file=$1
status=${2:-0}
if [ ! -s "$file" ]; then
    echo "0 passed, the suite wrote no results ($file; exit status $status)"
    exit 1
fi
tests=$(grep -o '<testsuite [^>]*' "$file" | sed -n 's/.* tests="\([0-9]*\)".*/\1/p' | head -n 1)
failures=$(grep -o '<testsuite [^>]*' "$file" | sed -n 's/.* failures="\([0-9]*\)".*/\1/p' | head -n 1)
errors=$(grep -o '<testsuite [^>]*' "$file" | sed -n 's/.* errors="\([0-9]*\)".*/\1/p' | head -n 1)
failed=$(( ${failures:-0} + ${errors:-0} ))
echo "$(( ${tests:-0} - failed )) passed, $failed failed"
# Each failed test case: the line before its <failure>.
grep -B1 '<failure' "$file" | sed -n 's/.*classname="\([^"]*\)" name="\([^"]*\)".*/  failed: \1.\2/p'
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
