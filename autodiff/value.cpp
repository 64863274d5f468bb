// Scalar leaves, backward entry points, gradients(), and the scalar/tensor bridges.
#include <autodiff/backward.hpp>
#include <autodiff/kernels.hpp>
#include <autodiff/ops/elementwise.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/real.hpp>
#include <autodiff/tensor_node.hpp>
#include <autodiff/value.hpp>

namespace ad {

using detail::kNoNode;
using detail::Tape;

Value::Value(double v) : v_(0.0), leaf_(new detail::LeafData), idx_(kNoNode), epoch_(0) { leaf_->value = v; }

void Value::destroy_leaf(detail::LeafData* leaf) noexcept {
    Tape& t = detail::tape();
    if (leaf->epoch != t.epoch) {  // no entry of the current graph points to it
        delete leaf;
        return;
    }
    // The graph's entries point to it: the tape keeps it (dead: refs == 0, no hooks or label; a
    // sweep's gradient for it goes nowhere) until the graph is released.
    std::unique_ptr<detail::LeafExtras> extras = std::move(leaf->extras);
    try {
        t.orphans.push_back(leaf);
    } catch (...) {  // no memory to keep it: its entries become constants (same value) instead
        for (std::uint32_t i = 0; i < t.size; ++i)
            if (t.op[i] == detail::Op::Leaf && t.leaf_at(i) == leaf) t.op[i] = detail::Op::Const;
        delete leaf;
    }
    // extras dies last: its grad_graph handle may release the graph (and free the orphans).
}

double Value::grad() const {
    if (!leaf_)
        throw GraphError("grad: only leaves keep their gradient (this Value is the result of an operation or a "
                         "constant); use ad::gradients(f, {v}) for the gradient with respect to an interior value");
    return leaf_->grad;
}
Value Value::grad_value() const {
    if (!leaf_) throw GraphError("grad_value: only leaves keep their gradient");
    return leaf_->extras && leaf_->extras->grad_graph ? *leaf_->extras->grad_graph : Value::constant(leaf_->grad);
}
void Value::zero_grad() {
    if (!leaf_) throw GraphError("zero_grad: only leaves keep a gradient");
    leaf_->grad = 0.0;
    if (leaf_->extras) leaf_->extras->grad_graph.reset();
}
Value& Value::set_requires_grad(bool on) {
    if (!leaf_) throw GraphError("set_requires_grad: only leaves (Values made from numbers) can change requires_grad");
    leaf_->requires_grad = on;
    return *this;
}
void Value::set_value(double v) {
    if (!leaf_) throw GraphError("set_value: only leaves can be assigned a new value");
    leaf_->value = v;
    leaf_->node = kNoNode;  // the tape holds the old value: the next use registers the leaf afresh
}
Value& Value::set_label(std::string label) {
    if (leaf_) {
        leaf_->more().label = std::move(label);
    } else if (idx_ != kNoNode) {
        Tape& t = detail::tape();
        t.labels.emplace_back(node(t), std::move(label));
    }
    return *this;
}
std::string Value::label() const {
    if (leaf_) return leaf_->extras ? leaf_->extras->label : std::string();
    if (idx_ == kNoNode) return {};
    Tape& t = detail::tape();
    const std::string* l = t.label_of(node(t));
    return l ? *l : std::string();
}
namespace {
void add_hook(const Value& v, detail::LeafData* leaf, detail::ScalarHook hook) {
    if (leaf) {
        leaf->more().hooks.push_back(std::move(hook));
        return;
    }
    if (v.is_constant()) throw GraphError("register_hook: a constant has no gradient");
    Tape& t = detail::tape();
    t.hooks.emplace_back(v.node(t), std::move(hook));
}
}  // namespace
void Value::register_hook(std::function<double(double)> hook) {
    if (!hook) throw ValueError("register_hook: the hook is empty");
    add_hook(*this, leaf_, detail::ScalarHook{std::move(hook), {}});
}
void Value::register_hook(std::function<Value(const Value&)> hook) {
    if (!hook) throw ValueError("register_hook: the hook is empty");
    add_hook(*this, leaf_, detail::ScalarHook{{}, std::move(hook)});
}

void Value::backward(const BackwardOptions& opts) const {
    if (is_constant())
        throw GraphError(fmt::format("backward: this Value ({}) does not require grad: it is a constant, or was "
                                     "computed under NoGrad or from values that do not require grad",
                                     v_));
    if (leaf_ && !leaf_->requires_grad) throw GraphError("backward: this leaf does not require grad");
    Tape& t = detail::tape();
    const std::uint32_t root = node(t);
    detail::SweepRequest req;
    req.retain_graph = opts.retain_graph || opts.create_graph;
    req.create_graph = opts.create_graph;
    detail::Seed seed;
    seed.scalar = Value::constant(1.0);
    detail::run_sweep(root, seed, req, nullptr);
}

// The n-ary ops record one entry whose arguments go to the statement columns (their stmt_jac
// slots are unused): Σ x_k keeps the x_k that require grad; Σ x_k z_k keeps the pairs where
// either side does (a constant partner is entered as a constant: its value is the other's
// partial). Nothing kept, or recording off: the result is a constant.
namespace {
template <class Store>
Value record_nary(detail::Op op, double v, std::size_t room, Store&& store) {
    detail::Tape& t = detail::tape();
    if (t.recording_off != 0) return Value::constant(v);
    const std::uint32_t first = t.reserve_stmt(room);
    const std::uint32_t n = store(t, t.stmt_arg + first);
    if (n == 0) return Value::constant(v);
    t.stmt_size = first + n;
    return Value::interior(t, t.push(op, v, first, n), v);
}
}  // namespace

namespace {
// Shared by Value's and Real's dot and sum (T = Value or Real).
template <class T>
Value record_dot(std::span<const T> x, std::span<const T> y) {
    detail::check_dot_sizes(x.size(), y.size());
    double v = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) v += x[k].value() * y[k].value();
    return record_nary(detail::Op::Dot, v, 2 * x.size(), [&](detail::Tape& t, std::uint32_t* arg) {
        std::uint32_t n = 0;
        for (std::size_t k = 0; k < x.size(); ++k) {
            const std::uint32_t a = x[k].tracked_node(t), b = y[k].tracked_node(t);
            if ((a & b) == detail::kNoNode) continue;  // neither requires grad
            arg[n] = a != detail::kNoNode ? a : x[k].node(t);  // a constant partner enters as one
            arg[n + 1] = b != detail::kNoNode ? b : y[k].node(t);
            n += 2;
        }
        return n;
    });
}
template <class T>
Value record_sum(std::span<const T> x) {
    double v = 0.0;
    for (const Value& e : x) v += e.value();
    return record_nary(detail::Op::Sum, v, x.size(), [&](detail::Tape& t, std::uint32_t* arg) {
        std::uint32_t n = 0;
        for (const Value& e : x) {
            const std::uint32_t a = e.tracked_node(t);
            if (a != detail::kNoNode) arg[n++] = a;
        }
        return n;
    });
}
}  // namespace

Value dot(std::span<const Value> x, std::span<const Value> y) { return record_dot(x, y); }
Value sum(std::span<const Value> x) { return record_sum(x); }
Real dot(std::span<const Real> x, std::span<const Real> y) { return Real(record_dot(x, y)); }
Real sum(std::span<const Real> x) { return Real(record_sum(x)); }

void set_anomaly_mode(bool on) { detail::tape().anomaly = on; }
bool anomaly_mode() { return detail::tape().anomaly; }

std::vector<Value> gradients(const Value& f, const std::vector<Value>& wrt, const GradOptions& opts) {
    std::vector<Value> result(wrt.size());
    if (!f.tracks() && !f.requires_grad()) return result;  // constant: all zeros
    Tape& t = detail::tape();
    const std::uint32_t root = f.node(t);
    detail::SweepRequest req;
    req.accumulate = false;
    req.retain_graph = opts.retain_graph || opts.create_graph;
    req.create_graph = opts.create_graph;
    std::vector<std::size_t> slot;
    for (std::size_t k = 0; k < wrt.size(); ++k) {
        const Value& x = wrt[k];
        std::uint32_t e = kNoNode;
        if (x.is_leaf()) {
            if (x.leaf_data()->epoch == t.epoch) e = x.leaf_data()->node;
        } else if (!x.is_constant()) {
            e = x.node(t);
        }
        if (e != kNoNode && e <= root) {
            req.wanted.push_back(e);
            slot.push_back(k);
        }
    }
    if (req.wanted.empty()) return result;
    detail::Seed seed;
    seed.scalar = Value::constant(1.0);
    detail::SweepResult out;
    detail::run_sweep(root, seed, req, &out);
    for (std::size_t j = 0; j < slot.size(); ++j) result[slot[j]] = out.scalars[j];
    return result;
}

std::vector<Tensor> gradients(const Tensor& f, const std::vector<Tensor>& wrt, const Tensor& seed_in,
                              const GradOptions& opts) {
    std::vector<Tensor> result(wrt.size());
    for (std::size_t k = 0; k < wrt.size(); ++k) result[k] = zeros_like(wrt[k]);
    if (!f.requires_grad()) return result;
    Tape& t = detail::tape();
    const std::uint32_t root = f.node(t);
    detail::SweepRequest req;
    req.accumulate = false;
    req.retain_graph = opts.retain_graph || opts.create_graph;
    req.create_graph = opts.create_graph;
    std::vector<std::size_t> slot;
    for (std::size_t k = 0; k < wrt.size(); ++k) {
        const Tensor& x = wrt[k];
        std::uint32_t e = kNoNode;
        if (x.is_leaf()) {
            if (x.requires_grad() && x.impl()->epoch == t.epoch) e = x.impl()->node;
        } else {
            e = x.node(t);
        }
        if (e != kNoNode && e <= root) {
            req.wanted.push_back(e);
            slot.push_back(k);
        }
    }
    if (req.wanted.empty()) return result;
    detail::Seed seed;
    seed.tensor = detail::backward_seed(f, seed_in, "gradients");
    detail::SweepResult out;
    detail::run_sweep(root, seed, req, &out);
    for (std::size_t j = 0; j < slot.size(); ++j)
        if (out.tensors[j].defined()) result[slot[j]] = out.tensors[j];
    return result;
}

namespace detail {
Tensor backward_seed(const Tensor& f, const Tensor& seed, const char* op) {
    if (!seed.defined()) {
        if (f.numel() != 1)
            throw GraphError(fmt::format("{}: the output has shape {} ({} elements); backward of a non-scalar needs a seed "
                                         "gradient of the same shape (gradient=...)",
                                         op, f.shape().str(), f.numel()));
        return Tensor::ones(f.shape(), f.dtype());
    }
    if (!(seed.shape() == f.shape()))
        throw ShapeError(fmt::format("{}: seed gradient has shape {} but the output has shape {}", op, seed.shape().str(),
                                     f.shape().str()));
    return seed.dtype() == f.dtype() ? seed : seed.to(f.dtype());
}
}  // namespace detail

void Tensor::backward(const Tensor& gradient, const BackwardOptions& opts) const {
    if (!requires_grad())
        throw GraphError(fmt::format("backward: this tensor (shape {}) does not require grad: no input of the ops that "
                                     "made it requires grad, or it was computed under NoGrad",
                                     shape().str()));
    Tape& t = detail::tape();
    const std::uint32_t root = node(t);
    detail::SweepRequest req;
    req.retain_graph = opts.retain_graph || opts.create_graph;
    req.create_graph = opts.create_graph;
    detail::Seed seed;
    seed.tensor = detail::backward_seed(*this, gradient, "backward");
    detail::run_sweep(root, seed, req, nullptr);
}

// --- bridges between Value and Tensor --------------------------------------------------------

Value item_value(const Tensor& x) {
    const double v = x.item();
    if (!x.tracks()) return Value::constant(v);
    Tape& t = detail::tape();
    const std::uint32_t a = x.node(t);
    return Value::interior(t, t.push(detail::Op::FromTensor, v, a, 0), v);
}

Tensor tensor_from_value(const Value& v, DType dt) {
    Tensor y = Tensor::scalar(v.value(), dt);
    return detail::record_with_value("from_value", y, {}, v, [](detail::GradContext& g) { g.add(0, g.out()); });
}

}  // namespace ad
