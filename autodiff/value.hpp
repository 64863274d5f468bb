#pragma once
// ad::Value — a differentiable scalar, micrograd-simple, recorded on a fast tape.
//
//     ad::Value x = 2.0, y = 3.0;           // leaves: they require grad
//     auto f = sin(x) * y + exp(x / y);     // each op records one tape entry
//     f.backward();                         // reverse sweep over the tape
//     x.grad(); y.grad();                   // accumulated until zero_grad()
//
// A Value is one of three things:
//   * a leaf: made from a number; owns its value and gradient (shared by copies of the handle);
//   * an interior value: the result of a recorded op; a 24-byte handle to a tape entry;
//   * a constant: made by Value::constant, detach(), or any op under ad::NoGrad; never recorded.
// Handles are always safe to copy and keep (`auto y = f(x);`). The graph is released when the
// last interior handle dies; using a handle whose graph was released (ad::GraphScope) or that was
// recorded on another thread throws ad::GraphError.
//
// Domain errors follow IEEE (log(-1) is NaN, 1/0 is inf) and never throw. Kinks use PyTorch's
// subgradients: relu'(0) = 0, abs'(0) = 0, min/max split the gradient equally at ties.
#include <autodiff/elementary.hpp>
#include <autodiff/tape.hpp>

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <span>
#include <string>

namespace ad {

// Options of Value::backward and Tensor::backward (PyTorch's names and defaults).
struct BackwardOptions {
    bool retain_graph = false;  // keep the graph for another backward (implied by create_graph)
    bool create_graph = false;  // record the backward pass: gradients become differentiable
};

class Value {
public:
    Value() noexcept : v_(0.0), leaf_(nullptr), idx_(detail::kNoNode), epoch_(0) {}  // constant 0
    Value(double v);                                   // a leaf that requires grad
    Value(int v) : Value(static_cast<double>(v)) {}
    static Value constant(double v) noexcept {
        Value r;
        r.v_ = v;
        return r;
    }

    Value(const Value& o) noexcept : v_(o.v_), leaf_(o.leaf_), idx_(o.idx_), epoch_(o.epoch_) { retain(); }
    Value(Value&& o) noexcept : v_(o.v_), leaf_(o.leaf_), idx_(o.idx_), epoch_(o.epoch_) {
        o.leaf_ = nullptr;
        o.idx_ = detail::kNoNode;
    }
    Value& operator=(const Value& o) noexcept {
        if (this != &o) {
            Value tmp(o);
            swap(tmp);
        }
        return *this;
    }
    Value& operator=(Value&& o) noexcept {
        Value tmp(std::move(o));
        swap(tmp);
        return *this;
    }
    ~Value() { drop(); }
    void swap(Value& o) noexcept {
        std::swap(v_, o.v_);
        std::swap(leaf_, o.leaf_);
        std::swap(idx_, o.idx_);
        std::swap(epoch_, o.epoch_);
    }

    // The number this value holds.
    double value() const noexcept { return leaf_ ? leaf_->value : v_; }
    // Leaves: the gradient accumulated by backward() calls since the last zero_grad().
    // Interior values and constants: ad::GraphError (only leaves keep gradients, as in PyTorch).
    double grad() const;
    // After backward(create_graph=true): the gradient as a differentiable Value.
    Value grad_value() const;
    void zero_grad();

    // Reverse sweep from this value (seed 1). Accumulates into the leaves it depends on.
    void backward(const BackwardOptions& opts = {}) const;

    bool is_leaf() const noexcept { return leaf_ != nullptr; }
    bool is_constant() const noexcept { return !leaf_ && idx_ == detail::kNoNode; }
    bool requires_grad() const noexcept { return leaf_ ? leaf_->requires_grad : idx_ != detail::kNoNode; }
    Value& set_requires_grad(bool on);  // leaves only
    void set_value(double v);           // leaves only (what optimizers do)
    Value detach() const noexcept { return constant(value()); }

    // A name shown in graph pictures and anomaly-mode errors.
    Value& set_label(std::string label);
    std::string label() const;
    // Run `hook(g)` on this value's gradient when backward reaches it; its result replaces g.
    // A hook on Values ([](const ad::Value& g) { return g * 2.0; }) also works under
    // backward(create_graph=true): it gets the recorded gradient and its result is the new one,
    // so higher derivatives include what it did. A hook on numbers ([](double g) { ... }) sees
    // the gradient's number; a number cannot carry the graph, so under create_graph it is a
    // GraphError (use a hook on Values there).
    void register_hook(std::function<double(double)> hook);
    void register_hook(std::function<Value(const Value&)> hook);

    // --- engine internals (public for the op implementations) ---
    // Whether an op on this value must be recorded.
    bool tracks() const noexcept {
        return (leaf_ ? leaf_->requires_grad : idx_ != detail::kNoNode) && detail::tape().recording_off == 0;
    }
    // The tape entry of this value, registering a leaf or constant on first use in this epoch.
    std::uint32_t node(detail::Tape& t) const {
        if (idx_ != detail::kNoNode) return interior_node(t);
        if (leaf_) return leaf_node(t);
        return t.push(detail::Op::Const, v_, 0, 0);
    }
    // node(t) if this value requires grad, else kNoNode (one pass for ad::Real's operands).
    [[gnu::always_inline]] std::uint32_t tracked_node(detail::Tape& t) const {
        if (idx_ != detail::kNoNode) return interior_node(t);
        if (leaf_ && leaf_->requires_grad) return leaf_node(t);
        return detail::kNoNode;
    }
    // A new handle to entry i of tape t (whose value is v).
    static Value interior(detail::Tape& t, std::uint32_t i, double v) noexcept {
        Value r;
        r.v_ = v;
        r.idx_ = i;
        r.epoch_ = t.epoch;
        ++t.live;
        return r;
    }
    std::uint32_t raw_index() const noexcept { return idx_; }
    detail::LeafData* leaf_data() const noexcept { return leaf_; }

protected:
    // If this is a handle to an entry of t's current graph (counted in t.live), make it a handle
    // to entry i (value v) instead, keeping the count; otherwise change nothing and say so.
    bool repoint(const detail::Tape& t, std::uint32_t i, double v) noexcept {
        if (leaf_ || idx_ == detail::kNoNode || epoch_ != t.epoch) return false;
        idx_ = i;
        v_ = v;
        return true;
    }

private:
    [[gnu::always_inline]] std::uint32_t interior_node(const detail::Tape& t) const {
        if (epoch_ != t.epoch) detail::throw_stale("Value");
        return idx_;
    }
    [[gnu::always_inline]] std::uint32_t leaf_node(detail::Tape& t) const {
        return leaf_->epoch == t.epoch && leaf_->node != detail::kNoNode ? leaf_->node : t.register_leaf(leaf_);
    }
    void retain() noexcept {
        if (leaf_) {
            ++leaf_->refs;
        } else if (idx_ != detail::kNoNode) {
            auto& t = detail::tape();
            if (epoch_ == t.epoch) ++t.live;
        }
    }
    void drop() noexcept {
        if (leaf_) {
            if (--leaf_->refs == 0) destroy_leaf(leaf_);
        } else if (idx_ != detail::kNoNode) {
            auto& t = detail::tape();
            if (epoch_ == t.epoch) t.release();
        }
    }
    static void destroy_leaf(detail::LeafData* leaf) noexcept;

    double v_;
    detail::LeafData* leaf_;
    std::uint32_t idx_;
    std::uint32_t epoch_;
};

// RAII guard: no operation records while it lives (evaluation, optimizer updates).
class NoGrad {
public:
    NoGrad() { ++detail::tape().recording_off; }
    ~NoGrad() { --detail::tape().recording_off; }
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;
};
inline bool is_recording() { return detail::tape().recording_off == 0; }

// RAII guard: when it ends, the graph recorded on this thread is released even if handles to it
// remain (they then throw ad::GraphError when used). For nesting and explicit memory control;
// plain loops never need it.
class GraphScope {
public:
    GraphScope() = default;
    ~GraphScope() { detail::tape().rewind(); }
    GraphScope(const GraphScope&) = delete;
    GraphScope& operator=(const GraphScope&) = delete;
};

// Anomaly mode (opt-in, per thread): a backward that produces NaN or inf throws ad::AnomalyError
// naming the op that produced it, its label (set_label) and its recording index.
void set_anomaly_mode(bool on);
bool anomaly_mode();
class AnomalyMode {
public:
    AnomalyMode() : prev_(anomaly_mode()) { set_anomaly_mode(true); }
    ~AnomalyMode() { set_anomaly_mode(prev_); }
    AnomalyMode(const AnomalyMode&) = delete;
    AnomalyMode& operator=(const AnomalyMode&) = delete;

private:
    bool prev_;
};

// ---------------------------------------------------------------------------------------------
// Recording helpers: one entry per op; constant inputs and NoGrad give untracked constants.
namespace detail {
inline Value record_unary(Op op, const Value& x, double y) {
    if (!x.tracks()) return Value::constant(y);
    Tape& t = tape();
    const std::uint32_t a = x.node(t);
    return Value::interior(t, t.push(op, y, a, 0), y);
}
inline Value record_const(Op op, const Value& x, double c, double y) {
    if (!x.tracks()) return Value::constant(y);
    Tape& t = tape();
    const std::uint32_t a = x.node(t);
    return Value::interior(t, t.push_const_op(op, y, a, c), y);
}
inline Value record_binary(Op op, const Value& x, const Value& z, double y) {
    if (!x.tracks() && !z.tracks()) return Value::constant(y);
    Tape& t = tape();
    const std::uint32_t a = x.node(t);
    const std::uint32_t b = z.node(t);
    return Value::interior(t, t.push(op, y, a, b), y);
}
}  // namespace detail

// Arithmetic. d(x+y) = dx + dy; d(xy) = y dx + x dy; d(x/y) = dx/y − x dy/y².
inline Value operator+(const Value& x, const Value& y) { return detail::record_binary(detail::Op::Add, x, y, x.value() + y.value()); }
inline Value operator-(const Value& x, const Value& y) { return detail::record_binary(detail::Op::Sub, x, y, x.value() - y.value()); }
inline Value operator*(const Value& x, const Value& y) { return detail::record_binary(detail::Op::Mul, x, y, x.value() * y.value()); }
inline Value operator/(const Value& x, const Value& y) { return detail::record_binary(detail::Op::Div, x, y, x.value() / y.value()); }
inline Value operator-(const Value& x) { return detail::record_unary(detail::Op::Neg, x, -x.value()); }
inline Value operator+(const Value& x) { return x; }
// With a plain number on either side: one entry, the number kept in the tape's constant pool.
inline Value operator+(const Value& x, double c) { return detail::record_const(detail::Op::AddC, x, c, x.value() + c); }
inline Value operator+(double c, const Value& x) { return detail::record_const(detail::Op::AddC, x, c, c + x.value()); }
inline Value operator-(const Value& x, double c) { return detail::record_const(detail::Op::AddC, x, -c, x.value() - c); }
inline Value operator-(double c, const Value& x) { return detail::record_const(detail::Op::RSubC, x, c, c - x.value()); }
inline Value operator*(const Value& x, double c) { return detail::record_const(detail::Op::MulC, x, c, x.value() * c); }
inline Value operator*(double c, const Value& x) { return detail::record_const(detail::Op::MulC, x, c, c * x.value()); }
inline Value operator/(const Value& x, double c) { return detail::record_const(detail::Op::DivC, x, c, x.value() / c); }
inline Value operator/(double c, const Value& x) { return detail::record_const(detail::Op::RDivC, x, c, c / x.value()); }
inline Value& operator+=(Value& x, const Value& y) { return x = x + y; }
inline Value& operator-=(Value& x, const Value& y) { return x = x - y; }
inline Value& operator*=(Value& x, const Value& y) { return x = x * y; }
inline Value& operator/=(Value& x, const Value& y) { return x = x / y; }
inline Value& operator+=(Value& x, double c) { return x = x + c; }
inline Value& operator-=(Value& x, double c) { return x = x - c; }
inline Value& operator*=(Value& x, double c) { return x = x * c; }
inline Value& operator/=(Value& x, double c) { return x = x / c; }

// Comparisons compare values (not differentiable, nothing recorded).
inline bool operator<(const Value& x, const Value& y) { return x.value() < y.value(); }
inline bool operator>(const Value& x, const Value& y) { return x.value() > y.value(); }
inline bool operator<=(const Value& x, const Value& y) { return x.value() <= y.value(); }
inline bool operator>=(const Value& x, const Value& y) { return x.value() >= y.value(); }
// With a number on one side (no leaf is made for the number).
inline bool operator<(const Value& x, double c) { return x.value() < c; }
inline bool operator>(const Value& x, double c) { return x.value() > c; }
inline bool operator<=(const Value& x, double c) { return x.value() <= c; }
inline bool operator>=(const Value& x, double c) { return x.value() >= c; }
inline bool operator<(double c, const Value& x) { return c < x.value(); }
inline bool operator>(double c, const Value& x) { return c > x.value(); }
inline bool operator<=(double c, const Value& x) { return c <= x.value(); }
inline bool operator>=(double c, const Value& x) { return c >= x.value(); }

// Elementary functions; the derivative each one records is in the comment.
inline Value exp(const Value& x) { return detail::record_unary(detail::Op::Exp, x, std::exp(x.value())); }          // e^x
inline Value log(const Value& x) { return detail::record_unary(detail::Op::Log, x, std::log(x.value())); }          // 1/x
inline Value log1p(const Value& x) { return detail::record_unary(detail::Op::Log1p, x, std::log1p(x.value())); }    // 1/(1+x)
inline Value sqrt(const Value& x) { return detail::record_unary(detail::Op::Sqrt, x, std::sqrt(x.value())); }       // 1/(2√x)
inline Value sin(const Value& x) { return detail::record_unary(detail::Op::Sin, x, std::sin(x.value())); }          // cos x
inline Value cos(const Value& x) { return detail::record_unary(detail::Op::Cos, x, std::cos(x.value())); }          // −sin x
inline Value tan(const Value& x) { return detail::record_unary(detail::Op::Tan, x, std::tan(x.value())); }          // 1 + tan²x
inline Value tanh(const Value& x) { return detail::record_unary(detail::Op::Tanh, x, detail::tanh(x.value())); }    // 1 − tanh²x
inline Value sigmoid(const Value& x) {                                                                              // σ(1 − σ)
    const double v = x.value();
    const double s = v >= 0 ? 1.0 / (1.0 + std::exp(-v)) : std::exp(v) / (1.0 + std::exp(v));
    return detail::record_unary(detail::Op::Sigmoid, x, s);
}
inline Value relu(const Value& x) { return detail::record_unary(detail::Op::Relu, x, x.value() <= 0 ? 0.0 : x.value()); }  // 0 if x <= 0 else 1 (NaN stays NaN)
inline Value abs(const Value& x) { return detail::record_unary(detail::Op::Abs, x, std::fabs(x.value())); }        // sign x (0 at 0)
inline Value square(const Value& x) { return detail::record_unary(detail::Op::Square, x, x.value() * x.value()); } // 2x
inline Value erf(const Value& x) { return detail::record_unary(detail::Op::Erf, x, std::erf(x.value())); }         // 2/√π e^{−x²}
inline Value pow(const Value& x, double c) { return detail::record_const(detail::Op::PowC, x, c, std::pow(x.value(), c)); }  // c x^{c−1} (0 when c = 0)
inline Value pow(double c, const Value& x) { return detail::record_const(detail::Op::RPowC, x, c, std::pow(c, x.value())); }  // c^x log c
inline Value pow(const Value& x, const Value& y) {  // ∂x: y x^{y−1}; ∂y: x^y log x (0 where x = 0, y ≥ 0)
    return detail::record_binary(detail::Op::Pow, x, y, std::pow(x.value(), y.value()));
}
inline Value min(const Value& x, const Value& y) { return detail::record_binary(detail::Op::Min, x, y, std::fmin(x.value(), y.value())); }
inline Value max(const Value& x, const Value& y) { return detail::record_binary(detail::Op::Max, x, y, std::fmax(x.value(), y.value())); }
inline Value atan2(const Value& y, const Value& x) {  // ∂y: x/(x²+y²); ∂x: −y/(x²+y²)
    return detail::record_binary(detail::Op::Atan2, y, x, std::atan2(y.value(), x.value()));
}
inline Value hypot(const Value& x, const Value& y) {  // ∂x: x/h; ∂y: y/h
    return detail::record_binary(detail::Op::Hypot, x, y, std::hypot(x.value(), y.value()));
}

// dot(x, y) = Σ x[k]·y[k] and sum(x) = Σ x[k], summed in index order, each recorded as ONE
// entry however long the spans (a neuron's b + dot(w, a) is two entries, not 2n); any order of
// derivatives. Sizes that differ are an ad::ShapeError; empty spans give the constant 0.
Value dot(std::span<const Value> x, std::span<const Value> y);
namespace detail {
inline void check_dot_sizes(std::size_t x, std::size_t y) {  // shared with ad::Real's dot
    if (x != y) throw ShapeError(fmt::format("dot: x has {} elements but y has {}", x, y));
}
}  // namespace detail
Value sum(std::span<const Value> x);

}  // namespace ad

// fmt::print("{}", v) prints Value(2.0000, grad=1.0000) (the grad only for leaves).
template <>
struct fmt::formatter<ad::Value> : fmt::formatter<std::string_view> {
    auto format(const ad::Value& v, format_context& ctx) const {
        std::string s = v.is_leaf() ? fmt::format("Value({:.4f}, grad={:.4f})", v.value(), v.grad())
                                    : fmt::format("Value({:.4f})", v.value());
        return fmt::formatter<std::string_view>::format(s, ctx);
    }
};
