# Sourced, not run: `. tools/openblas-env.sh BUILD_DIR`.
# When OPENBLAS_CORETYPE is unset and OpenBLAS would pick kernels narrower than the CPU can run
# (Debian's 0.3.21 picks SSE3 "Prescott" kernels on our Intel machines, AVX2 "Haswell" ones on
# AMD Zen 4), exports OPENBLAS_CORETYPE with the widest set, as BUILD_DIR/tools/blas_kernels
# suggests, and says so on stderr. A value the user set is kept; when it names narrower kernels
# than the CPU runs (some machine images export OPENBLAS_CORETYPE=Haswell on AVX-512 CPUs), the
# tool's advice says so on stderr. See autodiff/blas_kernels.hpp.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -x "${1:-build}/tools/blas_kernels" ]; then
    _ad_coretype=$("${1:-build}/tools/blas_kernels" --suggest 2>/dev/null) || _ad_coretype=
    if [ -n "$_ad_coretype" ]; then
        export OPENBLAS_CORETYPE="$_ad_coretype"
        echo "openblas-env: OpenBLAS would pick narrower kernels than this CPU runs; OPENBLAS_CORETYPE=$_ad_coretype" >&2
    fi
    unset _ad_coretype
fi
if [ -n "${OPENBLAS_CORETYPE:-}" ] && [ -x "${1:-build}/tools/blas_kernels" ]; then
    _ad_advice=$("${1:-build}/tools/blas_kernels" --advice 2>/dev/null) || _ad_advice=
    [ -z "$_ad_advice" ] || echo "openblas-env: $_ad_advice" >&2
    unset _ad_advice
fi
