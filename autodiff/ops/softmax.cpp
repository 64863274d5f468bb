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
// Applies the rows kernel f(const T* in, T* out, rows, n, stride, step) along `axis` of
// contiguous x: the last axis in one call (rows one after another), another axis in one call per
// outer index (rows `inner` apart element to element, 1 apart row to row).
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
        if (inner == 1) {
            f(p, q, outer, n, std::int64_t{1}, n);
        } else {
            for (std::int64_t o = 0; o < outer; ++o) f(p + o * n * inner, q + o * n * inner, inner, n, inner, std::int64_t{1});
        }
    });
    return y;
}
}  // namespace

Tensor softmax(const Tensor& x, std::int64_t axis_in) {
    if (x.shape().is_scalar_axis(axis_in)) return reshape(softmax(reshape(x, Shape{1}), 0), Shape{});  // 0-d: 1
    const int axis = x.shape().axis(axis_in, "softmax");
    Tensor y = along_axis(x, axis, [](const auto* p, auto* q, std::int64_t rows, std::int64_t n, std::int64_t s, std::int64_t step) {
        detail::softmax_rows(p, q, rows, n, s, step, false);
    });
    return detail::record("softmax", y, {x}, [sy = save(y), axis](GradContext& g) {
        const Tensor s = sy.get();
        const Tensor gs = g.out() * s;
        g.add(0, gs - s * sum(gs, axis, true));
    });
}

Tensor log_softmax(const Tensor& x, std::int64_t axis_in) {
    if (x.shape().is_scalar_axis(axis_in)) return reshape(log_softmax(reshape(x, Shape{1}), 0), Shape{});  // 0-d: 0
    const int axis = x.shape().axis(axis_in, "log_softmax");
    Tensor y = along_axis(x, axis, [](const auto* p, auto* q, std::int64_t rows, std::int64_t n, std::int64_t s, std::int64_t step) {
        detail::softmax_rows(p, q, rows, n, s, step, true);
    });
    return detail::record("log_softmax", y, {x}, [sy = save(y), axis](GradContext& g) {
        g.add(0, g.out() - exp(sy.get()) * sum(g.out(), axis, true));
    });
}

}  // namespace ad
