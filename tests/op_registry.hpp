#pragma once
// The op registry: every differentiable tensor op with a reference implementation and sample
// inputs, in the spirit of PyTorch's OpInfo. test_tensor_ops.cpp runs one generic check over it
// (forward vs reference, gradcheck, gradgradcheck, float32 vs float64), so adding an op means
// adding an entry here, and public_ops() (kept next to the registry) makes a missing entry fail.
//
// The reference side is `Ref`, a NumPy-like array of doubles with its own broadcasting,
// reductions, matmul and indexing, written without any ad::Tensor op: the engine is never checked
// against itself. The header is self-contained (inline), so other suites (test_broadcast.cpp)
// can use the reference without linking the registry.
#include <autodiff/autodiff.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ad::testing {

// ---- the reference: NumPy-like arrays of doubles ------------------------------------------------

using Dims = std::vector<std::int64_t>;

// A row-major array of doubles. A 0-d array has shape {} and one element.
struct Ref {
    Dims shape;
    std::vector<double> v;
};

inline std::int64_t numel_of(const Dims& s) {
    std::int64_t n = 1;
    for (auto d : s) n *= d;
    return n;
}
inline Dims strides_of(const Dims& s) {
    Dims st(s.size(), 1);
    for (std::size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
    return st;
}
inline std::size_t flat_index(const Dims& idx, const Dims& st) {
    std::int64_t o = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) o += idx[d] * st[d];
    return static_cast<std::size_t>(o);
}
// Calls f(multi_index, flat) for every element of an array of shape s, in row-major order.
template <class F>
void for_each_index(const Dims& s, F f) {
    const std::int64_t n = numel_of(s);
    Dims idx(s.size(), 0);
    for (std::int64_t k = 0; k < n; ++k) {
        f(idx, static_cast<std::size_t>(k));
        for (std::size_t d = s.size(); d-- > 0;) {
            if (++idx[d] < s[d]) break;
            idx[d] = 0;
        }
    }
}
inline std::int64_t wrap_axis(std::int64_t a, std::size_t rank) {
    const auto r = static_cast<std::int64_t>(rank);
    if (a < -r || a >= r) throw std::invalid_argument("reference: axis out of range");
    return a < 0 ? a + r : a;
}

inline Ref to_ref(const Tensor& t) { return Ref{Dims(t.shape().begin(), t.shape().end()), t.to_vector()}; }
inline Ref make_ref(Dims shape, std::vector<double> v) {
    if (numel_of(shape) != static_cast<std::int64_t>(v.size())) throw std::invalid_argument("make_ref: size mismatch");
    return Ref{std::move(shape), std::move(v)};
}

template <class F>
Ref ref_map(const Ref& x, F f) {
    Ref y{x.shape, x.v};
    for (double& e : y.v) e = f(e);
    return y;
}

// NumPy broadcasting of several shapes (throws std::invalid_argument when they do not fit).
inline Dims ref_broadcast_shape(const std::vector<Dims>& shapes) {
    std::size_t n = 0;
    for (const auto& s : shapes) n = std::max(n, s.size());
    Dims r(n, 1);
    for (const auto& s : shapes)
        for (std::size_t i = 0; i < s.size(); ++i) {
            auto& d = r[n - s.size() + i];
            if (s[i] == d || s[i] == 1) continue;
            if (d != 1) throw std::invalid_argument("reference: shapes cannot be broadcast");
            d = s[i];
        }
    return r;
}
// Element of x at a multi-index of the broadcast shape (size-1 and missing dims repeat).
inline double ref_at_broadcast(const Ref& x, const Dims& idx) {
    const Dims st = strides_of(x.shape);
    std::int64_t o = 0;
    const std::size_t lead = idx.size() - x.shape.size();
    for (std::size_t d = 0; d < x.shape.size(); ++d)
        if (x.shape[d] != 1) o += idx[lead + d] * st[d];
    return x.v[static_cast<std::size_t>(o)];
}
template <class F>
Ref ref_zip(const Ref& a, const Ref& b, F f) {
    Ref y;
    y.shape = ref_broadcast_shape({a.shape, b.shape});
    y.v.resize(static_cast<std::size_t>(numel_of(y.shape)));
    for_each_index(y.shape, [&](const Dims& i, std::size_t k) { y.v[k] = f(ref_at_broadcast(a, i), ref_at_broadcast(b, i)); });
    return y;
}
inline Ref ref_where(const Ref& m, const Ref& a, const Ref& b) {
    Ref y;
    y.shape = ref_broadcast_shape({m.shape, a.shape, b.shape});
    y.v.resize(static_cast<std::size_t>(numel_of(y.shape)));
    for_each_index(y.shape, [&](const Dims& i, std::size_t k) {
        y.v[k] = ref_at_broadcast(m, i) != 0 ? ref_at_broadcast(a, i) : ref_at_broadcast(b, i);
    });
    return y;
}

// Reduction over `axes` (empty: all), f(group) -> double, with or without the reduced dims kept.
template <class F>
Ref ref_reduce(const Ref& x, Dims axes, bool keepdim, F f) {
    std::vector<bool> red(x.shape.size(), axes.empty());
    for (auto a : axes) {
        if (x.shape.empty() && (a == 0 || a == -1)) continue;  // a 0-d array reduces to itself
        red[static_cast<std::size_t>(wrap_axis(a, x.shape.size()))] = true;
    }
    Dims keep, out;
    for (std::size_t d = 0; d < x.shape.size(); ++d) {
        keep.push_back(red[d] ? 1 : x.shape[d]);
        if (!red[d]) out.push_back(x.shape[d]);
    }
    std::vector<std::vector<double>> groups(static_cast<std::size_t>(numel_of(keep)));
    const Dims kst = strides_of(keep);
    for_each_index(x.shape, [&](const Dims& i, std::size_t k) {
        Dims j = i;
        for (std::size_t d = 0; d < j.size(); ++d)
            if (red[d]) j[d] = 0;
        groups[flat_index(j, kst)].push_back(x.v[k]);
    });
    Ref y{keepdim ? keep : out, {}};
    for (const auto& g : groups) y.v.push_back(f(g));
    return y;
}
inline double ref_sum_of(const std::vector<double>& g) {
    double s = 0;
    for (double e : g) s += e;
    return s;
}
inline double ref_mean_of(const std::vector<double>& g) { return ref_sum_of(g) / static_cast<double>(g.size()); }
inline double ref_var_of(const std::vector<double>& g, int correction) {
    const double m = ref_mean_of(g);
    double s = 0;
    for (double e : g) s += (e - m) * (e - m);
    return s / static_cast<double>(static_cast<std::int64_t>(g.size()) - correction);
}
inline double ref_logsumexp_of(const std::vector<double>& g) {
    const double m = *std::max_element(g.begin(), g.end());
    double s = 0;
    for (double e : g) s += std::exp(e - m);
    return m + std::log(s);
}

// Applies f(row) -> row along `axis` (softmax-like ops). A 0-d array is one row of one element.
template <class F>
Ref ref_along(const Ref& x, std::int64_t axis_in, F f) {
    if (x.shape.empty()) {
        std::vector<double> row = f(x.v);
        return Ref{{}, row};
    }
    const auto axis = static_cast<std::size_t>(wrap_axis(axis_in, x.shape.size()));
    Ref y = x;
    const Dims st = strides_of(x.shape);
    Dims outer = x.shape;
    outer[axis] = 1;
    for_each_index(outer, [&](const Dims& i, std::size_t) {
        std::vector<double> row;
        Dims j = i;
        for (std::int64_t k = 0; k < x.shape[axis]; ++k) {
            j[axis] = k;
            row.push_back(x.v[flat_index(j, st)]);
        }
        const std::vector<double> r = f(row);
        for (std::int64_t k = 0; k < x.shape[axis]; ++k) {
            j[axis] = k;
            y.v[flat_index(j, st)] = r[static_cast<std::size_t>(k)];
        }
    });
    return y;
}
inline std::vector<double> ref_softmax_row(const std::vector<double>& r) {
    const double lse = ref_logsumexp_of(r);
    std::vector<double> y;
    for (double e : r) y.push_back(std::exp(e - lse));
    return y;
}
inline std::vector<double> ref_log_softmax_row(const std::vector<double>& r) {
    const double lse = ref_logsumexp_of(r);
    std::vector<double> y;
    for (double e : r) y.push_back(e - lse);
    return y;
}

// NumPy's matmul: 1-d operands are promoted (and the dimension dropped), batch dims broadcast.
inline Ref ref_matmul(const Ref& a0, const Ref& b0) {
    Ref a = a0, b = b0;
    const bool va = a.shape.size() == 1, vb = b.shape.size() == 1;
    if (va) a.shape.insert(a.shape.begin(), 1);
    if (vb) b.shape.push_back(1);
    const std::size_t ra = a.shape.size(), rb = b.shape.size();
    const std::int64_t m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
    if (b.shape[rb - 2] != k) throw std::invalid_argument("ref_matmul: inner dimensions differ");
    const Dims ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
    Dims out = ref_broadcast_shape({ba, bb});
    Dims full = out;
    full.push_back(m);
    full.push_back(n);
    Ref y{full, std::vector<double>(static_cast<std::size_t>(numel_of(full)), 0.0)};
    for_each_index(full, [&](const Dims& i, std::size_t f) {
        double s = 0;
        Dims ia(i.begin(), i.end() - 2), ib = ia;
        ia.push_back(i[i.size() - 2]);
        ib.push_back(0);
        ib.push_back(i[i.size() - 1]);
        for (std::int64_t t = 0; t < k; ++t) {
            ia.push_back(t);
            ib[ib.size() - 2] = t;
            s += ref_at_broadcast(a, ia) * ref_at_broadcast(b, ib);
            ia.pop_back();
        }
        y.v[f] = s;
    });
    Dims shape = out;
    if (!va) shape.push_back(m);
    if (!vb) shape.push_back(n);
    y.shape = shape;
    return y;
}

inline Ref ref_permute(const Ref& x, const Dims& order) {
    Dims s;
    for (auto o : order) s.push_back(x.shape[static_cast<std::size_t>(wrap_axis(o, x.shape.size()))]);
    Ref y{s, std::vector<double>(x.v.size())};
    const Dims st = strides_of(x.shape);
    for_each_index(s, [&](const Dims& i, std::size_t k) {
        Dims j(x.shape.size());
        for (std::size_t d = 0; d < order.size(); ++d) j[static_cast<std::size_t>(wrap_axis(order[d], x.shape.size()))] = i[d];
        y.v[k] = x.v[flat_index(j, st)];
    });
    return y;
}
inline Ref ref_transpose(const Ref& x, std::int64_t a0, std::int64_t a1) {
    Dims order;
    for (std::size_t d = 0; d < x.shape.size(); ++d) order.push_back(static_cast<std::int64_t>(d));
    std::swap(order[static_cast<std::size_t>(wrap_axis(a0, x.shape.size()))],
              order[static_cast<std::size_t>(wrap_axis(a1, x.shape.size()))]);
    return ref_permute(x, order);
}
inline Ref ref_reshape(const Ref& x, Dims s) { return make_ref(std::move(s), x.v); }
inline Ref ref_expand(const Ref& x, const Dims& s) {
    Ref y{s, std::vector<double>(static_cast<std::size_t>(numel_of(s)))};
    for_each_index(s, [&](const Dims& i, std::size_t k) { y.v[k] = ref_at_broadcast(x, i); });
    return y;
}
// x[start:stop:step] along axis, Python's rules for negative and out-of-range bounds.
inline Ref ref_slice(const Ref& x, std::int64_t axis_in, std::int64_t start, std::int64_t stop, std::int64_t step) {
    const auto axis = static_cast<std::size_t>(wrap_axis(axis_in, x.shape.size()));
    const std::int64_t n = x.shape[axis];
    auto fix = [n](std::int64_t i) { return std::clamp<std::int64_t>(i < 0 ? i + n : i, 0, n); };
    std::vector<std::int64_t> picked;
    for (std::int64_t i = fix(start); i < fix(stop); i += step) picked.push_back(i);
    Dims s = x.shape;
    s[axis] = static_cast<std::int64_t>(picked.size());
    Ref y{s, std::vector<double>(static_cast<std::size_t>(numel_of(s)))};
    const Dims st = strides_of(x.shape);
    for_each_index(s, [&](const Dims& i, std::size_t k) {
        Dims j = i;
        j[axis] = picked[static_cast<std::size_t>(i[axis])];
        y.v[k] = x.v[flat_index(j, st)];
    });
    return y;
}
inline Ref ref_index_select(const Ref& x, std::int64_t axis_in, const std::vector<std::int64_t>& index) {
    const auto axis = static_cast<std::size_t>(wrap_axis(axis_in, x.shape.size()));
    Dims s = x.shape;
    s[axis] = static_cast<std::int64_t>(index.size());
    Ref y{s, std::vector<double>(static_cast<std::size_t>(numel_of(s)))};
    const Dims st = strides_of(x.shape);
    for_each_index(s, [&](const Dims& i, std::size_t k) {
        Dims j = i;
        j[axis] = index[static_cast<std::size_t>(i[axis])];
        y.v[k] = x.v[flat_index(j, st)];
    });
    return y;
}
// torch.gather: out[i...] = x[i... with index[i...] along axis].
inline Ref ref_gather(const Ref& x, std::int64_t axis_in, const Ref& index) {
    const auto axis = static_cast<std::size_t>(wrap_axis(axis_in, x.shape.size()));
    Ref y{index.shape, std::vector<double>(index.v.size())};
    const Dims st = strides_of(x.shape);
    for_each_index(index.shape, [&](const Dims& i, std::size_t k) {
        Dims j = i;
        j[axis] = static_cast<std::int64_t>(index.v[k]);
        y.v[k] = x.v[flat_index(j, st)];
    });
    return y;
}
inline Ref ref_cat(const std::vector<Ref>& xs, std::int64_t axis_in) {
    const auto axis = static_cast<std::size_t>(wrap_axis(axis_in, xs.at(0).shape.size()));
    Dims s = xs[0].shape;
    s[axis] = 0;
    for (const Ref& x : xs) s[axis] += x.shape[axis];
    Ref y{s, std::vector<double>(static_cast<std::size_t>(numel_of(s)))};
    const Dims st = strides_of(s);
    std::int64_t at = 0;
    for (const Ref& x : xs) {
        for_each_index(x.shape, [&](const Dims& i, std::size_t k) {
            Dims j = i;
            j[axis] += at;
            y.v[flat_index(j, st)] = x.v[k];
        });
        at += x.shape[axis];
    }
    return y;
}
inline Ref ref_unsqueeze(const Ref& x, std::int64_t axis) {
    Dims s = x.shape;
    const auto r = static_cast<std::int64_t>(s.size()) + 1;
    s.insert(s.begin() + (axis < 0 ? axis + r : axis), 1);
    return ref_reshape(x, s);
}

// Elementwise functions of the reference, as the engine documents them.
inline double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double ref_softplus(double x) { return x > 30 ? x : (x < -30 ? std::exp(x) : std::log(1.0 + std::exp(x))); }
inline double ref_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

// ---- the registry --------------------------------------------------------------------------------

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;
using RefFn = std::function<Ref(const std::vector<Ref>&)>;

// One set of inputs of an op. Inputs are float64; the generic test makes its own leaves.
struct Sample {
    std::string label;            // e.g. "[2, 3] with [3]"
    std::vector<Tensor> inputs;
    bool gradcheck = true;        // finite differences are valid (no kink within eps)
    // Intended kinks: the expected gradient of sum(f) for each input (PyTorch's convention).
    std::vector<std::vector<double>> expected_grad;
    GradcheckOptions tolerance{};  // for gradcheck and gradgradcheck
};

// One op (or one variant of an op: axis, keepdim, a transposed operand...).
struct OpEntry {
    std::string name;     // the name in public_ops() (several entries may share it)
    std::string variant;  // what this entry exercises
    TensorFn fn;
    RefFn reference;
    std::vector<Sample> samples;
    double f32_tol = 1e-4;     // float32 forward vs float64, relative to max(1, |value|)
};

// Every registry entry (built once).
const std::vector<OpEntry>& op_registry();

// The public differentiable ops as declared (in autodiff/ops/*.hpp and tensor.hpp), each with
// the registry names that cover it. Keep in sync: a declared op missing here, or a name here
// without a registry entry, fails test_tensor_ops.
struct PublicOp {
    std::string declared;                // "operator+", "sum", "Tensor::clone", ...
    std::vector<std::string> covered_by;  // registry entry names
};
const std::vector<PublicOp>& public_ops();
// Declared in autodiff/ops/*.hpp but not differentiable (masks, indices): no registry entry.
const std::vector<std::string>& non_differentiable_ops();

}  // namespace ad::testing
