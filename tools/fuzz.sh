#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with AddressSanitizer and UndefinedBehaviorSanitizer and
# runs each for a while on a scratch copy of its seed corpus (fuzz/corpus/<name>/, with the
# dictionary fuzz/<name>.dict when there is one). Prints the executions per target and exits
# non-zero if any target crashed, leaked, hung or broke an invariant; the inputs that did are
# kept and their paths printed.
#
# Usage: tools/fuzz.sh [seconds_per_target] [target...]     (default: 60 s, every target)
# Needs clang++ with the libFuzzer runtime (Debian: clang-14 and libclang-rt-14-dev).
# Environment: CXX (default clang++), FUZZ_JOBS (parallel fuzzing processes per target, default 1),
#              FUZZ_WORK (scratch directory, kept; default: a new one under /tmp, removed
#              after a run without failures).
set -euo pipefail

# The targets: "name:sources", sources relative to the repository root, first the fuzz target.
# A target whose sources do not all exist yet is skipped with a notice unless named explicitly.
TARGETS=(
  "idx:fuzz/fuzz_idx.cpp nn/io/idx.cpp nn/io/byte_source.cpp"
  "csv:fuzz/fuzz_csv.cpp nn/io/csv.cpp"
  "safetensors:fuzz/fuzz_safetensors.cpp nn/io/safetensors.cpp nn/io/safetensors_load.cpp nn/io/byte_source.cpp nn/io/atomic_file.cpp"
  "expr:fuzz/fuzz_expr.cpp tools/adcalc/expr.cpp"
)
LIBS=(-lfmt -lz)
CXXFLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: $0 [seconds_per_target] [target...]" >&2; exit 2; }
cxx=${CXX:-clang++}
jobs=${FUZZ_JOBS:-1}

declare -A sources_of
names=()
for entry in "${TARGETS[@]}"; do
  names+=("${entry%%:*}")
  sources_of[${entry%%:*}]=${entry#*:}
done
explicit=0
if (($# > 0)); then
  explicit=1
  names=("$@")
fi

for name in "${names[@]}"; do
  if [[ -z ${sources_of[$name]+set} ]]; then
    echo "fuzz.sh: unknown target '$name' (known: ${!sources_of[*]})" >&2
    exit 2
  fi
done
if [[ -n ${FUZZ_WORK:-} ]]; then work=$FUZZ_WORK; own_work=0; else work=$(mktemp -d /tmp/ad-fuzz.XXXXXX); own_work=1; fi
mkdir -p "$work"

failed=()
summary=()
for name in "${names[@]}"; do
  read -r -a srcs <<<"${sources_of[$name]}"
  missing=()
  for s in "${srcs[@]}"; do [[ -f $root/$s ]] || missing+=("$s"); done
  if ((${#missing[@]} > 0)); then
    if ((explicit)); then
      echo "fuzz.sh: $name: missing sources: ${missing[*]}" >&2
      ((own_work)) && rm -rf "$work"
      exit 2
    fi
    echo "== $name: skipped, missing sources: ${missing[*]}"
    summary+=("$(printf '%-12s skipped (missing sources)' "$name")")
    continue
  fi

  bin=$work/fuzz_$name
  echo "== $name: building"
  (cd "$root" && "$cxx" "${CXXFLAGS[@]}" -I"$root" "${srcs[@]}" "${LIBS[@]}" -o "$bin")

  corpus=$work/corpus/$name
  mkdir -p "$corpus" "$work/artifacts"
  if [[ -d $root/fuzz/corpus/$name ]]; then cp -r "$root/fuzz/corpus/$name/." "$corpus/"; fi
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$work/artifacts/$name-")
  [[ -f $root/fuzz/$name.dict ]] && args+=(-dict="$root/fuzz/$name.dict")
  ((jobs > 1)) && args+=(-fork="$jobs")

  echo "== $name: fuzzing for ${seconds}s"
  log=$work/$name.log
  status=0
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
  # With -fork the stats are per job; sum what was reported.
  execs=$(awk -F: '/stat::number_of_executed_units/ {n += $2} END {print n + 0}' "$log")
  if ((execs == 0)); then
    execs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  fi
  if ((status != 0)); then
    failed+=("$name")
    echo "== $name: FAILED (exit $status); log: $log"
    grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written|artifact' "$log" | head -20 || true
    summary+=("$(printf '%-12s %12s executions  FAILED (see %s)' "$name" "${execs:-?}" "$log")")
  else
    summary+=("$(printf '%-12s %12s executions  ok, corpus %s files' "$name" "${execs:-?}" \
                 "$(find "$corpus" -type f | wc -l)")")
  fi
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
  echo "failing targets: ${failed[*]}; crashing inputs are in $work/artifacts/"
  exit 1
fi
((own_work)) && rm -rf "$work"
exit 0
