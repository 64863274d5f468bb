// The README's tour, compiled and checked: if an example in the README stops being true, this
// fails. (Keep the two in step: each test case names the README section it mirrors.)
#include "test_util.hpp"

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

#include <doctest/doctest.h>

#include <cmath>

using ad::Tensor;
namespace nn = ad::nn;

TEST_CASE("README: Scalars: record, backward, check") {
    ad::Value x = 1.0, y = 2.0;
    ad::Value f = sin(x) * y + exp(x / y);
    f.backward();
    CHECK(f.value() == doctest::Approx(3.3316632403));
    CHECK(x.grad() == doctest::Approx(1.9049652471));
    CHECK(y.grad() == doctest::Approx(0.4292906671));
    auto report = ad::gradcheck(
        [](const std::vector<ad::Value>& v) { return sin(v[0]) * v[1] + exp(v[0] / v[1]); }, {1.0, 2.0});
    CHECK(report.ok);
    CHECK(ad::to_dot(f).find("digraph") != std::string::npos);
}

TEST_CASE("README: Scalars recorded per statement: ad::Real") {
    auto& t = ad::detail::tape();
    ad::Real x = 1.0, y = 2.0;
    const std::uint32_t before = t.size;
    ad::Real f = sin(x) * y + exp(x / y);
    CHECK(t.size == before + 3);  // the two leaves' registrations and ONE statement
    ad::Value g = exp(f) * x;
    const auto dg = ad::gradients(g, {x}, {.retain_graph = true});
    CHECK(dg[0].value() == doctest::Approx(std::exp(f.value()) * (1.9049652471 * 1.0 + 1.0)));
    f.backward();
    CHECK(x.grad() == doctest::Approx(1.9049652471));
    CHECK(y.grad() == doctest::Approx(0.4292906671));
}

namespace {
template <class T>
T readme_rosenbrock(const std::vector<T>& x) {
    T s = 0.0;
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
        T a = x[i + 1] - x[i] * x[i];
        T b = 1.0 - x[i];
        s = s + 100.0 * (a * a) + b * b;
    }
    return s;
}
}  // namespace

TEST_CASE("README: The gradient at a point, fastest: ad::Active") {
    const std::vector<double> x{-1.2, 1.0, 0.5};
    auto [f, g] = ad::value_and_grad(readme_rosenbrock<ad::Active>, x);
    CHECK(f == readme_rosenbrock(x));
    const auto [fv, gv] = ad::value_and_grad(readme_rosenbrock<ad::Value>, x);
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(g[i] == doctest::Approx(gv[i]).epsilon(1e-14));
    ad::ActiveTape tape;
    std::vector<ad::Active> v = tape.begin({1.0, 2.0});
    ad::Active y = sin(v[0]) * v[1] + exp(v[0] / v[1]);
    CHECK(tape.statements() == 1);
    tape.end();
    std::vector<double> dy = tape.gradient(y);
    CHECK(dy[0] == doctest::Approx(1.9049652471));
    CHECK(dy[1] == doctest::Approx(0.4292906671));
    CHECK_FALSE(ad::Active(2.0).is_active());
    const ad::Active late = v[0] * 2.0;  // the recording has ended: its value, no gradient
    CHECK(late.value() == 2.0);
    CHECK(ad::test::contains(ad::test::error_of<ad::GraphError>([&] { (void)tape.gradient(late); }),
                             "outside any recording"));
    // A capped tape: past its arguments a statement's result is poisoned; the recording stays intact.
    ad::ActiveTape capped(1'000'000);
    auto c = capped.begin({1.0});
    ad::Active z = c[0];
    for (int k = 0; k < 1'000'000; ++k) z = z * 1.0000001;
    const ad::Active over = z * 2.0;
    capped.end();
    const auto msg = ad::test::error_of<ad::GraphError>([&] { (void)capped.gradient(over); });
    CHECK(ad::test::contains(msg, "at most 1000000 arguments"));
    CHECK(capped.gradient(z)[0] == doctest::Approx(std::pow(1.0000001, 1'000'000)).epsilon(1e-9));
}

TEST_CASE("README: Scalars recorded per statement: dot and sum") {
    auto& t = ad::detail::tape();
    std::vector<ad::Real> w{0.5, -0.25}, a{ad::Real::constant(1.0), ad::Real::constant(-2.0)};
    ad::Real b = 0.1;
    const std::uint32_t before = t.size;
    ad::Real z = tanh(b + ad::dot(w, a));
    // The weights and constant inputs entered, the dot, then b registered and ONE statement
    CHECK(t.size == before + 4 + 1 + 2);
    CHECK(t.op[before + 4] == ad::detail::Op::Dot);
    CHECK(t.op[t.size - 1] == ad::detail::Op::Stmt);
    CHECK(z.value() == doctest::Approx(std::tanh(0.1 + 0.5 + 0.5)));
    std::vector<ad::Value> v{1.0, 2.0, 3.0};
    ad::Value s = ad::sum(v) * ad::dot(v, v);
    CHECK(s.value() == doctest::Approx(6.0 * 14.0));
    const auto h = ad::hessian([](const std::vector<ad::Value>& x) { return ad::sum(x) * ad::dot(x, x); }, {1.0, 2.0, 3.0});
    // ∂²/∂x_i∂x_j of (Σx)(x·x) = 2x_i + 2x_j + 2(Σx)δ_ij
    CHECK(h[0][0] == doctest::Approx(2.0 + 2.0 + 12.0));
    CHECK(h[0][2] == doctest::Approx(2.0 + 6.0));
}

TEST_CASE("README: Scalars recorded per statement: value_and_grad of a function over Reals") {
    auto rosen = [](const std::vector<ad::Real>& v) {
        ad::Real s = ad::Real::constant(0.0);
        for (std::size_t i = 0; i + 1 < v.size(); ++i) s = s + 100.0 * square(v[i + 1] - square(v[i])) + square(1.0 - v[i]);
        return s;
    };
    const std::vector<double> x{-1.2, 1.0, 0.5};
    auto [f, g] = ad::value_and_grad(rosen, x);
    CHECK(f == doctest::Approx(49.2));  // 100·0.44² + 2.2² + 100·0.5²
    CHECK(g[0] == doctest::Approx(-400.0 * -1.2 * (1.0 - 1.44) - 2.0 * 2.2));
    CHECK(g[2] == doctest::Approx(200.0 * (0.5 - 1.0)));
    CHECK(ad::detail::tape().size == 0);
}

TEST_CASE("README: Tensors: the same graph, n-dimensional") {
    Tensor W = Tensor::randn({3, 4}, ad::f64, /*seed=*/1).requires_grad_();
    Tensor x = Tensor{{1.0, 2.0, 3.0, 4.0}};
    Tensor b = Tensor::zeros({3}, ad::f64).requires_grad_();
    Tensor y = ad::tanh(ad::matmul(x, W.t()) + b);
    Tensor loss = y.sum() * 0.5;
    loss.backward();
    CHECK(W.grad().shape() == ad::Shape{3, 4});
    // ∂/∂W_ij = ½ (1 − y_i²) x_j
    const Tensor yv = y.detach();
    for (std::int64_t i = 0; i < 3; ++i)
        for (std::int64_t j = 0; j < 4; ++j)
            CHECK(W.grad().at({i, j}) == doctest::Approx(0.5 * (1 - yv.at({0, i}) * yv.at({0, i})) * x.at({0, j})));
    CHECK(fmt::format("{}", W.grad()).rfind("tensor(", 0) == 0);
}

TEST_CASE("README: Higher order and the functional API") {
    ad::Value x = 0.7;
    ad::Value y = x * x * x;
    auto dy = ad::gradients(y, {x}, {.create_graph = true});
    CHECK(dy[0].value() == doctest::Approx(3 * 0.49));
    auto d2y = ad::gradients(dy[0], {x});
    CHECK(d2y[0].value() == doctest::Approx(6 * 0.7));

    auto rosen = [](const std::vector<ad::Value>& v) { return 100.0 * pow(v[1] - v[0] * v[0], 2) + pow(1 - v[0], 2); };
    const std::vector<double> g = ad::grad(rosen, {-1.2, 1.0});
    CHECK(g[0] == doctest::Approx(-215.6));
    CHECK(g[1] == doctest::Approx(-88.0));
    const auto H = ad::hessian(rosen, {-1.2, 1.0});
    CHECK(H[0][0] == doctest::Approx(1330.0));  // 1200x² − 400y + 2
    CHECK(H[0][1] == doctest::Approx(480.0));   // −400x
    CHECK(H[1][1] == doctest::Approx(200.0));
    const auto Hv = ad::hvp(rosen, {-1.2, 1.0}, {1.0, 0.0});
    CHECK(Hv[0] == doctest::Approx(1330.0));
    CHECK(Hv[1] == doctest::Approx(480.0));
}

TEST_CASE("README: Custom ops and hooks") {
    Tensor x = Tensor::randn({2, 3}, ad::f64, 4).requires_grad_();
    auto swish = [](const Tensor& in) {
        return ad::custom_op("swish", {in},
            [](const std::vector<Tensor>& v) { return v[0] * ad::sigmoid(v[0]); },
            [](ad::CustomContext& ctx, const Tensor& g) -> std::vector<Tensor> {
                Tensor s = ad::sigmoid(ctx.input(0));
                return {g * (s + ctx.input(0) * s * (1.0 - s))};
            });
    };
    CHECK(ad::gradcheck([&](const std::vector<Tensor>& in) { return swish(in[0]); }, {x}).ok);

    Tensor h = ad::tanh(x);
    h.register_hook([](const Tensor& g) { return g * 0.5; });
    h.sum().backward();
    const Tensor hv = h.detach();
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 3; ++j) CHECK(x.grad().at({i, j}) == doctest::Approx(0.5 * (1 - hv.at({i, j}) * hv.at({i, j}))));
}

TEST_CASE("README: The nn library") {
    auto model = nn::MLP({784, 256, 128, 10}, nn::Activation::ReLU, {.seed = 0});
    CHECK(model->parameter_count() == 235146);
    CHECK(fmt::format("{}", *model).rfind("Sequential(\n  (0): Linear(in_features=784, out_features=256, bias=True)", 0) == 0);
    nn::AdamW opt(model->parameters(), {.lr = 2e-3, .weight_decay = 1e-4});
    auto data = nn::synthetic_classification(512, 784, 10, 1);
    nn::DataLoader train(data, {.batch_size = 256, .shuffle = true, .seed = 0});
    double first = -1, last = -1;
    for (int epoch = 0; epoch < 3; ++epoch)
        for (const nn::Batch& b : train) {
            opt.zero_grad();
            Tensor loss = nn::cross_entropy((*model)(b.features), b.labels);
            loss.backward();
            opt.step();
            if (first < 0) first = loss.item();
            last = loss.item();
        }
    CHECK(last < first);
}
