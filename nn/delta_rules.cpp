// The notes' δ rules by hand (see delta_rules.hpp). Each function cites the formula of
// notes/README.md it implements; nothing here uses the engine.
#include <nn/delta_rules.hpp>

#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace ad::nn::delta {

namespace {

std::size_t idx(std::int64_t i) { return static_cast<std::size_t>(i); }

void check_same_size(const char* who, std::span<const double> a, std::span<const double> y) {
    if (a.size() != y.size())
        throw ShapeError(fmt::format("delta::{}: output has {} entries but target has {}", who, a.size(), y.size()));
}

// log(1 + e^x) without overflow: for large x it is x + log(1 + e^{−x}).
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// The target the BCE formulas call "the probability that σ(a) predicts": t, or 1 − t in 003's.
double positive_target(double t, LabelConvention labels) { return labels == LabelConvention::Note003 ? 1.0 - t : t; }

// Softmax and BCE heads apply their own nonlinearity to z^F; the output layer must be linear.
void check_logit_head(const Network& net, const Head& head) {
    const Activation out = net.layers.back().sigma;
    if ((head.loss == Loss::SoftmaxCrossEntropy || head.loss == Loss::SigmoidBinaryCrossEntropy) &&
        out != Activation::Identity)
        throw ValueError(fmt::format("delta: head {} takes the logits z^F, but the output layer has activation {} "
                                     "(use Identity)",
                                     loss_name(head.loss), activation_name(out)));
}

// Targets must be finite and fit the head (probability rows for cross-entropy, [0, 1] for BCE).
void check_targets(const Head& head, const Matrix& Y) {
    for (std::int64_t i = 0; i < Y.rows; ++i) {
        double total = 0.0;
        for (std::int64_t k = 0; k < Y.cols; ++k) {
            const double y = Y(i, k);
            if (!std::isfinite(y))
                throw ValueError(fmt::format("delta::backprop: target ({}, {}) is {}", i, k, y));
            if ((head.loss == Loss::SoftmaxCrossEntropy || head.loss == Loss::SigmoidBinaryCrossEntropy) &&
                (y < 0.0 || y > 1.0))
                throw ValueError(fmt::format("delta::backprop: {} target ({}, {}) = {} is outside [0, 1]",
                                             loss_name(head.loss), i, k, y));
            total += y;
        }
        if (head.loss == Loss::SoftmaxCrossEntropy && std::abs(total - 1.0) > 1e-9)
            throw ValueError(fmt::format("delta::backprop: cross-entropy target row {} sums to {} (δ = p − y needs "
                                         "a probability vector)",
                                         i, total));
    }
}

void check_batch(const char* who, const Network& net, const Matrix& X, const Matrix& Y) {
    net.check();
    if (X.rows == 0) throw ValueError(fmt::format("delta::{}: empty batch", who));
    if (X.cols != net.in_features() || Y.rows != X.rows || Y.cols != net.out_features())
        throw ShapeError(fmt::format("delta::{}: X is {}×{} and Y {}×{}, but the network maps {} inputs to {} outputs",
                                     who, X.rows, X.cols, Y.rows, Y.cols, net.in_features(), net.out_features()));
}

}  // namespace

// --- Matrix ---------------------------------------------------------------------------------------

namespace {
// r·c, checked before anything is allocated.
std::size_t checked_count(std::int64_t r, std::int64_t c) {
    if (r < 0 || c < 0) throw ShapeError(fmt::format("delta::Matrix: negative size {}×{}", r, c));
    return idx(r * c);
}
}  // namespace

Matrix::Matrix(std::int64_t r, std::int64_t c) : rows(r), cols(c), data(checked_count(r, c), 0.0) {}

Matrix Matrix::full(std::int64_t r, std::int64_t c, double value) {
    Matrix m(r, c);
    std::fill(m.data.begin(), m.data.end(), value);
    return m;
}

Matrix::Matrix(std::int64_t r, std::int64_t c, std::vector<double> values) : rows(r), cols(c), data(std::move(values)) {
    if (data.size() != checked_count(r, c))
        throw ShapeError(fmt::format("delta::Matrix: {}×{} needs {} values, got {}", r, c, r * c, data.size()));
}

std::span<const double> Matrix::row(std::int64_t i) const {
    return std::span<const double>(data).subspan(idx(i * cols), idx(cols));
}

Matrix transpose(const Matrix& m) {
    Matrix t(m.cols, m.rows);
    for (std::int64_t i = 0; i < m.rows; ++i)
        for (std::int64_t j = 0; j < m.cols; ++j) t(j, i) = m(i, j);
    return t;
}

// --- activations ----------------------------------------------------------------------------------

const char* activation_name(Activation f) {
    switch (f) {
        case Activation::Identity: return "Identity";
        case Activation::Sigmoid: return "Sigmoid";
        case Activation::ReLU: return "ReLU";
        case Activation::Tanh: return "Tanh";
    }
    return "?";
}

// §1: σ(z) = 1/(1+e^{−z}); ReLU σ(z) = max(z, 0) (note 001: "x if x > 0, 0 otherwise").
double activate(Activation f, double z) {
    switch (f) {
        case Activation::Identity: return z;
        case Activation::Sigmoid: return 1.0 / (1.0 + std::exp(-z));
        case Activation::ReLU: return z > 0.0 ? z : 0.0;
        case Activation::Tanh: return std::tanh(z);
    }
    return z;
}

// §1: σ' = σ(1−σ) (note 002: ∂a_j/∂z_j = (1 − σ(z_j)) σ(z_j)); ReLU σ'(z) = 1 for z > 0, else 0.
double activate_prime(Activation f, double z) {
    switch (f) {
        case Activation::Identity: return 1.0;
        case Activation::Sigmoid: {
            const double s = activate(Activation::Sigmoid, z);
            return s * (1.0 - s);
        }
        case Activation::ReLU: return z > 0.0 ? 1.0 : 0.0;
        case Activation::Tanh: {
            const double t = std::tanh(z);
            return 1.0 - t * t;
        }
    }
    return 1.0;
}

// --- networks -------------------------------------------------------------------------------------

std::int64_t Network::in_features() const { return layers.empty() ? 0 : layers.front().inputs(layout); }
std::int64_t Network::out_features() const { return layers.empty() ? 0 : layers.back().outputs(layout); }

void Network::check() const {
    if (layers.empty()) throw ShapeError("delta::Network: no layers");
    for (std::size_t l = 0; l < layers.size(); ++l) {
        const Layer& L = layers[l];
        if (L.W.data.size() != idx(L.W.rows * L.W.cols) || L.W.rows == 0 || L.W.cols == 0)
            throw ShapeError(fmt::format("delta::Network: layer {} has a {}×{} weight with {} values", l + 1, L.W.rows,
                                         L.W.cols, L.W.data.size()));
        if (!L.b.empty() && static_cast<std::int64_t>(L.b.size()) != L.outputs(layout))
            throw ShapeError(fmt::format("delta::Network: layer {} has {} outputs but a bias of {}", l + 1,
                                         L.outputs(layout), L.b.size()));
        if (l > 0 && L.inputs(layout) != layers[l - 1].outputs(layout))
            throw ShapeError(fmt::format("delta::Network: layer {} takes {} inputs but layer {} has {} outputs", l + 1,
                                         L.inputs(layout), l, layers[l - 1].outputs(layout)));
    }
}

namespace {
Network relayout(const Network& net, Layout to) {
    Network out = net;
    if (net.layout == to) return out;
    out.layout = to;
    for (Layer& L : out.layers) L.W = transpose(L.W);
    return out;
}
}  // namespace

// §2: note 001's W^{(l)} (n_{l-1} × n_l) is §1's W^l transposed.
Network to_row_layout(const Network& net) { return relayout(net, Layout::Row); }
Network to_column_layout(const Network& net) { return relayout(net, Layout::Column); }

// --- losses ---------------------------------------------------------------------------------------

const char* loss_name(Loss loss) {
    switch (loss) {
        case Loss::HalfSquaredError: return "HalfSquaredError";
        case Loss::SquaredError: return "SquaredError";
        case Loss::SoftmaxCrossEntropy: return "SoftmaxCrossEntropy";
        case Loss::SigmoidBinaryCrossEntropy: return "SigmoidBinaryCrossEntropy";
    }
    return "?";
}

// §1: L = ½‖a^F − y‖² (note 000: ½[(y_1 − a_1)² + ... + (y_K − a_K)²]).
double half_squared_error(std::span<const double> a, std::span<const double> y) {
    return 0.5 * squared_error(a, y);
}

// §1: ∇_{a^F} L = a^F − y (note 000: ∂L/∂a_k = ½[(−2)(y_k − a_k)] = a_k − y_k).
std::vector<double> half_squared_error_gradient(std::span<const double> a, std::span<const double> y) {
    check_same_size("half_squared_error_gradient", a, y);
    std::vector<double> g(a.size());
    for (std::size_t k = 0; k < a.size(); ++k) g[k] = a[k] - y[k];
    return g;
}

// §2: Loss = ‖z^{(m)} − y‖² = Σ_k (z_k − y_k)² (note 001).
double squared_error(std::span<const double> a, std::span<const double> y) {
    check_same_size("squared_error", a, y);
    double s = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) s += (a[k] - y[k]) * (a[k] - y[k]);
    return s;
}

// §2: ∂Loss/∂z_k = 2(z_k − y_k) (note 001; its "δ = z − y" is a §4 slip).
std::vector<double> squared_error_gradient(std::span<const double> a, std::span<const double> y) {
    check_same_size("squared_error_gradient", a, y);
    std::vector<double> g(a.size());
    for (std::size_t k = 0; k < a.size(); ++k) g[k] = 2.0 * (a[k] - y[k]);
    return g;
}

// §2: p = softmax(z^{(m)}), p_i = e^{z_i} / Σ_j e^{z_j} (note 001), shifted by max z.
std::vector<double> softmax(std::span<const double> z) {
    if (z.empty()) return {};
    const double m = *std::max_element(z.begin(), z.end());
    std::vector<double> p(z.size());
    double total = 0.0;
    for (std::size_t k = 0; k < z.size(); ++k) total += p[k] = std::exp(z[k] - m);
    for (double& v : p) v /= total;
    return p;
}

// §2: L = −Σ_k y_k log p_k (note 001), with log p_k = z_k − m − log Σ_j e^{z_j − m}.
double softmax_cross_entropy(std::span<const double> z, std::span<const double> y) {
    check_same_size("softmax_cross_entropy", z, y);
    if (z.empty()) return 0.0;
    const double m = *std::max_element(z.begin(), z.end());
    double total = 0.0;
    for (double v : z) total += std::exp(v - m);
    const double log_norm = m + std::log(total);
    double L = 0.0;
    for (std::size_t k = 0; k < z.size(); ++k) L -= y[k] * (z[k] - log_norm);
    return L;
}

// §3: TargetIsPositive L = −t log σ(a) − (1−t) log(1−σ(a)); Note003 L = −(1−t) log σ(a) − t log(1−σ(a)).
// With q = positive_target(t), both are −q log σ(a) − (1−q) log(1−σ(a)) = q·softplus(−a) + (1−q)·softplus(a).
double binary_cross_entropy(double a, double t, LabelConvention labels) {
    const double q = positive_target(t, labels);
    return q * softplus(-a) + (1.0 - q) * softplus(a);
}

// --- the δ rules ----------------------------------------------------------------------------------

// §1: z^l = W^l a^{l-1} + b^l, a^l = σ(z^l), a^0 = x (note 000: z_j^l = Σ_k W_jk^l a_k^{l-1} + b_j^l).
// §2: z_j^{(l)} = Σ_i a_i^{(l-1)} w_ij^{(l)} (note 001), plus b_j when the layer has a bias.
Trace forward(const Network& net, std::span<const double> x) {
    net.check();
    if (static_cast<std::int64_t>(x.size()) != net.in_features())
        throw ShapeError(fmt::format("delta::forward: input has {} entries, the network takes {}", x.size(),
                                     net.in_features()));
    Trace t;
    t.z.emplace_back();
    t.a.emplace_back(x.begin(), x.end());
    for (const Layer& L : net.layers) {
        const std::vector<double>& a_prev = t.a.back();
        const std::int64_t n_out = L.outputs(net.layout), n_in = L.inputs(net.layout);
        std::vector<double> z(idx(n_out), 0.0);
        for (std::int64_t j = 0; j < n_out; ++j) {
            double s = L.b.empty() ? 0.0 : L.b[idx(j)];
            for (std::int64_t k = 0; k < n_in; ++k)
                s += (net.layout == Layout::Column ? L.W(j, k) : L.W(k, j)) * a_prev[idx(k)];
            z[idx(j)] = s;
        }
        std::vector<double> a(z.size());
        for (std::size_t j = 0; j < z.size(); ++j) a[j] = activate(L.sigma, z[j]);
        t.z.push_back(std::move(z));
        t.a.push_back(std::move(a));
    }
    return t;
}

double sample_loss(const Network& net, const Head& head, const Trace& trace, std::span<const double> y) {
    const std::vector<double>& zF = trace.z.back();
    const std::vector<double>& aF = trace.a.back();
    switch (head.loss) {
        case Loss::HalfSquaredError: return half_squared_error(aF, y);
        case Loss::SquaredError: return squared_error(aF, y);
        case Loss::SoftmaxCrossEntropy: check_logit_head(net, head); return softmax_cross_entropy(zF, y);
        case Loss::SigmoidBinaryCrossEntropy: {
            check_logit_head(net, head);
            check_same_size("sample_loss", zF, y);
            double L = 0.0;
            for (std::size_t k = 0; k < zF.size(); ++k) L += binary_cross_entropy(zF[k], y[k], head.labels);
            return L;
        }
    }
    return 0.0;
}

// §1: δ^F = ∇_{a^F} L ⊙ σ'(z^F)  (note 000: δ_j^F = Σ_k ∂L/∂a_k^F ∂a_k^F/∂z_j^F, diagonal for an
//     elementwise σ; note 002: δ_j^L = (a_j − y_j) σ'(z_j)).
// §2: linear output with ‖z − y‖²: δ^{(m)} = 2(z^{(m)} − y); softmax + CE: δ^{(m)} = p − y (note 001).
// §3: δ_out = σ(a_out) − (1 − t) (note 003), or σ(a_out) − t in the usual convention.
std::vector<double> output_delta(const Network& net, const Head& head, const Trace& trace, std::span<const double> y) {
    const std::vector<double>& zF = trace.z.back();
    const std::vector<double>& aF = trace.a.back();
    const Activation sigma = net.layers.back().sigma;
    std::vector<double> delta;
    switch (head.loss) {
        case Loss::HalfSquaredError:
        case Loss::SquaredError: {
            delta = head.loss == Loss::HalfSquaredError ? half_squared_error_gradient(aF, y)
                                                        : squared_error_gradient(aF, y);
            for (std::size_t j = 0; j < delta.size(); ++j) delta[j] *= activate_prime(sigma, zF[j]);
            return delta;
        }
        case Loss::SoftmaxCrossEntropy: {
            check_logit_head(net, head);
            check_same_size("output_delta", zF, y);
            delta = softmax(zF);
            for (std::size_t k = 0; k < delta.size(); ++k) delta[k] -= y[k];
            return delta;
        }
        case Loss::SigmoidBinaryCrossEntropy: {
            check_logit_head(net, head);
            check_same_size("output_delta", zF, y);
            delta.resize(zF.size());
            for (std::size_t k = 0; k < zF.size(); ++k)
                delta[k] = activate(Activation::Sigmoid, zF[k]) - positive_target(y[k], head.labels);
            return delta;
        }
    }
    return delta;
}

// §1: δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l)  (note 000: δ_j^l = Σ_k δ_k^{l+1} W_kj^{l+1} σ'(z_j^l)).
// §2: δ^{(l-1)} = σ'(z^{(l-1)}) ⊙ (W^{(l)} δ^{(l)})  (note 001; W^{(l)} is n_{l-1} × n_l).
// §3: δ_i^{(l-1)} = σ'(a_i^{(l-1)}) Σ_j w_ji^{(l)} δ_j^{(l)}  (note 003: the Column case, names swapped).
std::vector<double> hidden_delta(Layout layout, const Layer& next, std::span<const double> delta_next,
                                 Activation sigma, std::span<const double> z) {
    const std::int64_t n_next = next.outputs(layout), n_this = next.inputs(layout);
    if (static_cast<std::int64_t>(delta_next.size()) != n_next || static_cast<std::int64_t>(z.size()) != n_this)
        throw ShapeError(fmt::format("delta::hidden_delta: the next layer maps {} to {} units, but δ^(l+1) has {} "
                                     "entries and z^l {}",
                                     n_this, n_next, delta_next.size(), z.size()));
    std::vector<double> delta(idx(n_this), 0.0);
    for (std::int64_t j = 0; j < n_this; ++j) {
        double s = 0.0;
        for (std::int64_t k = 0; k < n_next; ++k)
            s += (layout == Layout::Column ? next.W(k, j) : next.W(j, k)) * delta_next[idx(k)];
        delta[idx(j)] = s * activate_prime(sigma, z[idx(j)]);
    }
    return delta;
}

// §1: ∂L/∂W^l = δ^l (a^{l-1})ᵀ, entry (j, k) = δ_j^l a_k^{l-1} (note 000, corrected: §4).
// §2: ∂L/∂W^{(l)} = a^{(l-1)} (δ^{(l)})ᵀ (note 001: "transpose of ∇L").
// §3: ∂L/∂w_ij^{(l)} = δ_i^{(l)} z_j^{(l-1)} (note 003: the Column case).
Matrix weight_gradient(Layout layout, std::span<const double> delta, std::span<const double> a_prev) {
    const auto n = static_cast<std::int64_t>(delta.size()), m = static_cast<std::int64_t>(a_prev.size());
    Matrix g = layout == Layout::Column ? Matrix(n, m) : Matrix(m, n);
    for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t k = 0; k < m; ++k) {
            const double v = delta[idx(j)] * a_prev[idx(k)];
            if (layout == Layout::Column)
                g(j, k) = v;
            else
                g(k, j) = v;
        }
    return g;
}

// --- a batch --------------------------------------------------------------------------------------

namespace {
Gradients zero_gradients(const Network& net) {
    Gradients g;
    for (const Layer& L : net.layers) {
        g.dW.emplace_back(L.W.rows, L.W.cols);
        g.db.emplace_back(L.b.size(), 0.0);
    }
    return g;
}
}  // namespace

// §1: L_T = (1/n) Σ_i L_i, ∂L_T/∂θ = (1/n) Σ_i ∂L_i/∂θ (note 000); per sample: forward, δ^F, the
// δ^l recursion from F−1 down to 1, ∂L/∂W^l = δ^l (a^{l-1})ᵀ and ∂L/∂b^l = δ^l.
Gradients backprop(const Network& net, const Head& head, const Matrix& X, const Matrix& Y) {
    check_batch("backprop", net, X, Y);
    check_logit_head(net, head);
    check_targets(head, Y);
    Gradients g = zero_gradients(net);
    const double inv_n = 1.0 / static_cast<double>(X.rows);
    const std::size_t F = net.layers.size();
    for (std::int64_t i = 0; i < X.rows; ++i) {
        const Trace t = forward(net, X.row(i));
        g.loss += inv_n * sample_loss(net, head, t, Y.row(i));
        std::vector<double> delta = output_delta(net, head, t, Y.row(i));
        for (std::size_t l = F; l-- > 0;) {  // layers[l] is the notes' layer l+1
            const Matrix dW = weight_gradient(net.layout, delta, t.a[l]);
            for (std::size_t e = 0; e < dW.data.size(); ++e) g.dW[l].data[e] += inv_n * dW.data[e];
            for (std::size_t j = 0; j < g.db[l].size(); ++j) g.db[l][j] += inv_n * delta[j];
            if (l > 0) delta = hidden_delta(net.layout, net.layers[l], delta, net.layers[l - 1].sigma, t.z[l]);
        }
    }
    return g;
}

double batch_loss(const Network& net, const Head& head, const Matrix& X, const Matrix& Y) {
    check_batch("batch_loss", net, X, Y);
    check_logit_head(net, head);
    check_targets(head, Y);
    double L = 0.0;
    for (std::int64_t i = 0; i < X.rows; ++i) L += sample_loss(net, head, forward(net, X.row(i)), Y.row(i));
    return L / static_cast<double>(X.rows);
}

// Five-point central differences, [8(L(θ+h) − L(θ−h)) − (L(θ+2h) − L(θ−2h))] / 12h, per parameter.
Gradients finite_differences(const Network& net, const Head& head, const Matrix& X, const Matrix& Y, double h) {
    if (!(h > 0.0) || !std::isfinite(h)) throw ValueError(fmt::format("delta::finite_differences: step h = {}", h));
    Gradients g = zero_gradients(net);
    g.loss = batch_loss(net, head, X, Y);
    Network p = net;  // perturbed copy; every entry is restored after its two evaluations
    auto central = [&](double& theta) {
        const double saved = theta;
        auto at = [&](double step) {
            theta = saved + step;
            return batch_loss(p, head, X, Y);
        };
        const double d = (8.0 * (at(h) - at(-h)) - (at(2.0 * h) - at(-2.0 * h))) / (12.0 * h);
        theta = saved;
        return d;
    };
    for (std::size_t l = 0; l < p.layers.size(); ++l) {
        for (std::size_t e = 0; e < p.layers[l].W.data.size(); ++e) g.dW[l].data[e] = central(p.layers[l].W.data[e]);
        for (std::size_t j = 0; j < p.layers[l].b.size(); ++j) g.db[l][j] = central(p.layers[l].b[j]);
    }
    return g;
}

// §1 (note 004): W ← W − η ∂L_T/∂W; likewise b.
void gradient_step(Network& net, const Gradients& grads, double eta) {
    if (grads.dW.size() != net.layers.size() || grads.db.size() != net.layers.size())
        throw ShapeError(fmt::format("delta::gradient_step: gradients for {} layers, network has {}", grads.dW.size(),
                                     net.layers.size()));
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
        Layer& L = net.layers[l];
        if (grads.dW[l].data.size() != L.W.data.size() || grads.db[l].size() != L.b.size())
            throw ShapeError(fmt::format("delta::gradient_step: layer {} has {} weights and {} biases, its gradients {} "
                                         "and {}",
                                         l + 1, L.W.data.size(), L.b.size(), grads.dW[l].data.size(),
                                         grads.db[l].size()));
        for (std::size_t e = 0; e < L.W.data.size(); ++e) L.W.data[e] -= eta * grads.dW[l].data[e];
        for (std::size_t j = 0; j < L.b.size(); ++j) L.b[j] -= eta * grads.db[l][j];
    }
}

}  // namespace ad::nn::delta
