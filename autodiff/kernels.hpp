#pragma once
// Kernel helpers shared by the op families: dtype dispatch and the loops every elementwise op
// uses. Loops over contiguous data are plain indexed loops the compiler vectorizes at -O3.
#include <autodiff/elementary.hpp>
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

// Softmax (or log-softmax) of rows, each of n elements p[0], p[s], …, p[(n−1)s], into q at the
// same offsets, from p − max(p) (a row of −inf gives NaN-free output), accumulating in double;
// with lse, also each row's log-sum-exp, max + log Σ exp(p − max). Shared by softmax(),
// log_softmax() and the fused cross-entropy, which keeps its forward's softmax for the backward,
// whose bits must match the recorded form.
//
// The exponentials are detail::exp's, computed by the vectorized exp_inplace into a buffer on the
// stack, kExpChunk at a time: softmax_rows puts as many short rows as fit into one call (a row of
// 10 classes alone costs 2.9 ns per exponential, 64 of them together 0.84), and a row longer than
// the buffer computes them again for its output. Every output is e^{x_j − max} · (1 / Σ) with the
// sum in index order, however the row was cut or grouped.
inline constexpr std::int64_t kExpChunk = 512;

// e[k] = exp(p[k·s] − m) for k < len, the difference taken in T.
template <class T>
void shifted_exps(const T* p, std::int64_t s, T m, double* e, std::int64_t len) {
    for (std::int64_t k = 0; k < len; ++k) e[k] = static_cast<double>(p[k * s] - m);
    exp_inplace(e, len);
}

// A row's max as the softmax shifts by it: a row of −inf gives 0 (avoids −inf − −inf).
template <class T>
T shift_of_max(T m) {
    return std::isinf(m) && m < 0 ? T(0) : m;
}

template <class T>
T row_max(const T* p, std::int64_t n, std::int64_t s) {  // std::max's order, m in a register
    T m = p[0];
    for (std::int64_t j = 1; j < n; ++j) {
        const T v = p[j * s];
        m = m < v ? v : m;
    }
    return shift_of_max(m);
}

// From the row's max m and sum z of exponentials: its log-sum-exp, and the log-softmax (e unused)
// or the softmax from the exponentials e[0, n) (null: computed again, kExpChunk at a time).
template <class T>
void finish_softmax_row(const T* p, T* q, std::int64_t n, std::int64_t s, T m, double z, const double* e,
                        bool log_form, double* lse) {
    if (lse != nullptr) *lse = static_cast<double>(m) + std::log(z);
    if (log_form) {
        const T lz = static_cast<T>(std::log(z));
        for (std::int64_t j = 0; j < n; ++j) q[j * s] = p[j * s] - m - lz;
        return;
    }
    const double inv = 1.0 / z;
    if (e != nullptr) {
        for (std::int64_t j = 0; j < n; ++j) q[j * s] = static_cast<T>(e[j] * inv);
        return;
    }
    double buf[kExpChunk];
    for (std::int64_t j0 = 0; j0 < n; j0 += kExpChunk) {
        const std::int64_t len = std::min(kExpChunk, n - j0);
        shifted_exps(p + j0 * s, s, m, buf, len);
        for (std::int64_t k = 0; k < len; ++k) q[(j0 + k) * s] = static_cast<T>(buf[k] * inv);
    }
}

// `rows` rows, row r starting at p + r·step (and q + r·step); lse, if not null, gets one per row.
template <class T>
void softmax_rows(const T* p, T* q, std::int64_t rows, std::int64_t n, std::int64_t s, std::int64_t step, bool log_form,
                  double* lse = nullptr) {
    if (n == 0) {
        if (lse != nullptr) std::fill(lse, lse + rows, -std::numeric_limits<double>::infinity());
        return;
    }
    double e[kExpChunk];
    if (n > kExpChunk) {  // one row at a time, its exponentials summed a chunk at a time
        for (std::int64_t r = 0; r < rows; ++r) {
            const T* row = p + r * step;
            const T m = row_max(row, n, s);
            double z = 0;
            for (std::int64_t j0 = 0; j0 < n; j0 += kExpChunk) {
                const std::int64_t len = std::min(kExpChunk, n - j0);
                shifted_exps(row + j0 * s, s, m, e, len);
                for (std::int64_t k = 0; k < len; ++k) z += e[k];
            }
            finish_softmax_row(row, q + r * step, n, s, m, z, nullptr, log_form, lse != nullptr ? lse + r : nullptr);
        }
        return;
    }
    // Short rows: a group's maxima and sums run column by column, one chain per row side by side,
    // instead of one row's chain (each step waiting on the last) after another. Each row still
    // takes its max and adds its exponentials in its own order, so the bits are those of a row
    // alone. Cross-entropy's forward on 64×10 logits: 3.83–3.93 -> 3.54–3.64 µs (6 alternating runs).
    const std::int64_t group = kExpChunk / n;  // rows per exp_inplace call
    T m[kExpChunk];
    double z[kExpChunk];
    for (std::int64_t r0 = 0; r0 < rows; r0 += group) {
        const std::int64_t g = std::min(group, rows - r0);
        const T* base = p + r0 * step;
        for (std::int64_t k = 0; k < g; ++k) m[k] = base[k * step];
        for (std::int64_t j = 1; j < n; ++j)
            for (std::int64_t k = 0; k < g; ++k) {
                const T v = base[k * step + j * s];
                m[k] = m[k] < v ? v : m[k];
            }
        for (std::int64_t k = 0; k < g; ++k) {
            const T* row = base + k * step;
            m[k] = shift_of_max(m[k]);
            for (std::int64_t j = 0; j < n; ++j) e[k * n + j] = static_cast<double>(row[j * s] - m[k]);
        }
        exp_inplace(e, g * n);  // the group's rows in one call
        std::fill(z, z + g, 0.0);
        for (std::int64_t j = 0; j < n; ++j)
            for (std::int64_t k = 0; k < g; ++k) z[k] += e[k * n + j];
        for (std::int64_t k = 0; k < g; ++k)
            finish_softmax_row(p + (r0 + k) * step, q + (r0 + k) * step, n, s, m[k], z[k], e + k * n, log_form,
                               lse != nullptr ? lse + r0 + k : nullptr);
    }
}

}  // namespace ad::detail
