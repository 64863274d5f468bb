#pragma once
// Elementary functions of doubles that the engine computes itself, because the C library's are
// slow where it matters and no more accurate. Every scalar tanh (ad::Value, ad::Real) and every
// double tensor's tanh calls detail::tanh, so a function gives the same bits however it is taken.
//
// tanh: glibc's takes 34–37 ns per call here (two thirds of it in expm1), and the scalar
// 2-16-16-1 MLP spent 19% of its time in it (perf). This one takes 18 ns in the same dependent
// loop, and its error is at most 1.40 ulp against glibc's 2.19 (2·10^6 random arguments per range,
// against x87 tanhl; tests/test_scalar.cpp checks ≤ 1.5 ulp):
//   |x| < 2^−28        x (the next term, x³/3, is below half an ulp);
//   |x| < 0.55         x + x·y·P(y), y = x², P the degree-10 Chebyshev fit of (tanh √y − √y)/√y³
//                      (tools/fit_tanh.py; its error is 7.7·10^−18 on [0, 0.3025], under 2^−58
//                      of the result), evaluated in Estrin's order (4 steps deep instead of 10);
//   otherwise          1 − 2t/(1 + t) with t = e^{−2|x|} ≤ 1/3, the sign of x put back: the
//                      quotient is at most 1/2, so its rounding stays below an ulp of the result.
//                      ±inf gives ±1 (t = 0), NaN gives NaN.
#include <cmath>

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

}  // namespace ad::detail
