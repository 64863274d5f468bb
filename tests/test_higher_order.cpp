// Higher-order derivatives: gradients of gradients (create_graph) to 3rd and 4th order on scalars
// and tensors, differentiable .grad() after backward(create_graph), and deep graphs.
#include <autodiff/autodiff.hpp>
#include <autodiff/functional.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

using ad::Tensor;
using ad::Value;
using Vec = std::vector<double>;

namespace {

// f', f'', ... f^(order) at x0 by repeated create_graph gradients of a scalar function.
Vec scalar_derivatives(const std::function<Value(const Value&)>& f, double x0, int order) {
    Value x = x0;
    Value g = f(x);
    Vec d;
    for (int k = 0; k < order; ++k) {
        g = ad::gradients(g, {x}, {.create_graph = true})[0];
        d.push_back(g.value());
    }
    return d;
}

// The same for an elementwise tensor function: the k-th derivative of each element, from the
// gradient of Σ g_{k−1}(x) (elementwise, so that is the next derivative of each element).
std::vector<Vec> tensor_derivatives(const std::function<Tensor(const Tensor&)>& f, const Vec& x0, int order) {
    Tensor x = Tensor::from_data(std::span<const double>(x0), ad::Shape{static_cast<std::int64_t>(x0.size())});
    x.requires_grad_();
    Tensor g = f(x);
    std::vector<Vec> d;
    for (int k = 0; k < order; ++k) {
        g = ad::gradients(ad::sum(g), {x}, {}, {.create_graph = true})[0];
        d.push_back(g.to_vector());
    }
    return d;
}

struct Closed {
    const char* name;
    std::function<Value(const Value&)> scalar;
    std::function<Tensor(const Tensor&)> tensor;
    std::function<Vec(double)> derivatives;  // f', f'', f''', f''''
    Vec points;
};

const std::vector<Closed>& closed_forms() {
    static const std::vector<Closed> table = {
        {"exp", [](const Value& x) { return exp(x); }, [](const Tensor& x) { return ad::exp(x); },
         [](double x) { return Vec(4, std::exp(x)); }, {-0.7, 0.4, 1.3}},
        {"sin", [](const Value& x) { return sin(x); }, [](const Tensor& x) { return ad::sin(x); },
         [](double x) { return Vec{std::cos(x), -std::sin(x), -std::cos(x), std::sin(x)}; }, {-0.7, 0.4, 2.3}},
        {"cos", [](const Value& x) { return cos(x); }, [](const Tensor& x) { return ad::cos(x); },
         [](double x) { return Vec{-std::sin(x), -std::cos(x), std::sin(x), std::cos(x)}; }, {-0.7, 0.4, 2.3}},
        {"log", [](const Value& x) { return log(x); }, [](const Tensor& x) { return ad::log(x); },
         [](double x) { return Vec{1 / x, -1 / (x * x), 2 / (x * x * x), -6 / (x * x * x * x)}; }, {0.5, 1.7}},
        {"sqrt", [](const Value& x) { return sqrt(x); }, [](const Tensor& x) { return ad::sqrt(x); },
         [](double x) {
             return Vec{0.5 * std::pow(x, -0.5), -0.25 * std::pow(x, -1.5), 0.375 * std::pow(x, -2.5),
                        -0.9375 * std::pow(x, -3.5)};
         },
         {0.5, 2.0}},
        {"pow 3.5", [](const Value& x) { return pow(x, 3.5); }, [](const Tensor& x) { return ad::pow(x, 3.5); },
         [](double x) {
             return Vec{3.5 * std::pow(x, 2.5), 8.75 * std::pow(x, 1.5), 13.125 * std::pow(x, 0.5),
                        6.5625 * std::pow(x, -0.5)};
         },
         {0.6, 1.9}},
        {"tanh", [](const Value& x) { return tanh(x); }, [](const Tensor& x) { return ad::tanh(x); },
         [](double x) {
             const double t = std::tanh(x), s = 1 - t * t;
             return Vec{s, -2 * t * s, s * (6 * t * t - 2), t * s * (16 - 24 * t * t)};
         },
         {-0.9, 0.3, 1.1}},
        {"reciprocal", [](const Value& x) { return 1.0 / x; }, [](const Tensor& x) { return 1.0 / x; },
         [](double x) { return Vec{-1 / (x * x), 2 / std::pow(x, 3), -6 / std::pow(x, 4), 24 / std::pow(x, 5)}; },
         {-1.3, 0.8}},
        {"x*x*x", [](const Value& x) { return x * x * x; }, [](const Tensor& x) { return x * x * x; },
         [](double x) { return Vec{3 * x * x, 6 * x, 6, 0}; }, {-1.3, 0.8}},
        {"sigmoid", [](const Value& x) { return sigmoid(x); }, [](const Tensor& x) { return ad::sigmoid(x); },
         [](double x) {
             const double s = 1 / (1 + std::exp(-x));
             return Vec{s * (1 - s), s * (1 - s) * (1 - 2 * s), s * (1 - s) * (1 - 6 * s + 6 * s * s),
                        s * (1 - s) * (1 - 2 * s) * (1 - 12 * s + 12 * s * s)};
         },
         {-1.2, 0.5}},
    };
    return table;
}

void check_close(const Vec& a, const Vec& b, double tol) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(tol).scale(1.0));
}

}  // namespace

TEST_CASE("higher order: scalar derivatives to 4th order match closed forms") {
    for (const Closed& c : closed_forms()) {
        for (double x : c.points) {
            CAPTURE(c.name);
            CAPTURE(x);
            check_close(scalar_derivatives(c.scalar, x, 4), c.derivatives(x), 1e-12);
        }
    }
}

TEST_CASE("higher order: tensor derivatives to 4th order match closed forms") {
    for (const Closed& c : closed_forms()) {
        CAPTURE(c.name);
        const std::vector<Vec> d = tensor_derivatives(c.tensor, c.points, 4);
        for (std::size_t k = 0; k < 4; ++k) {
            Vec expected;
            for (double x : c.points) expected.push_back(c.derivatives(x)[k]);
            CAPTURE(k + 1);
            check_close(d[k], expected, 1e-12);
        }
    }
}

TEST_CASE("higher order: mixed partials of binary ops") {
    Value x = 1.3, y = -0.7;
    // f = x² y³: ∂x∂y = 6 x y², ∂x∂x∂y = 6 y², ∂x∂x∂y∂y = 12 y.
    Value f = x * x * y * y * y;
    Value fx = ad::gradients(f, {x}, {.create_graph = true})[0];
    Value fxy = ad::gradients(fx, {y}, {.create_graph = true})[0];
    CHECK(fxy.value() == doctest::Approx(6 * 1.3 * 0.49));
    Value fxyx = ad::gradients(fxy, {x}, {.create_graph = true})[0];
    CHECK(fxyx.value() == doctest::Approx(6 * 0.49));
    Value fxyxy = ad::gradients(fxyx, {y}, {.create_graph = true})[0];
    CHECK(fxyxy.value() == doctest::Approx(12 * -0.7));
    // g = x / y: ∂y∂y∂x = 2 / y³ ... and atan2/hypot third derivatives against finite differences
    // of the analytic second derivative.
    Value g = x / y;
    Value gy = ad::gradients(g, {y}, {.create_graph = true})[0];
    Value gyy = ad::gradients(gy, {y}, {.create_graph = true})[0];
    Value gyyx = ad::gradients(gyy, {x}, {.create_graph = true})[0];
    CHECK(gyy.value() == doctest::Approx(2 * 1.3 / std::pow(-0.7, 3)));
    CHECK(gyyx.value() == doctest::Approx(2 / std::pow(-0.7, 3)));
    for (const auto& h : std::vector<ad::ScalarFunction>{
             [](const std::vector<Value>& v) { return atan2(v[0], v[1]); },
             [](const std::vector<Value>& v) { return hypot(v[0], v[1]) * pow(v[0], v[1]); },
         }) {
        CHECK(ad::gradgradcheck(h, {1.3, 0.7}).ok);
    }
}

TEST_CASE("higher order: third and fourth directional derivatives of logsumexp are its cumulants") {
    // d^k/dt^k lse(x + t v) at t = 0 is the k-th cumulant of v under p = softmax(x).
    const Vec x0 = {0.3, -1.1, 0.8, 2.0}, v0 = {1.0, -0.5, 2.0, 0.25};
    Vec p;
    double z = 0;
    for (double xi : x0) z += std::exp(xi);
    for (double xi : x0) p.push_back(std::exp(xi) / z);
    double mean = 0, m2 = 0, m3 = 0, m4 = 0;
    for (std::size_t i = 0; i < 4; ++i) mean += p[i] * v0[i];
    for (std::size_t i = 0; i < 4; ++i) {
        const double c = v0[i] - mean;
        m2 += p[i] * c * c;
        m3 += p[i] * c * c * c;
        m4 += p[i] * c * c * c * c;
    }
    const Vec cumulants = {mean, m2, m3, m4 - 3 * m2 * m2};

    Tensor x = Tensor(std::initializer_list<double>{0.3, -1.1, 0.8, 2.0}).requires_grad_();
    const Tensor v({1.0, -0.5, 2.0, 0.25});
    Tensor s = ad::logsumexp(x);
    Vec got;
    for (int k = 0; k < 4; ++k) {
        Tensor g = ad::gradients(s, {x}, {}, {.create_graph = true})[0];
        s = ad::sum(g * v);
        got.push_back(s.item());
    }
    check_close(got, cumulants, 1e-12);
}

TEST_CASE("higher order: second derivatives of tensor ops pass gradgradcheck") {
    const Tensor A = Tensor::randn({3, 4}, ad::f64, 1), B = Tensor::randn({4, 2}, ad::f64, 2);
    const Tensor pos = Tensor::uniform({3, 4}, 0.5, 2.0, ad::f64, 3);
    const std::vector<std::pair<const char*, ad::TensorFunction>> fs = {
        {"matmul tanh", [](const std::vector<Tensor>& in) { return ad::tanh(ad::matmul(in[0], in[1])); }},
        {"softmax", [](const std::vector<Tensor>& in) { return ad::softmax(ad::matmul(in[0], in[1]), 1); }},
        {"log_softmax", [](const std::vector<Tensor>& in) { return ad::log_softmax(in[0], 0); }},
        {"div", [](const std::vector<Tensor>& in) { return ad::matmul(in[0], in[1]) / (ad::sum(in[1] * in[1]) + 1.0); }},
        {"var", [](const std::vector<Tensor>& in) { return ad::var(ad::matmul(in[0], in[1]), ad::Axes::all(), false, 0); }},
    };
    for (const auto& entry : fs) {
        const char* name = entry.first;
        CAPTURE(name);
        const auto r = ad::gradgradcheck(entry.second, {A, B});
        INFO(r.message);
        CHECK(r.ok);
    }
    const auto r = ad::gradgradcheck([](const std::vector<Tensor>& in) { return ad::sqrt(in[0]) * ad::log(in[0]); }, {pos});
    INFO(r.message);
    CHECK(r.ok);
}

TEST_CASE("higher order: through the Value ↔ Tensor bridges") {
    // y = Σ_k e^{k x} for k = 1, 2, 3, computed in the tensor world: y^(n) = Σ k^n e^{k x}.
    auto f = [](const Value& x) {
        const Tensor k({1.0, 2.0, 3.0});
        return ad::item_value(ad::sum(ad::exp(ad::tensor_from_value(x, ad::f64) * k)));
    };
    const double x0 = 0.3;
    Vec expected;
    for (int n = 1; n <= 3; ++n) {
        double s = 0;
        for (int k = 1; k <= 3; ++k) s += std::pow(k, n) * std::exp(k * x0);
        expected.push_back(s);
    }
    check_close(scalar_derivatives(f, x0, 3), expected, 1e-12);
}

TEST_CASE("higher order: backward(create_graph) leaves differentiable gradients in the leaves") {
    Value x = 1.5, y = -2.0;
    Value f = x * x * x * y;
    f.backward({.create_graph = true});
    CHECK(x.grad() == doctest::Approx(3 * 2.25 * -2.0));
    Value gx = x.grad_value();
    CHECK(gx.requires_grad());
    CHECK(gx.value() == doctest::Approx(x.grad()));
    x.zero_grad();
    y.zero_grad();
    gx.backward();  // ∂(3x²y)/∂x = 6xy, ∂/∂y = 3x²
    CHECK(x.grad() == doctest::Approx(6 * 1.5 * -2.0));
    CHECK(y.grad() == doctest::Approx(3 * 2.25));

    Tensor t = Tensor(std::initializer_list<double>{0.5, -1.0, 2.0}).requires_grad_();
    Tensor L = ad::sum(ad::pow(t, 3.0));
    L.backward({.create_graph = true});
    Tensor g = t.grad();  // 3t², differentiable
    CHECK(g.requires_grad());
    CHECK(g.to_vector() == Vec{0.75, 3.0, 12.0});
    t.zero_grad();
    ad::sum(g * g).backward();  // ∂Σ 9t⁴ = 36 t³
    check_close(t.grad().to_vector(), {36 * 0.125, -36.0, 36 * 8.0}, 1e-12);
}

TEST_CASE("higher order: a hook on Values is differentiated through, also where the gradient is 0") {
    // f = x²y with a hook doubling x's gradient: x.grad = 2·2xy = 4xy; ∂/∂x = 4y, ∂/∂y = 4x.
    // At x = 0 the gradient is 0 (the old rescaling g·(hook(g)/g) gave NaN there).
    for (const double x0 : {0.8, 0.0, -1.25}) {
        CAPTURE(x0);
        Value x = x0, y = 1.5;
        x.register_hook([](const Value& g) { return g * 2.0; });
        Value f = x * x * y;
        f.backward({.create_graph = true});
        const Value gx = x.grad_value();
        CHECK(gx.value() == doctest::Approx(4 * x0 * 1.5));
        CHECK(x.grad() == doctest::Approx(4 * x0 * 1.5));
        const auto h = ad::gradients(gx, {x, y});
        CHECK(h[0].value() == doctest::Approx(4 * 1.5));
        CHECK(h[1].value() == doctest::Approx(4 * x0));
        CHECK(y.grad_value().value() == doctest::Approx(x0 * x0));  // no hook on y
    }
    // An interior hook: m = x², f = m·y, hook doubles m's gradient y → 2y; ∂f/∂x = 2y·2x = 4xy,
    // whose derivatives are 4y (x) and 4x (y). At y = 0, m's gradient is 0.
    for (const double y0 : {0.0, 1.5}) {
        CAPTURE(y0);
        Value x = 0.7, y = y0;
        Value m = x * x;
        m.register_hook([](const Value& g) { return g * 2.0; });
        (m * y).backward({.create_graph = true});
        const Value gx = x.grad_value();
        CHECK(gx.value() == doctest::Approx(4 * 0.7 * y0));
        const auto h = ad::gradients(gx, {x, y});
        CHECK(h[0].value() == doctest::Approx(4 * y0));
        CHECK(h[1].value() == doctest::Approx(4 * 0.7));
    }
    // As in PyTorch, a hook on an interior value runs whenever a gradient flows through it, so
    // also in the sweep that differentiates the gradient: m = xy, f = m², hooked ∂f/∂m = 2·2m,
    // gx = 4my; differentiating gx passes through m again (its gradient 4y is doubled to 8y):
    // ∂gx/∂x = 8y·y = 32 at y = −2, ∂gx/∂y = 4m + 8y·x = 12xy. At x = 0 m's gradient is 0.
    for (const double x0 : {0.0, 0.7}) {
        CAPTURE(x0);
        Value x = x0, y = -2.0;
        Value m = x * y;
        m.register_hook([](const Value& g) { return g * 2.0; });
        (m * m).backward({.create_graph = true});
        const Value gx = x.grad_value();
        CHECK(gx.value() == doctest::Approx(4 * x0 * 4.0));
        const auto h = ad::gradients(gx, {x, y});
        CHECK(h[0].value() == doctest::Approx(8 * 4.0));
        CHECK(h[1].value() == doctest::Approx(12 * x0 * -2.0));
    }
    // The hook's own operations are recorded: a hook that scales by a leaf w gives ∂(x.grad)/∂w.
    {
        Value x = 0.5, w = 3.0;
        Value m = sin(x);
        m.register_hook([w](const Value& g) { return g * w; });
        (m * 1.0).backward({.create_graph = true});
        const Value gx = x.grad_value();  // w·cos x
        CHECK(gx.value() == doctest::Approx(3.0 * std::cos(0.5)));
        const auto h = ad::gradients(gx, {x, w});
        CHECK(h[0].value() == doctest::Approx(-3.0 * std::sin(0.5)));
        CHECK(h[1].value() == doctest::Approx(std::cos(0.5)));
    }
    // ad::gradients(create_graph) runs interior hooks the same way
    {
        Value x = 0.0, y = 1.5;
        Value m = x * x * y;
        m.register_hook([](const Value& g) { return g * 2.0; });
        const Value gx = ad::gradients(m * 1.0, {x}, {.create_graph = true})[0];  // 2·2xy
        CHECK(gx.value() == 0.0);
        CHECK(ad::gradients(gx, {x})[0].value() == doctest::Approx(4 * 1.5));
    }
}

TEST_CASE("higher order: a hook on numbers under create_graph is a GraphError pointing to hooks on Values") {
    // The old rescaling g·(hook(g)/g) assumed a linear hook and gave NaN at g = 0; a number
    // cannot carry the graph, so such a hook is refused under create_graph (even at g = 0, where
    // a doubling hook returns its argument unchanged).
    for (const double a0 : {0.0, 0.8}) {
        CAPTURE(a0);
        Value a = a0, b = 2.0;
        a.set_label("a");
        a.register_hook([](double g) { return 2 * g; });
        try {
            (a * a * b).backward({.create_graph = true});
            FAIL("expected a GraphError");
        } catch (const ad::GraphError& e) {
            const std::string msg = e.what();
            CHECK(msg.find("'a'") != std::string::npos);
            CHECK(msg.find("const ad::Value&") != std::string::npos);
        }
        // without create_graph the same hook is fine
        a.zero_grad();
        (a * b).backward();
        CHECK(a.grad() == 4.0);
    }
    Value x = 1.0;
    Value m = exp(x);
    m.register_hook([](double g) { return g; });
    CHECK_THROWS_AS((m * 1.0).backward({.create_graph = true}), ad::GraphError);
}

TEST_CASE("higher order: a tensor hook is differentiated through under create_graph") {
    Tensor x = Tensor(std::initializer_list<double>{0.0, 0.5, -1.0}).requires_grad_();
    x.register_hook([](const Tensor& g) { return g * 2.0; });
    ad::sum(ad::pow(x, 3.0)).backward({.create_graph = true});
    const Tensor g = x.grad();  // 2·3x²
    CHECK(g.to_vector() == Vec{0.0, 1.5, 6.0});
    const Tensor gg = ad::gradients(ad::sum(g), {x})[0];  // 12x
    check_close(gg.to_vector(), {0.0, 6.0, -12.0}, 1e-12);
}

TEST_CASE("higher order: gradient of the gradient of a 10^6-node chain, no recursion") {
    // y_{k+1} = y_k + c sin(y_k): 3 tape entries per step. Forward-mode recurrence for reference:
    // y' ← h'(y) y', y'' ← h''(y) y'² + h'(y) y'' with h' = 1 + c cos y, h'' = −c sin y.
    constexpr int steps = 333'334;
    constexpr double c = 1e-6;
    double yr = 0.4, d1 = 1.0, d2 = 0.0;
    for (int k = 0; k < steps; ++k) {
        const double h1 = 1 + c * std::cos(yr), h2 = -c * std::sin(yr);
        d2 = h2 * d1 * d1 + h1 * d2;
        d1 = h1 * d1;
        yr = yr + c * std::sin(yr);
    }
    Value x = 0.4;
    Value y = x;
    for (int k = 0; k < steps; ++k) y = y + sin(y) * c;
    CHECK(ad::detail::tape().size >= 1'000'000u);
    CHECK(y.value() == doctest::Approx(yr).epsilon(1e-12));
    Value g = ad::gradients(y, {x}, {.create_graph = true})[0];
    CHECK(g.value() == doctest::Approx(d1).epsilon(1e-10));
    Value h = ad::gradients(g, {x})[0];
    CHECK(h.value() == doctest::Approx(d2).epsilon(1e-8));
    CHECK(h.value() != 0.0);
}
