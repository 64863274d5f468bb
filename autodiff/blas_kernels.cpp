#include <autodiff/blas_kernels.hpp>
#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

namespace ad {
namespace detail {

namespace {

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view level_name(int level) {
    switch (level) {
        case 3: return "AVX-512";
        case 2: return "AVX2";
        case 1: return "AVX";
        default: return "SSE";
    }
}

}  // namespace

int blas_core_level(std::string_view corename) {
    // OpenBLAS's corenames (driver/others/dynamic.c) grouped by the instructions of their kernels.
    static constexpr std::array<std::string_view, 3> avx512 = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static constexpr std::array<std::string_view, 2> avx2 = {"Haswell", "Zen"};
    static constexpr std::array<std::string_view, 5> avx = {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller",
                                                            "Excavator"};
    const auto in = [&](const auto& names) {
        return std::any_of(names.begin(), names.end(), [&](std::string_view n) { return same_name(n, corename); });
    };
    if (in(avx512)) return 3;
    if (in(avx2)) return 2;
    if (in(avx)) return 1;
    return 0;
}

int cpu_simd_level() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx")) return 1;
#endif
    return 0;
}

std::string_view coretype_for_level(int level) {
    switch (level) {
        case 3: return "SkylakeX";
        case 2: return "Haswell";
        case 1: return "Sandybridge";
        default: return "";
    }
}

}  // namespace detail

bool BlasKernels::narrower() const {
    return !best.empty() && detail::blas_core_level(in_use) < detail::blas_core_level(best);
}

std::string BlasKernels::suggestion() const { return !forced && narrower() ? best : ""; }

std::string BlasKernels::advice() const {
    if (!narrower()) return "";
    const std::string_view in_use_level = detail::level_name(detail::blas_core_level(in_use));
    const std::string_view best_level = detail::level_name(detail::blas_core_level(best));
    if (forced)
        return fmt::format("OPENBLAS_CORETYPE is set, so OpenBLAS runs {} kernels ({}) on a CPU that can run {} ({}); "
                           "the setting is kept: unset it or set OPENBLAS_CORETYPE={} for faster matrix products",
                           in_use, in_use_level, best, best_level, best);
    return fmt::format("OpenBLAS runs its {} kernels ({}) on a CPU that can run {} ({}): start the program with "
                       "OPENBLAS_CORETYPE={} for faster matrix products",
                       in_use, in_use_level, best, best_level, best);
}

BlasKernels blas_kernels() {
    BlasKernels k;
    const char* name = openblas_get_corename();
    k.in_use = name ? name : "";
    k.best = std::string(detail::coretype_for_level(detail::cpu_simd_level()));
    const char* env = std::getenv("OPENBLAS_CORETYPE");
    k.forced = env != nullptr && *env != '\0';
    return k;
}

}  // namespace ad
