#pragma once
// Kernel helpers shared by the op families: dtype dispatch and the loops every elementwise op
// uses. Loops over contiguous data are plain indexed loops the compiler vectorizes at -O3.
#include <autodiff/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>
#include <utility>

namespace ad::detail {

// Calls f.template operator()<T>() with T = float or double according to dt.
template <class F>
decltype(auto) dispatch(DType dt, F&& f) {
    if (dt == DType::F32) return std::forward<F>(f).template operator()<float>();
    return std::forward<F>(f).template operator()<double>();
}

// Throws ShapeError unless both tensors have the same dtype.
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);

// y = f(x) elementwise into a new contiguous tensor of x's shape and dtype (no graph).
template <class F>
Tensor map(const Tensor& x, F f) {
    const Tensor xc = x.is_contiguous() ? x : x.detach().contiguous();  // a copy, never a recorded op
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    dispatch(x.dtype(), [&]<class T>() {
        const T* __restrict xp = xc.data<T>();
        T* __restrict yp = y.data<T>();
        const std::int64_t n = y.numel();
        for (std::int64_t i = 0; i < n; ++i) yp[i] = static_cast<T>(f(xp[i]));
    });
    return y;
}

// Broadcast iteration plan for a binary op: output shape and per-input strides (0 where
// broadcast), collapsed to as few dimensions as possible.
struct Broadcast2 {
    Shape shape;
    Shape sa, sb;  // element strides of a and b over `shape`
};
Broadcast2 plan_broadcast(const Tensor& a, const Tensor& b, const char* op);

// z = f(a, b) elementwise with NumPy broadcasting into a new contiguous tensor (no graph).
template <class F>
Tensor zip(const Tensor& a, const Tensor& b, const char* op, F f) {
    check_same_dtype(op, a, b);
    if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
        Tensor z = Tensor::empty(a.shape(), a.dtype());
        dispatch(a.dtype(), [&]<class T>() {
            const T* __restrict ap = a.data<T>();
            const T* __restrict bp = b.data<T>();
            T* __restrict zp = z.data<T>();
            const std::int64_t n = z.numel();
            for (std::int64_t i = 0; i < n; ++i) zp[i] = static_cast<T>(f(ap[i], bp[i]));
        });
        return z;
    }
    const Broadcast2 p = plan_broadcast(a, b, op);
    Tensor z = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), op), a.dtype());
    dispatch(a.dtype(), [&]<class T>() {
        const T* ap = a.data<T>();
        const T* bp = b.data<T>();
        T* __restrict zp = z.data<T>();
        const int nd = p.shape.size();
        if (nd == 0) {
            zp[0] = static_cast<T>(f(ap[0], bp[0]));
            return;
        }
        const std::int64_t inner = p.shape[nd - 1], ia = p.sa[nd - 1], ib = p.sb[nd - 1];
        std::int64_t idx[Shape::kMaxDims] = {};
        std::int64_t oa = 0, ob = 0, out = 0;
        const std::int64_t outer = p.shape.numel() / (inner ? inner : 1);
        for (std::int64_t o = 0; o < outer && inner; ++o) {
            if (ia == 1 && ib == 1) {
                for (std::int64_t k = 0; k < inner; ++k) zp[out + k] = static_cast<T>(f(ap[oa + k], bp[ob + k]));
            } else if (ia == 1 && ib == 0) {
                const T bv = bp[ob];
                for (std::int64_t k = 0; k < inner; ++k) zp[out + k] = static_cast<T>(f(ap[oa + k], bv));
            } else if (ia == 0 && ib == 1) {
                const T av = ap[oa];
                for (std::int64_t k = 0; k < inner; ++k) zp[out + k] = static_cast<T>(f(av, bp[ob + k]));
            } else {
                for (std::int64_t k = 0; k < inner; ++k) zp[out + k] = static_cast<T>(f(ap[oa + k * ia], bp[ob + k * ib]));
            }
            out += inner;
            for (int d = nd - 2; d >= 0; --d) {  // odometer over the outer dimensions
                ++idx[d];
                oa += p.sa[d];
                ob += p.sb[d];
                if (idx[d] < p.shape[d]) break;
                oa -= p.sa[d] * idx[d];
                ob -= p.sb[d] * idx[d];
                idx[d] = 0;
            }
        }
    });
    return z;
}

// x broadcast to `shape` as a new contiguous tensor (no graph).
Tensor expand_contiguous(const Tensor& x, const Shape& shape);

// Sums g over broadcast dimensions so that the result has `shape` (the one place broadcast
// gradients are reduced). Recorded when recording is on. Returns g itself if shapes match.
Tensor sum_to(const Tensor& g, const Shape& shape);

// One row of softmax (or log-softmax) of n elements p[0], p[s], …, p[(n−1)s] into q, from
// p − max(p) (a row of −inf gives NaN-free output), accumulating in double; with lse, also the
// row's log-sum-exp, max + log Σ exp(p − max). Shared by softmax() and the fused cross-entropy,
// which keeps its forward's softmax for the backward, whose bits must match the recorded form.
template <class T>
void softmax_row(const T* p, T* q, std::int64_t n, std::int64_t s, bool log_form, double* lse = nullptr) {
    if (n == 0) {
        if (lse != nullptr) *lse = -std::numeric_limits<double>::infinity();
        return;
    }
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
    if (lse != nullptr) *lse = static_cast<double>(m) + std::log(z);
    if (log_form) {
        const T lz = static_cast<T>(std::log(z));
        for (std::int64_t j = 0; j < n; ++j) q[j * s] = p[j * s] - m - lz;
    } else {
        const double inv = 1.0 / z;
        for (std::int64_t j = 0; j < n; ++j)
            q[j * s] = static_cast<T>((keep ? e[static_cast<std::size_t>(j)] : std::exp(static_cast<double>(p[j * s] - m))) * inv);
    }
}

}  // namespace ad::detail
