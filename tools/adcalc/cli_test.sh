#!/usr/bin/env bash
# End-to-end tests of the adcalc program: output, error messages and exit codes.
# Usage: cli_test.sh path/to/adcalc
set -u
adcalc=${1:?usage: cli_test.sh path/to/adcalc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# expect CODE TEXT -- ARGS...: adcalc ARGS exits with CODE and its stdout+stderr contain TEXT.
expect() {
    local code=$1 text=$2
    shift 3
    local out rc
    out=$("$adcalc" "$@" 2>&1)
    rc=$?
    if [[ $rc == "$code" && $out == *"$text"* ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        printf 'FAIL: adcalc %s\n  expected exit %s and output containing: %s\n  got exit %s:\n%s\n' \
            "$*" "$code" "$text" "$rc" "$out"
    fi
}

# Values and gradients.
expect 0 'value = 3.331663240315921' -- 'sin(x)*y + exp(x/y)' x=1 y=2
expect 0 'df/dx = 1.9049652470863436' -- 'sin(x)*y + exp(x/y)' x=1 y=2
expect 0 'df/dy = 0.42929066713286446' -- 'sin(x)*y + exp(x/y)' x=1 y=2
expect 0 'value = -9' -- '-x^2' x=3
expect 0 '"check":{"passed":true' -- '-x^2' --json x=3 --check --hessian
expect 0 '{"value":-9.0,"gradient":{"x":-6.0},"hessian":{"x":{"x":-2.0}}}' -- --json --hessian -- '-x^2' x=3
expect 0 '"gradient":{"y":2.0,"x":' -- --json 'y*2 + x' x=pi/2 y=1e-3 unused=5
expect 0 'check passed' -- --check 'atan2(y, x) * hypot(x, y) + log1p(x)' x=0.3 y=0.2
expect 1 'check FAILED' -- --check 'relu(x)' x=0
expect 0 'value = 6' -- '2*3'
expect 0 'sin(x)' -- --help

# DOT output.
expect 0 'value = 2' -- 'x*y' x=1 y=2 --dot "$tmp/sub/graph.dot"
if grep -q 'digraph' "$tmp/sub/graph.dot" && grep -q '{ x | data 1.0000 | grad 2.0000 }' "$tmp/sub/graph.dot"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "FAIL: --dot did not write the graph with the leaves' gradients"
fi

# Errors: one line naming the column, exit code 2.
expect 2 'adcalc: error at column 1: unknown function '"'"'sinn'"'" -- 'sinn(x)' x=1
expect 2 'error at column 1: function '"'"'pow'"'"' takes 2 arguments, got 1' -- 'pow(x)' x=1
expect 2 'error at column 4: unmatched '"'"'('"'" -- 'sin(x' x=1
expect 2 'error at column 4: unmatched '"'"')'"'" -- 'x+1)' x=1
expect 2 'error at column 3: no value given for variable '"'"'y'"'" -- 'x+y' x=1
expect 2 'error at column 3: expected an operator' -- 'x y' x=1
expect 2 'error at column 1: empty expression' -- '' x=1
expect 2 'bad argument '"'"'x'"'"': expected name=value' -- 'x' x
expect 2 'error at column 3 of argument '"'"'x=abc'"'" -- 'x' x=abc
expect 2 'variable '"'"'x'"'"' is given twice' -- 'x' x=1 x=2
expect 2 'unknown option '"'"'--hesian'"'" -- 'x' x=1 --hesian
expect 2 'no expression given' -- --json
expect 2 'cannot open' -- --file "$tmp/missing.txt" x=1

# A 1 MB expression and 10,000 nested parentheses, read from files (too long for argv).
{ printf 'x'; for _ in $(seq 1 1000); do printf '%0.s+x' $(seq 1 500); done; } > "$tmp/sum.txt"
expect 0 'df/dx = 500001' -- --file "$tmp/sum.txt" x=0.5
{ printf '%0.s(' $(seq 1 10000); printf 'x'; printf '%0.s)' $(seq 1 10000); } > "$tmp/parens.txt"
expect 0 'df/dx = 1' -- -f "$tmp/parens.txt" x=7
printf '%0.s(' $(seq 1 10000) > "$tmp/open.txt"
expect 2 'error at column 10001: unexpected end of expression' -- -f "$tmp/open.txt" x=7

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
