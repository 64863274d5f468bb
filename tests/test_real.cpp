// ad::Real: statements recorded as one tape entry each. Every function's value and gradient
// against ad::Value (the same source, op by op) and against finite differences, the tape's
// shape (one entry per statement, adjacent repeats merged), mixing with Value, and the first-order limit.
#include "scalar_cases.hpp"
#include "test_util.hpp"

#include <autodiff/autodiff.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <span>

using ad::Real;
using ad::Value;
using ad::testing::cases;
using ad::testing::RealCase;

namespace {

// The Real function as a Value function (what gradcheck takes): the Reals share the leaves.
ad::ScalarFunction as_value_function(const RealCase& c) {
    return [&c](const std::vector<Value>& v) -> Value { return c.as_real(std::vector<Real>(v.begin(), v.end())); };
}

}  // namespace

TEST_CASE("every Real function: value and gradient match ad::Value and finite differences") {
    for (const RealCase& c : cases()) {
        for (const auto& p : c.points) {
            CAPTURE(c.name);
            CAPTURE(p[0]);
            std::vector<Value> xv(p.begin(), p.end());
            const Value fv = c.as_value(xv);
            fv.backward();
            std::vector<Real> xr(p.begin(), p.end());
            const Real fr = c.as_real(xr);
            CHECK(fr.value() == doctest::Approx(fv.value()).epsilon(1e-15));
            fr.backward();
            for (std::size_t k = 0; k < p.size(); ++k) CHECK(xr[k].grad() == doctest::Approx(xv[k].grad()).epsilon(1e-13));
            const auto r = ad::gradcheck(as_value_function(c), p);
            CHECK_MESSAGE(r.ok, r.message);
        }
    }
}

TEST_CASE("a statement is one tape entry with one partial per distinct argument") {
    auto& t = ad::detail::tape();
    Real x = 2.0, y = 3.0;
    Real xs = x * 1.0, ys = y * 1.0;  // registers both leaves
    const std::uint32_t entries = t.size, partials = t.stmt_size;
    Real f = sin(x) * y + exp(x / y) - 3.0 * x * x;  // x appears 4 times, y twice
    CHECK(t.size == entries + 1);
    CHECK(t.op[t.size - 1] == ad::detail::Op::Stmt);
    CHECK(t.stmt_size - partials == 5);  // x, y, x, y, x: the adjacent repeat in 3·x·x merged
    f.backward();
    CHECK(x.grad() == doctest::Approx(std::cos(2.0) * 3 + std::exp(2.0 / 3) / 3 - 12.0));
    CHECK(y.grad() == doctest::Approx(std::sin(2.0) - std::exp(2.0 / 3) * 2 / 9));
    Real sq = x * x;  // one partial, 2x
    CHECK(t.stmt_arg[t.stmt_size - 1] == x.leaf_data()->node);
    CHECK(t.arg_b[t.size - 1] == 1);
    CHECK(t.stmt_jac[t.stmt_size - 1] == 4.0);
}

TEST_CASE("an operand used twice in one operation is looked up once, with both partials") {
    auto& t = ad::detail::tape();
    Real x = 3.0;
    Real h = x * 2.0;  // an interior operand
    Real copy = h;     // another handle to the same entry: merged by entry, not by address
    const std::uint32_t partials = t.stmt_size;
    Real sum = x + x, diff = x - x, quot = x / x, hh = h * h, hc = h * copy;
    CHECK(t.stmt_size - partials == 3);  // one partial each; x - x and x / x (1 - 1) store none
    CHECK(diff.requires_grad());         // their partials are exactly 0, yet they depend on x
    CHECK(quot.requires_grad());
    CHECK(t.stmt_jac[t.stmt_size - 2] == 12.0);  // h * h: 2h
    CHECK(t.stmt_jac[t.stmt_size - 1] == 12.0);  // h * copy: the adjacent repeat merged
    Real f = sum * 1.0 + diff * 5.0 + quot * 7.0 + hh + hc;
    f.backward();
    CHECK(x.grad() == doctest::Approx(2.0 + 0.0 + 0.0 + 2 * 12.0 * 2.0));
}

TEST_CASE("Real and Value mix: a Real is a Value, Value functions take Reals") {
    Real x = 0.5;
    Value v = 2.0;
    Real a = sin(x) * x;           // statement
    Value b = exp(a) * v;          // Value ops on a Real
    Real c = Real(b) * x + a;      // back to statements
    c.backward();
    const double s = std::sin(0.5) * 0.5, ds = std::cos(0.5) * 0.5 + std::sin(0.5);
    CHECK(c.value() == doctest::Approx(std::exp(s) * 2.0 * 0.5 + s));
    CHECK(x.grad() == doctest::Approx(std::exp(s) * ds * 2.0 * 0.5 + std::exp(s) * 2.0 + ds));
    CHECK(v.grad() == doctest::Approx(std::exp(s) * 0.5));
    // gradients() with respect to an interior Real, as for Values
    Real y = x * x;
    Real z = sin(y) * 3.0;
    const auto g = ad::gradients(z, {y, x});
    CHECK(g[0].value() == doctest::Approx(3.0 * std::cos(0.25)));
    CHECK(g[1].value() == doctest::Approx(3.0 * std::cos(0.25) * 1.0));
}

TEST_CASE("a temporary Real inside an expression is held by value") {
    Real x = 1.5;
    auto twice = [](const Real& r) { return Real(r * 2.0); };
    Real f = sin(twice(x)) * twice(x);  // both temporaries die at the end of the statement
    f.backward();
    CHECK(x.grad() == doctest::Approx(2.0 * std::cos(3.0) * 3.0 + std::sin(3.0) * 2.0));
}

TEST_CASE("Real's kinks are ad::Value's: relu'(0) = 0, abs'(0) = 0, ties split, NaN passes relu") {
    Real x = 0.0;
    Real(relu(x)).backward();
    CHECK(x.grad() == 0.0);
    Real(abs(x)).backward();
    CHECK(x.grad() == 0.0);
    Real a = 1.5, b = 1.5;
    Real(max(a, b)).backward();
    CHECK(a.grad() == 0.5);
    CHECK(b.grad() == 0.5);
    Real(min(a, b) * 2.0).backward();
    CHECK(a.grad() == 1.5);
    Real z = 0.0, e = 2.0;
    Real(pow(z, 0.0)).backward();
    CHECK(z.grad() == 0.0);
    Real(pow(z, e)).backward();
    CHECK(e.grad() == 0.0);
    CHECK(z.grad() == 0.0);
    Real n = std::numeric_limits<double>::quiet_NaN();
    const Real r = relu(n);
    CHECK(std::isnan(r.value()));
    r.backward();
    CHECK(n.grad() == 1.0);
}

TEST_CASE("backward(create_graph) through a statement is a GraphError naming ad::Real") {
    Real x = 1.2;
    Real f = x * x * x;
    const std::string msg = ad::test::error_of<ad::GraphError>([&] { f.backward({.create_graph = true}); });
    CHECK(ad::test::contains(msg, "ad::Real"));
    CHECK(ad::test::contains(msg, "statement"));
    // Hessians of Real code: the same source with Value works.
    Value xv = 1.2;
    Value fv = xv * xv * xv;
    const auto g = ad::gradients(fv, {xv}, {.create_graph = true});
    g[0].backward();
    CHECK(xv.grad() == doctest::Approx(6 * 1.2));
}

TEST_CASE("NoGrad, constants and detach: nothing is recorded") {
    auto& t = ad::detail::tape();
    Real x = 2.0;
    Real k = Real::constant(3.0);
    {
        ad::NoGrad ng;
        Real y = x * x + 1.0;
        CHECK(y.is_constant());
        CHECK(y.value() == 5.0);
    }
    const std::uint32_t before = t.size;
    Real c = k * k + exp(k);
    CHECK(c.is_constant());
    CHECK(t.size == before);
    Real d = x.detach() * 2.0;
    CHECK(d.is_constant());
    x.set_requires_grad(false);
    Real e = x * k;
    CHECK(e.is_constant());
}

TEST_CASE("a statement over a released graph is a GraphError; loops rewind the statement columns") {
    Real x = 0.7;
    Real kept;
    {
        ad::GraphScope scope;
        kept = x * x;
    }
    CHECK(ad::test::contains(ad::test::error_of<ad::GraphError>([&] { Real bad = kept * 2.0; }), "released"));
    auto& t = ad::detail::tape();
    kept = x * 3.0;  // a stale handle assigned a new statement counts in the new graph
    CHECK(kept.value() == doctest::Approx(2.1));
    kept = kept * 2.0 + x;  // and an assignment from the same graph moves the handle, keeping the count
    kept = Real();
    CHECK(t.size == 0);
    for (int it = 0; it < 3; ++it) {
        Real s = 0.0;
        for (int i = 0; i < 100; ++i) s = s + sin(x * double(i)) * x;
        s.backward();
    }
    kept = Real();
    CHECK(t.size == 0);
    CHECK(t.stmt_size == 0);
}

TEST_CASE("dot and sum: a neuron is two entries; sizes are checked; empty spans give 0") {
    auto& t = ad::detail::tape();
    std::vector<Real> w{0.5, -0.25, 2.0}, x{Real::constant(1.0), Real::constant(-2.0), Real::constant(0.5)};
    Real b = 0.1;
    Real ws = w[0] + w[1] + w[2] + b;  // registers the leaves
    const std::uint32_t entries = t.size, partials = t.stmt_size;
    Real y = tanh(b + dot(w, x));
    // The three constant inputs enter the graph (a dot reads its partials from the tape), then
    // the dot (three pairs of entries, no partials stored), then the statement over b and the dot.
    CHECK(t.size == entries + 3 + 2);
    CHECK(t.op[entries + 3] == ad::detail::Op::Dot);
    CHECK(t.arg_b[entries + 3] == 6);
    CHECK(t.op[entries + 4] == ad::detail::Op::Stmt);
    CHECK(t.arg_b[entries + 4] == 2);
    CHECK(t.stmt_size - partials == 6 + 2);
    const double z = 0.1 + 0.5 * 1.0 - 0.25 * -2.0 + 2.0 * 0.5;
    CHECK(y.value() == doctest::Approx(std::tanh(z)).epsilon(1e-15));
    y.backward();
    const double d = 1.0 - std::tanh(z) * std::tanh(z);
    CHECK(w[0].grad() == doctest::Approx(d * 1.0).epsilon(1e-14));
    CHECK(w[1].grad() == doctest::Approx(d * -2.0).epsilon(1e-14));
    CHECK(w[2].grad() == doctest::Approx(d * 0.5).epsilon(1e-14));
    CHECK(b.grad() == doctest::Approx(d).epsilon(1e-14));

    // Value's dot is one entry too (its arguments' entries listed, the values read at backward).
    std::vector<Value> vx{0.5, -0.25, 2.0}, vc{Value::constant(1.0), Value::constant(-2.0), Value::constant(0.5)};
    Value vb = 0.1;
    Value vs = vx[0] + vx[1] + vx[2] + vb;
    const std::uint32_t before = t.size;
    Value vy = tanh(vb + dot(vx, vc));
    CHECK(t.size == before + 3 + 3);  // the three constants enter the graph, then dot, add, tanh
    CHECK(t.op[before + 3] == ad::detail::Op::Dot);
    CHECK(vy.value() == doctest::Approx(std::tanh(z)).epsilon(1e-15));
    vy.backward();
    CHECK(vx[1].grad() == doctest::Approx(d * -2.0).epsilon(1e-14));
    CHECK(vb.grad() == doctest::Approx(d).epsilon(1e-14));
    // The picture reaches a dot's arguments through the statement columns.
    Value p = 1.5, q = -0.5;
    p.set_label("p_leaf");
    q.set_label("q_leaf");
    const std::vector<Value> pq{p, q};
    const std::string picture = ad::to_dot(dot(pq, pq) + sum(pq));
    CHECK(ad::test::contains(picture, "p_leaf"));
    CHECK(ad::test::contains(picture, "q_leaf"));
    CHECK(ad::test::contains(picture, "dot"));

    {  // a dot's partials are read at backward: a zero partner passes 0·g, NaN for an infinite g
        std::vector<Real> wz{1.5}, zero{Real::constant(0.0)};
        Real f = dot(wz, zero) * std::numeric_limits<double>::infinity();
        f.backward();
        CHECK(std::isnan(wz[0].grad()));
        std::vector<Value> vwz{1.5}, vzero{Value::constant(0.0)};
        Value vf = dot(vwz, vzero) * std::numeric_limits<double>::infinity();
        vf.backward();
        CHECK(std::isnan(vwz[0].grad()));
    }

    std::vector<Real> two{1.0, 2.0};
    std::vector<Value> vw{1.0, 2.0, 3.0}, vtwo{1.0, 2.0};
    CHECK(ad::test::error_of<ad::ShapeError>([&] { Real r = dot(w, two); }) == "dot: x has 3 elements but y has 2");
    CHECK(ad::test::error_of<ad::ShapeError>([&] { Value r = dot(vw, vtwo); }) == "dot: x has 3 elements but y has 2");
    std::vector<Real> none;
    Real e = dot(none, none), s = sum(none);
    CHECK(e.is_constant());
    CHECK(s.is_constant());
    CHECK(e.value() == 0.0);
    CHECK(ad::sum(std::span<const Value>{}).is_constant());
    {
        ad::NoGrad off;  // nothing recorded: constants with the right values
        CHECK(dot(vx, vx).is_constant());
        CHECK(Real(dot(w, w)).is_constant());
        CHECK(ad::sum(vx).value() == doctest::Approx(2.25));
    }
    const std::uint32_t size_before = t.size;
    CHECK(dot(vc, vc).is_constant());  // no argument requires grad
    CHECK(ad::sum(vc).value() == doctest::Approx(-0.5));
    CHECK(t.size == size_before);
    Value one = ad::sum(std::span<const Value>(vw).first(1));  // a new value, not vw[0]'s handle
    CHECK_FALSE(one.is_leaf());
    CHECK(one.value() == 1.0);
}

TEST_CASE("extended Rosenbrock on Real: the exact gradient, in one entry per statement") {
    const std::size_t n = 1000;
    std::vector<Real> x;
    std::vector<double> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = 0.5 + 0.01 * double(i % 37);
    x.assign(p.begin(), p.end());
    Real s = 0.0;
    for (std::size_t i = 0; i + 1 < n; ++i) {
        Real a = x[i + 1] - x[i] * x[i];
        Real b = 1.0 - x[i];
        s = s + 100.0 * (a * a) + b * b;
    }
    s.backward();
    for (std::size_t i = 0; i < n; ++i) {
        double g = 0;
        if (i + 1 < n) g += -400.0 * p[i] * (p[i + 1] - p[i] * p[i]) - 2.0 * (1.0 - p[i]);
        if (i > 0) g += 200.0 * (p[i] - p[i - 1] * p[i - 1]);
        CHECK(x[i].grad() == doctest::Approx(g).epsilon(1e-13));
    }
}

TEST_CASE("hooks, anomaly mode and graph pictures see statements") {
    Real x = 0.0;
    Real y = sqrt(x) * 2.0;  // ∂/∂x = inf at 0
    {
        ad::AnomalyMode on;
        const std::string msg = ad::test::error_of<ad::AnomalyError>([&] { y.backward({.retain_graph = true}); });
        CHECK(ad::test::contains(msg, "statement"));
    }
    Real u = 1.5;
    Real w = u * u;
    w.register_hook([](double g) { return 10.0 * g; });
    Real out = w * 3.0;
    CHECK(ad::test::contains(ad::to_dot(out), "statement"));
    out.backward();
    CHECK(u.grad() == doctest::Approx(10.0 * 3.0 * 3.0));
}

TEST_CASE("comparisons read values and record nothing; fmt prints a Real") {
    auto& t = ad::detail::tape();
    Real x = 0.5, y = 2.0;
    Real z = x * y;
    const std::uint32_t before = t.size;
    CHECK(x < y);
    CHECK(z <= 1.0);
    CHECK(0.25 < z);
    CHECK_FALSE(x * y > 1.0);  // an expression: compared, not recorded
    CHECK(x * y >= z);
    CHECK(2 > x);
    CHECK(t.size == before);
    Value v = 3.0;
    CHECK(v > 2.5);
    CHECK(1.0 < v);
    CHECK(fmt::format("{}", x) == "Value(0.5000, grad=0.0000)");
    CHECK(fmt::format("{}", z) == "Value(1.0000)");
}
