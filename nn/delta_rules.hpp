#pragma once
// ad::nn::delta — backpropagation for dense networks, written by hand from the δ equations of
// the lecture notes (notes/README.md in the shared notes folder, cited below as "§n, note NNN").
//
// This is a reference implementation that exists only to check the engine: it never calls the
// engine (no Tensor, no tape, no backward). Everything is std::vector<double>, row-major
// matrices and plain loops, one sample at a time, in the order the notes write it:
//
//     forward:   z^l = W^l a^{l-1} + b^l,  a^l = σ(z^l),  a^0 = x          (§1)
//     output:    δ^F = ∇_{a^F} L ⊙ σ'(z^F)                                   (§1)
//     hidden:    δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l)                          (§1)
//     gradients: ∂L/∂W^l = δ^l (a^{l-1})ᵀ,  ∂L/∂b^l = δ^l                    (§1)
//     batch:     L_T = (1/n) Σ_i L_i, every gradient the mean of the per-sample ones (§1, note 000)
//
//     auto grads = ad::nn::delta::backprop(net, {.loss = Loss::HalfSquaredError}, X, Y);
//     grads.dW[0]  // ∂L_T/∂W^1, in the network's layout
//
// Choices where the notes slip (§4; docs/notes-conformance.md has the full table):
//   - ½-squared error: ∇_a L = a − y (not 002's y − a or ½(y − a)).
//   - squared error without ½ (note 001): δ = 2(z − y) on a linear output (not 001's z − y).
//   - ∂L/∂W^l_{jk} = δ^l_j a^{l-1}_k (not 000's a_j).
//   - binary cross-entropy: both label conventions, chosen explicitly (LabelConvention).
//   - ReLU'(0) = 0 (as the engine and PyTorch).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ad::nn::delta {

// A dense row-major matrix of doubles: element (i, j) is data[i * cols + j].
struct Matrix {
    std::int64_t rows = 0, cols = 0;
    std::vector<double> data;

    Matrix() = default;
    // rows × cols zeros; ad::ShapeError for a negative size.
    Matrix(std::int64_t rows, std::int64_t cols);
    // Takes rows·cols values in row-major order; ad::ShapeError if the count differs.
    Matrix(std::int64_t rows, std::int64_t cols, std::vector<double> values);
    // rows × cols copies of value.
    static Matrix full(std::int64_t rows, std::int64_t cols, double value);
    double& operator()(std::int64_t i, std::int64_t j) { return data[static_cast<std::size_t>(i * cols + j)]; }
    double operator()(std::int64_t i, std::int64_t j) const { return data[static_cast<std::size_t>(i * cols + j)]; }
    // Row i as a span (a sample of a batch, or a row of W).
    std::span<const double> row(std::int64_t i) const;
};

// Mᵀ.
Matrix transpose(const Matrix& m);

// The activation σ of a layer. Identity is a linear layer (z itself is the output).
enum class Activation { Identity, Sigmoid, ReLU, Tanh };
const char* activation_name(Activation f);
// σ(z): 1/(1+e^{−z}) (§1), max(z, 0) (§1, note 001), tanh z, or z.
double activate(Activation f, double z);
// σ'(z): σ(1−σ) (§1, note 002), 1 if z > 0 else 0 — so ReLU'(0) = 0 — (§1), 1 − tanh² z, or 1.
double activate_prime(Activation f, double z);

// How W^l is stored.
//   Column (§1, notes 000/002/004): W^l is n_l × n_{l-1}, z^l = W^l a^{l-1} + b^l. This is
//     nn::Linear's weight [out, in].
//   Row (§2, note 001): W^{(l)} is n_{l-1} × n_l, z^{(l)} = W^{(l)ᵀ} a^{(l-1)}, i.e.
//     z_j = Σ_i a_i w_ij. Note 001 has no bias; a layer with an empty b follows the note exactly,
//     a non-empty b is added as in §1 (our extension, so both layouts cover the same networks).
enum class Layout { Column, Row };

// One dense layer.
struct Layer {
    Matrix W;                                 // see Layout
    std::vector<double> b;                    // n_l entries, or empty: no bias
    Activation sigma = Activation::Sigmoid;   // σ of this layer
    std::int64_t inputs(Layout layout) const { return layout == Layout::Column ? W.cols : W.rows; }
    std::int64_t outputs(Layout layout) const { return layout == Layout::Column ? W.rows : W.cols; }
};

// A dense network: layers[0] is the notes' layer 1, layers.back() the output layer F.
struct Network {
    Layout layout = Layout::Column;
    std::vector<Layer> layers;
    std::int64_t in_features() const;
    std::int64_t out_features() const;
    // ad::ShapeError naming the layer when consecutive sizes or a bias length do not fit, or
    // when there are no layers.
    void check() const;
};

// The same network in the other layout: every W transposed, b and σ unchanged.
Network to_row_layout(const Network& net);
Network to_column_layout(const Network& net);

// The loss L of one sample, a function of the output layer.
enum class Loss {
    // L = ½‖a^F − y‖² (§1, notes 000/002): ∇_a L = a^F − y.
    HalfSquaredError,
    // L = ‖a^F − y‖² (§2, note 001, on a linear output): ∇_a L = 2(a^F − y).
    SquaredError,
    // p = softmax(z^F), L = −Σ_k y_k log p_k (§2, note 001): δ^F = p − y. y must be a
    // probability vector (one-hot or soft). The output layer must be linear (Identity).
    SoftmaxCrossEntropy,
    // y = σ(z^F) per output unit, binary cross-entropy summed over output units (§3, note 003),
    // in the chosen LabelConvention. The output layer must be linear (Identity).
    SigmoidBinaryCrossEntropy,
};
const char* loss_name(Loss loss);

// What the target t of binary cross-entropy means (§3).
//   TargetIsPositive: σ(a) = p(t=1|x), L = −t log σ(a) − (1−t) log(1−σ(a)), δ = σ(a) − t.
//   Note003:          σ(a) = p(t=0|x), L = −(1−t) log σ(a) − t log(1−σ(a)), δ = σ(a) − (1 − t).
enum class LabelConvention { TargetIsPositive, Note003 };

// The output head: a loss and, for binary cross-entropy, its label convention.
struct Head {
    Loss loss = Loss::HalfSquaredError;
    LabelConvention labels = LabelConvention::TargetIsPositive;
};

// --- per-sample losses and their gradients (each a formula of the notes) --------------------
// ½‖a − y‖² (§1, note 002's worked example: a = (0.3, 0.5, 0.2), y = (0, 1, 0) gives 0.19).
double half_squared_error(std::span<const double> a, std::span<const double> y);
// ∇_a ½‖a − y‖² = a − y (§1; note 002 writes y − a: §4 slip).
std::vector<double> half_squared_error_gradient(std::span<const double> a, std::span<const double> y);
// ‖a − y‖² (§2, note 001).
double squared_error(std::span<const double> a, std::span<const double> y);
// ∇_a ‖a − y‖² = 2(a − y) (§2, note 001's ∂Loss/∂z_k = 2(z_k − y_k)).
std::vector<double> squared_error_gradient(std::span<const double> a, std::span<const double> y);
// p_k = e^{z_k} / Σ_j e^{z_j} (§2, note 001), computed from z − max z.
std::vector<double> softmax(std::span<const double> z);
// −Σ_k y_k log p_k with p = softmax(z) (§2, note 001), log p_k = z_k − log Σ_j e^{z_j}.
double softmax_cross_entropy(std::span<const double> z, std::span<const double> y);
// Binary cross-entropy of one logit a (§3, note 003) in the given convention, via
// log σ(a) = −log(1 + e^{−a}) and log(1 − σ(a)) = −log(1 + e^{a}), both computed stably.
double binary_cross_entropy(double a, double t, LabelConvention labels);

// --- the δ rules, one sample ------------------------------------------------------------------
// The forward pass of one sample: z[l] and a[l] for l = 1..F (z[0] is empty, a[0] = x).
struct Trace {
    std::vector<std::vector<double>> z;
    std::vector<std::vector<double>> a;
};
// z^l = W^l a^{l-1} + b^l, a^l = σ(z^l) (§1); in the Row layout z_j = Σ_i a_i w_ij (+ b_j) (§2).
Trace forward(const Network& net, std::span<const double> x);
// L of one sample from its trace (the head's formula above on a^F, or on z^F for the heads that
// apply softmax/σ themselves).
double sample_loss(const Network& net, const Head& head, const Trace& trace, std::span<const double> y);
// δ^F = ∂L/∂z^F:
//   squared errors:  δ^F = ∇_{a^F} L ⊙ σ'(z^F) (§1), e.g. (a − y) ⊙ σ'(z) for ½, 2(z − y) linear (§2)
//   softmax + CE:    δ^F = p − y (§2)
//   sigmoid + BCE:   δ^F = σ(z^F) − t, or σ(z^F) − (1 − t) in note 003's convention (§3)
// ad::ValueError if a softmax/BCE head sits on a non-linear output layer.
std::vector<double> output_delta(const Network& net, const Head& head, const Trace& trace, std::span<const double> y);
// δ^l from δ^{l+1}, where `next` is layer l+1 and z = z^l, sigma = σ of layer l:
//   Column: δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l)                                    (§1)
//   Row:    δ^{(l-1)} = σ'(z^{(l-1)}) ⊙ (W^{(l)} δ^{(l)})                           (§2)
std::vector<double> hidden_delta(Layout layout, const Layer& next, std::span<const double> delta_next,
                                 Activation sigma, std::span<const double> z);
// ∂L/∂W^l from δ^l and a^{l-1}:
//   Column: δ^l (a^{l-1})ᵀ, n_l × n_{l-1}, entry (j, k) = δ_j a_k                  (§1)
//   Row:    a^{(l-1)} (δ^{(l)})ᵀ, n_{l-1} × n_l                                     (§2)
// (∂L/∂b^l = δ^l needs no function.)
Matrix weight_gradient(Layout layout, std::span<const double> delta, std::span<const double> a_prev);

// --- a batch ------------------------------------------------------------------------------------
// Gradients of L_T = (1/n) Σ_i L_i: dW[l] has the layout of net.layers[l].W; db[l] is empty for a
// layer without bias.
struct Gradients {
    std::vector<Matrix> dW;
    std::vector<std::vector<double>> db;
    double loss = 0.0;  // L_T
};
// X is n × n_0 (one sample per row, like the engine), Y is n × n_F. Runs forward, δ^F, the δ^l
// recursion and the two gradient formulas for each sample and averages them (§1).
// ad::ShapeError for sizes that do not fit, ad::ValueError for bad targets (NaN; cross-entropy
// rows that are not probability vectors; BCE targets outside [0, 1]) or an empty batch.
Gradients backprop(const Network& net, const Head& head, const Matrix& X, const Matrix& Y);
// L_T alone (the forward pass only); what finite_differences differentiates.
double batch_loss(const Network& net, const Head& head, const Matrix& X, const Matrix& Y);
// Central finite differences of L_T with respect to every weight and bias, each entry perturbed in
// turn (no δ rule involved): the fourth-order five-point stencil
//     ∂L_T/∂θ ≈ [8(L_T(θ+h) − L_T(θ−h)) − (L_T(θ+2h) − L_T(θ−2h))] / 12h,
// whose error is O(h⁴) truncation plus O(ε|L_T|/h) rounding: with h = 1e-3 about 1e-12 absolute
// for a smooth loss of size 1 (the two-point (L(θ+h) − L(θ−h))/2h is limited to ~1e-10 by
// rounding, too coarse for the small gradients of deep sigmoid layers). Piecewise-linear units
// (ReLU) must stay more than 2h·|∂z/∂θ| away from their kink for the result to be meaningful.
// h must be positive and finite (ad::ValueError).
Gradients finite_differences(const Network& net, const Head& head, const Matrix& X, const Matrix& Y,
                             double h = 1e-3);

// W ← W − η ∂L_T/∂W and b ← b − η ∂L_T/∂b for every layer (§1, note 004).
void gradient_step(Network& net, const Gradients& grads, double eta);

}  // namespace ad::nn::delta
