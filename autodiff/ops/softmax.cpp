// softmax and log_softmax: fused stable forward, backward in ops (so create_graph works).
#include <autodiff/kernels.hpp>
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/ops/shape_ops.hpp>
#include <autodiff/ops/softmax.hpp>
#include <autodiff/ops/unary.hpp>
#include <autodiff/tensor_node.hpp>

#include <cmath>
#include <vector>

namespace ad {

using detail::GradContext;
using detail::save;

namespace {
// Applies the row kernel f(const T* in, T* out, n, stride) along `axis` of contiguous x.
template <class F>
Tensor along_axis(const Tensor& x, int axis, F f) {
    const Tensor xc = x.detach().contiguous();
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    std::int64_t inner = 1;
    for (int i = axis + 1; i < x.dim(); ++i) inner *= x.shape()[i];
    const std::int64_t n = x.shape()[axis];
    const std::int64_t outer = (n * inner) != 0 ? x.numel() / (n * inner) : 0;
    detail::dispatch(x.dtype(), [&]<class T>() {
        const T* p = xc.data<T>();
        T* q = y.data<T>();
        for (std::int64_t o = 0; o < outer; ++o)
            for (std::int64_t i = 0; i < inner; ++i) f(p + o * n * inner + i, q + o * n * inner + i, n, inner);
    });
    return y;
}
template <class T>
void softmax_row(const T* p, T* q, std::int64_t n, std::int64_t s, bool log_form) {
    if (n == 0) return;
    T m = p[0];
    for (std::int64_t j = 1; j < n; ++j) m = std::max(m, p[j * s]);
    if (std::isinf(m) && m < 0) m = 0;  // a row of −inf: avoid −inf − −inf
    // Rows up to 4096 long keep their exponentials (computed once); longer ones recompute them
    // rather than hold a big buffer for the thread's lifetime.
    thread_local std::vector<double> e;
    const bool keep = !log_form && n <= 4096;
    if (keep) e.resize(static_cast<std::size_t>(n));
    double z = 0;
    for (std::int64_t j = 0; j < n; ++j) {
        const double v = std::exp(static_cast<double>(p[j * s] - m));
        if (keep) e[static_cast<std::size_t>(j)] = v;
        z += v;
    }
    if (log_form) {
        const T lz = static_cast<T>(std::log(z));
        for (std::int64_t j = 0; j < n; ++j) q[j * s] = p[j * s] - m - lz;
    } else {
        const double inv = 1.0 / z;
        for (std::int64_t j = 0; j < n; ++j)
            q[j * s] = static_cast<T>((keep ? e[static_cast<std::size_t>(j)] : std::exp(static_cast<double>(p[j * s] - m))) * inv);
    }
}
}  // namespace

Tensor softmax(const Tensor& x, std::int64_t axis_in) {
    if (x.shape().is_scalar_axis(axis_in)) return reshape(softmax(reshape(x, Shape{1}), 0), Shape{});  // 0-d: 1
    const int axis = x.shape().axis(axis_in, "softmax");
    Tensor y = along_axis(x, axis, [](const auto* p, auto* q, std::int64_t n, std::int64_t s) { softmax_row(p, q, n, s, false); });
    return detail::record("softmax", y, {x}, [sy = save(y), axis](GradContext& g) {
        const Tensor s = sy.get();
        const Tensor gs = g.out() * s;
        g.add(0, gs - s * sum(gs, axis, true));
    });
}

Tensor log_softmax(const Tensor& x, std::int64_t axis_in) {
    if (x.shape().is_scalar_axis(axis_in)) return reshape(log_softmax(reshape(x, Shape{1}), 0), Shape{});  // 0-d: 0
    const int axis = x.shape().axis(axis_in, "log_softmax");
    Tensor y = along_axis(x, axis, [](const auto* p, auto* q, std::int64_t n, std::int64_t s) { softmax_row(p, q, n, s, true); });
    return detail::record("log_softmax", y, {x}, [sy = save(y), axis](GradContext& g) {
        g.add(0, g.out() - exp(sy.get()) * sum(g.out(), axis, true));
    });
}

}  // namespace ad
