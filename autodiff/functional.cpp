// JAX-style transforms on top of ad::gradients (see functional.hpp for the method of each).
#include <autodiff/backward.hpp>
#include <autodiff/functional.hpp>
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/reduce.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <span>

namespace ad {

namespace {

// ---- scalar helpers -------------------------------------------------------------------------

std::vector<double> numbers(const std::vector<Value>& v) {
    std::vector<double> r;
    r.reserve(v.size());
    for (const Value& x : v) r.push_back(x.value());
    return r;
}

void check_size(const char* op, const char* what, std::size_t got, std::size_t want, const char* like) {
    if (got != want)
        throw ShapeError(fmt::format("{}: {} has {} elements but {} has {}", op, what, got, like, want));
}

// Σ a_i c_i as a Value (recorded where a_i is).
Value dot(const std::vector<Value>& a, const std::vector<double>& c) {
    Value s = Value::constant(0.0);
    for (std::size_t i = 0; i < a.size(); ++i) s = s + a[i] * c[i];
    return s;
}

// ---- tensor helpers -------------------------------------------------------------------------

// A fresh leaf that requires grad, with x's values and dtype (x's graph is not touched).
Tensor fresh_leaf(const Tensor& x) {
    if (!x.defined()) throw ValueError("functional: the point x is an undefined tensor");
    Tensor c;
    {
        NoGrad ng;
        c = x.detach().clone();
    }
    c.requires_grad_();
    return c;
}

// A gradient as an owned, contiguous tensor without graph (backward may return views).
Tensor owned(const Tensor& g) {
    NoGrad ng;
    return g.detach().contiguous().detach();
}

void check_shape(const char* op, const char* what, const Tensor& t, const Shape& want, const char* like) {
    if (!t.defined()) throw ValueError(fmt::format("{}: {} is an undefined tensor", op, what));
    if (!(t.shape() == want))
        throw ShapeError(fmt::format("{}: {} has shape {} but {} has shape {}", op, what, t.shape().str(), like, want.str()));
}

void check_one_element(const char* op, const Tensor& y) {
    if (!y.defined()) throw ValueError(fmt::format("{}: f returned an undefined tensor", op));
    if (y.numel() != 1)
        throw ShapeError(fmt::format("{}: f(x) has shape {} ({} elements) but {} needs a one-element output; use vjp or "
                                     "jacobian for vector outputs",
                                     op, y.shape().str(), y.numel(), op));
}

// v converted to dtype dt, without graph.
Tensor constant_like(const Tensor& v, DType dt) {
    NoGrad ng;
    return v.detach().to(dt).detach();
}

// The one-hot tensor e_i of the given shape and dtype.
Tensor basis(const Shape& shape, std::int64_t i, DType dt) {
    std::vector<double> e(static_cast<std::size_t>(shape.numel()), 0.0);
    e[static_cast<std::size_t>(i)] = 1.0;
    Tensor t = Tensor::from_data(std::span<const double>(e), shape);
    return dt == DType::F64 ? t : constant_like(t, dt);
}

Shape concat(const Shape& a, const Shape& b, const char* op) {
    if (a.size() + b.size() > Shape::kMaxDims)
        throw ShapeError(fmt::format("{}: the result would have shape {} + {}, more than {} dimensions", op, a.str(),
                                     b.str(), Shape::kMaxDims));
    Shape s = a;
    for (auto d : b) s.push_back(d);
    return s;
}

// Rows of the Jacobian of y with respect to leaf x (one reverse sweep per element of y), as a
// tensor of shape y.shape + x.shape in x's dtype. The graph of y is kept between sweeps.
Tensor jacobian_rows(const Tensor& y, const Tensor& x, const char* op) {
    const Shape shape = concat(y.shape(), x.shape(), op);
    const std::int64_t m = y.numel(), n = x.numel();
    std::vector<double> J(static_cast<std::size_t>(m * n), 0.0);
    if (y.requires_grad()) {
        for (std::int64_t i = 0; i < m; ++i) {
            const Tensor row = gradients(y, {x}, basis(y.shape(), i, y.dtype()), {.retain_graph = true})[0];
            const std::vector<double> r = row.to_vector();
            std::copy(r.begin(), r.end(), J.begin() + i * n);
        }
    }
    Tensor t = Tensor::from_data(std::span<const double>(J), shape);
    return x.dtype() == DType::F64 ? t : constant_like(t, x.dtype());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Scalar world

std::vector<double> grad(const ScalarFunction& f, const std::vector<double>& x) { return value_and_grad(f, x).second; }

namespace {
// The inputs of a scalar transform (V = Value or Real): n consecutive constant entries of the
// tape with handles to them, not leaves. No leaf objects are made, and a gradient as numbers is
// one plain sweep that stops above the inputs and reads their adjoints (SweepRequest::inputs),
// as ADOL-C's gradient() driver or CoDiPack do; gradients() with create_graph takes them as any
// other interior values. Under NoGrad the handles are constants and every gradient is 0.
template <class V>
class TapeInputs {
public:
    TapeInputs(const char* op, const std::vector<double>& x) : op_(op) {
        detail::Tape& t = detail::tape();
        first_ = t.size;
        epoch_ = t.epoch;
        xs_.reserve(x.size());
        if (t.recording_off != 0) {
            for (double xi : x) xs_.push_back(V(Value::constant(xi)));
        } else {
            for (double xi : x) xs_.push_back(V(Value::interior(t, t.push(detail::Op::Const, xi, 0, 0), xi)));
        }
    }
    const std::vector<V>& handles() const { return xs_; }

    // ∂y/∂x as numbers; the graph stays (for the next row of a Jacobian, and for any graph of the
    // caller's that f used: ours is released with the handles).
    std::vector<double> gradient(const Value& y) const {
        std::vector<double> g(xs_.size(), 0.0);
        if (xs_.empty() || y.is_constant() || y.is_leaf()) return g;
        detail::Tape& t = detail::tape();
        if (t.epoch != epoch_)  // the entries at first_ are no longer the inputs
            throw GraphError(fmt::format("{}: the graph holding f's inputs was released while f ran (a GraphScope "
                                         "inside f?)", op_));
        const std::uint32_t root = y.node(t);  // a handle from another graph throws here
        if (root < first_) return g;           // recorded before the inputs: independent of them
        detail::SweepRequest req;
        req.accumulate = false;
        req.retain_graph = true;
        req.inputs = first_;
        req.n_inputs = static_cast<std::uint32_t>(xs_.size());
        req.inputs_grad = g.data();
        detail::Seed seed;
        seed.scalar = Value::constant(1.0);
        detail::run_sweep(root, seed, req, nullptr);
        return g;
    }

private:
    std::vector<V> xs_;
    const char* op_;
    std::uint32_t first_ = 0, epoch_ = 0;
};

template <class V, class F>
std::pair<double, std::vector<double>> value_and_grad_of(const F& f, const std::vector<double>& x) {
    const TapeInputs<V> in("value_and_grad", x);
    const V y = f(in.handles());
    return {y.value(), in.gradient(y)};
}
}  // namespace

std::pair<double, std::vector<double>> value_and_grad(const ScalarFunction& f, const std::vector<double>& x) {
    return value_and_grad_of<Value>(f, x);
}

namespace detail {
std::pair<double, std::vector<double>> value_and_grad_real(const RealFunction& f, const std::vector<double>& x) {
    return value_and_grad_of<Real>(f, x);
}
}  // namespace detail

std::vector<std::vector<double>> hessian(const ScalarFunction& f, const std::vector<double>& x) {
    const TapeInputs<Value> in("hessian", x);
    const Value y = f(in.handles());
    if (y.is_constant()) return std::vector<std::vector<double>>(x.size(), std::vector<double>(x.size(), 0.0));
    const std::vector<Value> g = gradients(y, in.handles(), {.retain_graph = true, .create_graph = true});
    std::vector<std::vector<double>> H;
    H.reserve(x.size());
    for (const Value& gi : g) H.push_back(in.gradient(gi));
    return H;
}

std::vector<double> hvp(const ScalarFunction& f, const std::vector<double>& x, const std::vector<double>& v) {
    check_size("hvp", "v", v.size(), x.size(), "x");
    const TapeInputs<Value> in("hvp", x);
    const Value y = f(in.handles());
    if (y.is_constant()) return std::vector<double>(x.size(), 0.0);
    const std::vector<Value> g = gradients(y, in.handles(), {.retain_graph = true, .create_graph = true});
    return in.gradient(dot(g, v));
}

std::vector<std::vector<double>> jacobian(const VectorFunction& f, const std::vector<double>& x) {
    const TapeInputs<Value> in("jacobian", x);
    const std::vector<Value> ys = f(in.handles());
    std::vector<std::vector<double>> J;
    J.reserve(ys.size());
    for (const Value& yi : ys) J.push_back(in.gradient(yi));
    return J;
}

std::pair<std::vector<double>, std::vector<double>> vjp(const VectorFunction& f, const std::vector<double>& x,
                                                        const std::vector<double>& v) {
    const TapeInputs<Value> in("vjp", x);
    const std::vector<Value> ys = f(in.handles());
    check_size("vjp", "v", v.size(), ys.size(), "f(x)");
    return {numbers(ys), in.gradient(dot(ys, v))};
}

std::pair<std::vector<double>, std::vector<double>> jvp(const VectorFunction& f, const std::vector<double>& x,
                                                        const std::vector<double>& v) {
    check_size("jvp", "v", v.size(), x.size(), "x");
    const TapeInputs<Value> in("jvp", x);
    const std::vector<Value> ys = f(in.handles());
    // g(u) = uᵀJ recorded as a function of the dummy cotangent u; J v = ∇_u ⟨g(u), v⟩.
    const TapeInputs<Value> u("jvp", std::vector<double>(ys.size(), 0.0));
    Value s = Value::constant(0.0);
    for (std::size_t i = 0; i < ys.size(); ++i) s = s + u.handles()[i] * ys[i];
    if (s.is_constant()) return {numbers(ys), std::vector<double>(ys.size(), 0.0)};
    const std::vector<Value> g = gradients(s, in.handles(), {.retain_graph = true, .create_graph = true});
    return {numbers(ys), u.gradient(dot(g, v))};
}

// ---------------------------------------------------------------------------------------------
// Tensor world

Tensor grad(const UnaryTensorFunction& f, const Tensor& x) { return value_and_grad(f, x).second; }

std::pair<Tensor, Tensor> value_and_grad(const UnaryTensorFunction& f, const Tensor& x) {
    const Tensor xl = fresh_leaf(x);
    const Tensor y = f(xl);
    check_one_element("grad", y);
    const Tensor g = gradients(y, {xl}, {}, {.retain_graph = false})[0];
    return {y.detach(), owned(g)};
}

std::pair<Tensor, Tensor> vjp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v) {
    const Tensor xl = fresh_leaf(x);
    const Tensor y = f(xl);
    if (!y.defined()) throw ValueError("vjp: f returned an undefined tensor");
    check_shape("vjp", "v", v, y.shape(), "f(x)");
    const Tensor g = gradients(y, {xl}, constant_like(v, y.dtype()), {.retain_graph = false})[0];
    return {y.detach(), owned(g)};
}

std::pair<Tensor, Tensor> jvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v) {
    check_shape("jvp", "v", v, x.shape(), "x");
    const Tensor xl = fresh_leaf(x);
    const Tensor y = f(xl);
    if (!y.defined()) throw ValueError("jvp: f returned an undefined tensor");
    // Double-vjp: g(u) = uᵀJ with u a dummy cotangent that requires grad; J v = ∇_u ⟨g(u), v⟩.
    Tensor u = Tensor::zeros(y.shape(), y.dtype());
    u.requires_grad_();
    const Tensor g = gradients(y, {xl}, u, {.retain_graph = true, .create_graph = true})[0];
    const Tensor s = sum(g * constant_like(v, xl.dtype()));
    if (!s.requires_grad()) return {y.detach(), Tensor::zeros(y.shape(), y.dtype())};
    return {y.detach(), owned(gradients(s, {u}, {}, {.retain_graph = false})[0])};
}

Tensor jacobian(const UnaryTensorFunction& f, const Tensor& x) {
    const Tensor xl = fresh_leaf(x);
    const Tensor y = f(xl);
    if (!y.defined()) throw ValueError("jacobian: f returned an undefined tensor");
    return jacobian_rows(y, xl, "jacobian");
}

Tensor hessian(const UnaryTensorFunction& f, const Tensor& x) {
    const Tensor xl = fresh_leaf(x);
    const Tensor y = f(xl);
    check_one_element("hessian", y);
    const Tensor g = gradients(y, {xl}, {}, {.retain_graph = true, .create_graph = true})[0];
    return jacobian_rows(g, xl, "hessian");
}

Tensor hvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v) {
    check_shape("hvp", "v", v, x.shape(), "x");
    const Tensor xl = fresh_leaf(x);
    const Tensor y = f(xl);
    check_one_element("hvp", y);
    const Tensor g = gradients(y, {xl}, {}, {.retain_graph = true, .create_graph = true})[0];
    const Tensor s = sum(g * constant_like(v, xl.dtype()));
    if (!s.requires_grad()) return Tensor::zeros(x.shape(), x.dtype());
    return owned(gradients(s, {xl}, {}, {.retain_graph = false})[0]);
}

std::vector<Tensor> grad(const TensorFunction& f, const std::vector<Tensor>& xs) { return value_and_grad(f, xs).second; }

std::pair<Tensor, std::vector<Tensor>> value_and_grad(const TensorFunction& f, const std::vector<Tensor>& xs) {
    std::vector<Tensor> leaves;
    leaves.reserve(xs.size());
    for (const Tensor& x : xs) leaves.push_back(fresh_leaf(x));
    const Tensor y = f(leaves);
    check_one_element("grad", y);
    std::vector<Tensor> g = gradients(y, leaves, {}, {.retain_graph = false});
    for (Tensor& gi : g) gi = owned(gi);
    return {y.detach(), g};
}

}  // namespace ad
