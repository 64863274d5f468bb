// ad::blas_kernels(): the OpenBLAS kernel set in use, the CPU's widest, and the advice between them.
#include <autodiff/blas_kernels.hpp>
#include <cblas.h>
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

using ad::BlasKernels;
using ad::detail::blas_core_level;
using ad::detail::coretype_for_level;

TEST_CASE("blas_core_level classes OpenBLAS's corenames by vector width, ignoring case") {
    CHECK(blas_core_level("SkylakeX") == 3);
    CHECK(blas_core_level("skylakex") == 3);
    CHECK(blas_core_level("Cooperlake") == 3);
    CHECK(blas_core_level("SapphireRapids") == 3);
    CHECK(blas_core_level("Haswell") == 2);
    CHECK(blas_core_level("ZEN") == 2);
    CHECK(blas_core_level("Sandybridge") == 1);
    CHECK(blas_core_level("Excavator") == 1);
    CHECK(blas_core_level("Prescott") == 0);
    CHECK(blas_core_level("Nehalem") == 0);
    CHECK(blas_core_level("") == 0);
    CHECK(blas_core_level("SkylakeXX") == 0);
    CHECK(blas_core_level("Skylake") == 0);
    for (int level = 1; level <= 3; ++level) CHECK(blas_core_level(coretype_for_level(level)) == level);
    CHECK(coretype_for_level(0).empty());
}

TEST_CASE("suggestion: the CPU's widest set when OpenBLAS runs a narrower one and the user chose nothing") {
    CHECK(BlasKernels{"Prescott", "SkylakeX", false}.suggestion() == "SkylakeX");
    CHECK(BlasKernels{"Zen", "SkylakeX", false}.suggestion() == "SkylakeX");
    CHECK(BlasKernels{"Sandybridge", "Haswell", false}.suggestion() == "Haswell");
    CHECK(BlasKernels{"Cooperlake", "SkylakeX", false}.suggestion().empty());  // as wide: keep OpenBLAS's pick
    CHECK(BlasKernels{"Haswell", "Haswell", false}.suggestion().empty());
    CHECK(BlasKernels{"SkylakeX", "Haswell", false}.suggestion().empty());  // never narrower
    CHECK(BlasKernels{"Prescott", "", false}.suggestion().empty());         // a CPU without AVX
    CHECK(BlasKernels{"Prescott", "SkylakeX", true}.suggestion().empty());  // the user's setting stands

    const std::string a = BlasKernels{"Prescott", "SkylakeX", false}.advice();
    CHECK(a.find("Prescott") != std::string::npos);
    CHECK(a.find("OPENBLAS_CORETYPE=SkylakeX") != std::string::npos);
    CHECK(a.find("AVX-512") != std::string::npos);
    CHECK(BlasKernels{"SkylakeX", "SkylakeX", false}.advice().empty());

    // The user's narrower setting stands (no suggestion) but is said; as wide or wider: silence.
    const std::string kept = BlasKernels{"Haswell", "SkylakeX", true}.advice();
    CHECK(kept.find("OPENBLAS_CORETYPE is set") != std::string::npos);
    CHECK(kept.find("Haswell kernels (AVX2)") != std::string::npos);
    CHECK(kept.find("OPENBLAS_CORETYPE=SkylakeX") != std::string::npos);
    CHECK(BlasKernels{"Cooperlake", "SkylakeX", true}.advice().empty());
    CHECK(BlasKernels{"SkylakeX", "Haswell", true}.advice().empty());
    CHECK(BlasKernels{"Prescott", "", true}.advice().empty());
}

TEST_CASE("blas_kernels() reads this process: OpenBLAS's corename, the CPU, the environment") {
    const BlasKernels k = ad::blas_kernels();
    CHECK(k.in_use == std::string(openblas_get_corename()));
    CHECK(blas_core_level(k.best) == ad::detail::cpu_simd_level());
    const char* env = std::getenv("OPENBLAS_CORETYPE");
    CHECK(k.forced == (env != nullptr && *env != '\0'));
    // What the advice promises holds: following it would not pick narrower kernels than now.
    if (!k.suggestion().empty()) CHECK(blas_core_level(k.suggestion()) > blas_core_level(k.in_use));
}
