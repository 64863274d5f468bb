#pragma once
// The scalar functions every statement-taping type is checked on (test_real.cpp, test_active.cpp):
// each written once, as a template body over T, and run as ad::Value (one entry per operation,
// the reference), ad::Real and ad::Active, at one or more points.
#include <autodiff/autodiff.hpp>

#include <functional>
#include <span>
#include <vector>

namespace ad::testing {

using ad::Active;
using ad::Real;
using ad::Value;

// One source, run with T = Value (op tape), T = Real (statement tape) and T = Active (linear
// statement tape).
struct RealCase {
    const char* name;
    std::function<Value(const std::vector<Value>&)> as_value;
    std::function<Real(const std::vector<Real>&)> as_real;
    std::function<Active(const std::vector<Active>&)> as_active;
    std::vector<std::vector<double>> points;
};

#define REAL_CASE(name, body, ...)                                                           \
    RealCase {                                                                               \
        name, [](const std::vector<Value>& v) -> Value { using T = Value; (void)sizeof(T); return body; }, \
            [](const std::vector<Real>& v) -> Real { using T = Real; (void)sizeof(T); return body; }, \
            [](const std::vector<Active>& v) -> Active { using T = Active; (void)sizeof(T); return body; }, {__VA_ARGS__} \
    }

inline const std::vector<RealCase>& cases() {
    static const std::vector<RealCase> all = {
        REAL_CASE("add", v[0] + v[1], {0.3, -1.2}),
        REAL_CASE("sub", v[0] - v[1], {0.3, -1.2}),
        REAL_CASE("mul", v[0] * v[1], {0.3, -1.2}, {-2.5, 4.0}),
        REAL_CASE("div", v[0] / v[1], {0.3, -1.2}, {2.0, 0.7}),
        REAL_CASE("neg", -v[0], {0.3}),
        REAL_CASE("scalars", (2.5 + v[0] + 1.0) * (3.0 - v[0]) * 0.5 + (v[0] - 2.0) / 4.0 + 2.0 / v[0] + 3.0 * v[0], {0.3}, {-1.7}),
        REAL_CASE("square by product", v[0] * v[0] * v[1], {0.3, 2.0}),
        REAL_CASE("pow_scalar", pow(v[0], 3.5) + pow(v[0], 2.0) + pow(v[0], 1.0), {0.7}, {2.1}),
        REAL_CASE("rpow", pow(2.0, v[0]), {0.7}, {-1.1}),
        REAL_CASE("pow", pow(v[0], v[1]), {0.7, 1.3}, {2.0, -0.5}),
        REAL_CASE("exp", exp(v[0]), {0.3}, {-2.0}),
        REAL_CASE("log", log(v[0]), {0.3}, {4.0}),
        REAL_CASE("log1p", log1p(v[0]), {0.3}, {-0.5}),
        REAL_CASE("sqrt", sqrt(v[0]), {0.3}, {4.0}),
        REAL_CASE("sin", sin(v[0]), {0.3}, {-2.0}),
        REAL_CASE("cos", cos(v[0]), {0.3}, {-2.0}),
        REAL_CASE("tan", tan(v[0]), {0.3}, {-1.0}),
        REAL_CASE("tanh", tanh(v[0]), {0.3}, {-2.0}),
        REAL_CASE("sigmoid", sigmoid(v[0]), {0.3}, {-2.0}, {5.0}),
        REAL_CASE("relu", relu(v[0]), {0.3}, {-2.0}),
        REAL_CASE("abs", abs(v[0]), {0.3}, {-2.0}),
        REAL_CASE("square", square(v[0]), {0.3}, {-2.0}),
        REAL_CASE("erf", erf(v[0]), {0.3}, {-1.2}),
        REAL_CASE("min", min(v[0], v[1]), {0.3, 1.0}, {2.0, -1.0}),
        REAL_CASE("max", max(v[0], v[1]), {0.3, 1.0}, {2.0, -1.0}),
        REAL_CASE("atan2", atan2(v[0], v[1]), {0.3, 1.0}, {-2.0, -1.0}),
        REAL_CASE("hypot", hypot(v[0], v[1]), {0.3, 1.0}, {-2.0, -1.0}),
        REAL_CASE("nested", sin(v[0]) * v[1] + exp(v[0] / v[1]) - tanh(v[0] * v[1] - sqrt(v[1])), {1.0, 2.0}),
        REAL_CASE("dot", dot(std::span<const T>(v).first(2), std::span<const T>(v).last(2)), {0.3, -1.2, 2.0, 0.7}),
        REAL_CASE("dot with itself", dot(std::span<const T>(v), std::span<const T>(v)) * v[1], {0.3, -1.2, 2.0}),
        REAL_CASE("neuron", tanh(v[0] + dot(std::span<const T>(v).subspan(1, 2), std::span<const T>(v).subspan(3, 2))),
                  {0.1, 0.3, -1.2, 2.0, 0.7}, {-0.5, 1.5, 0.4, -0.3, 2.0}),
        REAL_CASE("sum", sum(std::span<const T>(v)) * v[0] + sum(std::span<const T>(v).first(1)), {0.3, -1.2, 2.0}),
        REAL_CASE("compound", [&] { T y = v[0]; y += v[1]; y *= v[0]; y -= 1.0; y /= v[1]; y += 2.0 * v[0]; y *= 0.5; return y; }(), {0.3, 1.5}),
    };
    return all;
}

#undef REAL_CASE

}  // namespace ad::testing
