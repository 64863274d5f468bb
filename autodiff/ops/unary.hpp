#pragma once
// Elementwise functions and activations. Each comment gives the derivative the op records and
// what it does at its kinks (PyTorch's choices).
#include <autodiff/tensor.hpp>

namespace ad {

Tensor exp(const Tensor& x);      // e^x
Tensor log(const Tensor& x);      // 1/x (log of a negative is NaN, log 0 = −inf: IEEE)
Tensor log1p(const Tensor& x);    // 1/(1+x)
Tensor sqrt(const Tensor& x);     // 1/(2√x)
Tensor abs(const Tensor& x);      // sign x, 0 at 0
Tensor sin(const Tensor& x);      // cos x
Tensor cos(const Tensor& x);      // −sin x
Tensor tanh(const Tensor& x);     // 1 − tanh²x
Tensor sigmoid(const Tensor& x);  // σ(1 − σ); computed stably for large |x|
Tensor relu(const Tensor& x);     // 1 if x > 0, else 0 (relu'(0) = 0)
Tensor leaky_relu(const Tensor& x, double slope = 0.01);  // 1 if x > 0, else slope
Tensor gelu(const Tensor& x);     // exact (erf) GELU: Φ(x) + x φ(x)
Tensor softplus(const Tensor& x); // σ(x); log(1 + e^x) computed stably
Tensor clamp(const Tensor& x, double lo, double hi);  // 1 inside [lo, hi], 0 outside (1 at the bounds, as PyTorch)

namespace detail {
// The 0/1 mask of "not x <= t" (x > t, or x is NaN), in x's dtype (a constant of the graph).
Tensor mask_not_le(const Tensor& x, double t);
// relu's loops (compiled per instruction set, multiversion.hpp), for linalg.hpp's linear and
// linear_relu too.
// y[i] = x[i] <= 0 ? 0 : x[i].
void relu_forward(const float* x, float* y, std::int64_t n);
void relu_forward(const double* x, double* y, std::int64_t n);
// The epilogue of a product C (rows × cols, row stride ldc), in place: c += bias[col] when bias is
// not null (one rounding, as the product + the bias would make), then c = c <= 0 ? 0 : c if relu.
void bias_relu_rows(float* c, std::int64_t ldc, const float* bias, std::int64_t rows, std::int64_t cols, bool relu);
void bias_relu_rows(double* c, std::int64_t ldc, const double* bias, std::int64_t rows, std::int64_t cols, bool relu);
// out[i] = y[i] <= 0 ? 0 : g[i].
void relu_backward(const float* g, const float* y, float* out, std::int64_t n);
void relu_backward(const double* g, const double* y, double* out, std::int64_t n);
// The same in place on g (rows × cols), and acc[c] += g[r·cols + c] in double on the way, row
// after row (the column sums sum(g, 0) makes, in the same order: the same bits).
void relu_backward_rows(float* g, const float* y, std::int64_t rows, std::int64_t cols, double* acc);
void relu_backward_rows(double* g, const double* y, std::int64_t rows, std::int64_t cols, double* acc);
}  // namespace detail

}  // namespace ad
