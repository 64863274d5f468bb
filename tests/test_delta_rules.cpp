// The notes' δ rules (nn/delta_rules.hpp, written by hand) against the engine and against
// central finite differences, for random dense networks in double precision.
//
// Three gradients of L_T = (1/n) Σ L_i for every layer's W and b:
//   (a) the engine's: nn::Linear layers (f64), engine activations and the nn losses (nn::mse_loss,
//       nn::cross_entropy, nn::binary_cross_entropy_with_logits), backward();
//   (b) the hand δ rules' (delta::backprop);
//   (c) central finite differences of the hand forward pass (delta::finite_differences: the
//       five-point stencil with h = 1e-3, error ~1e-12 absolute for these losses).
// Error measure for one gradient tensor g against a reference r:
//   rel(g, r) = ‖g − r‖∞ / max(‖r‖∞, 1e-10)
// Tolerances: rel ≤ 1e-9 for engine vs δ rules (both exact up to rounding), rel ≤ 1e-6 for either
// against finite differences (measured: ≤ ~1e-13 and ≤ ~1e-7; the worst FD cases are the tiny
// first-layer gradients of deep sigmoid networks, where rounding ε|L|/h dominates).
#include <autodiff/autodiff.hpp>
#include <nn/delta_rules.hpp>
#include <nn/linear.hpp>
#include <nn/loss.hpp>
#include <nn/optim.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <vector>

namespace {

namespace delta = ad::nn::delta;
using delta::Activation;
using delta::Head;
using delta::LabelConvention;
using delta::Layout;
using delta::Loss;
using delta::Matrix;

constexpr double kEngineVsDelta = 1e-9;
constexpr double kVsFiniteDifferences = 1e-6;
constexpr double kFdStep = 1e-3;

double rel_err(std::span<const double> got, std::span<const double> ref) {
    REQUIRE(got.size() == ref.size());
    double diff = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        diff = std::max(diff, std::abs(got[i] - ref[i]));
        scale = std::max(scale, std::abs(ref[i]));
    }
    return diff / std::max(scale, 1e-10);
}

// Largest errors seen over every network checked (printed once per sweep).
struct Measured {
    double engine_vs_delta = 0.0, delta_vs_fd = 0.0, engine_vs_fd = 0.0;
    int networks = 0;
};

// One output head as a note sets it up: the loss, its label convention, the output layer's σ,
// and for cross-entropy whether targets are one-hot labels or soft probabilities.
struct HeadCase {
    const char* name;
    Head head;
    Activation output;
    bool soft_targets = false;
};

// --- the engine side -------------------------------------------------------------------------

ad::Tensor engine_activation(Activation f, const ad::Tensor& z) {
    switch (f) {
        case Activation::Identity: return z;
        case Activation::Sigmoid: return ad::sigmoid(z);
        case Activation::ReLU: return ad::relu(z);
        case Activation::Tanh: return ad::tanh(z);
    }
    return z;
}

// A dense network of nn::Linear layers (weight [out, in] = the notes' W^l) and activations.
struct EngineNet {
    std::vector<std::shared_ptr<ad::nn::Linear>> layers;
    std::vector<Activation> sigma;

    EngineNet(const std::vector<std::int64_t>& sizes, Activation hidden, Activation output, bool bias,
              std::uint64_t seed) {
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
            layers.push_back(std::make_shared<ad::nn::Linear>(
                sizes[l], sizes[l + 1], ad::nn::LinearOptions{.bias = bias, .dtype = ad::f64, .seed = seed + l}));
            sigma.push_back(l + 2 == sizes.size() ? output : hidden);
        }
    }
    ad::Tensor forward(const ad::Tensor& x) const {
        ad::Tensor h = x;
        for (std::size_t l = 0; l < layers.size(); ++l) h = engine_activation(sigma[l], layers[l]->forward(h));
        return h;
    }
    // The same network for the δ rules; the Row layout stores note 001's W = weightᵀ.
    delta::Network hand(Layout layout) const {
        delta::Network net{.layout = Layout::Column, .layers = {}};
        for (std::size_t l = 0; l < layers.size(); ++l) {
            const ad::nn::Linear& L = *layers[l];
            std::vector<double> b = L.bias.defined() ? L.bias.to_vector() : std::vector<double>{};
            net.layers.push_back({Matrix(L.out_features, L.in_features, L.weight.to_vector()), std::move(b), sigma[l]});
        }
        return layout == Layout::Row ? delta::to_row_layout(net) : net;
    }
};

ad::Tensor to_tensor(const Matrix& m) { return ad::Tensor::from_data(std::span<const double>(m.data), {m.rows, m.cols}); }

// The head's loss L_T through the nn library's losses: the per-sample loss summed over output
// units, averaged over the batch (nn::mse_loss's Mean would also divide by the output width, so
// the squared errors are summed and divided by n).
ad::Tensor engine_loss(const HeadCase& c, const ad::Tensor& out, const Matrix& Y) {
    namespace nn = ad::nn;
    const double n = static_cast<double>(Y.rows);
    const ad::Tensor y = to_tensor(Y);
    switch (c.head.loss) {
        case Loss::HalfSquaredError: return nn::mse_loss(out, y, {.reduction = nn::Reduction::Sum, .half = true}) / n;
        case Loss::SquaredError: return nn::mse_loss(out, y, {.reduction = nn::Reduction::Sum}) / n;
        case Loss::SoftmaxCrossEntropy:
            if (c.soft_targets) return nn::cross_entropy(out, y);  // probability targets, mean over the batch
            return nn::cross_entropy(out, ad::argmax(y, 1));       // one-hot rows → class indices [n]
        case Loss::SigmoidBinaryCrossEntropy: {
            // softplus(s) − q s with q = t (TargetIsPositive) or 1 − t (note 003)
            const nn::LabelConvention convention = c.head.labels == LabelConvention::Note003
                                                       ? nn::LabelConvention::Note003
                                                       : nn::LabelConvention::TargetIsPositive;
            return nn::binary_cross_entropy_with_logits(out, y, {.reduction = nn::Reduction::Sum, .convention = convention}) / n;
        }
    }
    return {};
}

// --- random problems ---------------------------------------------------------------------------

Matrix random_inputs(std::int64_t n, std::int64_t k, ad::Rng& rng) {
    Matrix X(n, k);
    for (double& v : X.data) v = rng.normal();
    return X;
}

Matrix random_targets(const HeadCase& c, std::int64_t n, std::int64_t k, ad::Rng& rng) {
    Matrix Y(n, k);
    for (std::int64_t i = 0; i < n; ++i) {
        switch (c.head.loss) {
            case Loss::HalfSquaredError:
            case Loss::SquaredError:
                for (std::int64_t j = 0; j < k; ++j)
                    Y(i, j) = c.output == Activation::Sigmoid ? rng.uniform() : rng.normal();
                break;
            case Loss::SoftmaxCrossEntropy:
                if (c.soft_targets) {
                    std::vector<double> z(static_cast<std::size_t>(k));
                    for (double& v : z) v = rng.normal();
                    const std::vector<double> p = delta::softmax(z);
                    for (std::int64_t j = 0; j < k; ++j) Y(i, j) = p[static_cast<std::size_t>(j)];
                } else {
                    Y(i, static_cast<std::int64_t>(rng.next_u64() % static_cast<std::uint64_t>(k))) = 1.0;
                }
                break;
            case Loss::SigmoidBinaryCrossEntropy:
                for (std::int64_t j = 0; j < k; ++j) Y(i, j) = rng.uniform() < 0.5 ? 0.0 : 1.0;
                break;
        }
    }
    return Y;
}

// Which ReLU units of the batch are active (z > 0), in a fixed order.
std::vector<bool> relu_pattern(const delta::Network& net, const Matrix& X) {
    std::vector<bool> on;
    for (std::int64_t i = 0; i < X.rows; ++i) {
        const delta::Trace t = delta::forward(net, X.row(i));
        for (std::size_t l = 0; l < net.layers.size(); ++l)
            if (net.layers[l].sigma == Activation::ReLU)
                for (double z : t.z[l + 1]) on.push_back(z > 0.0);
    }
    return on;
}

// Finite differences of a ReLU network are only meaningful if no perturbation the stencil makes
// (±h, ±2h on each parameter in turn) moves a ReLU input across the kink, and no input sits on it.
bool relu_pattern_stable(const delta::Network& net, const Matrix& X, double h) {
    for (std::int64_t i = 0; i < X.rows; ++i) {
        const delta::Trace t = delta::forward(net, X.row(i));
        for (std::size_t l = 0; l < net.layers.size(); ++l)
            if (net.layers[l].sigma == Activation::ReLU)
                for (double z : t.z[l + 1])
                    if (z == 0.0) return false;
    }
    const std::vector<bool> base = relu_pattern(net, X);
    delta::Network p = net;
    auto stable_at = [&](double& theta) {
        const double saved = theta;
        bool same = true;
        for (double step : {-2 * h, -h, h, 2 * h}) {
            theta = saved + step;
            same = same && relu_pattern(p, X) == base;
        }
        theta = saved;
        return same;
    };
    for (delta::Layer& L : p.layers) {
        for (double& w : L.W.data)
            if (!stable_at(w)) return false;
        for (double& b : L.b)
            if (!stable_at(b)) return false;
    }
    return true;
}

// One random network with its batch, as the engine and as the δ rules see it.
struct Problem {
    EngineNet engine;
    delta::Network net;
    Matrix X, Y;
};

// Draws a network (depth layers, random widths) and a batch. ReLU networks are redrawn (new seed)
// until finite differences cannot straddle a kink (a whole dead layer of a bias-free network even
// gives z = 0 exactly).
Problem draw_problem(const HeadCase& c, int depth, std::int64_t batch, Activation hidden, Layout layout,
                     std::uint64_t seed) {
    for (std::uint64_t attempt = 0; attempt < 100; ++attempt) {
        ad::Rng rng(seed + 1000003 * attempt);
        std::vector<std::int64_t> sizes{1 + static_cast<std::int64_t>(rng.next_u64() % 5)};
        for (int l = 1; l < depth; ++l) sizes.push_back(1 + static_cast<std::int64_t>(rng.next_u64() % 6));
        const std::int64_t pick = static_cast<std::int64_t>(rng.next_u64() % 4);
        sizes.push_back(c.head.loss == Loss::SigmoidBinaryCrossEntropy ? 1
                        : c.head.loss == Loss::SoftmaxCrossEntropy   ? 2 + pick
                                                                     : 1 + pick);
        const bool bias = layout == Layout::Column;  // note 001's row layout has no bias
        EngineNet engine(sizes, hidden, c.output, bias, seed + 1000003 * attempt);
        delta::Network net = engine.hand(layout);
        Matrix X = random_inputs(batch, sizes.front(), rng);
        Matrix Y = random_targets(c, batch, sizes.back(), rng);
        if (hidden != Activation::ReLU || relu_pattern_stable(net, X, kFdStep))
            return {std::move(engine), std::move(net), std::move(X), std::move(Y)};
    }
    FAIL("no ReLU network away from the kink in 100 draws");
    throw ad::Error("unreachable");
}

// Checks one parameter's three gradients against each other and records the errors.
void compare(std::span<const double> engine, std::span<const double> hand, std::span<const double> fd,
             Measured& measured) {
    const double e_d = rel_err(engine, hand), d_f = rel_err(hand, fd), e_f = rel_err(engine, fd);
    CHECK(e_d <= kEngineVsDelta);
    CHECK(d_f <= kVsFiniteDifferences);
    CHECK(e_f <= kVsFiniteDifferences);
    measured.engine_vs_delta = std::max(measured.engine_vs_delta, e_d);
    measured.delta_vs_fd = std::max(measured.delta_vs_fd, d_f);
    measured.engine_vs_fd = std::max(measured.engine_vs_fd, e_f);
}

// Builds one random network and problem, computes the three gradients, checks every W and b.
void check_three_ways(const HeadCase& c, int depth, std::int64_t batch, Activation hidden, Layout layout,
                      std::uint64_t seed, Measured& measured) {
    const std::string name = c.name, act = delta::activation_name(hidden);
    const std::string lay = layout == Layout::Column ? "column, bias" : "row, no bias";
    CAPTURE(name);
    CAPTURE(depth);
    CAPTURE(batch);
    CAPTURE(act);
    CAPTURE(lay);
    CAPTURE(seed);
    const bool bias = layout == Layout::Column;
    const Problem p = draw_problem(c, depth, batch, hidden, layout, seed);
    const EngineNet& engine = p.engine;
    const delta::Network& net = p.net;
    const Matrix& X = p.X;
    const Matrix& Y = p.Y;

    const ad::Tensor loss = engine_loss(c, engine.forward(to_tensor(X)), Y);
    loss.backward();
    const delta::Gradients hand = delta::backprop(net, c.head, X, Y);
    const delta::Gradients fd = delta::finite_differences(net, c.head, X, Y, kFdStep);
    CHECK(std::abs(loss.item() - hand.loss) <= 1e-12 * std::max(1.0, std::abs(hand.loss)));

    for (std::size_t l = 0; l < net.layers.size(); ++l) {
        CAPTURE(l + 1);
        // The engine's ∂W is [out, in] (Column); the Row layout's is its transpose.
        const Matrix engine_dW(engine.layers[l]->out_features, engine.layers[l]->in_features,
                               engine.layers[l]->weight.grad().to_vector());
        const Matrix engine_W_in_layout = layout == Layout::Column ? engine_dW : delta::transpose(engine_dW);
        compare(engine_W_in_layout.data, hand.dW[l].data, fd.dW[l].data, measured);
        if (bias) {
            compare(engine.layers[l]->bias.grad().to_vector(), hand.db[l], fd.db[l], measured);
        } else {
            CHECK(!engine.layers[l]->bias.defined());
            CHECK(hand.db[l].empty());
        }
    }
    ++measured.networks;
}

// Every depth 1–4, batch sizes 1 and 5, hidden σ ∈ {sigmoid, ReLU, tanh}, both layouts.
void sweep(const HeadCase& c, std::uint64_t base_seed) {
    Measured m;
    std::uint64_t seed = base_seed;
    for (int depth = 1; depth <= 4; ++depth)
        for (std::int64_t batch : {1, 5})
            for (Activation hidden : {Activation::Sigmoid, Activation::ReLU, Activation::Tanh})
                for (Layout layout : {Layout::Column, Layout::Row})
                    check_three_ways(c, depth, batch, hidden, layout, ++seed, m);
    CHECK(m.networks == 4 * 2 * 3 * 2);
    MESSAGE(fmt::format("{}: {} networks, max rel. error engine vs δ {:.2e}, δ vs FD {:.2e}, engine vs FD {:.2e}",
                        c.name, m.networks, m.engine_vs_delta, m.delta_vs_fd, m.engine_vs_fd));
}

}  // namespace

TEST_CASE("δ rules = engine = finite differences: ½-squared error on sigmoid outputs (§1, notes 000/002)") {
    sweep({"½‖a−y‖², sigmoid output", {.loss = Loss::HalfSquaredError}, Activation::Sigmoid}, 1000);
}

TEST_CASE("δ rules = engine = finite differences: ½-squared error on linear outputs (§1)") {
    sweep({"½‖z−y‖², linear output", {.loss = Loss::HalfSquaredError}, Activation::Identity}, 2000);
}

TEST_CASE("δ rules = engine = finite differences: squared error without ½ on linear outputs (§2, note 001)") {
    sweep({"‖z−y‖², linear output", {.loss = Loss::SquaredError}, Activation::Identity}, 3000);
}

TEST_CASE("δ rules = engine = finite differences: softmax + cross-entropy, one-hot labels (§2, note 001)") {
    sweep({"softmax CE, labels", {.loss = Loss::SoftmaxCrossEntropy}, Activation::Identity, false}, 4000);
}

TEST_CASE("δ rules = engine = finite differences: softmax + cross-entropy, soft targets (§2)") {
    sweep({"softmax CE, probabilities", {.loss = Loss::SoftmaxCrossEntropy}, Activation::Identity, true}, 5000);
}

TEST_CASE("δ rules = engine = finite differences: sigmoid + BCE, t = p(t=1) (§3)") {
    sweep({"BCE, TargetIsPositive",
           {.loss = Loss::SigmoidBinaryCrossEntropy, .labels = LabelConvention::TargetIsPositive},
           Activation::Identity},
          6000);
}

TEST_CASE("δ rules = engine = finite differences: sigmoid + BCE, note 003's convention y = p(t=0) (§3)") {
    sweep({"BCE, Note003", {.loss = Loss::SigmoidBinaryCrossEntropy, .labels = LabelConvention::Note003},
           Activation::Identity},
          7000);
}

TEST_CASE("note 002's worked example: a = (0.3, 0.5, 0.2), y = (0, 1, 0) gives L = 0.19, ∇_a L = (0.3, −0.5, 0.2)") {
    const std::vector<double> a{0.3, 0.5, 0.2}, y{0.0, 1.0, 0.0}, want{0.3, -0.5, 0.2};
    SUBCASE("by hand") {
        CHECK(delta::half_squared_error(a, y) == doctest::Approx(0.19).epsilon(1e-15));
        const std::vector<double> g = delta::half_squared_error_gradient(a, y);
        REQUIRE(g.size() == 3);
        for (std::size_t k = 0; k < 3; ++k) CHECK(g[k] == doctest::Approx(want[k]).epsilon(1e-15));
    }
    SUBCASE("by the engine") {
        ad::Tensor at = ad::Tensor::from_data(std::span<const double>(a), {1, 3}).requires_grad_();
        const ad::Tensor yt = ad::Tensor::from_data(std::span<const double>(y), {1, 3});
        const ad::Tensor L = ad::nn::mse_loss(at, yt, {.reduction = ad::nn::Reduction::Sum, .half = true});
        CHECK(L.item() == doctest::Approx(0.19).epsilon(1e-15));
        L.backward();
        const std::vector<double> g = at.grad().to_vector();
        REQUIRE(g.size() == 3);
        for (std::size_t k = 0; k < 3; ++k) CHECK(g[k] == doctest::Approx(want[k]).epsilon(1e-15));
    }
}

TEST_CASE("row layout (note 001): ∂L/∂W^(l) = a δᵀ is the transpose of the column layout's δ aᵀ") {
    for (bool bias : {true, false}) {
        CAPTURE(bias);
        const EngineNet engine({4, 5, 3, 2}, Activation::Tanh, Activation::Sigmoid, bias, 42);
        const delta::Network column = engine.hand(Layout::Column);
        const delta::Network row = delta::to_row_layout(column);
        ad::Rng rng(7);
        const Matrix X = random_inputs(3, 4, rng);
        const Matrix Y = random_inputs(3, 2, rng);
        const delta::Gradients gc = delta::backprop(column, {.loss = Loss::HalfSquaredError}, X, Y);
        const delta::Gradients gr = delta::backprop(row, {.loss = Loss::HalfSquaredError}, X, Y);
        CHECK(gr.loss == doctest::Approx(gc.loss).epsilon(1e-15));
        for (std::size_t l = 0; l < column.layers.size(); ++l) {
            CAPTURE(l + 1);
            CHECK(gr.dW[l].rows == column.layers[l].W.cols);  // n_{l-1} × n_l
            CHECK(gr.dW[l].cols == column.layers[l].W.rows);
            CHECK(rel_err(gr.dW[l].data, delta::transpose(gc.dW[l]).data) <= 1e-14);
            CHECK(rel_err(gr.db[l], gc.db[l]) <= 1e-14);
            CHECK(gr.db[l].size() == (bias ? column.layers[l].b.size() : 0));
        }
        const delta::Network back = delta::to_column_layout(row);
        for (std::size_t l = 0; l < column.layers.size(); ++l) CHECK(back.layers[l].W.data == column.layers[l].W.data);
    }
}

TEST_CASE("squared error without ½ on a linear output (note 001): δ^(m) = 2(z − y), not the note's z − y") {
    // One linear layer, one sample: ∂L/∂b = δ^F.  z = W x + b = (3.5, 1.5), y = (1, 2).
    EngineNet engine({2, 2}, Activation::Identity, Activation::Identity, true, 0);
    {
        ad::NoGrad ng;
        engine.layers[0]->weight.copy_(ad::Tensor({{1.0, 2.0}, {3.0, -1.0}}));
        engine.layers[0]->bias.copy_(ad::Tensor({0.5, -0.5}));
    }
    const delta::Network net = engine.hand(Layout::Column);
    const Matrix X(1, 2, {1.0, 1.0}), Y(1, 2, {1.0, 2.0});
    const delta::Trace t = delta::forward(net, X.row(0));
    CHECK(t.z[1] == std::vector<double>{3.5, 1.5});
    const std::vector<double> d = delta::output_delta(net, {.loss = Loss::SquaredError}, t, Y.row(0));
    CHECK(d == std::vector<double>{5.0, -1.0});   // 2(z − y)
    CHECK(d != std::vector<double>{2.5, -0.5});   // the note's slip, z − y
    const HeadCase c{"‖z−y‖²", {.loss = Loss::SquaredError}, Activation::Identity};
    engine_loss(c, engine.forward(to_tensor(X)), Y).backward();
    CHECK(engine.layers[0]->bias.grad().to_vector() == std::vector<double>{5.0, -1.0});
    // With the ½ the same layer gives z − y: that is what "δ = z − y" belongs to.
    CHECK(delta::output_delta(net, {.loss = Loss::HalfSquaredError}, t, Y.row(0)) == std::vector<double>{2.5, -0.5});
}

TEST_CASE("binary cross-entropy (note 003): δ_out = σ(a) − (1 − t) for y = p(t=0), σ(a) − t for y = p(t=1)") {
    // One linear unit: a_out = 0.5·1 − 1·0.8 + 0.1 = −0.2.
    delta::Network net{.layout = Layout::Column, .layers = {{Matrix(1, 2, {0.5, -1.0}), {0.1}, Activation::Identity}}};
    const Matrix X(1, 2, {1.0, 0.8});
    const double s = 1.0 / (1.0 + std::exp(0.2));
    const delta::Trace t = delta::forward(net, X.row(0));
    REQUIRE(t.z[1].size() == 1);
    CHECK(t.z[1][0] == doctest::Approx(-0.2).epsilon(1e-15));
    for (double target : {0.0, 1.0}) {
        CAPTURE(target);
        const std::vector<double> y{target};
        const Head note003{.loss = Loss::SigmoidBinaryCrossEntropy, .labels = LabelConvention::Note003};
        const Head usual{.loss = Loss::SigmoidBinaryCrossEntropy, .labels = LabelConvention::TargetIsPositive};
        CHECK(delta::output_delta(net, note003, t, y)[0] == doctest::Approx(s - (1.0 - target)).epsilon(1e-15));
        CHECK(delta::output_delta(net, usual, t, y)[0] == doctest::Approx(s - target).epsilon(1e-15));
        // The loss as note 003 writes it: −(1−t) log y − t log(1−y) with y = σ(a).
        CHECK(delta::binary_cross_entropy(-0.2, target, LabelConvention::Note003) ==
              doctest::Approx(-(1.0 - target) * std::log(s) - target * std::log(1.0 - s)).epsilon(1e-14));
        // The two conventions are the same loss with the label flipped.
        CHECK(delta::binary_cross_entropy(-0.2, target, LabelConvention::Note003) ==
              delta::binary_cross_entropy(-0.2, 1.0 - target, LabelConvention::TargetIsPositive));
    }
    // Stable for large logits: finite, and ≈ |a| for a confidently wrong prediction.
    CHECK(delta::binary_cross_entropy(800.0, 0.0, LabelConvention::TargetIsPositive) == doctest::Approx(800.0));
    CHECK(delta::binary_cross_entropy(-800.0, 0.0, LabelConvention::TargetIsPositive) == doctest::Approx(0.0));
}

TEST_CASE("softmax + cross-entropy (note 001): δ^(m) = p − y") {
    delta::Network net{.layout = Layout::Column,
                       .layers = {{Matrix(3, 1, {1.0, 2.0, -1.0}), {}, Activation::Identity}}};
    const Matrix X(1, 1, {1.0}), Y(1, 3, {0.0, 1.0, 0.0});
    const delta::Trace t = delta::forward(net, X.row(0));
    const double e = std::exp(1.0) + std::exp(2.0) + std::exp(-1.0);
    const std::vector<double> d = delta::output_delta(net, {.loss = Loss::SoftmaxCrossEntropy}, t, Y.row(0));
    REQUIRE(d.size() == 3);
    CHECK(d[0] == doctest::Approx(std::exp(1.0) / e).epsilon(1e-15));
    CHECK(d[1] == doctest::Approx(std::exp(2.0) / e - 1.0).epsilon(1e-15));
    CHECK(d[2] == doctest::Approx(std::exp(-1.0) / e).epsilon(1e-15));
    CHECK(delta::softmax_cross_entropy(t.z[1], Y.row(0)) == doctest::Approx(std::log(e) - 2.0).epsilon(1e-15));
    // Stable for huge logits.
    const std::vector<double> big{1000.0, -1000.0}, label{0.0, 1.0};
    CHECK(delta::softmax_cross_entropy(big, label) == doctest::Approx(2000.0));
    CHECK(delta::softmax(big)[0] == 1.0);
}

TEST_CASE("ReLU'(0) = 0 in the δ rules and in the engine (a unit exactly at the kink passes no gradient)") {
    CHECK(delta::activate_prime(Activation::ReLU, 0.0) == 0.0);
    CHECK(delta::activate_prime(Activation::ReLU, 1e-300) == 1.0);
    EngineNet engine({2, 3, 1}, Activation::ReLU, Activation::Identity, true, 5);
    {
        ad::NoGrad ng;
        engine.layers[0]->weight.zero_();  // z^1 = 0 exactly for every input
        engine.layers[0]->bias.zero_();
    }
    const delta::Network net = engine.hand(Layout::Column);
    const Matrix X(2, 2, {1.0, -2.0, 0.5, 3.0}), Y(2, 1, {1.0, -1.0});
    const HeadCase c{"½‖z−y‖²", {.loss = Loss::HalfSquaredError}, Activation::Identity};
    engine_loss(c, engine.forward(to_tensor(X)), Y).backward();
    const delta::Gradients hand = delta::backprop(net, c.head, X, Y);
    for (double g : hand.dW[0].data) CHECK(g == 0.0);
    for (double g : hand.db[0]) CHECK(g == 0.0);
    for (double g : engine.layers[0]->weight.grad().to_vector()) CHECK(g == 0.0);
    for (double g : engine.layers[0]->bias.grad().to_vector()) CHECK(g == 0.0);
    // Central differences straddle the kink and see half the one-sided slope: the value at 0 is a
    // convention, which is why the random sweeps keep every ReLU input away from 0.
    const delta::Gradients fd = delta::finite_differences(net, c.head, X, Y, kFdStep);
    double fd_b = 0.0;
    for (double g : fd.db[0]) fd_b = std::max(fd_b, std::abs(g));
    CHECK(fd_b > 1e-3);
}

TEST_CASE("batch averaging (note 000): ∂L_T/∂θ is the mean of the per-sample gradients") {
    const EngineNet engine({3, 4, 2}, Activation::Sigmoid, Activation::Identity, true, 9);
    const delta::Network net = engine.hand(Layout::Column);
    ad::Rng rng(3);
    const Matrix X = random_inputs(4, 3, rng);
    const HeadCase c{"softmax CE", {.loss = Loss::SoftmaxCrossEntropy}, Activation::Identity, true};
    const Matrix Y = random_targets(c, 4, 2, rng);
    const delta::Gradients all = delta::backprop(net, c.head, X, Y);
    auto sample = [](const Matrix& M, std::int64_t i) {
        return Matrix(1, M.cols, std::vector<double>(M.row(i).begin(), M.row(i).end()));
    };
    delta::Gradients mean = delta::backprop(net, c.head, sample(X, 0), sample(Y, 0));
    for (std::int64_t i = 1; i < 4; ++i) {
        const delta::Gradients gi = delta::backprop(net, c.head, sample(X, i), sample(Y, i));
        mean.loss += gi.loss;
        for (std::size_t l = 0; l < 2; ++l) {
            for (std::size_t e = 0; e < gi.dW[l].data.size(); ++e) mean.dW[l].data[e] += gi.dW[l].data[e];
            for (std::size_t j = 0; j < gi.db[l].size(); ++j) mean.db[l][j] += gi.db[l][j];
        }
    }
    CHECK(all.loss == doctest::Approx(mean.loss / 4).epsilon(1e-14));
    for (std::size_t l = 0; l < 2; ++l) {
        for (double& v : mean.dW[l].data) v /= 4;
        for (double& v : mean.db[l]) v /= 4;
        CHECK(rel_err(all.dW[l].data, mean.dW[l].data) <= 1e-14);
        CHECK(rel_err(all.db[l], mean.db[l]) <= 1e-14);
    }
}

TEST_CASE("update (note 004): W ← W − η ∂L_T/∂W by hand equals nn::SGD's step") {
    EngineNet engine({3, 4, 2}, Activation::Tanh, Activation::Sigmoid, true, 11);
    delta::Network net = engine.hand(Layout::Column);
    ad::Rng rng(4);
    const Matrix X = random_inputs(5, 3, rng), Y = random_inputs(5, 2, rng);
    const HeadCase c{"½‖a−y‖²", {.loss = Loss::HalfSquaredError}, Activation::Sigmoid};
    std::vector<ad::Tensor> params;
    for (const auto& L : engine.layers) params.insert(params.end(), {L->weight, L->bias});
    ad::nn::SGD sgd(params, {.lr = 0.1});
    engine_loss(c, engine.forward(to_tensor(X)), Y).backward();
    sgd.step();
    delta::gradient_step(net, delta::backprop(net, c.head, X, Y), 0.1);
    const delta::Network after = engine.hand(Layout::Column);
    for (std::size_t l = 0; l < 2; ++l) {
        CHECK(rel_err(net.layers[l].W.data, after.layers[l].W.data) <= 1e-14);
        CHECK(rel_err(net.layers[l].b, after.layers[l].b) <= 1e-14);
    }
}

TEST_CASE("δ rules reject what they cannot compute, with messages that name the problem") {
    const delta::Network net{.layout = Layout::Column,
                             .layers = {{Matrix::full(2, 3, 0.1), {0.0, 0.0}, Activation::Sigmoid}}};
    const Matrix X = Matrix::full(2, 3, 0.5), Y = Matrix::full(2, 2, 0.5);
    const Head half{.loss = Loss::HalfSquaredError};
    CHECK_THROWS_AS(Matrix(2, 2, std::vector<double>{1, 2, 3}), ad::ShapeError);
    CHECK_THROWS_AS(Matrix(-1, 2), ad::ShapeError);
    CHECK_THROWS_AS(delta::backprop(net, half, Matrix(2, 4), Y), ad::ShapeError);
    CHECK_THROWS_AS(delta::backprop(net, half, X, Matrix(3, 2)), ad::ShapeError);
    CHECK_THROWS_AS(delta::backprop(net, half, Matrix(0, 3), Matrix(0, 2)), ad::ValueError);
    CHECK_THROWS_WITH_AS(delta::backprop(net, {.loss = Loss::SoftmaxCrossEntropy}, X, Y),
                         doctest::Contains("use Identity"), ad::ValueError);
    delta::Network logits = net;
    logits.layers[0].sigma = Activation::Identity;
    CHECK_THROWS_WITH_AS(delta::backprop(logits, {.loss = Loss::SoftmaxCrossEntropy}, X, Matrix::full(2, 2, 0.25)),
                         doctest::Contains("sums to 0.5"), ad::ValueError);
    CHECK_THROWS_AS(delta::backprop(logits, {.loss = Loss::SigmoidBinaryCrossEntropy}, X, Matrix::full(2, 2, 1.5)),
                    ad::ValueError);
    CHECK_THROWS_AS(delta::backprop(net, half, X, Matrix::full(2, 2, NAN)), ad::ValueError);
    CHECK_THROWS_AS(delta::finite_differences(net, half, X, Y, 0.0), ad::ValueError);
    delta::Network broken = net;
    broken.layers.push_back({Matrix::full(1, 3, 1.0), {}, Activation::Identity});  // takes 3 inputs, layer 1 gives 2
    CHECK_THROWS_WITH_AS(broken.check(), doctest::Contains("layer 2 takes 3 inputs"), ad::ShapeError);
    CHECK_THROWS_AS(delta::forward(net, std::vector<double>{1.0}), ad::ShapeError);
    CHECK_THROWS_AS(delta::Network{}.check(), ad::ShapeError);
}
