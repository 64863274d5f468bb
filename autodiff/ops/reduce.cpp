// Reductions: forward kernels on an [outer, reduced] layout, backward by broadcasting.
#include <autodiff/kernels.hpp>
#include <autodiff/multiversion.hpp>
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/compare.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/ops/shape_ops.hpp>
#include <autodiff/ops/unary.hpp>
#include <autodiff/tensor_node.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace ad {

using detail::GradContext;
using detail::save;

namespace detail {
AxisList normalize_axes(const Tensor& x, const Axes& axes, const char* op) {
    AxisList r;
    if (axes.list.empty()) {
        for (int i = 0; i < x.shape().size(); ++i) r.push_back(i);
        return r;
    }
    for (auto a : axes.list)
        if (!x.shape().is_scalar_axis(a)) r.push_back(x.shape().axis(a, op));  // 0-d: reduce its one element
    std::sort(r.begin(), r.end());
    if (std::adjacent_find(r.begin(), r.end()) != r.end())
        throw ShapeError(fmt::format("{}: an axis is repeated in the reduction axes", op));
    return r;
}
Shape reduced_shape(const Shape& s, const AxisList& axes, bool keepdim) {
    Shape r;
    for (int i = 0; i < s.size(); ++i) {
        if (!axes.contains(i))
            r.push_back(s[i]);
        else if (keepdim)
            r.push_back(1);
    }
    return r;
}
}  // namespace detail

namespace {

// x rearranged as a contiguous [outer, inner] matrix: inner runs over the reduced axes.
struct Layout {
    Tensor data;
    std::int64_t outer = 1, inner = 1;
    Shape out_shape, keep_shape;  // result without / with the reduced dims
};
Layout layout(const Tensor& x, const detail::AxisList& axes, bool keepdim) {
    Layout l;
    detail::InlineVector<std::int64_t, Shape::kMaxDims> perm;
    for (int i = 0; i < x.shape().size(); ++i)
        if (!axes.contains(i)) perm.push_back(i);
    for (int a : axes) perm.push_back(a);
    Tensor p = x.detach();
    bool identity = true;
    for (int i = 0; i < perm.size(); ++i) identity = identity && perm[i] == i;
    if (!identity) p = detail::permute(p, perm);
    l.data = p.contiguous();
    for (int a : axes) l.inner *= x.shape()[a];
    l.outer = l.inner ? x.numel() / l.inner : 0;
    if (!l.inner) {
        l.outer = 1;
        for (int i = 0; i < x.shape().size(); ++i)
            if (!axes.contains(i)) l.outer *= x.shape()[i];
    }
    l.out_shape = detail::reduced_shape(x.shape(), axes, keepdim);
    l.keep_shape = detail::reduced_shape(x.shape(), axes, true);
    return l;
}

// Applies f(const T* row, n) -> double to each row of the layout.
// The result has dtype `dt` (the input's, or float64 for indices).
template <class F>
Tensor reduce_rows(const Layout& l, DType dt, F f) {
    Tensor y = Tensor::empty(l.out_shape, dt);
    detail::dispatch(l.data.dtype(), [&]<class T>() {
        const T* p = l.data.data<T>();
        detail::dispatch(dt, [&]<class U>() {
            U* yp = y.data<U>();
            for (std::int64_t o = 0; o < l.outer; ++o) yp[o] = static_cast<U>(f(p + o * l.inner, l.inner));
        });
    });
    return y;
}

// g (shaped like the reduced result) reshaped with the reduced dims kept, ready to broadcast.
Tensor unsqueeze_back(const Tensor& g, const Shape& keep_shape) { return reshape(g, keep_shape); }

}  // namespace

// ---- sum ----------------------------------------------------------------------------------------
namespace {
// acc[c] += Σ_r p[r·cols + c], in double (bias gradients: the column sums of a batch), compiled
// for AVX-512, AVX2 and the baseline (autodiff/multiversion.hpp).
template <class T>
AD_ALWAYS_INLINE inline void add_rows_loop(const T* __restrict p, std::int64_t rows, std::int64_t cols, double* __restrict acc) {
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) acc[c] += static_cast<double>(p[r * cols + c]);
}
AD_MULTIVERSION void add_rows(const float* p, std::int64_t rows, std::int64_t cols, double* acc) { add_rows_loop(p, rows, cols, acc); }
AD_MULTIVERSION void add_rows(const double* p, std::int64_t rows, std::int64_t cols, double* acc) { add_rows_loop(p, rows, cols, acc); }

// Sum over the leading `lead` axes of a contiguous x (a bias gradient: Σ over the batch), column
// by column without rearranging x first; accumulates in double.
Tensor sum_leading(const Tensor& x, int lead, bool keepdim) {
    std::int64_t rows = 1, cols = 1;  // (not numel / rows: a 0-row tensor still has its columns)
    for (int i = 0; i < x.dim(); ++i) (i < lead ? rows : cols) *= x.shape()[i];
    detail::AxisList ax;
    for (int i = 0; i < lead; ++i) ax.push_back(i);
    Tensor y = Tensor::empty(detail::reduced_shape(x.shape(), ax, keepdim), x.dtype());
    detail::dispatch(x.dtype(), [&]<class T>() {
        const T* p = x.data<T>();
        T* q = y.data<T>();
        thread_local std::vector<double> acc;
        acc.assign(static_cast<std::size_t>(cols), 0.0);
        add_rows(p, rows, cols, acc.data());
        for (std::int64_t c = 0; c < cols; ++c) q[c] = static_cast<T>(acc[static_cast<std::size_t>(c)]);
    });
    return y;
}
}  // namespace

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
    const auto ax = detail::normalize_axes(x, axes, "sum");
    bool prefix = x.is_contiguous() && !ax.empty() && ax.size() < x.dim();
    for (int i = 0; prefix && i < ax.size(); ++i) prefix = ax[i] == i;
    Layout l;
    Tensor y;
    if (prefix) {
        y = sum_leading(x, ax.size(), keepdim);
        l.keep_shape = detail::reduced_shape(x.shape(), ax, true);
    } else {
        l = layout(x, ax, keepdim);
        y = reduce_rows(l, x.dtype(), [](const auto* p, std::int64_t n) {
            double s = 0;  // accumulate in double: float sums of 10^6 terms stay accurate
            for (std::int64_t i = 0; i < n; ++i) s += p[i];
            return s;
        });
    }
    return detail::record("sum", y, {x}, [keep = l.keep_shape](GradContext& g) {
        g.add(0, expand(unsqueeze_back(g.out(), keep), g.input_shape(0)));
    });
}
Tensor sum(const Tensor& x) { return sum(x, Axes::all()); }

// ---- mean ---------------------------------------------------------------------------------------
Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
    const auto ax = detail::normalize_axes(x, axes, "mean");
    std::int64_t n = 1;
    for (int a : ax) n *= x.shape()[a];
    return sum(x, axes, keepdim) / static_cast<double>(n);
}
Tensor mean(const Tensor& x) { return mean(x, Axes::all()); }

// ---- max / min ------------------------------------------------------------------------------------
namespace {
Tensor extremum(const Tensor& x, const Axes& axes, bool keepdim, bool is_max) {
    const char* name = is_max ? "max" : "min";
    if (x.numel() == 0) throw ShapeError(fmt::format("{}: reduction of an empty tensor (shape {})", name, x.shape().str()));
    const auto ax = detail::normalize_axes(x, axes, name);
    const Layout l = layout(x, ax, keepdim);
    Tensor y = reduce_rows(l, x.dtype(), [is_max](const auto* p, std::int64_t n) {
        double m = p[0];
        for (std::int64_t i = 1; i < n; ++i) {
            if (std::isnan(static_cast<double>(p[i]))) return static_cast<double>(p[i]);  // NaN propagates
            m = is_max ? std::max<double>(m, p[i]) : std::min<double>(m, p[i]);
        }
        return m;
    });
    return detail::record(name, y, {x}, [sx = save(x), sy = save(y), keep = l.keep_shape](GradContext& g) {
        // ∂ = 1/k on each of the k elements equal to the extremum, 0 elsewhere.
        const Tensor xv = sx.get();
        const Tensor hit = eq(xv.detach(), reshape(sy.get().detach(), keep));
        // count the hits per reduced group, with the reduced dims kept
        Axes red;
        for (int i = 0; i < keep.size(); ++i)
            if (keep[i] == 1 && xv.shape()[i] != 1) red.list.push_back(i);
        Tensor per_group = red.list.empty() ? ones_like(hit) : sum(hit, red, true);
        g.add(0, expand(reshape(g.out(), keep), xv.shape()) * (hit / per_group));
    });
}
}  // namespace
Tensor max(const Tensor& x, const Axes& axes, bool keepdim) { return extremum(x, axes, keepdim, true); }
Tensor max(const Tensor& x) { return extremum(x, Axes::all(), false, true); }
Tensor min(const Tensor& x, const Axes& axes, bool keepdim) { return extremum(x, axes, keepdim, false); }
Tensor min(const Tensor& x) { return extremum(x, Axes::all(), false, false); }

// ---- var / std ------------------------------------------------------------------------------------
// Written in primitives (mean, subtraction, square, sum): their backward rules compose.
Tensor var(const Tensor& x, const Axes& axes, bool keepdim, int correction) {
    const auto ax = detail::normalize_axes(x, axes, "var");
    std::int64_t n = 1;
    for (int a : ax) n *= x.shape()[a];
    const Tensor d = x - mean(x, axes, true);
    return sum(d * d, axes, keepdim) / static_cast<double>(std::max<std::int64_t>(n - correction, 0));
}
Tensor var(const Tensor& x) { return var(x, Axes::all()); }
Tensor std(const Tensor& x, const Axes& axes, bool keepdim, int correction) { return sqrt(var(x, axes, keepdim, correction)); }
Tensor std(const Tensor& x) { return sqrt(var(x)); }

// ---- logsumexp --------------------------------------------------------------------------------------
Tensor logsumexp(const Tensor& x, const Axes& axes, bool keepdim) {
    const auto ax = detail::normalize_axes(x, axes, "logsumexp");
    const Layout l = layout(x, ax, keepdim);
    Tensor y = reduce_rows(l, x.dtype(), [](const auto* p, std::int64_t n) {
        double m = -std::numeric_limits<double>::infinity();
        for (std::int64_t i = 0; i < n; ++i) {  // std::max, with m in a register
            const double v = p[i];
            m = m < v ? v : m;
        }
        if (std::isinf(m)) return m;  // all −inf (→ −inf) or some +inf (→ +inf)
        double s = 0, e[detail::kExpChunk];  // the exponentials, vectorized (as kernels.hpp's softmax_rows)
        for (std::int64_t i0 = 0; i0 < n; i0 += detail::kExpChunk) {
            const std::int64_t len = std::min(detail::kExpChunk, n - i0);
            for (std::int64_t k = 0; k < len; ++k) e[k] = static_cast<double>(p[i0 + k]) - m;
            detail::exp_inplace(e, len);
            for (std::int64_t k = 0; k < len; ++k) s += e[k];
        }
        return m + std::log(s);
    });
    return detail::record("logsumexp", y, {x}, [sx = save(x), sy = save(y), keep = l.keep_shape](GradContext& g) {
        // ∂ = e^{x − y} = softmax(x) along the reduced axes
        const Tensor p = exp(sx.get() - reshape(sy.get(), keep));
        g.add(0, expand(reshape(g.out(), keep), g.input_shape(0)) * p);
    });
}
Tensor logsumexp(const Tensor& x) { return logsumexp(x, Axes::all()); }

// ---- argmax ------------------------------------------------------------------------------------------
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim) {
    if (x.numel() == 0) throw ShapeError(fmt::format("argmax: empty tensor (shape {})", x.shape().str()));
    if (x.shape().is_scalar_axis(axis)) return Tensor::zeros(Shape{}, DType::F64);  // 0-d: index 0
    const detail::AxisList ax{x.shape().axis(axis, "argmax")};
    const Layout l = layout(x, ax, keepdim);
    Tensor y = reduce_rows(l, DType::F64, [&](const auto* p, std::int64_t n) {
        std::int64_t best = 0;
        for (std::int64_t i = 1; i < n; ++i)
            if (p[i] > p[best]) best = i;
        return static_cast<double>(best);
    });
    return y;
}
std::int64_t argmax(const Tensor& x) {
    return static_cast<std::int64_t>(argmax(reshape(x.detach(), Shape{x.numel()}), 0).item());
}

}  // namespace ad
