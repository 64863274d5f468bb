#pragma once
// Elementary functions of doubles that the engine computes itself, where the C library's are slow
// for the way the engine calls them and ours are as accurate as needed (errors below are against
// x87 long double, 2·10^6 random arguments per range; tests/test_elementary.cpp checks the bounds).
//
// tanh (every scalar tanh, ad::Value and ad::Real, and every double tensor's, so a function gives
// the same bits however it is taken): glibc's takes 34–37 ns per call here (two thirds of it in
// expm1), and the scalar 2-16-16-1 MLP spent 19% of its time in it (perf). This one takes 18 ns in
// the same dependent loop, and its error is at most 1.40 ulp against glibc's 2.19:
//   |x| < 2^−28        x (the next term, x³/3, is below half an ulp);
//   |x| < 0.55         x + x·y·P(y), y = x², P the degree-10 Chebyshev fit of (tanh √y − √y)/√y³
//                      (tools/fit_elementary.py; its error is 7.7·10^−18 on [0, 0.3025], under 2^−58
//                      of the result), evaluated in Estrin's order (4 steps deep instead of 10);
//   otherwise          1 − 2t/(1 + t) with t = e^{−2|x|} ≤ 1/3, the sign of x put back: the
//                      quotient is at most 1/2, so its rounding stays below an ulp of the result.
//                      ±inf gives ±1 (t = 0), NaN gives NaN.
//
// exp_inplace (the exponentials of softmax, log_softmax, cross-entropy and logsumexp rows): glibc's
// exp is a call per element, 3.5 ns each in a loop; detail::exp has no branch and no call, so a
// loop of it vectorizes, and exp_inplace is compiled for AVX-512, AVX2 and the baseline
// (multiversion.hpp): 0.84, 1.6 and 3.2 ns per element over 640 of them. Its error is at most
// 0.98 ulp (glibc's: 0.51), the same bits in every clone. e^x = 2^k · e^r with k = round(x/ln 2)
// and r = x − k·ln 2 (ln 2 in two parts, the first exact times any k), |r| ≤ ln 2 / 2;
// e^r = 1 + (r + r²·Q(r)), Q the 11-coefficient Chebyshev fit of (e^r − 1 − r)/r² (error
// 1.4·10^−18; tools/fit_elementary.py prints both fits), in Estrin's order; 2^k applied as
// 2^{k₁}·2^{k₂}, two normal halves, so a result that underflows to a subnormal or overflows to inf
// is rounded once. x is clamped to [−746, 710] first (e^x is 0 below, inf above); NaN stays NaN.
// Scalars (ad::Value, ad::Real) and the tensor exp op keep glibc's: one call at a time, its
// latency is the shorter.
#include <autodiff/multiversion.hpp>

#include <bit>
#include <cmath>
#include <cstdint>

namespace ad::detail {

inline double tanh(double x) {
    const double a = std::fabs(x);
    if (a < 0.55) {
        if (a < 0x1p-28) return x;  // also keeps the sign of −0
        const double y = x * x, y2 = y * y, y4 = y2 * y2, y8 = y4 * y4;
        const double p01 = -0x1.5555555555555p-2 + 0x1.1111111111032p-3 * y;
        const double p23 = -0x1.ba1ba1b9fec84p-5 + 0x1.664f487713373p-6 * y;
        const double p45 = -0x1.226e32f00cf0cp-7 + 0x1.d6d339333f329p-9 * y;
        const double p67 = -0x1.7d97cfd138c28p-10 + 0x1.34c5a8a996cd4p-11 * y;
        const double p89 = -0x1.ec1091436eb2ap-13 + 0x1.64fd88e9900a5p-14 * y;
        const double p = (p01 + p23 * y2) + (p45 + p67 * y2) * y4 + (p89 + -0x1.59a834187ce22p-16 * y2) * y8;
        return x + x * (y * p);
    }
    const double t = std::exp(-2.0 * a);
    return std::copysign(1.0 - 2.0 * t / (1.0 + t), x);
}

AD_ALWAYS_INLINE inline double exp(double x) {
    constexpr double shift = 0x1.8p52;  // x + shift − shift rounds x to an integer
    constexpr double log2e = 0x1.71547652b82fep0;
    constexpr double ln2_hi = 0x1.62e42fee00000p-1, ln2_lo = 0x1.a39ef35793c76p-33;
    const double in = x;
    x = x < -746.0 ? -746.0 : x;
    x = x > 710.0 ? 710.0 : x;
    const double k = (x * log2e + shift) - shift;  // |k| ≤ 1077
    const double r = (x - k * ln2_hi) - k * ln2_lo;
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;  // Q in Estrin's order, as tanh's P
    const double q01 = 0x1p-1 + 0x1.5555555555557p-3 * r, q23 = 0x1.5555555555556p-5 + 0x1.11111111100dfp-7 * r;
    const double q45 = 0x1.6c16c16c162d6p-10 + 0x1.a01a01abe62ddp-13 * r;
    const double q67 = 0x1.a01a01a6d7808p-16 + 0x1.71de02375656cp-19 * r;
    const double q89 = 0x1.27e4db67b4303p-22 + 0x1.af4ddd84882fep-26 * r;
    const double q = (q01 + q23 * r2) + (q45 + q67 * r2) * r4 + (q89 + 0x1.1f72fc730b4ffp-29 * r2) * r8;
    const double er = 1.0 + (r + r2 * q);
    // 2^k1 and 2^k2 (k1 + k2 = k, each in [−539, 539]) built from their exponent bits.
    const double k1 = (k * 0.5 + shift) - shift, k2 = k - k1;
    // (Unsigned: for a NaN argument these bits are garbage, and the result is NaN anyway.)
    constexpr std::uint64_t shift_bits = std::bit_cast<std::uint64_t>(shift);
    const double s1 = std::bit_cast<double>((std::bit_cast<std::uint64_t>(k1 + shift) - shift_bits + 1023) << 52);
    const double s2 = std::bit_cast<double>((std::bit_cast<std::uint64_t>(k2 + shift) - shift_bits + 1023) << 52);
    const double y = er * s1 * s2;
    return in != in ? in : y;
}

// v[i] = detail::exp(v[i]) for i < n, vectorized (elementary.cpp).
void exp_inplace(double* v, std::int64_t n) noexcept;

}  // namespace ad::detail
