// Elementwise functions: forward, what they save, and backward side by side.
// Backward formulas are written with tensor ops, so create_graph differentiates them again.
#include <autodiff/elementary.hpp>
#include <autodiff/kernels.hpp>
#include <autodiff/multiversion.hpp>
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/compare.hpp>
#include <autodiff/ops/unary.hpp>
#include <autodiff/tensor_node.hpp>

#include <cmath>
#include <numbers>

namespace ad {

using detail::GradContext;
using detail::map;
using detail::record;
using detail::save;

Tensor detail::mask_not_le(const Tensor& x, double t) {
    return map(x, [t](auto v) { return v <= static_cast<decltype(v)>(t) ? decltype(v)(0) : decltype(v)(1); });
}

namespace {
template <class T>
T stable_sigmoid(T v) {
    return v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
}
}  // namespace

Tensor exp(const Tensor& x) {  // ∂ = e^x = y
    Tensor y = map(x, [](auto v) { return std::exp(v); });
    return record("exp", y, {x}, [sy = save(y)](GradContext& g) { g.add(0, g.out() * sy.get()); });
}

Tensor log(const Tensor& x) {  // ∂ = 1/x
    Tensor y = map(x, [](auto v) { return std::log(v); });
    return record("log", y, {x}, [sx = save(x)](GradContext& g) { g.add(0, g.out() / sx.get()); });
}

Tensor log1p(const Tensor& x) {  // ∂ = 1/(1+x)
    Tensor y = map(x, [](auto v) { return std::log1p(v); });
    return record("log1p", y, {x}, [sx = save(x)](GradContext& g) { g.add(0, g.out() / (sx.get() + 1.0)); });
}

Tensor sqrt(const Tensor& x) {  // ∂ = 1/(2y)
    Tensor y = map(x, [](auto v) { return std::sqrt(v); });
    return record("sqrt", y, {x}, [sy = save(y)](GradContext& g) { g.add(0, g.out() / (sy.get() * 2.0)); });
}

Tensor abs(const Tensor& x) {  // ∂ = sign x (0 at 0)
    Tensor y = map(x, [](auto v) { return std::fabs(v); });
    return record("abs", y, {x}, [sx = save(x)](GradContext& g) {
        const Tensor v = sx.get();
        Tensor sign = map(v, [](auto u) { return u > 0 ? decltype(u)(1) : (u < 0 ? decltype(u)(-1) : decltype(u)(0)); });
        g.add(0, g.out() * sign);
    });
}

Tensor sin(const Tensor& x) {  // ∂ = cos x
    Tensor y = map(x, [](auto v) { return std::sin(v); });
    return record("sin", y, {x}, [sx = save(x)](GradContext& g) { g.add(0, g.out() * cos(sx.get())); });
}

Tensor cos(const Tensor& x) {  // ∂ = −sin x
    Tensor y = map(x, [](auto v) { return std::cos(v); });
    return record("cos", y, {x}, [sx = save(x)](GradContext& g) { g.add(0, -g.out() * sin(sx.get())); });
}

Tensor tanh(const Tensor& x) {  // ∂ = 1 − y²
    Tensor y = map(x, [](auto v) {
        if constexpr (std::is_same_v<decltype(v), double>) {
            return detail::tanh(v);  // the same bits as ad::Value's tanh (elementary.hpp)
        } else {
            return std::tanh(v);
        }
    });
    return record("tanh", y, {x}, [sy = save(y)](GradContext& g) {
        const Tensor t = sy.get();
        g.add(0, g.out() * (1.0 - t * t));
    });
}

Tensor sigmoid(const Tensor& x) {  // ∂ = y(1 − y)
    Tensor y = map(x, [](auto v) { return stable_sigmoid(v); });
    return record("sigmoid", y, {x}, [sy = save(y)](GradContext& g) {
        const Tensor s = sy.get();
        g.add(0, g.out() * (s * (1.0 - s)));
    });
}

namespace {
// relu's two loops, both passes of every ReLU network's training step, compiled for AVX-512, AVX2
// and the baseline (multiversion.hpp; a compare and a select: the clones give the same bits).
// The 64-128-64-10 step (12288 activations each way, Intel AVX-512) went from 59.8–61.1 to
// 57.1–58.6 µs (3 alternating rounds of 20000 steps); an earlier try on AMD Zen 4 had shown nothing.
template <class T>
AD_ALWAYS_INLINE inline void relu_loop(const T* __restrict x, T* __restrict y, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] <= T(0) ? T(0) : x[i];
}
template <class T, bool Bias, bool Relu>
AD_ALWAYS_INLINE inline void bias_relu_loop(T* __restrict c, std::int64_t ldc, const T* __restrict bias, std::int64_t rows,
                                            std::int64_t cols) {
    for (std::int64_t r = 0; r < rows; ++r) {
        T* __restrict row = c + r * ldc;
        for (std::int64_t j = 0; j < cols; ++j) {
            T v = row[j];
            if constexpr (Bias) v += bias[j];
            if constexpr (Relu) v = v <= T(0) ? T(0) : v;
            row[j] = v;
        }
    }
}
template <class T>
AD_ALWAYS_INLINE inline void bias_relu(T* c, std::int64_t ldc, const T* bias, std::int64_t rows, std::int64_t cols, bool relu) {
    if (bias != nullptr && relu) bias_relu_loop<T, true, true>(c, ldc, bias, rows, cols);
    else if (bias != nullptr) bias_relu_loop<T, true, false>(c, ldc, bias, rows, cols);
    else if (relu) bias_relu_loop<T, false, true>(c, ldc, bias, rows, cols);
}
template <class T>
AD_ALWAYS_INLINE inline void relu_grad_loop(const T* __restrict g, const T* __restrict y, T* __restrict out, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = y[i] <= T(0) ? T(0) : g[i];
}
template <class T>
AD_ALWAYS_INLINE inline void relu_grad_rows_loop(T* __restrict g, const T* __restrict y, std::int64_t rows,
                                                 std::int64_t cols, double* __restrict acc) {
    for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t c = 0; c < cols; ++c) {
            const std::int64_t i = r * cols + c;
            const T v = y[i] <= T(0) ? T(0) : g[i];
            g[i] = v;
            acc[c] += static_cast<double>(v);
        }
    }
}
}  // namespace

namespace detail {
AD_MULTIVERSION void relu_forward(const float* x, float* y, std::int64_t n) { relu_loop(x, y, n); }
AD_MULTIVERSION void relu_forward(const double* x, double* y, std::int64_t n) { relu_loop(x, y, n); }
AD_MULTIVERSION void bias_relu_rows(float* c, std::int64_t ldc, const float* bias, std::int64_t rows, std::int64_t cols,
                                    bool relu) {
    bias_relu(c, ldc, bias, rows, cols, relu);
}
AD_MULTIVERSION void bias_relu_rows(double* c, std::int64_t ldc, const double* bias, std::int64_t rows, std::int64_t cols,
                                    bool relu) {
    bias_relu(c, ldc, bias, rows, cols, relu);
}
AD_MULTIVERSION void relu_backward(const float* g, const float* y, float* out, std::int64_t n) { relu_grad_loop(g, y, out, n); }
AD_MULTIVERSION void relu_backward(const double* g, const double* y, double* out, std::int64_t n) { relu_grad_loop(g, y, out, n); }
AD_MULTIVERSION void relu_backward_rows(float* g, const float* y, std::int64_t rows, std::int64_t cols, double* acc) {
    relu_grad_rows_loop(g, y, rows, cols, acc);
}
AD_MULTIVERSION void relu_backward_rows(double* g, const double* y, std::int64_t rows, std::int64_t cols, double* acc) {
    relu_grad_rows_loop(g, y, rows, cols, acc);
}
}  // namespace detail

// y = x where x > 0, else 0; NaN stays NaN (PyTorch). ∂ = 0 where y <= 0, else 1 (so relu'(0) = 0
// and a NaN passes the gradient, as PyTorch's threshold_backward).
Tensor relu(const Tensor& x) {
    const Tensor xc = x.is_contiguous() ? x : x.detach().contiguous();
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    detail::dispatch(x.dtype(), [&]<class T>() { detail::relu_forward(xc.data<T>(), y.data<T>(), y.numel()); });
    return record("relu", y, {x}, [sy = save(y)](GradContext& g) {
        if (!g.create_graph()) {  // one pass
            const Tensor go = g.out(), yv = sy.get();
            if (go.is_contiguous() && go.shape() == yv.shape() && go.dtype() == yv.dtype()) {
                Tensor dx = Tensor::empty(yv.shape(), yv.dtype());
                detail::dispatch(yv.dtype(), [&]<class T>() { detail::relu_backward(go.data<T>(), yv.data<T>(), dx.data<T>(), dx.numel()); });
                g.add(0, std::move(dx));
            } else {
                g.add(0, detail::zip(go, yv, "relu", [](auto gv, auto yv) { return yv <= 0 ? decltype(gv)(0) : gv; }));
            }
            return;
        }
        g.add(0, g.out() * detail::mask_not_le(sy.get(), 0.0));  // recorded: differentiable again
    });
}

Tensor leaky_relu(const Tensor& x, double slope) {  // ∂ = 1 if x > 0 else slope
    Tensor y = map(x, [slope](auto v) { return v > 0 ? v : v * static_cast<decltype(v)>(slope); });
    return record("leaky_relu", y, {x}, [sx = save(x), slope](GradContext& g) {
        Tensor d = map(sx.get(), [slope](auto v) { return v > 0 ? decltype(v)(1) : static_cast<decltype(v)>(slope); });
        g.add(0, g.out() * d);
    });
}

Tensor gelu(const Tensor& x) {  // y = x Φ(x); ∂ = Φ(x) + x φ(x)
    Tensor y = map(x, [](auto v) {
        using T = decltype(v);
        return v * T(0.5) * (T(1) + std::erf(v * static_cast<T>(std::numbers::sqrt2 / 2)));
    });
    return record("gelu", y, {x}, [sx = save(x)](GradContext& g) {
        const Tensor v = sx.get();
        // Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^{−x²/2}/√(2π), written in ops for create_graph.
        const double inv_sqrt2pi = std::numbers::inv_sqrtpi / std::numbers::sqrt2;
        Tensor phi = exp(v * v * -0.5) * inv_sqrt2pi;
        Tensor cdf = map(v, [](auto u) {
            using T = decltype(u);
            return T(0.5) * (T(1) + std::erf(u * static_cast<T>(std::numbers::sqrt2 / 2)));
        });
        if (g.create_graph()) {
            // dΦ/dx = φ: rebuild Φ so that its derivative is recorded.
            cdf = record("normal_cdf", cdf, {v}, [sv = save(v), inv_sqrt2pi](GradContext& h) {
                const Tensor u = sv.get();
                h.add(0, h.out() * exp(u * u * -0.5) * inv_sqrt2pi);
            });
        }
        g.add(0, g.out() * (cdf + v * phi));
    });
}

Tensor softplus(const Tensor& x) {  // y = log(1 + e^x) = max(x, 0) + log1p(e^{−|x|}); ∂ = σ(x)
    Tensor y = map(x, [](auto v) { return std::fmax(v, decltype(v)(0)) + std::log1p(std::exp(-std::fabs(v))); });
    return record("softplus", y, {x}, [sx = save(x)](GradContext& g) { g.add(0, g.out() * sigmoid(sx.get())); });
}

Tensor clamp(const Tensor& x, double lo, double hi) {  // ∂ = 1 for lo ≤ x ≤ hi, else 0
    if (lo > hi) throw ValueError(fmt::format("clamp: lower bound {} is above upper bound {}", lo, hi));
    Tensor y = map(x, [lo, hi](auto v) {
        using T = decltype(v);
        return std::fmin(std::fmax(v, static_cast<T>(lo)), static_cast<T>(hi));
    });
    return record("clamp", y, {x}, [sx = save(x), lo, hi](GradContext& g) {
        Tensor inside = map(sx.get(), [lo, hi](auto v) { return (v >= lo && v <= hi) ? decltype(v)(1) : decltype(v)(0); });
        g.add(0, g.out() * inside);
    });
}

}  // namespace ad
