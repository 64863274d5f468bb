#pragma once
// Expression templates for statement taping: what ad::Real and ad::Active have in common.
//
// Arithmetic on a Real or an Active does not record anything: it builds an expression object
// holding its operands, its value and the partial derivatives of its last operation, all computed
// as it is built (the chain rule runs forward, along the expression). Only the assignment to a
// named Real or Active records the statement, as one tape entry listing, for each leaf operand of
// the expression, ∂statement/∂operand: the product of the partials on the path from the root
// (push(…, m) multiplies m by each partial on the way down). This is the design of CoDiPack and
// Stan; the two leaf types differ in their tapes (real.hpp, active.hpp), not in their arithmetic.
//
// An expression belongs to the family of its leaves (RealFamily: Real or Active); the operators
// only combine operands of one family, so Real and Active never meet in a statement.
// Write `ad::Real r = <expression>;` (or `ad::Active`), not `auto r = ...`: `auto` keeps the
// unevaluated expression, which refers to the named leaves it reads (like Eigen's expressions).
// The elementary functions, their derivatives and their kinks are those of value.hpp
// (relu'(0) = 0, abs'(0) = 0, min/max split at ties).
#include <autodiff/elementary.hpp>

#include <cmath>
#include <concepts>
#include <cstddef>
#include <numbers>
#include <type_traits>
#include <utility>

namespace ad {

class Real;
class Value;
struct RealExpressionTag {};  // base of Real, Active and every expression over them

template <class X>
concept RealOperand = std::derived_from<std::remove_cvref_t<X>, RealExpressionTag>;

// The leaf type whose expressions X belongs to, and the leaves themselves (family == type).
template <RealOperand X>
using RealFamily = typename std::remove_cvref_t<X>::family;
template <class X, class Y>
concept SameFamily = std::same_as<RealFamily<X>, RealFamily<Y>>;
template <class L>
concept RealLeaf = RealOperand<L> && std::same_as<L, RealFamily<L>>;

namespace detail {

// How an expression holds an operand: a named leaf by reference (it outlives the statement), a
// temporary leaf or a sub-expression by value.
template <class X>
using RealHeld = std::conditional_t<RealLeaf<std::remove_cvref_t<X>> && std::is_lvalue_reference_v<X>,
                                    const std::remove_cvref_t<X>&, std::remove_cvref_t<X>>;

template <class E>
Value record_statement(const E& e);  // real.hpp: a Real expression used as an ad::Value

// The whole push chain of a statement (each operand's push, the leaf's push, the tape writes) is
// forced inline, as CoDiPack's CODI_INLINE does: left to its heuristics, GCC kept Real::push out
// of line in bench_scalar's translation unit but not in a smaller one, and Rosenbrock at
// n = 10^6 recorded 720 instructions per element instead of 446 (callgrind) and took 50–54 ms
// instead of 37–38 (4 alternating runs). `Tape` and `Writer` are the leaf family's: where the
// statement's arguments and partials go.

// Partials known to be exactly +1 or −1 when the expression is built (x + y, x − y, −x, x ± c,
// c − x) say so in their type (P, PA, PB: +1, −1, or 0 for any other value), and a push carries
// Unit<S>: S = ±1 when m is exactly S (every partial from the root down is a known unit), 0 when
// it is any number. ad::Active stores no partial for an argument pushed with a unit (active.hpp);
// the numbers themselves are the same either way, so a leaf may ignore S, as ad::Real does.
template <int S>
struct Unit {
    static_assert(S >= -1 && S <= 1);
};
constexpr int unit_times(int s, int p) noexcept { return s * p; }  // 0 stays 0: not a unit

// f(a), with value v and derivative d = f'(a), both computed when the expression is built.
template <class A, int P = 0>
struct RealUnary : RealExpressionTag {
    using family = RealFamily<A>;
    static constexpr std::size_t operands() noexcept { return std::remove_cvref_t<A>::operands(); }
    static constexpr std::size_t min_operands() noexcept { return std::remove_cvref_t<A>::min_operands(); }
    // The arguments this statement pushes: operands() less the x * x that merge (below).
    [[gnu::always_inline]] std::size_t arguments() const noexcept { return a.arguments(); }
    A a;
    double v, d;
    double value() const noexcept { return v; }
    template <class Tape, class Writer, int S = 0>
    [[gnu::always_inline]] void push(Tape& t, Writer& w, double m, Unit<S> = {}) const {
        a.push(t, w, m * d, Unit<unit_times(S, P)>{});
    }
    template <class V = Value>  // Value ∘ expression: one statement first (a template: Value is incomplete here)
        requires(std::same_as<V, Value> && std::same_as<family, Real>)
    operator V() const { return record_statement(*this); }
};

// f(a, b), with value v and partials da, db.
template <class A, class B, int PA = 0, int PB = 0>
struct RealBinary : RealExpressionTag {
    using family = RealFamily<A>;
    // x * x, x + x of one named leaf may push one argument instead of two (below).
    static constexpr bool may_merge = std::is_lvalue_reference_v<A> && std::is_same_v<A, B>;
    static constexpr std::size_t operands() noexcept {
        return std::remove_cvref_t<A>::operands() + std::remove_cvref_t<B>::operands();
    }
    static constexpr std::size_t min_operands() noexcept {
        return may_merge ? 1 : std::remove_cvref_t<A>::min_operands() + std::remove_cvref_t<B>::min_operands();
    }
    // x * x, x + x of one named leaf: one argument instead of two (push and arguments agree here).
    [[gnu::always_inline]] bool merges() const noexcept {
        if constexpr (may_merge) return &a == &b;
        return false;
    }
    [[gnu::always_inline]] std::size_t arguments() const noexcept {
        return merges() ? a.arguments() : a.arguments() + b.arguments();
    }
    A a;
    B b;
    double v, da, db;
    double value() const noexcept { return v; }
    template <class Tape, class Writer, int S = 0>
    [[gnu::always_inline]] void push(Tape& t, Writer& w, double m, Unit<S> = {}) const {
        if (merges()) {
            // x * x, x + x: one lookup of x instead of two, with the partial the two pushes would
            // have merged into (m·da + m·db, rounded the same; never a unit). Rosenbrock 10^6 has
            // three per element.
            a.push(t, w, m * da + m * db, Unit<0>{});
            return;
        }
        a.push(t, w, m * da, Unit<unit_times(S, PA)>{});
        b.push(t, w, m * db, Unit<unit_times(S, PB)>{});
    }
    template <class V = Value>
        requires(std::same_as<V, Value> && std::same_as<family, Real>)
    operator V() const { return record_statement(*this); }
};

template <int P = 0, class X>
RealUnary<RealHeld<X>, P> real_unary(X&& a, double v, double d) {
    return {{}, std::forward<X>(a), v, d};
}
template <int PA = 0, int PB = 0, class X, class Y>
RealBinary<RealHeld<X>, RealHeld<Y>, PA, PB> real_binary(X&& a, Y&& b, double v, double da, double db) {
    return {{}, std::forward<X>(a), std::forward<Y>(b), v, da, db};
}

}  // namespace detail

// Arithmetic: each builds an expression; nothing is recorded until it is assigned to a Real.
template <RealOperand X, RealOperand Y>
    requires SameFamily<X, Y>
auto operator+(X&& x, Y&& y) {
    return detail::real_binary<1, 1>(std::forward<X>(x), std::forward<Y>(y), x.value() + y.value(), 1.0, 1.0);
}
template <RealOperand X, RealOperand Y>
    requires SameFamily<X, Y>
auto operator-(X&& x, Y&& y) {
    return detail::real_binary<1, -1>(std::forward<X>(x), std::forward<Y>(y), x.value() - y.value(), 1.0, -1.0);
}
template <RealOperand X, RealOperand Y>
    requires SameFamily<X, Y>
auto operator*(X&& x, Y&& y) {
    const double a = x.value(), b = y.value();
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), a * b, b, a);
}
template <RealOperand X, RealOperand Y>
    requires SameFamily<X, Y>
auto operator/(X&& x, Y&& y) {  // ∂x = 1/y, ∂y = −v/y
    const double b = y.value(), v = x.value() / b;
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), v, 1.0 / b, -v / b);
}
template <RealOperand X>
auto operator-(X&& x) {
    return detail::real_unary<-1>(std::forward<X>(x), -x.value(), -1.0);
}
template <RealOperand X>
auto operator+(X&& x, double c) { return detail::real_unary<1>(std::forward<X>(x), x.value() + c, 1.0); }
template <RealOperand X>
auto operator+(double c, X&& x) { return detail::real_unary<1>(std::forward<X>(x), c + x.value(), 1.0); }
template <RealOperand X>
auto operator-(X&& x, double c) { return detail::real_unary<1>(std::forward<X>(x), x.value() - c, 1.0); }
template <RealOperand X>
auto operator-(double c, X&& x) { return detail::real_unary<-1>(std::forward<X>(x), c - x.value(), -1.0); }
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
// Compound assignment on a named leaf (Real, Active): r = r op x, one statement.
#define AD_REAL_COMPOUND(op)                                                                 \
    template <RealLeaf L, RealOperand X>                                                     \
        requires std::same_as<L, RealFamily<X>>                                              \
    L& operator op##=(L& r, X&& x) { return r = r op std::forward<X>(x); }                   \
    template <RealLeaf L>                                                                    \
    L& operator op##=(L& r, double c) { return r = r op c; }
AD_REAL_COMPOUND(+)
AD_REAL_COMPOUND(-)
AD_REAL_COMPOUND(*)
AD_REAL_COMPOUND(/)
#undef AD_REAL_COMPOUND

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
    requires SameFamily<X, Y>
auto pow(X&& x, Y&& y) {  // ∂x: y x^{y−1} (0 when y = 0); ∂y: x^y log x (0 where x = 0, y ≥ 0)
    const double a = x.value(), b = y.value(), v = std::pow(a, b);
    const double da = b == 0.0 ? 0.0 : b * std::pow(a, b - 1.0);
    const double db = a == 0.0 && b >= 0.0 ? 0.0 : v * std::log(a);
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), v, da, db);
}
template <RealOperand X, RealOperand Y>
    requires SameFamily<X, Y>
auto min(X&& x, Y&& y) {  // the gradient goes to the smaller; split equally at ties
    const double a = x.value(), b = y.value();
    const double da = a == b ? 0.5 : (a < b ? 1.0 : 0.0);
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), std::fmin(a, b), da, a == b ? 0.5 : 1.0 - da);
}
template <RealOperand X, RealOperand Y>
    requires SameFamily<X, Y>
auto max(X&& x, Y&& y) {
    const double a = x.value(), b = y.value();
    const double da = a == b ? 0.5 : (a > b ? 1.0 : 0.0);
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), std::fmax(a, b), da, a == b ? 0.5 : 1.0 - da);
}
template <RealOperand Y, RealOperand X>
    requires SameFamily<X, Y>
auto atan2(Y&& y, X&& x) {  // ∂y: x/(x²+y²); ∂x: −y/(x²+y²)
    const double a = y.value(), b = x.value(), r = a * a + b * b;
    return detail::real_binary(std::forward<Y>(y), std::forward<X>(x), std::atan2(a, b), b / r, -a / r);
}
template <RealOperand X, RealOperand Y>
    requires SameFamily<X, Y>
auto hypot(X&& x, Y&& y) {  // ∂x: x/h; ∂y: y/h
    const double a = x.value(), b = y.value(), h = std::hypot(a, b);
    return detail::real_binary(std::forward<X>(x), std::forward<Y>(y), h, a / h, b / h);
}

}  // namespace ad
