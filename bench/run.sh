#!/usr/bin/env bash
# Runs the benchmarks of a build directory in order — bench_scalar, bench_mlp, bench_fashion —
# prints their tables, and collects their "JSON {...}" lines (the objects only, one per line) into
# bench/results/latest.jsonl (or --out FILE).
#
#   bench/run.sh BUILD_DIR [--quick] [--threads N] [--out FILE]
#
#   --quick      smoke run: bench_scalar --quick, bench_mlp --quick (3 short repetitions),
#                bench_fashion --epochs 1
#   --threads N  OpenBLAS threads for us (default 2, the cores of our machines). The anchors run
#                at their best setting: torch.set_num_threads(1), and OPENBLAS_NUM_THREADS 1 or N,
#                whichever is faster per MLP config (1 for the end-to-end run); see
#                bench/anchors/README.md
#
# bench_scalar (single-threaded, every contender in one process) runs once pinned to each CPU
# this process may use (--cpu), since the vCPUs of our machines are at times unequally fast; its
# JSON lines say which ("cpu"). A quick run does it once, unpinned.
#
# Every anchor (ADOL-C, PyTorch through /usr/bin/python3, libtorch) is optional: a missing one is
# reported as null by the benchmark itself. A benchmark that is not built is skipped with a note;
# one that fails makes the exit status 1 after the others have run.
set -uo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [--quick] [--threads N] [--out FILE]" >&2
    exit 2
}

[[ $# -ge 1 ]] || usage
build=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=0
threads=2
out="$here/results/latest.jsonl"
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) quick=1 ;;
        --threads) [[ $# -ge 2 ]] || usage; threads=$2; shift ;;
        --out) [[ $# -ge 2 ]] || usage; out=$2; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) usage ;;
    esac
    shift
done
[[ $threads =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --threads must be a positive integer, got '$threads'" >&2; exit 2; }
[[ -d $build/bench ]] || { echo "run.sh: $build/bench not found (configure and build first: meson setup $build && ninja -C $build)" >&2; exit 2; }
# The widest OpenBLAS kernels this CPU runs, for us and the anchors alike, unless OPENBLAS_CORETYPE
# is set (see autodiff/blas_kernels.hpp); bench_mlp and bench_fashion print and record the kernels.
. "$here/../tools/openblas-env.sh" "$build"

if [[ $quick == 1 ]]; then
    scalar_args=(--quick)
    mlp_args=(--quick --threads "$threads")
    fashion_args=(--epochs 1 --threads "$threads")
else
    scalar_args=()
    mlp_args=(--threads "$threads")
    fashion_args=(--epochs 10 --threads "$threads")
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

run() {  # run NAME ARGS...: runs $build/bench/NAME, showing and logging its output
    local name=$1
    shift
    local exe="$build/bench/$name"
    echo "=== $name $*"
    if [[ ! -x $exe ]]; then
        echo "($exe not built: skipped)"
        return
    fi
    "$exe" "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    if [[ $rc != 0 ]]; then
        echo "run.sh: $name exited with status $rc" >&2
        status=1
    fi
    echo
}

# The CPUs this process may use, from a list such as "0-1" or "0,2-3".
allowed_cpus() {
    local list range
    list=$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status 2>/dev/null)
    [[ -n $list ]] || return 0
    for range in ${list//,/ }; do
        if [[ $range == *-* ]]; then
            seq "${range%-*}" "${range#*-}"
        else
            echo "$range"
        fi
    done
}
cpus=()
[[ $quick == 1 ]] || mapfile -t cpus < <(allowed_cpus)
if [[ ${#cpus[@]} -gt 1 ]]; then
    for cpu in "${cpus[@]}"; do run bench_scalar "${scalar_args[@]}" --cpu "$cpu"; done
else
    run bench_scalar "${scalar_args[@]}"
fi
run bench_mlp "${mlp_args[@]}"
run bench_fashion "${fashion_args[@]}"

mkdir -p "$(dirname "$out")"
sed -n 's/^JSON //p' "$log" > "$out"
echo "=== $(wc -l < "$out") results in $out"
exit $status
