// Comparisons, where(), minimum/maximum.
#include <autodiff/kernels.hpp>
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/compare.hpp>
#include <autodiff/tensor_node.hpp>

namespace ad {

using detail::GradContext;
using detail::save;
using detail::sum_to;
using detail::zip;

#define AD_COMPARISON(name, expr)                                                                    \
    Tensor name(const Tensor& a, const Tensor& b) {                                                 \
        return zip(a, b, #name, [](auto x, auto y) { return (expr) ? decltype(x)(1) : decltype(x)(0); }); \
    }
AD_COMPARISON(eq, x == y)
AD_COMPARISON(ne, x != y)
AD_COMPARISON(lt, x < y)
AD_COMPARISON(le, x <= y)
AD_COMPARISON(gt, x > y)
AD_COMPARISON(ge, x >= y)
AD_COMPARISON(logical_and, x != 0 && y != 0)
#undef AD_COMPARISON
Tensor logical_not(const Tensor& a) {
    return detail::map(a, [](auto x) { return x == 0 ? decltype(x)(1) : decltype(x)(0); });
}

Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
    detail::check_same_dtype("where", a, b);
    const Shape shape = broadcast_shapes(mask.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
    const Tensor m = detail::expand_contiguous(mask.detach().to(a.dtype()), shape);
    const Tensor av = detail::expand_contiguous(a.detach(), shape), bv = detail::expand_contiguous(b.detach(), shape);
    Tensor y = Tensor::empty(shape, a.dtype());
    Tensor keep_a = Tensor::empty(shape, a.dtype());
    detail::dispatch(a.dtype(), [&]<class T>() {  // select, never multiply (no 0·inf)
        const T *mp = m.data<T>(), *ap = av.data<T>(), *bp = bv.data<T>();
        T *yp = y.data<T>(), *kp = keep_a.data<T>();
        for (std::int64_t i = 0; i < y.numel(); ++i) {
            kp[i] = mp[i] != 0 ? T(1) : T(0);
            yp[i] = mp[i] != 0 ? ap[i] : bp[i];
        }
    });
    return detail::record("where", y, {a, b}, [keep = save(keep_a)](GradContext& g) {
        const Tensor k = keep.get();
        if (g.needs(0)) g.add(0, sum_to(where(k, g.out(), zeros_like(g.out())), g.input_shape(0)));
        if (g.needs(1)) g.add(1, sum_to(where(k, zeros_like(g.out()), g.out()), g.input_shape(1)));
    });
}

namespace {
// Weights of the gradient for the first input of min/max: 1 where it wins, ½ at ties, else 0.
Tensor selection_weight(const Tensor& a, const Tensor& b, bool is_max) {
    return zip(a, b, "select", [is_max](auto x, auto y) {
        using T = decltype(x);
        if (x == y) return T(0.5);
        return (is_max ? x > y : x < y) ? T(1) : T(0);
    });
}
Tensor min_or_max(const Tensor& a, const Tensor& b, bool is_max) {
    Tensor y = zip(a, b, is_max ? "maximum" : "minimum", [is_max](auto x, auto z) { return is_max ? std::fmax(x, z) : std::fmin(x, z); });
    return detail::record(is_max ? "maximum" : "minimum", y, {a, b}, [sa = save(a), sb = save(b), is_max](GradContext& g) {
        const Tensor w = selection_weight(sa.get(), sb.get(), is_max);
        if (g.needs(0)) g.add(0, sum_to(g.out() * w, g.input_shape(0)));
        if (g.needs(1)) g.add(1, sum_to(g.out() * (1.0 - w), g.input_shape(1)));
    });
}
}  // namespace

Tensor minimum(const Tensor& a, const Tensor& b) { return min_or_max(a, b, false); }
Tensor maximum(const Tensor& a, const Tensor& b) { return min_or_max(a, b, true); }

}  // namespace ad
