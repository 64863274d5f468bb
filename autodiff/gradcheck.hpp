#pragma once
// gradcheck: reverse-mode gradients against central finite differences, with a report.
//
//     auto r = ad::gradcheck([](const std::vector<ad::Value>& v) { return sin(v[0]) * v[1]; }, {1.0, 2.0});
//     CHECK(r.ok);   // fmt::print("{}", r.message) names the worst input, both values, the error
//
// Use double precision: the numeric side is (f(x+ε) − f(x−ε)) / 2ε with ε = 1e-6, whose error is
// about ε² f''' + 1e-16/ε ≈ 1e-10 — float32 cannot resolve that (a classic false alarm).
// For tensor functions with non-scalar output the check projects the output on a fixed random
// direction w (seeded) and checks ∇⟨w, f(x)⟩, which catches a wrong Jacobian with probability 1.
// gradgradcheck checks second derivatives: the gradient of x ↦ ⟨∇⟨w, f(x)⟩, v⟩ (computed with
// create_graph) against finite differences of the first-order gradient.
#include <autodiff/tensor.hpp>
#include <autodiff/value.hpp>

#include <functional>
#include <string>
#include <vector>

namespace ad {

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-7;   // pass when |analytic − numeric| ≤ atol + rtol·|numeric|
    double rtol = 1e-5;
    std::uint64_t seed = 0;  // projection direction for non-scalar outputs
};

struct GradcheckReport {
    bool ok = true;
    double max_abs_error = 0;
    double max_rel_error = 0;
    std::size_t worst_input = 0;    // index of the input holding the worst element
    std::int64_t worst_element = 0;  // flat index inside that input
    double analytic = 0, numeric = 0;
    std::size_t checked = 0;  // number of partial derivatives compared
    std::string message;      // one line, for logs and test failures
    explicit operator bool() const { return ok; }
};

using ScalarFunction = std::function<Value(const std::vector<Value>&)>;
using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckReport gradcheck(const ScalarFunction& f, const std::vector<double>& x, const GradcheckOptions& opts = {});
GradcheckReport gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});
GradcheckReport gradgradcheck(const ScalarFunction& f, const std::vector<double>& x, const GradcheckOptions& opts = {});
GradcheckReport gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

}  // namespace ad
