// Shape ops: forward (views where possible), backward side by side.
#include <autodiff/kernels.hpp>
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/ops/shape_ops.hpp>
#include <autodiff/tensor_node.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ad {

using detail::GradContext;
using detail::record;
using detail::save;

namespace {
Tensor view_of(const Tensor& x, const Shape& shape, const Shape& strides, std::int64_t offset) {
    return Tensor::make_view(x.storage(), x.dtype(), shape, strides, offset);
}

// Copies x (any strides) into a new contiguous tensor (no graph).
Tensor copy_contiguous(const Tensor& x) {
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    const std::int64_t n = x.numel();
    if (n == 0) return y;
    detail::dispatch(x.dtype(), [&]<class T>() {
        const T* base = static_cast<const T*>(x.storage()->data);
        T* yp = y.data<T>();
        const Shape& s = x.shape();
        const Shape& st = x.strides();
        const int nd = s.size();
        if (nd == 0) {
            yp[0] = base[x.offset()];
            return;
        }
        const std::int64_t inner = s[nd - 1], is = st[nd - 1];
        std::int64_t idx[Shape::kMaxDims] = {};
        std::int64_t off = x.offset(), out = 0;
        for (std::int64_t o = 0; o < n / inner; ++o) {
            if (is == 1) {
                std::memcpy(yp + out, base + off, static_cast<std::size_t>(inner) * sizeof(T));
            } else {
                for (std::int64_t k = 0; k < inner; ++k) yp[out + k] = base[off + k * is];
            }
            out += inner;
            for (int d = nd - 2; d >= 0; --d) {
                ++idx[d];
                off += st[d];
                if (idx[d] < s[d]) break;
                off -= st[d] * idx[d];
                idx[d] = 0;
            }
        }
    });
    return y;
}

// Converts an integer-valued index tensor to int64s, checking the range [0, n).
std::vector<std::int64_t> indices_of(const Tensor& index, std::int64_t n, const char* op) {
    std::vector<std::int64_t> r;
    for (double v : index.to_vector()) {
        if (!(v >= 0 && v < static_cast<double>(n)) || v != std::floor(v))
            throw ValueError(fmt::format("{}: index {} is out of range for a dimension of size {}", op, v, n));
        r.push_back(static_cast<std::int64_t>(v));
    }
    return r;
}
}  // namespace

namespace detail {
Tensor expand_contiguous(const Tensor& x, const Shape& shape) {
    if (x.shape() == shape) return x.detach().contiguous();
    return copy_contiguous(expand(x.detach(), shape));
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
    if (g.shape() == shape) return g;
    const int lead = g.shape().size() - shape.size();
    Axes axes;
    for (int i = 0; i < g.shape().size(); ++i)
        if (i < lead || (shape[i - lead] == 1 && g.shape()[i] != 1)) axes.list.push_back(i);
    Tensor s = axes.list.empty() ? g : sum(g, axes, true);
    return reshape(s, shape);
}
}  // namespace detail

// ---- contiguous / clone / to ----------------------------------------------------------------------
Tensor contiguous(const Tensor& x) { return x.contiguous(); }
Tensor Tensor::contiguous() const {
    if (is_contiguous()) return *this;
    return record("contiguous", copy_contiguous(*this), {*this}, [](GradContext& g) { g.add(0, g.out()); });
}
Tensor Tensor::clone() const {
    return record("clone", copy_contiguous(*this), {*this}, [](GradContext& g) { g.add(0, g.out()); });
}
Tensor Tensor::to(DType dt) const {
    if (dt == dtype()) return *this;
    const Tensor src = is_contiguous() ? *this : detach().contiguous();  // the copy is not an op
    Tensor y = Tensor::empty(shape(), dt);
    detail::dispatch(dtype(), [&]<class S>() {
        detail::dispatch(dt, [&]<class D>() {
            const S* p = src.data<S>();
            D* q = y.data<D>();
            for (std::int64_t i = 0; i < y.numel(); ++i) q[i] = static_cast<D>(p[i]);
        });
    });
    return record("to", y, {*this}, [from = dtype()](GradContext& g) { g.add(0, g.out().to(from)); });
}

// ---- reshape ---------------------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape_in) {
    Shape shape = shape_in;
    int infer = -1;
    std::int64_t known = 1;
    for (int i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            if (infer >= 0) throw ShapeError(fmt::format("reshape: more than one -1 in {}", shape_in.str()));
            infer = i;
        } else if (shape[i] < 0) {
            throw ShapeError(fmt::format("reshape: negative dimension in {}", shape_in.str()));
        } else if (__builtin_mul_overflow(known, shape[i], &known)) {
            throw ShapeError(fmt::format("reshape: shape {} has too many elements (more than 2^63 - 1)", shape_in.str()));
        }
    }
    if (infer >= 0) {
        if (known == 0 || x.numel() % known != 0)
            throw ShapeError(fmt::format("reshape: cannot reshape a tensor of shape {} ({} elements) into {}",
                                         x.shape().str(), x.numel(), shape_in.str()));
        shape[infer] = x.numel() / known;
    }
    if (shape.checked_numel("reshape") != x.numel())
        throw ShapeError(fmt::format("reshape: cannot reshape a tensor of shape {} ({} elements) into {}", x.shape().str(),
                                     x.numel(), shape_in.str()));
    if (shape == x.shape()) return x;
    const Tensor c = x.contiguous();
    Tensor y = view_of(c, shape, contiguous_strides(shape), c.offset());
    return record("reshape", y, {c}, [](GradContext& g) { g.add(0, reshape(g.out(), g.input_shape(0))); });
}

Tensor flatten(const Tensor& x, std::int64_t start_axis, std::int64_t end_axis) {
    if (x.dim() == 0) return reshape(x, Shape{1});
    const int s = x.shape().axis(start_axis, "flatten"), e = x.shape().axis(end_axis, "flatten");
    if (s > e) throw ShapeError(fmt::format("flatten: start axis {} is after end axis {}", start_axis, end_axis));
    Shape r;
    std::int64_t m = 1;
    for (int i = 0; i < x.shape().size(); ++i) {
        if (i < s || i > e) {
            r.push_back(x.shape()[i]);
        } else {
            m *= x.shape()[i];
            if (i == e) r.push_back(m);
        }
    }
    return reshape(x, r);
}

Tensor squeeze(const Tensor& x) {
    Shape r;
    for (auto d : x.shape())
        if (d != 1) r.push_back(d);
    return reshape(x, r);
}
Tensor squeeze(const Tensor& x, std::int64_t axis) {
    const int a = x.shape().axis(axis, "squeeze");
    if (x.shape()[a] != 1) return x;
    Shape r = x.shape();
    r.erase(a);
    return reshape(x, r);
}
Tensor unsqueeze(const Tensor& x, std::int64_t axis) {
    const std::int64_t n = x.dim() + 1;
    if (axis < -n || axis >= n)
        throw ShapeError(fmt::format("unsqueeze: axis {} is out of range for a tensor of shape {}", axis, x.shape().str()));
    Shape r = x.shape();
    r.insert(static_cast<int>(axis < 0 ? axis + n : axis), 1);
    return reshape(x, r);
}

// ---- transpose / permute ------------------------------------------------------------------------------
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& order) { return detail::permute(x, order); }
Tensor detail::permute(const Tensor& x, std::span<const std::int64_t> order) {
    const int n = x.shape().size();
    if (static_cast<int>(order.size()) != n)
        throw ShapeError(fmt::format("permute: {} axes given for a tensor of shape {}", order.size(), x.shape().str()));
    Shape s, st;
    bool seen[Shape::kMaxDims] = {};
    InlineVector<std::int64_t, Shape::kMaxDims> inverse;
    inverse.resize(n);
    for (int i = 0; i < n; ++i) {
        const int a = x.shape().axis(order[static_cast<std::size_t>(i)], "permute");
        if (seen[a]) throw ShapeError("permute: an axis is repeated");
        seen[a] = true;
        s.push_back(x.shape()[a]);
        st.push_back(x.strides()[a]);
        inverse[a] = i;
    }
    Tensor y = view_of(x, s, st, x.offset());
    return record("permute", y, {x}, [inverse](GradContext& g) { g.add(0, detail::permute(g.out(), inverse)); });
}
// A view with two axes swapped; its own backward is the same swap.
Tensor transpose(const Tensor& x, std::int64_t a0, std::int64_t a1) {
    if (x.dim() == 1 && a0 == 0 && a1 == 1) return x;  // t() of a vector is itself (PyTorch)
    if (x.shape().is_scalar_axis(a0) && x.shape().is_scalar_axis(a1)) return x;  // 0-d: itself
    const int i0 = x.shape().axis(a0, "transpose"), i1 = x.shape().axis(a1, "transpose");
    Shape s = x.shape(), st = x.strides();
    std::swap(s[i0], s[i1]);
    std::swap(st[i0], st[i1]);
    Tensor y = view_of(x, s, st, x.offset());
    return record("transpose", y, {x}, [i0, i1](GradContext& g) { g.add(0, transpose(g.out(), i0, i1)); });
}

// ---- expand ---------------------------------------------------------------------------------------------
// As PyTorch: −1 keeps an existing dimension's size; new (leading) dimensions need a size ≥ 0.
Tensor expand(const Tensor& x, const Shape& shape_in) {
    if (x.shape() == shape_in) return x;
    const int lead = shape_in.size() - x.shape().size();
    if (lead < 0)
        throw ShapeError(fmt::format("expand: cannot expand shape {} to fewer dimensions {}", x.shape().str(), shape_in.str()));
    Shape shape = shape_in;
    for (int i = 0; i < shape.size(); ++i) {
        if (shape[i] >= 0) continue;
        if (shape[i] == -1 && i >= lead) {
            shape[i] = x.shape()[i - lead];
        } else {
            throw ShapeError(fmt::format("expand: shape {} cannot be expanded to {} (dimension {}: size {} {})",
                                         x.shape().str(), shape_in.str(), i, shape[i],
                                         shape[i] == -1 ? "is not allowed in a new leading dimension"
                                                        : "is negative; only -1, keeping an existing size, is allowed"));
        }
    }
    (void)shape.checked_numel("expand");  // the view's element count must fit, like an allocation's
    if (x.shape() == shape) return x;
    Shape st;
    st.resize(shape.size(), 0);
    for (int i = 0; i < x.shape().size(); ++i) {
        const std::int64_t d = x.shape()[i], t = shape[i + lead];
        if (d != t && d != 1)
            throw ShapeError(fmt::format("expand: shape {} cannot be expanded to {} (dimension {}: {} vs {})",
                                         x.shape().str(), shape_in.str(), i + lead, d, t));
        st[i + lead] = d == 1 ? 0 : x.strides()[i];
    }
    Tensor y = view_of(x, shape, st, x.offset());
    return record("expand", y, {x}, [](GradContext& g) { g.add(0, detail::sum_to(g.out(), g.input_shape(0))); });
}

// ---- narrow / slice --------------------------------------------------------------------------------------
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step) {
    const int a = x.shape().axis(axis, "slice");
    if (step <= 0) throw ValueError(fmt::format("slice: step must be positive, got {}", step));
    const std::int64_t n = x.shape()[a];
    auto clampi = [n](std::int64_t i) { return std::clamp<std::int64_t>(i < 0 ? i + n : i, 0, n); };
    const std::int64_t b = clampi(start), e = std::max(clampi(stop), clampi(start));
    const std::int64_t len = (e - b + step - 1) / step;
    Shape s = x.shape(), st = x.strides();
    s[a] = len;
    st[a] = x.strides()[a] * step;
    Tensor y = view_of(x, s, st, x.offset() + b * x.strides()[a]);
    return record("slice", y, {x}, [a, b, step, len](GradContext& g) {
        // scatter g into zeros of the input's shape: pad with zeros around the slice
        Tensor z = Tensor::zeros(g.input_shape(0), g.out().dtype());
        if (len > 0) {
            NoGrad off;  // only for the copy: under create_graph the scatter below must be recorded
            slice(z, a, b, b + (len - 1) * step + 1, step).copy_(g.out().detach());
        }
        if (!g.create_graph()) return g.add(0, z);
        // create_graph: express as a differentiable op of g (the adjoint of slicing is this scatter)
        g.add(0, detail::record("slice_backward", z, {g.out()}, [a, b, step, len](GradContext& h) {
            h.add(0, slice(h.out(), a, b, b + (len - 1) * step + 1, step));
        }));
    });
}
Tensor narrow(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t length) {
    const int a = x.shape().axis(axis, "narrow");
    if (start < 0 || length < 0 || start + length > x.shape()[a])
        throw ShapeError(fmt::format("narrow: [{}, {}) is out of range for dimension {} of shape {}", start, start + length,
                                     a, x.shape().str()));
    return slice(x, a, start, start + length, 1);
}

// ---- cat / stack / split ------------------------------------------------------------------------------------
Tensor cat(const std::vector<Tensor>& xs, std::int64_t axis) {
    if (xs.empty()) throw ShapeError("cat: no tensors given");
    const Shape& s0 = xs[0].shape();
    const int a = s0.axis(axis, "cat");
    Shape out = s0;
    out[a] = 0;
    for (const Tensor& x : xs) {
        detail::check_same_dtype("cat", xs[0], x);
        bool ok = x.shape().size() == s0.size();
        for (int i = 0; ok && i < s0.size(); ++i) ok = i == a || x.shape()[i] == s0[i];
        if (!ok)
            throw ShapeError(fmt::format("cat: shapes {} and {} differ outside axis {}", s0.str(), x.shape().str(), a));
        out[a] += x.shape()[a];
    }
    Tensor y = Tensor::empty(out, xs[0].dtype());
    std::vector<std::int64_t> starts;
    {
        NoGrad off;
        std::int64_t at = 0;
        for (const Tensor& x : xs) {
            starts.push_back(at);
            if (x.shape()[a] > 0) narrow(y, a, at, x.shape()[a]).copy_(x.detach());
            at += x.shape()[a];
        }
    }
    if (!is_recording()) return y;
    // Recorded as one node with every input.
    bool any = false;
    for (const Tensor& x : xs) any = any || x.requires_grad();
    if (!any) return y;
    detail::Tape& t = detail::tape();
    auto n = t.new_tensor_node();
    n->name = "cat";
    for (const Tensor& x : xs) {
        n->inputs.push_back(x.requires_grad() ? x.node(t) : detail::kNoNode);
        n->input_shapes.push_back(x.shape());
        n->input_dtypes.push_back(x.dtype());
        n->input_needs.push_back(x.requires_grad());
    }
    n->shape = y.shape();
    n->dtype = y.dtype();
    n->backward = [a, starts](GradContext& g) {
        for (std::size_t k = 0; k < starts.size(); ++k)
            if (g.needs(k)) g.add(k, narrow(g.out(), a, starts[k], g.input_shape(k)[a]));
    };
    const std::uint32_t entry = t.push_tensor(std::move(n));
    auto* im = y.impl();
    im->leaf = false;
    im->requires_grad = true;
    im->node = entry;
    im->epoch = t.epoch;
    return Tensor(y.impl_ptr());  // a counted handle
}
Tensor stack(const std::vector<Tensor>& xs, std::int64_t axis) {
    if (xs.empty()) throw ShapeError("stack: no tensors given");
    std::vector<Tensor> u;
    for (const Tensor& x : xs) {
        if (!(x.shape() == xs[0].shape()))
            throw ShapeError(fmt::format("stack: shapes {} and {} differ", xs[0].shape().str(), x.shape().str()));
        u.push_back(unsqueeze(x, axis));
    }
    return cat(u, axis < 0 ? axis : axis);
}
std::vector<Tensor> split(const Tensor& x, std::int64_t size, std::int64_t axis) {
    const int a = x.shape().axis(axis, "split");
    if (size <= 0) throw ValueError(fmt::format("split: chunk size must be positive, got {}", size));
    std::vector<Tensor> r;
    for (std::int64_t at = 0; at < x.shape()[a]; at += size) r.push_back(narrow(x, a, at, std::min(size, x.shape()[a] - at)));
    return r;
}

// ---- index_select / gather / one_hot -------------------------------------------------------------------------
Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index) {
    const int a = x.shape().axis(axis, "index_select");
    if (index.dim() != 1) throw ShapeError(fmt::format("index_select: index must be 1-d, got shape {}", index.shape().str()));
    const auto idx = indices_of(index, x.shape()[a], "index_select");
    Shape out = x.shape();
    out[a] = static_cast<std::int64_t>(idx.size());
    Tensor y;
    {
        NoGrad off;
        std::vector<Tensor> rows;
        for (auto i : idx) rows.push_back(narrow(x.detach(), a, i, 1));
        y = rows.empty() ? Tensor::zeros(out, x.dtype()) : cat(rows, a);
    }
    return record("index_select", y, {x}, [a, idx](GradContext& g) {
        // ∂: scatter-add the rows of g back to the selected positions
        Tensor z = Tensor::zeros(g.input_shape(0), g.out().dtype());
        {
            NoGrad ng;
            for (std::size_t k = 0; k < idx.size(); ++k)
                narrow(z, a, idx[k], 1).add_(narrow(g.out().detach(), a, static_cast<std::int64_t>(k), 1));
        }
        if (!g.create_graph()) return g.add(0, z);
        g.add(0, record("index_select_backward", z, {g.out()}, [a, idx](GradContext& h) {
            Tensor ix = Tensor::empty(Shape{static_cast<std::int64_t>(idx.size())}, DType::F64);
            for (std::size_t k = 0; k < idx.size(); ++k) ix.data<double>()[k] = static_cast<double>(idx[k]);
            h.add(0, index_select(h.out(), a, ix));
        }));
    });
}

Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index) {
    const int a = x.shape().axis(axis, "gather");
    if (index.dim() != x.dim())
        throw ShapeError(fmt::format("gather: index of shape {} must have the rank of x {}", index.shape().str(), x.shape().str()));
    for (int i = 0; i < x.dim(); ++i)
        if (i != a && index.shape()[i] > x.shape()[i])
            throw ShapeError(fmt::format("gather: index shape {} exceeds x shape {} at dimension {}", index.shape().str(),
                                         x.shape().str(), i));
    const auto idx = indices_of(index, x.shape()[a], "gather");
    const Shape ishape = index.shape();
    // Flat offsets into contiguous x for every output element.
    const Shape xs = contiguous_strides(x.shape());
    std::vector<std::int64_t> offs(idx.size());
    {
        std::int64_t pos[Shape::kMaxDims] = {};
        for (std::size_t k = 0; k < idx.size(); ++k) {
            std::int64_t o = 0;
            for (int d = 0; d < ishape.size(); ++d) o += (d == a ? idx[k] : pos[d]) * xs[d];
            offs[k] = o;
            for (int d = ishape.size() - 1; d >= 0; --d) {
                if (++pos[d] < ishape[d]) break;
                pos[d] = 0;
            }
        }
    }
    const Tensor xc = x.detach().contiguous();
    Tensor y = Tensor::empty(ishape, x.dtype());
    detail::dispatch(x.dtype(), [&]<class T>() {
        const T* p = xc.data<T>();
        T* q = y.data<T>();
        for (std::size_t k = 0; k < offs.size(); ++k) q[k] = p[offs[k]];
    });
    return record("gather", y, {x}, [offs, a, index_d = index.detach().clone()](GradContext& g) {
        Tensor z = Tensor::zeros(g.input_shape(0), g.out().dtype());
        const Tensor gc = g.out().detach().contiguous();
        detail::dispatch(z.dtype(), [&]<class T>() {
            const T* p = gc.data<T>();
            T* q = z.data<T>();
            for (std::size_t k = 0; k < offs.size(); ++k) q[offs[k]] += p[k];
        });
        if (!g.create_graph()) return g.add(0, z);
        g.add(0, record("gather_backward", z, {g.out()}, [a, index_d](GradContext& h) { h.add(0, gather(h.out(), a, index_d)); }));
    });
}

Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dt) {
    if (num_classes <= 0) throw ValueError(fmt::format("one_hot: num_classes must be positive, got {}", num_classes));
    const auto idx = indices_of(labels, num_classes, "one_hot");
    Shape s = labels.shape();
    s.push_back(num_classes);
    Tensor y = Tensor::zeros(s, dt);
    detail::dispatch(dt, [&]<class T>() {
        T* p = y.data<T>();
        for (std::size_t k = 0; k < idx.size(); ++k) p[static_cast<std::int64_t>(k) * num_classes + idx[k]] = T(1);
    });
    return y;
}

}  // namespace ad
