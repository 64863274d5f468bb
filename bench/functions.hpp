#pragma once
// The scalar benchmark's functions, written once as templates over the number type (double,
// ad::Value, ad::Real, ad::Active), with their exact derivatives in closed form. bench_scalar
// times them; tests/test_active.cpp checks them.
#include <cmath>
#include <cstddef>
#include <vector>

namespace bench {

// The same source for plain doubles, ad::Value, ad::Real and ad::Active.
template <class T>
T rosenbrock(const std::vector<T>& x) {
    T s = T(0.0);
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
        T a = x[i + 1] - x[i] * x[i];
        T b = 1.0 - x[i];
        s = s + 100.0 * (a * a) + b * b;
    }
    return s;
}
// Statements of four arguments, a * b + c * d, none merged: ad::Active stores all their partials.
template <class T>
T products(const std::vector<T>& x) {
    T s = T(0.0);
    for (std::size_t i = 0; i + 3 < x.size(); ++i) {
        T t = x[i] * x[i + 1] + x[i + 2] * x[i + 3];
        s = s + t;
    }
    return s;
}
template <class T>
T chain(T x, std::size_t steps) {
    for (std::size_t k = 0; k < steps; ++k) x = sin(x) * 0.5 + x * x * 0.1;
    return x;
}

inline std::vector<double> analytic_rosenbrock_gradient(const std::vector<double>& x) {
    std::vector<double> g(x.size(), 0.0);
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
        const double a = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * a;
    }
    return g;
}
inline std::vector<double> analytic_products_gradient(const std::vector<double>& x) {
    std::vector<double> g(x.size(), 0.0);
    for (std::size_t i = 0; i + 3 < x.size(); ++i) {
        g[i] += x[i + 1];
        g[i + 1] += x[i];
        g[i + 2] += x[i + 3];
        g[i + 3] += x[i + 2];
    }
    return g;
}
inline double chain_derivative(double x, std::size_t steps) {
    double d = 1.0;
    for (std::size_t k = 0; k < steps; ++k) {
        d *= std::cos(x) * 0.5 + 0.2 * x;
        x = std::sin(x) * 0.5 + x * x * 0.1;
    }
    return d;
}
}  // namespace bench
