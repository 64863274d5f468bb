// Arithmetic ops: forward, what they save, and backward side by side.
#include <autodiff/kernels.hpp>
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/compare.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/ops/unary.hpp>
#include <autodiff/tensor_node.hpp>

#include <cmath>

namespace ad {

using detail::GradContext;
using detail::save;
using detail::sum_to;

namespace {
// A constant with a's dtype and shape [] (broadcasts against anything).
Tensor scalar_like(const Tensor& a, double s) { return Tensor::scalar(s, a.dtype()); }
}  // namespace

// ---- a + b ------------------------------------------------------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b) {
    Tensor y = detail::zip(a, b, "add", [](auto x, auto z) { return x + z; });
    return detail::record("add", y, {a, b}, [](GradContext& g) {
        g.add(0, sum_to(g.out(), g.input_shape(0)));
        g.add(1, sum_to(g.out(), g.input_shape(1)));
    });
}

// ---- a − b ------------------------------------------------------------------------------------
Tensor operator-(const Tensor& a, const Tensor& b) {
    Tensor y = detail::zip(a, b, "sub", [](auto x, auto z) { return x - z; });
    return detail::record("sub", y, {a, b}, [](GradContext& g) {
        g.add(0, sum_to(g.out(), g.input_shape(0)));
        if (g.needs(1)) g.add(1, sum_to(-g.out(), g.input_shape(1)));
    });
}

// ---- a · b ------------------------------------------------------------------------------------
Tensor operator*(const Tensor& a, const Tensor& b) {
    Tensor y = detail::zip(a, b, "mul", [](auto x, auto z) { return x * z; });
    return detail::record("mul", y, {a, b}, [sa = save(a), sb = save(b)](GradContext& g) {
        if (g.needs(0)) g.add(0, sum_to(g.out() * sb.get(), g.input_shape(0)));
        if (g.needs(1)) g.add(1, sum_to(g.out() * sa.get(), g.input_shape(1)));
    });
}

// ---- a / b ------------------------------------------------------------------------------------
Tensor operator/(const Tensor& a, const Tensor& b) {
    Tensor y = detail::zip(a, b, "div", [](auto x, auto z) { return x / z; });
    return detail::record("div", y, {a, b}, [sa = save(a), sb = save(b)](GradContext& g) {
        const Tensor bv = sb.get();
        if (g.needs(0)) g.add(0, sum_to(g.out() / bv, g.input_shape(0)));
        if (g.needs(1)) g.add(1, sum_to(-g.out() * sa.get() / (bv * bv), g.input_shape(1)));
    });
}

// ---- −a ---------------------------------------------------------------------------------------
Tensor neg(const Tensor& a) {
    Tensor y = detail::map(a, [](auto x) { return -x; });
    return detail::record("neg", y, {a}, [](GradContext& g) { g.add(0, -g.out()); });
}
Tensor operator-(const Tensor& a) { return neg(a); }

// ---- with a number ------------------------------------------------------------------------------
Tensor operator+(const Tensor& a, double s) {
    Tensor y = detail::map(a, [s](auto x) { return x + static_cast<decltype(x)>(s); });
    return detail::record("add_scalar", y, {a}, [](GradContext& g) { g.add(0, g.out()); });
}
Tensor operator+(double s, const Tensor& a) { return a + s; }
Tensor operator-(const Tensor& a, double s) { return a + (-s); }
Tensor operator-(double s, const Tensor& a) {
    Tensor y = detail::map(a, [s](auto x) { return static_cast<decltype(x)>(s) - x; });
    return detail::record("rsub_scalar", y, {a}, [](GradContext& g) { g.add(0, -g.out()); });
}
Tensor operator*(const Tensor& a, double s) {
    Tensor y = detail::map(a, [s](auto x) { return x * static_cast<decltype(x)>(s); });
    return detail::record("mul_scalar", y, {a}, [s](GradContext& g) { g.add(0, g.out() * s); });
}
Tensor operator*(double s, const Tensor& a) { return a * s; }
Tensor operator/(const Tensor& a, double s) {
    Tensor y = detail::map(a, [s](auto x) { return x / static_cast<decltype(x)>(s); });
    return detail::record("div_scalar", y, {a}, [s](GradContext& g) { g.add(0, g.out() / s); });
}
Tensor operator/(double s, const Tensor& a) {  // y = s/a: ∂a = −y/a
    Tensor y = detail::map(a, [s](auto x) { return static_cast<decltype(x)>(s) / x; });
    return detail::record("rdiv_scalar", y, {a}, [sa = save(a), sy = save(y)](GradContext& g) {
        g.add(0, -g.out() * sy.get() / sa.get());
    });
}

// ---- with a Value ------------------------------------------------------------------------------
Tensor operator*(const Tensor& a, const Value& v) {
    Tensor y = detail::map(a, [s = v.value()](auto x) { return x * static_cast<decltype(x)>(s); });
    return detail::record_with_value("mul_value", y, {a}, v, [sa = save(a), v0 = v.value()](GradContext& g) {
        if (g.needs(0)) g.add(0, g.out() * g.scalar_input(1, v0));
        if (g.needs(1)) g.add(1, sum(g.out() * sa.get()));
    });
}
Tensor operator*(const Value& v, const Tensor& a) { return a * v; }
Tensor operator+(const Tensor& a, const Value& v) {
    Tensor y = detail::map(a, [s = v.value()](auto x) { return x + static_cast<decltype(x)>(s); });
    return detail::record_with_value("add_value", y, {a}, v, [](GradContext& g) {
        g.add(0, g.out());
        if (g.needs(1)) g.add(1, sum(g.out()));
    });
}
Tensor operator+(const Value& v, const Tensor& a) { return a + v; }

// ---- powers ---------------------------------------------------------------------------------------
Tensor pow(const Tensor& a, double p) {
    Tensor y = detail::map(a, [p](auto x) { return std::pow(x, static_cast<decltype(x)>(p)); });
    return detail::record("pow_scalar", y, {a}, [sa = save(a), p](GradContext& g) {
        if (p == 0.0) return;  // d a^0 = 0 everywhere (no 0·inf at a = 0)
        if (p == 1.0) return g.add(0, g.out());
        if (p == 2.0) return g.add(0, g.out() * sa.get() * 2.0);
        g.add(0, g.out() * pow(sa.get(), p - 1.0) * p);
    });
}
// Its own op (not pow(a, 2)), so graphs and anomaly messages name it "square".
Tensor square(const Tensor& a) {
    Tensor y = detail::map(a, [](auto x) { return x * x; });
    return detail::record("square", y, {a}, [sa = save(a)](GradContext& g) { g.add(0, g.out() * sa.get() * 2.0); });
}
Tensor pow(const Tensor& a, const Tensor& b) {
    Tensor y = detail::zip(a, b, "pow", [](auto x, auto z) { return std::pow(x, z); });
    return detail::record("pow", y, {a, b}, [sa = save(a), sb = save(b), sy = save(y)](GradContext& g) {
        const Tensor av = sa.get(), bv = sb.get();
        if (g.needs(0)) {  // b a^{b−1}, with 0 where b = 0
            Tensor d = where(eq(bv, scalar_like(bv, 0.0)), zeros_like(bv), bv * pow(av, bv - 1.0));
            g.add(0, sum_to(g.out() * d, g.input_shape(0)));
        }
        if (g.needs(1)) {  // a^b log a, with 0 where a = 0 and b ≥ 0
            Tensor mask = logical_and(eq(av, scalar_like(av, 0.0)), ge(bv, scalar_like(bv, 0.0)));
            Tensor d = where(mask, zeros_like(mask), sy.get() * log(where(mask, ones_like(mask), av)));
            g.add(1, sum_to(g.out() * d, g.input_shape(1)));
        }
    });
}

Tensor& operator+=(Tensor& a, const Tensor& b) { return a = a + b; }
Tensor& operator-=(Tensor& a, const Tensor& b) { return a = a - b; }
Tensor& operator*=(Tensor& a, const Tensor& b) { return a = a * b; }
Tensor& operator/=(Tensor& a, const Tensor& b) { return a = a / b; }

}  // namespace ad
