# Sourced, not run: `. tools/openblas-env.sh BUILD_DIR`.
# When OPENBLAS_CORETYPE is unset and OpenBLAS would pick kernels narrower than the CPU can run
# (Debian's 0.3.21 picks SSE3 "Prescott" kernels on our Intel machines, AVX2 "Haswell" ones on
# AMD Zen 4), exports OPENBLAS_CORETYPE with the widest set, as BUILD_DIR/tools/blas_kernels
# suggests, and says so on stderr. A value the user set is kept. See autodiff/blas_kernels.hpp.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -x "${1:-build}/tools/blas_kernels" ]; then
    _ad_coretype=$("${1:-build}/tools/blas_kernels" --suggest 2>/dev/null) || _ad_coretype=
    if [ -n "$_ad_coretype" ]; then
        export OPENBLAS_CORETYPE="$_ad_coretype"
        echo "openblas-env: OpenBLAS would pick narrower kernels than this CPU runs; OPENBLAS_CORETYPE=$_ad_coretype" >&2
    fi
    unset _ad_coretype
fi
