#pragma once
// Which OpenBLAS kernels this process runs, and whether the CPU could run faster ones.
//
// Debian's OpenBLAS (0.3.21) is built with DYNAMIC_ARCH: when it loads, it reads the CPU's
// identity and picks one of its kernel sets (Prescott = SSE3, Sandybridge = AVX, Haswell = AVX2,
// SkylakeX = AVX-512, …). For CPUs newer than the library it guesses low: on our Intel machines
// (family 6, model 207) it picks Prescott, whose sgemm ran at 28–33 GFLOP/s against 147–167 for
// SkylakeX on the same core; on AMD Zen 4 it picks Haswell's kernels (half of SkylakeX's speed).
// The choice is made before main() and cannot be changed in the process; the environment variable
// OPENBLAS_CORETYPE, set before the program starts, overrides it.
//
//     const ad::BlasKernels k = ad::blas_kernels();
//     if (auto a = k.advice(); !a.empty()) fmt::print(stderr, "{}\n", a);
//
// The engine never sets OPENBLAS_CORETYPE itself: a user's setting is kept as it is (some machine
// images set it: ours export OPENBLAS_CORETYPE=Haswell on an AVX-512 AMD Zen 5, where it makes the
// 64-128-64-10 step 71.5 µs instead of 37.3), and advice() then says that it is narrower than the
// CPU allows. `tools/openblas-env.sh` (used by `make demo`, `make test`, `make bench`,
// `bench/run.sh` and CI) exports the suggestion when the variable is unset, and passes the advice
// on to stderr when it is set.
#include <string>
#include <string_view>

namespace ad {

struct BlasKernels {
    std::string in_use;  // the kernel set OpenBLAS runs (openblas_get_corename()), e.g. "Prescott"
    std::string best;    // the widest set this CPU can run: "SkylakeX", "Haswell", "Sandybridge", or ""
    bool forced = false; // OPENBLAS_CORETYPE was set when the program started

    // The OPENBLAS_CORETYPE value worth setting, or "" when in_use is already as wide as the CPU
    // allows or the user chose the kernels.
    std::string suggestion() const;
    // One sentence for the user when suggestion() is not empty, or when the user's OPENBLAS_CORETYPE
    // picked a narrower set than the CPU runs (kept, but said); else "".
    std::string advice() const;
    // Whether in_use is a narrower set than best (whoever chose it).
    bool narrower() const;
};

BlasKernels blas_kernels();

namespace detail {

// The vector width class of an OpenBLAS kernel set by its corename (case-insensitive):
// 3 AVX-512, 2 AVX2 + FMA, 1 AVX, 0 older or unknown.
int blas_core_level(std::string_view corename);
// The same classes for the running CPU (AVX-512 means F, BW, VL and DQ, which SkylakeX's kernels use).
int cpu_simd_level();
// The kernel set named for a class: "SkylakeX", "Haswell", "Sandybridge", or "" for 0.
std::string_view coretype_for_level(int level);

}  // namespace detail
}  // namespace ad
