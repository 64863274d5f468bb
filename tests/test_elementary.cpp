// The engine's own elementary functions (autodiff/elementary.hpp) against x87 long double
// (expl, tanhl), in ulps of the double result, their special values, and that every path of the
// engine that uses one gives its bits.
#include <autodiff/autodiff.hpp>
#include <autodiff/elementary.hpp>
#include <autodiff/kernels.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <numbers>
#include <vector>

namespace {

// |got − exact| in units of the last place of exact rounded to double (subnormals included).
double ulps_from(double got, long double exact) {
    const double r = static_cast<double>(exact);
    const double ulp = std::nextafter(std::fabs(r), INFINITY) - std::fabs(r);
    return static_cast<double>(std::fabs(static_cast<long double>(got) - exact) / ulp);
}


struct Range {
    double lo, hi;
};

// The largest error of f against exact over 200000 arguments drawn uniformly from each range
// (every other one negated when `odd_pairs`), checked against `bound` range by range.
template <class F, class G>
void check_max_ulps(F f, G exact, std::initializer_list<Range> ranges, std::uint64_t seed, double bound, bool odd_pairs) {
    ad::Rng rng(seed);
    for (const Range& r : ranges) {
        double worst = 0, at = 0;
        for (int i = 0; i < 200000; ++i) {
            const double x = (odd_pairs && i % 2 ? -1 : 1) * rng.uniform(r.lo, r.hi);
            const double e = ulps_from(f(x), exact(static_cast<long double>(x)));
            if (e > worst) worst = e, at = x;
        }
        CAPTURE(r.lo);
        CAPTURE(r.hi);
        CAPTURE(at);
        CHECK(worst <= bound);
    }
}

}  // namespace

// tanh: within 1.5 ulp on every range (glibc's own tanh reaches 2.2 ulp on these).
TEST_CASE("tanh is within 1.5 ulp of the exact value, keeps signs and limits, and is the same for Value, Real and tensors") {
    check_max_ulps([](double x) { return ad::detail::tanh(x); }, [](long double x) { return tanhl(x); },
                   {{0, 1e-9}, {1e-9, 1e-3}, {1e-3, 0.3}, {0.3, 0.55}, {0.54, 0.6}, {0.55, 2}, {2, 10}, {10, 40}}, 11, 1.5, true);
    // Odd, exact at the ends and at zero, NaN stays NaN.
    for (double x : {1e-300, 0x1p-28, 0x1.fffffffffffffp-29, 0.25, 0.55, std::nextafter(0.55, 0.0), 1.0, 19.0, 25.0}) {
        CAPTURE(x);
        CHECK(ad::detail::tanh(-x) == -ad::detail::tanh(x));
    }
    CHECK(ad::detail::tanh(0x1p-30) == 0x1p-30);
    CHECK(std::signbit(ad::detail::tanh(-0.0)));
    CHECK(!std::signbit(ad::detail::tanh(0.0)));
    CHECK(ad::detail::tanh(INFINITY) == 1.0);
    CHECK(ad::detail::tanh(-INFINITY) == -1.0);
    CHECK(ad::detail::tanh(30.0) == 1.0);
    CHECK(std::isnan(ad::detail::tanh(NAN)));
    // Monotone across the switch between the polynomial and the exponential form.
    double prev = ad::detail::tanh(0.55 - 64 * 0x1p-53);
    for (double x = 0.55 - 63 * 0x1p-53; x <= 0.55 + 64 * 0x1p-53; x += 0x1p-53) {
        const double y = ad::detail::tanh(x);
        CHECK(y >= prev);
        prev = y;
    }
    // Every tanh of the engine gives these bits: ad::Value, ad::Real, and a double tensor.
    for (double x : {-3.0, -0.6, -0.2, 1e-5, 0.3, 0.54, 0.7, 4.0}) {
        CAPTURE(x);
        const double want = ad::detail::tanh(x);
        CHECK(ad::tanh(ad::Value(x)).value() == want);
        const ad::Real r = ad::tanh(ad::Real(x));
        CHECK(r.value() == want);
        CHECK(ad::tanh(ad::Tensor::scalar(x, ad::f64)).item() == want);
    }
}

// exp: within 1 ulp on every range (glibc's: 0.51), including results that underflow to subnormals
// and the last ones below overflow.
TEST_CASE("exp is within 1 ulp of the exact value, with IEEE limits, NaN and subnormal results") {
    check_max_ulps([](double x) { return ad::detail::exp(x); }, [](long double x) { return expl(x); },
                   {{-1e-10, 1e-10}, {-0.35, 0.35}, {-10, 0}, {-700, 700}, {-708.4, -700}, {-745.1, -708.3}, {709, 709.78}}, 12,
                   1.0, false);
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(ad::detail::exp(0.0) == 1.0);
    CHECK(ad::detail::exp(-0.0) == 1.0);
    CHECK(ad::detail::exp(1e-300) == 1.0);
    CHECK(ad::detail::exp(-inf) == 0.0);
    CHECK(ad::detail::exp(inf) == inf);
    CHECK(ad::detail::exp(709.79) == inf);  // e^709.79 > DBL_MAX
    CHECK(ad::detail::exp(1e300) == inf);
    CHECK(ad::detail::exp(709.78) == doctest::Approx(std::exp(709.78)).epsilon(1e-15));
    CHECK(ad::detail::exp(-745.13) == std::numeric_limits<double>::denorm_min());  // rounds up to the least subnormal
    CHECK(ad::detail::exp(-745.14) == 0.0);
    CHECK(ad::detail::exp(-1e300) == 0.0);
    CHECK(std::isnan(ad::detail::exp(std::numeric_limits<double>::quiet_NaN())));
    CHECK(std::fabs(ad::detail::exp(1.0) - std::numbers::e) <= 0x1p-52 * 2);  // within an ulp of e
}

TEST_CASE("exp_inplace, the vectorized clone this CPU runs, gives detail::exp's bits") {
    ad::Rng rng(13);
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    for (std::int64_t n : {0, 1, 3, 7, 8, 9, 17, 1000}) {
        std::vector<double> x(static_cast<std::size_t>(n));
        for (auto& v : x) v = rng.uniform(-750, 712);
        const double specials[] = {0.0, -0.0, inf, -inf, nan, -745.13, 709.78, 709.79, -708.5};
        for (std::size_t k = 0; k < x.size() && k < std::size(specials); ++k) x[x.size() - 1 - k] = specials[k];
        std::vector<double> y = x;
        ad::detail::exp_inplace(y.data(), n);
        int differ = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double want = ad::detail::exp(x[i]);
            differ += !(y[i] == want || (std::isnan(y[i]) && std::isnan(want)));
        }
        CAPTURE(n);
        CHECK(differ == 0);
    }
}

TEST_CASE("softmax gives e^{x - max} / sum in detail::exp's bits however its rows are grouped or cut") {
    // softmax_rows puts as many short rows as fit into one exp_inplace call of kExpChunk
    // exponentials, and a row longer than that computes its exponentials a chunk at a time, twice.
    // Each output must be exp(x_j − max) · (1 / Σ) with the sum in index order, whatever the path:
    // rows just below, at and above the chunk, many short rows (grouped 51 per call), and rows
    // along a leading axis (elements strided).
    const std::int64_t c = ad::detail::kExpChunk;
    const struct {
        std::int64_t rows, n;
        bool leading_axis;  // softmax over axis 0 of the transposed layout [n, rows]
    } cases[] = {{2, c - 1, false}, {2, c, false}, {2, c + 1, false}, {2, 3 * c + 5, false},
                 {100, 10, false}, {1, 1, false}, {7, 10, true}, {3, c + 2, true}};
    for (const auto& k : cases) {
        const ad::Shape shape = k.leading_axis ? ad::Shape{k.n, k.rows} : ad::Shape{k.rows, k.n};
        const ad::Tensor x = ad::Tensor::randn(shape, ad::f64, 21) * 3.0;
        const ad::Tensor y = ad::softmax(x, k.leading_axis ? 0 : 1);
        const double* xp = x.data<double>();
        const double* yp = y.data<double>();
        // Element j of row r: at r·n + j, or at j·rows + r along the leading axis.
        auto at = [&](std::int64_t r, std::int64_t j) { return k.leading_axis ? j * k.rows + r : r * k.n + j; };
        int differ = 0;
        for (std::int64_t r = 0; r < k.rows; ++r) {
            double m = xp[at(r, 0)], z = 0;
            for (std::int64_t j = 1; j < k.n; ++j) m = std::max(m, xp[at(r, j)]);
            for (std::int64_t j = 0; j < k.n; ++j) z += ad::detail::exp(xp[at(r, j)] - m);
            for (std::int64_t j = 0; j < k.n; ++j) differ += yp[at(r, j)] != ad::detail::exp(xp[at(r, j)] - m) * (1.0 / z);
        }
        CAPTURE(k.rows);
        CAPTURE(k.n);
        CAPTURE(k.leading_axis);
        CHECK(differ == 0);
    }
}
