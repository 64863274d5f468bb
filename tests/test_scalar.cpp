// Scalar Values: every op's value against <cmath>, its gradient against finite differences
// (first and second order), and the graph engine's guarantees.
#include <autodiff/autodiff.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <span>

using ad::Value;

namespace {

struct ScalarOp {
    const char* name;
    std::function<Value(const std::vector<Value>&)> f;
    std::function<double(const std::vector<double>&)> reference;
    std::vector<std::vector<double>> points;  // sample inputs (away from kinks)
};

const std::vector<ScalarOp>& scalar_ops() {
    using V = std::vector<Value>;
    using D = std::vector<double>;
    static const std::vector<ScalarOp> ops = {
        {"add", [](const V& v) { return v[0] + v[1]; }, [](const D& d) { return d[0] + d[1]; }, {{0.3, -1.2}, {2.0, 5.0}}},
        {"sub", [](const V& v) { return v[0] - v[1]; }, [](const D& d) { return d[0] - d[1]; }, {{0.3, -1.2}}},
        {"mul", [](const V& v) { return v[0] * v[1]; }, [](const D& d) { return d[0] * d[1]; }, {{0.3, -1.2}, {-2.5, 4.0}}},
        {"div", [](const V& v) { return v[0] / v[1]; }, [](const D& d) { return d[0] / d[1]; }, {{0.3, -1.2}, {2.0, 0.7}}},
        {"neg", [](const V& v) { return -v[0]; }, [](const D& d) { return -d[0]; }, {{0.3}}},
        {"add_scalar", [](const V& v) { return 2.5 + v[0] + 1.0; }, [](const D& d) { return 2.5 + d[0] + 1.0; }, {{0.3}}},
        {"sub_scalar", [](const V& v) { return (v[0] - 2.0) * (3.0 - v[0]); }, [](const D& d) { return (d[0] - 2.0) * (3.0 - d[0]); }, {{0.3}}},
        {"mul_scalar", [](const V& v) { return 3.0 * v[0] * 0.5; }, [](const D& d) { return 3.0 * d[0] * 0.5; }, {{0.3}}},
        {"div_scalar", [](const V& v) { return v[0] / 4.0 + 2.0 / v[0]; }, [](const D& d) { return d[0] / 4.0 + 2.0 / d[0]; }, {{0.3}, {-1.7}}},
        {"compound", [](const V& v) { Value y = v[0]; y += v[1]; y *= v[0]; y -= 1.0; y /= v[1]; return y; },
         [](const D& d) { return ((d[0] + d[1]) * d[0] - 1.0) / d[1]; }, {{0.3, 1.5}}},
        {"pow_scalar", [](const V& v) { return pow(v[0], 3.5); }, [](const D& d) { return std::pow(d[0], 3.5); }, {{0.7}, {2.1}}},
        {"pow_int", [](const V& v) { return pow(v[0], 3.0); }, [](const D& d) { return std::pow(d[0], 3.0); }, {{-0.7}, {2.1}}},
        {"rpow", [](const V& v) { return pow(2.0, v[0]); }, [](const D& d) { return std::pow(2.0, d[0]); }, {{0.7}, {-1.1}}},
        {"pow", [](const V& v) { return pow(v[0], v[1]); }, [](const D& d) { return std::pow(d[0], d[1]); }, {{0.7, 1.3}, {2.0, -0.5}}},
        {"exp", [](const V& v) { return exp(v[0]); }, [](const D& d) { return std::exp(d[0]); }, {{0.3}, {-2.0}}},
        {"log", [](const V& v) { return log(v[0]); }, [](const D& d) { return std::log(d[0]); }, {{0.3}, {4.0}}},
        {"log1p", [](const V& v) { return log1p(v[0]); }, [](const D& d) { return std::log1p(d[0]); }, {{0.3}, {-0.5}}},
        {"sqrt", [](const V& v) { return sqrt(v[0]); }, [](const D& d) { return std::sqrt(d[0]); }, {{0.3}, {4.0}}},
        {"sin", [](const V& v) { return sin(v[0]); }, [](const D& d) { return std::sin(d[0]); }, {{0.3}, {-2.0}}},
        {"cos", [](const V& v) { return cos(v[0]); }, [](const D& d) { return std::cos(d[0]); }, {{0.3}, {-2.0}}},
        {"tan", [](const V& v) { return tan(v[0]); }, [](const D& d) { return std::tan(d[0]); }, {{0.3}, {-1.0}}},
        {"tanh", [](const V& v) { return tanh(v[0]); }, [](const D& d) { return std::tanh(d[0]); }, {{0.3}, {-2.0}}},
        {"sigmoid", [](const V& v) { return sigmoid(v[0]); }, [](const D& d) { return 1.0 / (1.0 + std::exp(-d[0])); }, {{0.3}, {-2.0}, {5.0}}},
        {"relu", [](const V& v) { return relu(v[0]); }, [](const D& d) { return d[0] > 0 ? d[0] : 0.0; }, {{0.3}, {-2.0}}},
        {"abs", [](const V& v) { return abs(v[0]); }, [](const D& d) { return std::fabs(d[0]); }, {{0.3}, {-2.0}}},
        {"square", [](const V& v) { return square(v[0]); }, [](const D& d) { return d[0] * d[0]; }, {{0.3}, {-2.0}}},
        {"erf", [](const V& v) { return erf(v[0]); }, [](const D& d) { return std::erf(d[0]); }, {{0.3}, {-1.2}}},
        {"min", [](const V& v) { return min(v[0], v[1]); }, [](const D& d) { return std::fmin(d[0], d[1]); }, {{0.3, 1.0}, {2.0, -1.0}}},
        {"max", [](const V& v) { return max(v[0], v[1]); }, [](const D& d) { return std::fmax(d[0], d[1]); }, {{0.3, 1.0}, {2.0, -1.0}}},
        {"atan2", [](const V& v) { return atan2(v[0], v[1]); }, [](const D& d) { return std::atan2(d[0], d[1]); }, {{0.3, 1.0}, {-2.0, -1.0}}},
        {"hypot", [](const V& v) { return hypot(v[0], v[1]); }, [](const D& d) { return std::hypot(d[0], d[1]); }, {{0.3, 1.0}, {-2.0, -1.0}}},
        {"dot", [](const V& v) { return dot(std::span(v).first(3), std::span(v).last(3)); },
         [](const D& d) { return d[0] * d[3] + d[1] * d[4] + d[2] * d[5]; }, {{0.3, -1.2, 2.0, 0.7, 1.5, -0.4}}},
        {"dot with itself and a constant", [](const V& v) {
             const V x{v[0], v[1], Value::constant(2.0)};
             return dot(x, x) * v[1];
         }, [](const D& d) { return (d[0] * d[0] + d[1] * d[1] + 4.0) * d[1]; }, {{0.3, -1.2}}},
        {"neuron", [](const V& v) { return tanh(v[0] + dot(std::span(v).subspan(1, 2), std::span(v).subspan(3, 2))); },
         [](const D& d) { return std::tanh(d[0] + d[1] * d[3] + d[2] * d[4]); }, {{0.1, 0.3, -1.2, 2.0, 0.7}}},
        {"sum", [](const V& v) { return sum(v) * v[0] + sum(std::span(v).first(1)); },
         [](const D& d) { return (d[0] + d[1] + d[2]) * d[0] + d[0]; }, {{0.3, -1.2, 2.0}}},
        {"expression", [](const V& v) { return sin(v[0]) * v[1] + exp(v[0] / v[1]); },
         [](const D& d) { return std::sin(d[0]) * d[1] + std::exp(d[0] / d[1]); }, {{1.0, 2.0}}},
    };
    return ops;
}

}  // namespace

TEST_CASE("every scalar op: value matches <cmath>, gradient and Hessian match finite differences") {
    for (const ScalarOp& op : scalar_ops()) {
        for (const auto& p : op.points) {
            CAPTURE(op.name);
            std::vector<Value> v(p.begin(), p.end());
            CHECK(op.f(v).value() == doctest::Approx(op.reference(p)).epsilon(1e-15));
            const auto r1 = ad::gradcheck(op.f, p);
            CHECK_MESSAGE(r1.ok, r1.message);
            const auto r2 = ad::gradgradcheck(op.f, p);
            CHECK_MESSAGE(r2.ok, r2.message);
        }
    }
}

TEST_CASE("the README example: sin(x)*y + exp(x/y)") {
    Value x = 2.0, y = 3.0;
    auto f = sin(x) * y + exp(x / y);
    f.backward();
    CHECK(f.value() == doctest::Approx(std::sin(2.0) * 3 + std::exp(2.0 / 3)));
    CHECK(x.grad() == doctest::Approx(std::cos(2.0) * 3 + std::exp(2.0 / 3) / 3));
    CHECK(y.grad() == doctest::Approx(std::sin(2.0) - std::exp(2.0 / 3) * 2 / 9));
}

TEST_CASE("kinks use PyTorch's subgradients") {
    Value x = 0.0;
    relu(x).backward();
    CHECK(x.grad() == 0.0);
    x.zero_grad();
    abs(x).backward();
    CHECK(x.grad() == 0.0);
    Value a = 1.5, b = 1.5;
    max(a, b).backward();
    CHECK(a.grad() == 0.5);
    CHECK(b.grad() == 0.5);
    Value z = 0.0;
    pow(z, 0.0).backward();  // d x^0 = 0, not 0·inf
    CHECK(z.grad() == 0.0);
    Value base = 0.0, e = 2.0;
    pow(base, e).backward();  // ∂e of 0^e is 0 (not NaN from log 0)
    CHECK(e.grad() == 0.0);
    CHECK(base.grad() == 0.0);
}

TEST_CASE("relu keeps a NaN and passes its gradient, as PyTorch") {
    Value x = std::nan("");
    const Value y = relu(x);
    CHECK(std::isnan(y.value()));
    y.backward();
    CHECK(x.grad() == 1.0);
    Value n = -0.5;
    relu(n).backward();
    CHECK(relu(n).value() == 0.0);
    CHECK(n.grad() == 0.0);
}

TEST_CASE("domain errors follow IEEE and never throw") {
    Value x = -1.0;
    CHECK(std::isnan(log(x).value()));
    CHECK(std::isnan(sqrt(x).value()));
    Value z = 0.0;
    CHECK(std::isinf((1.0 / z).value()));
    auto f = log(z);
    CHECK(std::isinf(f.value()));
    f.backward();
    CHECK(std::isinf(z.grad()));
}

TEST_CASE("fan-out sums every path's contribution") {
    Value x = 3.0;
    auto a = x * x;        // used twice below
    auto f = a * a + a;    // x^4 + x^2
    f.backward();
    CHECK(x.grad() == doctest::Approx(4 * 27 + 2 * 3));
}

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
    Value x = 2.0;
    (x * x).backward();
    (x * 3.0).backward();
    CHECK(x.grad() == doctest::Approx(4 + 3));
    x.zero_grad();
    CHECK(x.grad() == 0.0);
    (x * 3.0).backward();
    CHECK(x.grad() == 3.0);
}

TEST_CASE("NoGrad and detach stop recording") {
    Value x = 2.0;
    {
        ad::NoGrad ng;
        auto y = x * x;
        CHECK(y.is_constant());
        CHECK_THROWS_AS(y.backward(), ad::GraphError);
    }
    auto y = x.detach() * x;  // only the second factor is tracked
    y.backward();
    CHECK(x.grad() == 2.0);
    Value c = Value::constant(5.0);
    CHECK_FALSE(c.requires_grad());
    Value w = 1.0;
    w.set_requires_grad(false);
    CHECK((w * 2.0).is_constant());
}

TEST_CASE("a leaf that dies while its graph lives: kept by the tape until the graph is released") {
    auto& t = ad::detail::tape();
    Value w = 2.0;
    Value y, z;
    bool hook_ran = false;
    {
        Value x = 3.0;
        x.set_label("dead-leaf-x");
        x.register_hook([&](double g) {
            hook_ran = true;
            return g;
        });
        y = x * w;
        x.set_value(5.0);  // the next use registers x afresh: two entries point to it
        z = y + x * w;     // 3w + 5w
    }  // x dies here, after set_value (this read out of bounds before the tape kept dead leaves)
    CHECK(t.orphans.size() == 1);
    CHECK(ad::to_dot(z).find("dead-leaf-x") == std::string::npos);  // a dead leaf shows no label
    z.backward();
    CHECK(w.grad() == 8.0);
    CHECK(!hook_ran);  // a dead leaf's hooks went with it
    y = Value();
    z = Value();
    CHECK(t.size == 0u);  // released: the dead leaf is freed (ASan and valgrind see it)
    CHECK(t.orphans.empty());
}

TEST_CASE("a dead leaf under backward(create_graph): no gradient graph is kept for it") {
    auto& t = ad::detail::tape();
    Value w = 2.0;
    {
        Value f;
        {
            Value x = 3.0;
            f = x * x * w;
        }
        f.backward({.create_graph = true});
        CHECK(w.grad() == 9.0);
        CHECK(w.grad_value().value() == 9.0);
    }
    w.zero_grad();  // drops w's gradient graph: the last handle into the graph
    CHECK(t.size == 0u);
    CHECK(t.orphans.empty());
}

TEST_CASE("a chain of 10^7 dependent operations records, differentiates and frees without recursion") {
    Value x = 0.5;
    {
        Value y = x;
        for (int i = 0; i < 10'000'000; ++i) y = y * 0.9999999 + 1e-8;
        y.backward();
        CHECK(x.grad() == doctest::Approx(std::pow(0.9999999, 1e7)).epsilon(1e-9));
        CHECK(ad::detail::tape().size > 10'000'000u);
    }
    CHECK(ad::detail::tape().size == 0u);  // released when the last handle died
}

TEST_CASE("the tape rewinds after each iteration of a plain loop") {
    Value x = 1.5, y = -0.5;
    std::uint32_t high = 0;
    for (int i = 0; i < 100'000; ++i) {
        auto f = sin(x) * y + exp(x / (y * y + 1.0));
        f.backward();
        high = std::max(high, ad::detail::tape().size);
        x.zero_grad();
        y.zero_grad();
    }
    CHECK(ad::detail::tape().size == 0u);
    CHECK(high < 20u);  // one iteration's worth of entries, never more
}

TEST_CASE("backward twice through a released graph is a GraphError; retain_graph allows it") {
    Value x = 2.0;
    auto y = x * x;
    y.backward();
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("second time"), ad::GraphError);
    Value a = 3.0;
    auto z = a * a;
    z.backward({.retain_graph = true});
    z.backward();
    CHECK(a.grad() == 12.0);
}

TEST_CASE("a handle whose graph was released by a GraphScope throws a clear GraphError") {
    Value x = 1.0;
    Value kept;
    {
        ad::GraphScope scope;
        kept = x * 2.0;
    }
    CHECK(kept.value() == 2.0);  // the number is still readable
    CHECK_THROWS_WITH_AS(kept.backward(), doctest::Contains("released"), ad::GraphError);
    CHECK_THROWS_AS(kept + 1.0, ad::GraphError);
}

TEST_CASE("grad() of a non-leaf is an error with a helpful message") {
    Value x = 1.0;
    auto y = x * 2.0;
    CHECK_THROWS_WITH_AS((void)y.grad(), doctest::Contains("only leaves"), ad::GraphError);
    auto g = ad::gradients(y * y, {y});
    CHECK(g[0].value() == 4.0);
}

TEST_CASE("higher-order: create_graph gives differentiable gradients to any order") {
    Value x = 0.7;
    auto f = sin(x) * x * x;  // f = x² sin x
    auto g1 = ad::gradients(f, {x}, {.create_graph = true})[0];
    auto g2 = ad::gradients(g1, {x}, {.create_graph = true})[0];
    auto g3 = ad::gradients(g2, {x}, {.create_graph = true})[0];
    const double s = std::sin(0.7), c = std::cos(0.7), xv = 0.7;
    CHECK(g1.value() == doctest::Approx(2 * xv * s + xv * xv * c));
    CHECK(g2.value() == doctest::Approx(2 * s + 4 * xv * c - xv * xv * s));
    CHECK(g3.value() == doctest::Approx(6 * c - 6 * xv * s - xv * xv * c));
    Value y = 1.3;
    auto h = x * x * y;
    h.backward({.create_graph = true});
    auto gx = x.grad_value();  // 2xy
    auto hxy = ad::gradients(gx, {y})[0];
    CHECK(hxy.value() == doctest::Approx(2 * 0.7));
}

TEST_CASE("hooks see and can change a gradient") {
    Value x = 2.0;
    double seen = 0;
    x.register_hook([&](double g) {
        seen = g;
        return 2 * g;
    });
    (x * 3.0).backward();
    CHECK(seen == 3.0);
    CHECK(x.grad() == 6.0);
    Value a = 1.0;
    auto m = a * 5.0;
    m.register_hook([](double g) { return g * 10.0; });
    (m * 1.0).backward();
    CHECK(a.grad() == 50.0);
    // hooks on Values work in a plain backward too (they get a constant, nothing is recorded)
    Value b = 3.0;
    b.register_hook([](const Value& g) { return g * 2.0 + 1.0; });
    auto n = b * 4.0;
    n.register_hook([](const Value& g) { return -g; });
    auto root = n * 1.0;
    const auto recorded = ad::detail::tape().size;
    root.backward();
    CHECK(b.grad() == -4.0 * 2.0 + 1.0);
    CHECK(ad::detail::tape().size == recorded);  // the hooks recorded nothing
    CHECK_THROWS_AS(b.register_hook(std::function<double(double)>()), ad::ValueError);
}

TEST_CASE("anomaly mode names the op that produced a non-finite gradient") {
    ad::AnomalyMode on;
    Value x = 0.0;
    auto y = sqrt(x);
    y.set_label("root");
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("sqrt"), ad::AnomalyError);
    Value z = 0.0;
    auto w = sqrt(z).set_label("my_sqrt");
    auto s = w * 1.0;
    CHECK_THROWS_WITH_AS(s.backward(), doctest::Contains("my_sqrt"), ad::AnomalyError);
}

TEST_CASE("fmt prints a Value") {
    Value x = 2.0;
    (x * x).backward();
    CHECK(fmt::format("{}", x) == "Value(2.0000, grad=4.0000)");
}
