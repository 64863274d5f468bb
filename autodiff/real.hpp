#pragma once
// ad::Real — a scalar recorded one statement at a time: first derivatives, fast.
//
//     ad::Real x = 2.0, y = 3.0;                // leaves, exactly as ad::Value
//     ad::Real f = sin(x) * y + exp(x / y);     // ONE tape entry, holding ∂f/∂x and ∂f/∂y
//     f.backward();                             // the same sweep: x.grad(), y.grad()
//
// An ad::Value records every operation; an ad::Real's arithmetic builds an expression object
// (expression templates, as in CoDiPack or Stan) and only the assignment to a Real records one
// entry with the statement's partial derivatives, computed by the chain rule along the way. A
// long expression then costs one entry instead of one per operation, and its intermediate
// results never reach the tape. The price: the tape keeps the partials as numbers, not as graph,
// so backward(create_graph=true) through a statement throws ad::GraphError — use ad::Value for
// Hessians and gradients of gradients.
//
// A Real is a Value (same leaves, handles, NoGrad, GraphScope, hooks, gradients(), to_dot), so
// both mix freely: any Value function accepts a Real or a Real expression (which is recorded as
// a statement first), and Value ∘ Real gives a Value.
// Write `ad::Real r = <expression>;`, not `auto r = ...`: `auto` keeps the unevaluated
// expression, which refers to the named Reals it reads (like Eigen's expressions).
// The elementary functions, their derivatives and their kinks are those of value.hpp
// (relu'(0) = 0, abs'(0) = 0, min/max split at ties); a partial that is exactly 0 is not stored,
// and the partials of an operand repeated next to itself (x * x) are stored as one.
// dot(w, x) and sum(x) over spans of Reals are one n-ary entry each, listing their arguments'
// entries (a dot's partials are the other side's values, already on the tape), and one operand of
// a statement: `ad::Real y = tanh(b + dot(w, x));` records a whole neuron as two entries.
#include <autodiff/value.hpp>

#include <cmath>
#include <concepts>
#include <numbers>
#include <span>
#include <type_traits>
#include <utility>

namespace ad {

class Real;
struct RealExpressionTag {};  // base of Real and of every Real expression

template <class X>
concept RealOperand = std::derived_from<std::remove_cvref_t<X>, RealExpressionTag>;

namespace detail {

// How an expression holds an operand: a named Real by reference (it outlives the statement), a
// temporary Real or a sub-expression by value.
template <class X>
using RealHeld = std::conditional_t<std::is_same_v<std::remove_cvref_t<X>, Real> && std::is_lvalue_reference_v<X>,
                                    const Real&, std::remove_cvref_t<X>>;

template <class E>
Value record_statement(const E& e);

// The whole push chain of a statement (each operand's push, Real::push, the Value lookups it
// makes, record_entry) is forced inline, as CoDiPack's CODI_INLINE does: left to its heuristics,
// GCC kept Real::push out of line in bench_scalar's translation unit but not in a smaller one, and
// Rosenbrock at n = 10^6 recorded 720 instructions per element instead of 446 (callgrind) and took
// 50–54 ms instead of 37–38 (4 alternating runs).
//
// Where the statement being recorded writes its partials: straight into the tape's columns
// (room for every operand is reserved first), adjacent repeats of an entry merged.
struct StmtWriter {
    std::uint32_t* arg;
    double* jac;
    std::uint32_t n = 0;
    bool zero_partial = false;  // an operand requires grad but its partial is exactly 0
};

// f(a), with value v and derivative d = f'(a), both computed when the expression is built.
template <class A>
struct RealUnary : RealExpressionTag {
    std::size_t operands() const noexcept { return a.operands(); }
    A a;
    double v, d;
    double value() const noexcept { return v; }
    [[gnu::always_inline]] void push(Tape& t, StmtWriter& w, double m) const { a.push(t, w, m * d); }
    operator Value() const { return record_statement(*this); }  // Value ∘ expression: one statement first
};

// f(a, b), with value v and partials da, db.
template <class A, class B>
struct RealBinary : RealExpressionTag {
    std::size_t operands() const noexcept { return a.operands() + b.operands(); }
    A a;
    B b;
    double v, da, db;
    double value() const noexcept { return v; }
    [[gnu::always_inline]] void push(Tape& t, StmtWriter& w, double m) const {
        if constexpr (std::is_same_v<A, const Real&> && std::is_same_v<B, const Real&>) {
            // x * x, x + x: one lookup of x instead of two, with the partial the two pushes would
            // have merged into (m·da + m·db, rounded the same). Rosenbrock 10^6 has three per element.
            if (&a == &b) {
                a.push(t, w, m * da + m * db);
                return;
            }
        }
        a.push(t, w, m * da);
        b.push(t, w, m * db);
    }
    operator Value() const { return record_statement(*this); }
};

template <class X>
RealUnary<RealHeld<X>> real_unary(X&& a, double v, double d) {
    return {{}, std::forward<X>(a), v, d};
}
template <class X, class Y>
RealBinary<RealHeld<X>, RealHeld<Y>> real_binary(X&& a, Y&& b, double v, double da, double db) {
    return {{}, std::forward<X>(a), std::forward<Y>(b), v, da, db};
}

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
    using Value::Value;  // Real(double), Real(int): leaves that require grad; Real(): constant 0
    Real() noexcept = default;
    Real(const Value& v) noexcept : Value(v) {}
    Real(Value&& v) noexcept : Value(std::move(v)) {}
    template <RealOperand E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Real>)
    Real(const E& e) : Value(detail::record_statement(e)) {}
    template <RealOperand E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Real>)
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
    [[gnu::always_inline]] void push(detail::Tape& t, detail::StmtWriter& w, double m) const {
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

// Arithmetic: each builds an expression; nothing is recorded until it is assigned to a Real.
template <RealOperand X, RealOperand Y>
auto operator+(X&& x, Y&& y) {
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), x.value() + y.value(), 1.0, 1.0);
}
template <RealOperand X, RealOperand Y>
auto operator-(X&& x, Y&& y) {
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), x.value() - y.value(), 1.0, -1.0);
}
template <RealOperand X, RealOperand Y>
auto operator*(X&& x, Y&& y) {
    const double a = x.value(), b = y.value();
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), a * b, b, a);
}
template <RealOperand X, RealOperand Y>
auto operator/(X&& x, Y&& y) {  // ∂x = 1/y, ∂y = −v/y
    const double b = y.value(), v = x.value() / b;
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), v, 1.0 / b, -v / b);
}
template <RealOperand X>
auto operator-(X&& x) {
    return detail::real_unary(std::forward<X>(x), -x.value(), -1.0);
}
template <RealOperand X>
auto operator+(X&& x, double c) { return detail::real_unary(std::forward<X>(x), x.value() + c, 1.0); }
template <RealOperand X>
auto operator+(double c, X&& x) { return detail::real_unary(std::forward<X>(x), c + x.value(), 1.0); }
template <RealOperand X>
auto operator-(X&& x, double c) { return detail::real_unary(std::forward<X>(x), x.value() - c, 1.0); }
template <RealOperand X>
auto operator-(double c, X&& x) { return detail::real_unary(std::forward<X>(x), c - x.value(), -1.0); }
template <RealOperand X>
auto operator*(X&& x, double c) { return detail::real_unary(std::forward<X>(x), x.value() * c, c); }
template <RealOperand X>
auto operator*(double c, X&& x) { return detail::real_unary(std::forward<X>(x), c * x.value(), c); }
template <RealOperand X>
auto operator/(X&& x, double c) { return detail::real_unary(std::forward<X>(x), x.value() / c, 1.0 / c); }
template <RealOperand X>
auto operator/(double c, X&& x) {  // ∂x = −c/x² = −v/x
    const double a = x.value(), v = c / a;
    return detail::real_unary(std::forward<X>(x), v, -v / a);
}
template <RealOperand X>
Real& operator+=(Real& r, X&& x) { return r = r + std::forward<X>(x); }
template <RealOperand X>
Real& operator-=(Real& r, X&& x) { return r = r - std::forward<X>(x); }
template <RealOperand X>
Real& operator*=(Real& r, X&& x) { return r = r * std::forward<X>(x); }
template <RealOperand X>
Real& operator/=(Real& r, X&& x) { return r = r / std::forward<X>(x); }
inline Real& operator+=(Real& r, double c) { return r = r + c; }
inline Real& operator-=(Real& r, double c) { return r = r - c; }
inline Real& operator*=(Real& r, double c) { return r = r * c; }
inline Real& operator/=(Real& r, double c) { return r = r / c; }

// Comparisons compare values (an expression is not recorded for it, a number is not made a leaf).
template <class X, class Y>
concept RealComparable = (RealOperand<X> && (RealOperand<Y> || std::is_arithmetic_v<std::remove_cvref_t<Y>>)) ||
                         (std::is_arithmetic_v<std::remove_cvref_t<X>> && RealOperand<Y>);
namespace detail {
template <class X>
double real_value(const X& x) {
    if constexpr (RealOperand<X>) {
        return x.value();
    } else {
        return static_cast<double>(x);
    }
}
}  // namespace detail
template <class X, class Y>
    requires RealComparable<X, Y>
bool operator<(const X& x, const Y& y) { return detail::real_value(x) < detail::real_value(y); }
template <class X, class Y>
    requires RealComparable<X, Y>
bool operator>(const X& x, const Y& y) { return detail::real_value(x) > detail::real_value(y); }
template <class X, class Y>
    requires RealComparable<X, Y>
bool operator<=(const X& x, const Y& y) { return detail::real_value(x) <= detail::real_value(y); }
template <class X, class Y>
    requires RealComparable<X, Y>
bool operator>=(const X& x, const Y& y) { return detail::real_value(x) >= detail::real_value(y); }

// Elementary functions: value and derivative, as in value.hpp.
#define AD_REAL_UNARY(name, value_expr, derivative_expr)                                    \
    template <RealOperand X>                                                                 \
    auto name(X&& x) {                                                                       \
        const double a = x.value();                                                          \
        const double v = (value_expr);                                                       \
        return detail::real_unary(std::forward<X>(x), v, (derivative_expr));                 \
    }
AD_REAL_UNARY(exp, std::exp(a), v)
AD_REAL_UNARY(log, std::log(a), 1.0 / a)
AD_REAL_UNARY(log1p, std::log1p(a), 1.0 / (a + 1.0))
AD_REAL_UNARY(sqrt, std::sqrt(a), 1.0 / (v * 2.0))
AD_REAL_UNARY(sin, std::sin(a), std::cos(a))
AD_REAL_UNARY(cos, std::cos(a), -std::sin(a))
AD_REAL_UNARY(tan, std::tan(a), v * v + 1.0)
AD_REAL_UNARY(tanh, detail::tanh(a), 1.0 - v * v)
AD_REAL_UNARY(sigmoid, a >= 0 ? 1.0 / (1.0 + std::exp(-a)) : std::exp(a) / (1.0 + std::exp(a)), v * (1.0 - v))
AD_REAL_UNARY(relu, a <= 0 ? 0.0 : a, a <= 0 ? 0.0 : 1.0)  // NaN stays NaN and passes the gradient
AD_REAL_UNARY(abs, std::fabs(a), a > 0 ? 1.0 : (a < 0 ? -1.0 : 0.0))
AD_REAL_UNARY(square, a * a, 2.0 * a)
AD_REAL_UNARY(erf, std::erf(a), std::exp(-(a * a)) * (2.0 * std::numbers::inv_sqrtpi))
#undef AD_REAL_UNARY

template <RealOperand X>
auto pow(X&& x, double c) {  // c x^{c−1}, exactly 0 when c = 0
    const double a = x.value();
    const double d = c == 0.0 ? 0.0 : (c == 1.0 ? 1.0 : (c == 2.0 ? 2.0 * a : c * std::pow(a, c - 1.0)));
    return detail::real_unary(std::forward<X>(x), std::pow(a, c), d);
}
template <RealOperand X>
auto pow(double c, X&& x) {  // c^x log c
    const double v = std::pow(c, x.value());
    return detail::real_unary(std::forward<X>(x), v, v * std::log(c));
}
template <RealOperand X, RealOperand Y>
auto pow(X&& x, Y&& y) {  // ∂x: y x^{y−1} (0 when y = 0); ∂y: x^y log x (0 where x = 0, y ≥ 0)
    const double a = x.value(), b = y.value(), v = std::pow(a, b);
    const double da = b == 0.0 ? 0.0 : b * std::pow(a, b - 1.0);
    const double db = a == 0.0 && b >= 0.0 ? 0.0 : v * std::log(a);
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), v, da, db);
}
template <RealOperand X, RealOperand Y>
auto min(X&& x, Y&& y) {  // the gradient goes to the smaller; split equally at ties
    const double a = x.value(), b = y.value();
    const double da = a == b ? 0.5 : (a < b ? 1.0 : 0.0);
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), std::fmin(a, b), da, a == b ? 0.5 : 1.0 - da);
}
template <RealOperand X, RealOperand Y>
auto max(X&& x, Y&& y) {
    const double a = x.value(), b = y.value();
    const double da = a == b ? 0.5 : (a > b ? 1.0 : 0.0);
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), std::fmax(a, b), da, a == b ? 0.5 : 1.0 - da);
}
template <RealOperand Y, RealOperand X>
auto atan2(Y&& y, X&& x) {  // ∂y: x/(x²+y²); ∂x: −y/(x²+y²)
    const double a = y.value(), b = x.value(), r = a * a + b * b;
    return detail::real_binary(std::forward<Y>(y), std::forward<X>(x), std::atan2(a, b), b / r, -a / r);
}
template <RealOperand X, RealOperand Y>
auto hypot(X&& x, Y&& y) {  // ∂x: x/h; ∂y: y/h
    const double a = x.value(), b = y.value(), h = std::hypot(a, b);
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), h, a / h, b / h);
}

}  // namespace ad

// fmt::print("{}", r) prints a Real as a Value: Value(2.0000, grad=1.0000).
template <>
struct fmt::formatter<ad::Real> : fmt::formatter<ad::Value> {};
