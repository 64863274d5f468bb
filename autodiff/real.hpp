#pragma once
// ad::Real — a scalar recorded one statement at a time: first derivatives, fast.
//
//     ad::Real x = 2.0, y = 3.0;                // leaves, exactly as ad::Value
//     ad::Real f = sin(x) * y + exp(x / y);     // ONE tape entry, holding ∂f/∂x and ∂f/∂y
//     f.backward();                             // the same sweep: x.grad(), y.grad()
//
// An ad::Value records every operation; an ad::Real's arithmetic builds an expression object
// (expression templates, as in CoDiPack or Stan: expression.hpp) and only the assignment to a Real
// records one entry with the statement's partial derivatives, computed by the chain rule along
// the way. A
// long expression then costs one entry instead of one per operation, and its intermediate
// results never reach the tape. The price: the tape keeps the partials as numbers, not as graph,
// so backward(create_graph=true) through a statement throws ad::GraphError — use ad::Value for
// Hessians and gradients of gradients.
//
// A Real is a Value (same leaves, handles, NoGrad, GraphScope, hooks, gradients(), to_dot), so
// both mix freely: any Value function accepts a Real or a Real expression (which is recorded as
// a statement first), and Value ∘ Real gives a Value. For the gradient of one function at a
// point and nothing else, ad::Active (active.hpp) records the same statements about twice as fast.
// Write `ad::Real r = <expression>;`, not `auto r = ...` (expression.hpp says why).
// A partial that is exactly 0 is not stored,
// and the partials of an operand repeated next to itself (x * x) are stored as one.
// dot(w, x) and sum(x) over spans of Reals are one n-ary entry each, listing their arguments'
// entries (a dot's partials are the other side's values, already on the tape), and one operand of
// a statement: `ad::Real y = tanh(b + dot(w, x));` records a whole neuron as two entries.
#include <autodiff/expression.hpp>
#include <autodiff/value.hpp>

#include <span>
#include <type_traits>
#include <utility>

namespace ad {

namespace detail {

// Where the statement being recorded writes its partials: straight into the tape's columns
// (room for every operand is reserved first), adjacent repeats of an entry merged.
struct StmtWriter {
    std::uint32_t* arg;
    double* jac;
    std::uint32_t n = 0;
    bool zero_partial = false;  // an operand requires grad but its partial is exactly 0
};

// Records statement e (whose value is v) as one tape entry and returns it; kNoNode when nothing
// in it requires grad or recording is off (the statement is then a constant).
template <class E>
[[gnu::always_inline]] inline std::uint32_t record_entry(Tape& t, const E& e, double v) {
    if (t.recording_off != 0) return kNoNode;
    const std::uint32_t first = t.reserve_stmt(e.operands());
    StmtWriter w{t.stmt_arg + first, t.stmt_jac + first};
    e.push(t, w, 1.0);
    if (w.n == 0 && !w.zero_partial) return kNoNode;
    t.stmt_size = first + w.n;
    return t.push(Op::Stmt, v, first, w.n);
}
template <class E>
inline Value record_statement(const E& e) {
    const double v = e.value();
    Tape& t = tape();
    const std::uint32_t i = record_entry(t, e, v);
    return i == kNoNode ? Value::constant(v) : Value::interior(t, i, v);
}

}  // namespace detail

class Real : public Value, public RealExpressionTag {
public:
    using family = Real;
    using Value::Value;  // Real(double), Real(int): leaves that require grad; Real(): constant 0
    Real() noexcept = default;
    Real(const Value& v) noexcept : Value(v) {}
    Real(Value&& v) noexcept : Value(std::move(v)) {}
    template <RealOperand E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Real> && std::same_as<RealFamily<E>, Real>)
    Real(const E& e) : Value(detail::record_statement(e)) {}
    template <RealOperand E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Real> && std::same_as<RealFamily<E>, Real>)
    Real& operator=(const E& e) {
        const double v = e.value();
        detail::Tape& t = detail::tape();
        const std::uint32_t i = detail::record_entry(t, e, v);  // reads *this first if e uses it
        // `acc = acc + w * a`: a handle already counted in this graph moves to the new entry.
        if (i != detail::kNoNode && repoint(t, i, v)) return *this;
        Value::operator=(i == detail::kNoNode ? Value::constant(v) : Value::interior(t, i, v));
        return *this;
    }
    static Real constant(double v) noexcept { return Real(Value::constant(v)); }
    Real detach() const noexcept { return constant(value()); }

    // --- expression interface ---
    static constexpr std::size_t operands() noexcept { return 1; }
    static constexpr std::size_t min_operands() noexcept { return 1; }
    template <int S = 0>  // S: m is known to be ±1 (expression.hpp); the statement tape stores it anyway
    [[gnu::always_inline]] void push(detail::Tape& t, detail::StmtWriter& w, double m, detail::Unit<S> = {}) const {
        if (m == 0.0) [[unlikely]] {  // relu below 0, the loser of a max, x * 0.0: nothing to store
            if (requires_grad()) w.zero_partial = true;
            return;
        }
        const std::uint32_t i = tracked_node(t);
        if (i == detail::kNoNode) return;
        if (w.n > 0 && w.arg[w.n - 1] == i) {  // x * x: one partial, 2x
            w.jac[w.n - 1] += m;
        } else {
            w.arg[w.n] = i;
            w.jac[w.n] = m;
            ++w.n;
        }
    }
};

// dot(x, y) = Σ x[k]·y[k] and sum(x) = Σ x[k] over spans of Reals, summed in index order: Value's
// n-ary entries (value.hpp), one entry however long the spans, returned as a Real that any
// statement takes as one operand. A dot product's partials are the values of the other side,
// already on the tape, so the entry lists argument entries only (4 bytes each, no partials), and
// `ad::Real y = tanh(b + dot(w, x));` records a whole neuron as two entries. Being read at
// backward, a partner that is 0 passes 0·g (NaN for an infinite g, as Value's dot and PyTorch
// give; a statement's zero partial is not stored). Sizes that differ are an ad::ShapeError;
// empty spans, or nothing that requires grad, give a constant.
Real dot(std::span<const Real> x, std::span<const Real> y);
Real sum(std::span<const Real> x);

}  // namespace ad

// fmt::print("{}", r) prints a Real as a Value: Value(2.0000, grad=1.0000).
template <>
struct fmt::formatter<ad::Real> : fmt::formatter<ad::Value> {};
