#!/usr/bin/env bash
# Sums doctest's "test cases" totals over a meson test log and prints "N passed, N failed".
# Usage: tools/test-summary.sh BUILD_DIR [meson test exit code]
set -u
log="$1/meson-logs/testlog.txt"
rc="${2:-0}"
read -r passed failed < <(grep -E '^\[doctest\] test cases:' "$log" 2>/dev/null |
  awk -F'|' '{ split($2, p, " "); split($3, f, " "); P += p[1]; F += f[1] } END { print P + 0, F + 0 }')
# A test executable that crashed or timed out prints no doctest totals: count it as failed.
crashed=$(grep -cE '^(=+ )?[0-9]+/[0-9]+ .*(FAIL|TIMEOUT)' "$1/meson-logs/testlog.txt" 2>/dev/null || true)
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=$(( ${crashed:-0} > 0 ? crashed : 1 )); fi
echo "${passed} passed, ${failed} failed"
