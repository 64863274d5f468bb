// ad::Active: statements on a linear tape. Every function's value and gradient against ad::Value
// (the same source, op by op) and against central finite differences, the tape's layout, dot and
// sum longer than a statement, Jacobians and vector-Jacobian products, the JAX-style transforms,
// and every misuse (an Active of another recording, of no recording, of another thread: a poisoned
// result whose gradient is the error).
#include "scalar_cases.hpp"
#include "test_util.hpp"

#include <autodiff/autodiff.hpp>
#include <bench/functions.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

using ad::Active;
using ad::ActiveTape;
using ad::GraphError;
using ad::Value;
using ad::test::contains;
using ad::test::error_of;
using ad::testing::cases;
using ad::testing::RealCase;
using bench::rosenbrock;

namespace {

// Central differences of f at p, with f evaluated on constants (no recording is on).
std::vector<double> central_differences(const std::function<Active(const std::vector<Active>&)>& f,
                                        const std::vector<double>& p) {
    std::vector<double> g(p.size());
    for (std::size_t k = 0; k < p.size(); ++k) {
        const double h = 1e-6 * std::max(1.0, std::fabs(p[k]));
        std::vector<Active> plus(p.begin(), p.end()), minus(p.begin(), p.end());
        plus[k] = p[k] + h;
        minus[k] = p[k] - h;
        g[k] = (f(plus).value() - f(minus).value()) / (2 * h);
    }
    return g;
}

}  // namespace

TEST_CASE("every Active function: value and gradient match ad::Value and central differences") {
    ActiveTape tape;
    for (const RealCase& c : cases()) {
        for (const auto& p : c.points) {
            CAPTURE(std::string(c.name));
            CAPTURE(p[0]);
            std::vector<Value> xv(p.begin(), p.end());
            const Value fv = c.as_value(xv);
            fv.backward();
            const std::vector<Active> x = tape.begin(p);
            const Active f = c.as_active(x);
            tape.end();
            CHECK(f.value() == doctest::Approx(fv.value()).epsilon(1e-15));
            const std::vector<double> g = tape.gradient(f);
            const std::vector<double> fd = central_differences(c.as_active, p);
            REQUIRE(g.size() == p.size());
            for (std::size_t k = 0; k < p.size(); ++k) {
                CHECK(g[k] == doctest::Approx(xv[k].grad()).epsilon(1e-13));
                CHECK(g[k] == doctest::Approx(fd[k]).epsilon(1e-6));
            }
        }
    }
}

TEST_CASE("a statement is one identifier with one partial per distinct operand; zero partials are not stored") {
    ActiveTape tape;
    const std::vector<Active> x = tape.begin({2.0, 3.0});
    CHECK(tape.inputs() == 2);
    CHECK(x[0].id() == 1);
    CHECK(x[1].id() == 2);
    CHECK(tape.statements() == 0);
    Active f = sin(x[0]) * x[1] + exp(x[0] / x[1]) - 3.0 * x[0] * x[0];  // x0 four times, x1 twice
    CHECK(tape.statements() == 1);
    CHECK(tape.arguments() == 6);  // x0, x1, x0, x1, x0, x0: (3·x0)·x0 is not x·x of one named x
    CHECK(f.id() == 3);
    Active sq = x[0] * x[0];  // one partial, 2·x0
    CHECK(tape.arguments() == 7);
    Active diff = x[0] - x[0];  // partials 1 and −1 merge to 0: nothing stored, a constant
    CHECK(tape.arguments() == 7);
    CHECK_FALSE(diff.is_active());
    CHECK(diff.value() == 0.0);
    Active r = relu(-1.0 * x[1]);  // relu below 0: a zero partial, a constant
    CHECK_FALSE(r.is_active());
    Active c = Active(2.0) * 3.0;  // constants combine into constants
    CHECK_FALSE(c.is_active());
    Active k = 5.0;
    Active kx = x[0] * k + k * k;  // a constant operand is not an argument
    CHECK(tape.arguments() == 8);
    CHECK(kx.is_active());
    CHECK(kx.value() == 35.0);
    Active nan = sqrt(-1.0 * x[0]);  // a NaN partial is stored (it is not 0)
    CHECK(tape.arguments() == 9);
    CHECK(tape.statements() == 4);  // f, sq, kx, nan; diff, r and c are constants
    CHECK(tape.bytes() == 6 + 9 * 12);  // a count byte per identifier (2 inputs, 4 statements)
    tape.end();
    const auto g = tape.gradient(f);
    CHECK(g[0] == doctest::Approx(std::cos(2.0) * 3 + std::exp(2.0 / 3) / 3 - 12.0));
    CHECK(g[1] == doctest::Approx(std::sin(2.0) - std::exp(2.0 / 3) * 2 / 9));
    CHECK(tape.gradient(sq) == std::vector<double>{4.0, 0.0});
    CHECK(tape.gradient(kx) == std::vector<double>{5.0, 0.0});
    CHECK(std::isnan(tape.gradient(nan)[0]));
    CHECK(tape.gradient(c) == std::vector<double>{0.0, 0.0});      // a constant: zeros
    CHECK(tape.gradient(x[1]) == std::vector<double>{0.0, 1.0});   // an input: a unit vector
    CHECK(fmt::format("{} {}", sq, c) == "Active(4.0000, id=4) Active(6.0000)");
    CHECK(tape.vjp(std::vector<Active>{f, sq, f}, std::vector<double>{1.0, 2.0, -1.0}) == std::vector<double>{8.0, 0.0});
    CHECK(tape.gradient(f) == g);  // the sweeps leave no adjoint behind
}

namespace {
// A statement of n = 1..3 arguments whose digits say how each enters (active.hpp's unit kinds):
// 0 as +x (a partial known to be +1), 1 as −x (−1), 2 as 1.5·x (a partial stored).
template <int D>
auto unit_first(const Active& x) {
    if constexpr (D == 0) {
        return x + 0.25;
    } else if constexpr (D == 1) {
        return 0.25 - x;
    } else {
        return x * 1.5;
    }
}
template <int D, class E>
auto unit_append(E&& e, const Active& x) {
    if constexpr (D == 0) {
        return std::forward<E>(e) + x;
    } else if constexpr (D == 1) {
        return std::forward<E>(e) - x;
    } else {
        return std::forward<E>(e) + x * 1.5;
    }
}
constexpr int kind_digit(int kind, int n, int i) {
    int place = 1;
    for (int j = i + 1; j < n; ++j) place *= 3;
    return (kind - (n == 1 ? 0 : n == 2 ? 3 : 12)) / place % 3;
}
struct UnitStatement {
    Active y;
    double value;
    std::vector<double> gradient;
    std::size_t bytes;  // what it added to the tape
};
// Unit kind K (0..38) over x[at[0]], x[at[1]], x[at[2]], with the value, gradient and bytes expected.
template <int K>
UnitStatement unit_statement(ActiveTape& tape, const std::vector<Active>& x, const std::vector<std::size_t>& at) {
    constexpr int n = K < 3 ? 1 : K < 12 ? 2 : 3;
    constexpr int d0 = kind_digit(K, n, 0), d1 = kind_digit(K, n, 1), d2 = kind_digit(K, n, 2);
    const std::size_t before = tape.bytes();
    UnitStatement s;
    if constexpr (n == 1) {
        s.y = unit_first<d0>(x[at[0]]);
    } else if constexpr (n == 2) {
        s.y = unit_append<d1>(unit_first<d0>(x[at[0]]), x[at[1]]);
    } else {
        s.y = unit_append<d2>(unit_append<d1>(unit_first<d0>(x[at[0]]), x[at[1]]), x[at[2]]);
    }
    s.bytes = tape.bytes() - before;
    const int digits[3] = {d0, d1, d2};
    s.gradient.assign(x.size(), 0.0);
    std::size_t stored = 0;
    for (int i = 0; i < n; ++i) {
        const double xi = x[at[static_cast<std::size_t>(i)]].value();
        const int d = digits[i];
        if (i == 0) {
            s.value = d == 0 ? xi + 0.25 : d == 1 ? 0.25 - xi : xi * 1.5;
        } else {
            s.value = d == 0 ? s.value + xi : d == 1 ? s.value - xi : s.value + xi * 1.5;
        }
        s.gradient[at[static_cast<std::size_t>(i)]] += d == 0 ? 1.0 : d == 1 ? -1.0 : 1.5;
        stored += d == 2;
    }
    CHECK(s.bytes == 1 + 4 * static_cast<std::size_t>(n) + 8 * stored);
    return s;
}
}  // namespace

TEST_CASE("partials known to be +1 or -1 are not stored: all 39 unit kinds, and the statements that store them") {
    ActiveTape tape;
    const std::vector<Active> x = tape.begin({0.5, -1.25, 2.0});
    std::vector<UnitStatement> recorded;
    for (const std::vector<std::size_t>& at : {std::vector<std::size_t>{0, 1, 2}, {2, 0, 1}, {1, 1, 1}, {0, 2, 0}}) {
        [&]<int... K>(std::integer_sequence<int, K...>) {
            (recorded.push_back(unit_statement<K>(tape, x, at)), ...);
        }(std::make_integer_sequence<int, 39>{});
    }
    // A statement that may have three arguments, x * x merged, but has four: every partial stored.
    std::size_t before = tape.bytes();
    const Active four = x[0] + x[1] * x[2] + x[2] * x[2];
    CHECK(tape.bytes() - before == 1 + 4 * 12);
    before = tape.bytes();
    const Active three = x[0] + x[1] * x[1] - x[2] * x[2];  // three: +1 not stored, 2x1 and −2x2 stored
    CHECK(tape.bytes() - before == 1 + 3 * 4 + 2 * 8);
    before = tape.bytes();
    const Active k = 2.0;
    const Active with_constant = x[0] + k - x[1];  // a constant operand: the careful pass stores both
    CHECK(tape.bytes() - before == 1 + 2 * 12);
    before = tape.bytes();
    const Active nested = -(x[0] - x[1]) + (0.5 - (x[2] + 1.0));  // signs compose: −1, +1, −1, none stored
    CHECK(tape.bytes() - before == 1 + 3 * 4);
    before = tape.bytes();
    const Active scaled = 2.0 * (x[0] - x[1]);  // a partial of 2 on the path: both stored (2, −2)
    CHECK(tape.bytes() - before == 1 + 2 * 12);
    before = tape.bytes();
    const Active five = x[0] - x[1] + x[2] - x[0] + x[1];  // more than three: all five stored
    CHECK(tape.bytes() - before == 1 + 5 * 12);
    before = tape.bytes();
    const Active four_with_constant = x[0] * x[1] + x[2] * k;  // four operands, no merge, one constant
    CHECK(tape.bytes() - before == 1 + 3 * 12);
    before = tape.bytes();
    // Four arguments (x0 − x0 merges into one), two of partial 0: neither stored.
    const Active four_with_zero = x[0] * x[1] + x[2] * (x[0] - x[0]);
    CHECK(four_with_zero.value() == 0.5 * -1.25);
    CHECK(tape.bytes() - before == 1 + 2 * 12);
    tape.end();
    for (const UnitStatement& s : recorded) {  // each gradient sweeps past the statements after it
        CHECK(s.y.value() == s.value);
        CHECK(tape.gradient(s.y) == s.gradient);
    }
    CHECK(tape.gradient(four) == std::vector<double>{1.0, 2.0, -1.25 + 4.0});
    CHECK(tape.gradient(three) == std::vector<double>{1.0, -2.5, -4.0});
    CHECK(tape.gradient(with_constant) == std::vector<double>{1.0, -1.0, 0.0});
    CHECK(tape.gradient(five) == std::vector<double>{0.0, 0.0, 1.0});
    CHECK(tape.gradient(four_with_constant) == std::vector<double>{-1.25, 0.5, 2.0});
    CHECK(tape.gradient(four_with_zero) == std::vector<double>{-1.25, 0.5, 0.0});
    CHECK(nested.value() == -(0.5 - -1.25) + (0.5 - (2.0 + 1.0)));
    CHECK(tape.gradient(nested) == std::vector<double>{-1.0, 1.0, -1.0});
    CHECK(tape.gradient(scaled) == std::vector<double>{2.0, -2.0, 0.0});
    CHECK(tape.vjp(std::vector<Active>{recorded[38].y, three}, std::vector<double>{2.0, 1.0}) ==
          std::vector<double>{2.0 * 1.5 + 1.0, 2.0 * 1.5 - 2.5, 2.0 * 1.5 - 4.0});
}

TEST_CASE("kinks are ad::Value's: relu'(0) = 0, abs'(0) = 0, ties split, NaN passes relu") {
    ActiveTape tape;
    auto x = tape.begin({0.0, 0.0, 1.5, std::numeric_limits<double>::quiet_NaN()});
    Active a = relu(x[0]) + abs(x[1]) * 2.0;
    Active m = max(x[2], x[2] * 1.0) + min(x[0], x[1]);
    Active n = relu(x[3]);
    tape.end();
    CHECK(tape.gradient(a) == std::vector<double>{0.0, 0.0, 0.0, 0.0});
    const auto gm = tape.gradient(m);
    CHECK(gm[2] == 1.0);  // 0.5 + 0.5
    CHECK(gm[0] == 0.5);
    CHECK(gm[1] == 0.5);
    CHECK(std::isnan(n.value()));
    CHECK(tape.gradient(n)[3] == 1.0);  // NaN > 0 is false, NaN <= 0 too: the gradient passes
}

TEST_CASE("extended Rosenbrock: the same template over double, Value and Active, the exact gradient") {
    std::vector<double> p(1001);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = 0.5 + 0.01 * static_cast<double>(i % 37) - 0.2 * (i % 2);
    const std::vector<double> exact = bench::analytic_rosenbrock_gradient(p);
    ActiveTape tape;
    auto x = tape.begin(p);
    const Active f = rosenbrock(x);
    tape.end();
    CHECK(f.value() == rosenbrock(p));  // the same operations in the same order: the same bits
    CHECK(tape.statements() == 3 * (p.size() - 1));
    CHECK(tape.arguments() == 6 * (p.size() - 1) - 1);  // the first sum has no s to depend on
    // Stored partials: a = x[i+1] − x[i]·x[i] stores 2x[i] only, b = 1 − x[i] none, s + 100a² + b²
    // 200a and 2b (the first s, a constant, is no argument): 51 bytes per element, 1 per input.
    CHECK(tape.bytes() == p.size() + 3 * (p.size() - 1) + 4 * tape.arguments() + 8 * 3 * (p.size() - 1));
    const auto g = tape.gradient(f);
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(g[i] == doctest::Approx(exact[i]).epsilon(1e-13));
    const auto [v, g2] = ad::value_and_grad(rosenbrock<Active>, p);
    CHECK(v == f.value());
    CHECK(g2 == g);
    CHECK(ad::grad(rosenbrock<Active>, p) == g);
    const auto [vv, gv] = ad::value_and_grad(rosenbrock<Value>, p);
    CHECK(vv == doctest::Approx(v).epsilon(1e-15));
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(gv[i] == doctest::Approx(g[i]).epsilon(1e-13));
}

TEST_CASE("a large begin() gives the inputs and gradients a small one does, recording after recording") {
    for (const std::size_t n : {std::size_t{1} << 16, (std::size_t{1} << 16) + 7, std::size_t{100}}) {
        std::vector<double> p(n);
        for (std::size_t i = 0; i < n; ++i) p[i] = 0.5 + 0.01 * static_cast<double>(i % 37) - 0.2 * (i % 2);
        ActiveTape tape;
        for (int again = 0; again < 2; ++again) {  // the second recording reuses the vector
            std::vector<Active> x;
            tape.begin(p, x);
            REQUIRE(x.size() == n);
            bool all_inputs = true;
            for (std::size_t i = 0; i < n; ++i)
                all_inputs = all_inputs && x[i].value() == p[i] && x[i].id() == i + 1 && x[i].is_active();
            CHECK(all_inputs);
            const Active f = rosenbrock(x);
            tape.end();
            CHECK(f.value() == rosenbrock(p));
            const auto g = tape.gradient(f);
            const auto exact = bench::analytic_rosenbrock_gradient(p);
            for (std::size_t i = 0; i < n; ++i) REQUIRE(g[i] == doctest::Approx(exact[i]).epsilon(1e-13));
        }
        // An input of this recording is one, an Active of the previous one is foreign.
        auto old = tape.begin(p);
        auto now = tape.begin(p);
        const Active mixed = old[0] + now[1];  // its value, but no gradient
        CHECK(mixed.value() == p[0] + p[1]);
        CHECK_THROWS_AS((void)tape.gradient(mixed), GraphError);
        const Active ok = now[0] + now[n - 1];  // this recording's number, in every input
        CHECK(ok.is_active());
        tape.end();
        CHECK(tape.gradient(ok)[n - 1] == 1.0);
    }
}

TEST_CASE("dot and sum: values in index order, any length (chained statements), sizes checked") {
    const std::size_t n = 1000;  // 10 statements of up to 107 pairs (215 arguments and the link)
    std::vector<double> p(2 * n);
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::sin(0.37 * static_cast<double>(i)) + (i % 5 == 0 ? 0.0 : 0.1);
    ActiveTape tape;
    auto x = tape.begin(p);
    const std::span<const Active> all(x), w = all.first(n), v = all.last(n);
    const Active d = dot(w, v);
    CHECK(tape.statements() == (n + 106) / 107);
    const Active s = sum(all);
    tape.end();
    double dv = 0.0, sv = 0.0;
    for (std::size_t k = 0; k < n; ++k) dv += p[k] * p[n + k];
    for (double e : p) sv += e;
    CHECK(d.value() == dv);
    CHECK(s.value() == sv);
    const auto gd = tape.gradient(d);
    for (std::size_t k = 0; k < n; ++k) {
        CHECK(gd[k] == p[n + k]);
        CHECK(gd[n + k] == p[k]);
    }
    for (double e : tape.gradient(s)) CHECK(e == 1.0);
    // A partner that is 0 passes nothing; a constant partner is a partial only.
    auto y = tape.begin({2.0, 0.0});
    const std::vector<Active> z{y[0], Active(5.0)}, u{y[1], y[0]};
    const Active e = dot(std::span<const Active>(z), std::span<const Active>(u));
    tape.end();
    CHECK(e.value() == 10.0);
    CHECK(tape.gradient(e) == std::vector<double>{5.0, 2.0});
    CHECK(contains(error_of<ad::ShapeError>([&] { (void)dot(w, all); }), "1000"));
    CHECK_FALSE(sum(std::span<const Active>()).is_active());
    CHECK(dot(std::span<const Active>(), std::span<const Active>()).value() == 0.0);
}

TEST_CASE("jacobian and vjp: one sweep per row, and vᵀJ in one sweep, as ad::Value's") {
    auto f = [](const auto& x) {
        using T = std::decay_t<decltype(x[0])>;
        std::vector<T> y;
        y.push_back(x[0] * x[1]);
        y.push_back(sin(x[0]) + x[2] * x[2]);
        y.push_back(x[1] / x[2]);
        y.push_back(y[0]);  // the same output twice
        return y;
    };
    const std::vector<double> p{0.7, -1.3, 2.1};
    const auto jv = ad::jacobian([&](const std::vector<Value>& x) { return f(x); }, p);
    const auto ja = ad::jacobian([&](const std::vector<Active>& x) { return f(x); }, p);
    REQUIRE(ja.size() == 4);
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 3; ++j) CHECK(ja[i][j] == doctest::Approx(jv[i][j]).epsilon(1e-14));
    const std::vector<double> seed{1.0, -2.0, 0.5, 3.0};
    const auto [values, vj] = ad::vjp([&](const std::vector<Active>& x) { return f(x); }, p, seed);
    CHECK(values.size() == 4);
    CHECK(values[1] == std::sin(0.7) + 2.1 * 2.1);
    for (std::size_t j = 0; j < 3; ++j) {
        double expect = 0.0;
        for (std::size_t i = 0; i < 4; ++i) expect += seed[i] * jv[i][j];
        CHECK(vj[j] == doctest::Approx(expect).epsilon(1e-14));
    }
    ActiveTape tape;
    auto x = tape.begin(p);
    const auto y = f(x);
    CHECK(contains(error_of<ad::ShapeError>([&] { (void)tape.vjp(y, std::vector<double>{1.0}); }), "4 outputs but 1"));
}

// Misuse never throws from a statement (nothing on a statement's path calls or throws, which is
// what lets the compiler keep the tape's counters in registers): its result keeps its value and
// is poisoned, every statement computed from it is too, and a gradient through it is the error.
TEST_CASE("misuse: an Active of another recording, of no recording or of another thread poisons; its gradient is a GraphError") {
    ActiveTape tape, other;
    const auto gradient_error = [](ActiveTape& t, const Active& y) {
        return error_of<GraphError>([&] { (void)t.gradient(y); });
    };
    auto old = tape.begin({1.0});
    Active kept = old[0] * 2.0;
    auto x = tape.begin({1.0});  // a new recording: old and kept are stale
    const Active stale = x[0] * kept;
    CHECK(stale.value() == 2.0);
    CHECK(stale.is_active());
    CHECK(stale.id() == 0);
    CHECK(tape.statements() == 0);  // nothing was recorded
    // Poison spreads through later statements, even through a partial of 0, and through dot and sum.
    const Active later = relu(-1.0 - stale) + x[0];
    CHECK(later.value() == 1.0);
    const Active summed = sum(std::vector<Active>{x[0], later});
    CHECK(summed.value() == 2.0);
    const Active dotted = dot(std::span<const Active>(old), std::span<const Active>(x));
    CHECK(dotted.value() == 1.0);
    const Active fine = x[0] * 3.0;  // the recording itself is intact
    tape.end();
    for (const Active& y : {stale, later, summed, dotted}) {
        const std::string e = gradient_error(tape, y);
        CHECK(contains(e, "ActiveTape::gradient"));
        CHECK(contains(e, "another recording"));
    }
    CHECK(contains(gradient_error(tape, kept), "another recording"));  // an Active of the previous recording
    CHECK(contains(error_of<GraphError>([&] { (void)tape.vjp(std::vector<Active>{fine, stale}, std::vector<double>{1.0, 1.0}); }),
                   "ActiveTape::vjp"));
    CHECK(tape.gradient(fine) == std::vector<double>{3.0});
    // After end(): no recording is on; constants still combine into constants.
    const Active after = x[0] + 1.0;
    CHECK(after.value() == 2.0);
    CHECK(contains(gradient_error(tape, after), "outside any recording"));
    Active c = Active(3.0) * 2.0 + 1.0;
    CHECK(c.value() == 7.0);
    CHECK(!c.is_active());
    CHECK(tape.gradient(c) == std::vector<double>{0.0});
    // Nesting: the inner recording is the current one; the outer's Actives are foreign there.
    auto outer = tape.begin({2.0});
    auto inner = other.begin({3.0});
    const Active both = outer[0] * inner[0];
    CHECK(both.value() == 6.0);
    Active in = inner[0] * inner[0];
    other.end();
    Active out = outer[0] * outer[0];  // the outer recording is current again
    tape.end();
    CHECK(other.gradient(in) == std::vector<double>{6.0});
    CHECK(tape.gradient(out) == std::vector<double>{4.0});
    CHECK(contains(gradient_error(other, both), "another recording"));
    CHECK(contains(gradient_error(tape, in), "another recording"));
    // Another thread: no recording of its own, so the Active is foreign there.
    auto y = tape.begin({1.5});
    Active there;
    std::thread([&] { there = y[0] * 2.0; }).join();
    tape.end();
    CHECK(there.value() == 3.0);
    CHECK(contains(gradient_error(tape, there), "outside any recording"));
}

TEST_CASE("recordings nest and may end in any order; the thread's current one is always the innermost still on") {
    ActiveTape a, b, c;
    auto xa = a.begin({2.0});
    auto xb = b.begin({3.0});
    auto xc = c.begin({5.0});
    b.end();  // the middle one ends first: c stays current, and a is next
    Active yc = xc[0] * xc[0];
    CHECK(c.statements() == 1);
    c.end();
    Active ya = xa[0] * xa[0] * xa[0];  // a is current again, with its counters as it left them
    const Active yb = xb[0] + 1.0;       // b ended: its Active is foreign to a
    CHECK(a.statements() == 1);
    a.end();
    CHECK(c.gradient(yc) == std::vector<double>{10.0});
    CHECK(a.gradient(ya) == std::vector<double>{12.0});
    CHECK(contains(error_of<GraphError>([&] { (void)a.gradient(yb); }), "another recording"));
    CHECK(b.statements() == 0);
    // Nothing is current now.
    CHECK(contains(error_of<GraphError>([&] { (void)a.gradient(xa[0] * 2.0); }), "outside any recording"));
    // begin() on a tape that records ends that recording first and stays the innermost.
    auto x1 = a.begin({1.0});
    auto x2 = b.begin({4.0});
    auto x3 = b.begin({7.0});
    const Active stale = x2[0] * 1.0;  // of b's previous recording
    Active y3 = x3[0] * 2.0;
    b.end();
    Active y1 = x1[0] * 5.0;
    a.end();
    CHECK(b.gradient(y3) == std::vector<double>{2.0});
    CHECK(a.gradient(y1) == std::vector<double>{5.0});
    CHECK(contains(error_of<GraphError>([&] { (void)b.gradient(stale); }), "another recording"));
}

TEST_CASE("transforms: an exception in f ends its recording; transforms nest") {
    auto throws = [](const std::vector<Active>& x) -> Active {
        Active y = x[0] * 2.0;
        if (y.value() > 0) throw std::runtime_error("f failed");
        return y;
    };
    ActiveTape tape;
    const auto x = tape.begin({1.0});
    tape.end();
    CHECK_THROWS_AS(ad::value_and_grad(throws, {1.0}), std::runtime_error);
    // Had the transform's recording stayed on, this would be "another recording" instead.
    const Active after = x[0] * 2.0;
    CHECK(contains(error_of<GraphError>([&] { (void)tape.gradient(after); }), "outside any recording"));
    // f itself differentiates another function (the shared tape is busy: the inner call uses its own).
    auto outer = [](const std::vector<Active>& x) -> Active {
        const auto [v, g] = ad::value_and_grad([](const std::vector<Active>& y) -> Active { return y[0] * y[0] * y[0]; },
                                               {x[0].value()});
        return x[0] * g[0];  // x · 3x²  (g is a number: the inner derivative is not differentiated)
    };
    const auto [v, g] = ad::value_and_grad(outer, {2.0});
    CHECK(v == 24.0);
    CHECK(g == std::vector<double>{12.0});
    // Using the outer call's Active inside the inner function is an error, not a silent zero.
    auto mixes = [](const std::vector<Active>& x) -> Active {
        return ad::value_and_grad([&](const std::vector<Active>& y) -> Active { return y[0] * x[0]; }, {1.0}).first;
    };
    CHECK(contains(error_of<GraphError>([&] { (void)ad::grad(mixes, {2.0}); }), "another recording"));
}

TEST_CASE("transforms: a function that returns an unevaluated expression has it recorded in time") {
    auto f = [](const std::vector<Active>& x) { return x[0] * x[1] + sin(x[0]); };  // an expression, not an Active
    const auto [v, g] = ad::value_and_grad(f, {0.5, 3.0});
    CHECK(v == 0.5 * 3.0 + std::sin(0.5));
    CHECK(g[0] == doctest::Approx(3.0 + std::cos(0.5)).epsilon(1e-15));
    CHECK(g[1] == 0.5);
}

TEST_CASE("threads record their own tapes at the same time") {
    std::vector<std::vector<double>> grads(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&grads, t] {
            std::vector<double> p(500, 0.3 + 0.1 * t);
            for (int rep = 0; rep < 20; ++rep) grads[static_cast<std::size_t>(t)] = ad::grad(rosenbrock<Active>, p);
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 2; ++t) {
        std::vector<double> p(500, 0.3 + 0.1 * t);
        CHECK(grads[static_cast<std::size_t>(t)] == ad::grad(rosenbrock<Active>, p));
    }
}

TEST_CASE("a tape's room: ActiveTape(max_arguments) holds that many arguments; past it, results are poisoned and the tape intact") {
    ActiveTape tape(1000);
    auto x = tape.begin({1.5, 2.0});
    Active y = x[0];
    for (int k = 0; k < 998; ++k) y = y * 1.001;  // 998 statements of one argument
    const Active z = y * x[1];                     // two more: exactly the 1000
    CHECK(tape.arguments() == 1000);
    const Active over = y * 1.001;  // does not fit: its value, no gradient
    CHECK(over.value() == y.value() * 1.001);
    const Active constant = Active(2.0) * 3.0;  // needs no room
    CHECK(!constant.is_active());
    CHECK(tape.arguments() == 1000);  // the statement that did not fit left nothing behind
    tape.end();
    const auto g = tape.gradient(z);
    CHECK(g[0] == doctest::Approx(2.0 * std::pow(1.001, 998)).epsilon(1e-13));
    CHECK(g[1] == doctest::Approx(1.5 * std::pow(1.001, 998)).epsilon(1e-13));
    const std::string full = error_of<GraphError>([&] { (void)tape.gradient(over); });
    CHECK(contains(full, "did not fit"));
    CHECK(contains(full, "at most 1000 arguments"));
    // The next recording starts empty; dot and sum check the same room, to the argument.
    auto w = tape.begin(std::vector<double>(900, 1.0));
    const Active s = sum(w);  // links of 215, 216, 216, 216 and 41 arguments: 904
    CHECK(tape.arguments() == 904);
    const Active s2 = sum(w);
    CHECK(s2.value() == 900.0);
    CHECK(tape.arguments() == 904);
    tape.end();
    for (double e : tape.gradient(s)) CHECK(e == 1.0);
    CHECK(contains(error_of<GraphError>([&] { (void)tape.gradient(s2); }), "did not fit"));
    // Any limit is taken (above 2^32 arguments, as 2^32).
    ActiveTape huge(std::numeric_limits<std::size_t>::max());
    auto h = huge.begin({1.0, 2.0});
    const Active r = rosenbrock(h);
    huge.end();
    CHECK(huge.gradient(r) == bench::analytic_rosenbrock_gradient({1.0, 2.0}));
}
