// Finite-difference checks of first and second derivatives.
#include <autodiff/backward.hpp>
#include <autodiff/gradcheck.hpp>
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/random.hpp>

#include <cmath>

namespace ad {

namespace {

// Compares analytic[k][j] with numeric[k][j] and fills the report.
GradcheckReport compare(const std::vector<std::vector<double>>& analytic, const std::vector<std::vector<double>>& numeric,
                        const GradcheckOptions& o, const char* what) {
    GradcheckReport r;
    double worst_excess = -1;
    for (std::size_t k = 0; k < analytic.size(); ++k) {
        for (std::size_t j = 0; j < analytic[k].size(); ++j) {
            const double a = analytic[k][j], n = numeric[k][j];
            const double err = std::fabs(a - n);
            const double rel = err / std::max(std::fabs(n), 1e-300);
            const double allowed = o.atol + o.rtol * std::fabs(n);
            ++r.checked;
            const bool bad = !(err <= allowed);  // NaN fails
            const double excess = std::isnan(err) ? INFINITY : err - allowed;
            if (excess > worst_excess) {
                worst_excess = excess;
                r.worst_input = k;
                r.worst_element = static_cast<std::int64_t>(j);
                r.analytic = a;
                r.numeric = n;
            }
            r.max_abs_error = std::max(r.max_abs_error, err);
            if (err > o.atol) r.max_rel_error = std::max(r.max_rel_error, rel);
            if (bad) r.ok = false;
        }
    }
    r.message = fmt::format("{} {}: {} partial derivatives, worst at input {} element {}: analytic {:.10g} vs numeric {:.10g} "
                            "(abs error {:.3g}, rel error {:.3g}; tolerance atol {:.1g} + rtol {:.1g})",
                            what, r.ok ? "passed" : "FAILED", r.checked, r.worst_input, r.worst_element, r.analytic,
                            r.numeric, r.max_abs_error, r.max_rel_error, o.atol, o.rtol);
    return r;
}

std::vector<Value> leaves_of(const std::vector<double>& x) {
    std::vector<Value> v;
    for (double xi : x) v.emplace_back(xi);
    return v;
}

}  // namespace

GradcheckReport gradcheck(const ScalarFunction& f, const std::vector<double>& x, const GradcheckOptions& o) {
    std::vector<std::vector<double>> analytic(1), numeric(1);
    {
        std::vector<Value> v = leaves_of(x);
        Value y = f(v);
        for (const Value& g : gradients(y, v, {.retain_graph = false})) analytic[0].push_back(g.value());
    }
    NoGrad ng;
    for (std::size_t i = 0; i < x.size(); ++i) {
        auto at = [&](double d) {
            std::vector<Value> v;
            for (std::size_t j = 0; j < x.size(); ++j) v.push_back(Value::constant(x[j] + (j == i ? d : 0.0)));
            return f(v).value();
        };
        numeric[0].push_back((at(o.eps) - at(-o.eps)) / (2 * o.eps));
    }
    return compare(analytic, numeric, o, "gradcheck");
}

namespace {
// Copies of the inputs as fresh double leaves that require grad.
std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs) {
    std::vector<Tensor> r;
    for (const Tensor& t : inputs) r.push_back(t.detach().to(DType::F64).clone().detach().requires_grad_());
    return r;
}
// ⟨w, f(x)⟩ with w a fixed random tensor of f's output shape.
Tensor projected(const TensorFunction& f, const std::vector<Tensor>& x, std::uint64_t seed) {
    Tensor y = f(x);
    if (y.numel() == 1) return sum(y);
    const Tensor w = Tensor::uniform(y.shape(), 0.5, 1.5, y.dtype(), seed + 12345);
    return sum(y * w);
}
}  // namespace

GradcheckReport gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o) {
    std::vector<Tensor> x = fresh_leaves(inputs);
    std::vector<std::vector<double>> analytic, numeric;
    {
        Tensor L = projected(f, x, o.seed);
        for (const Tensor& g : gradients(L, x, {}, {.retain_graph = false})) analytic.push_back(g.to_vector());
    }
    NoGrad ng;
    for (std::size_t k = 0; k < x.size(); ++k) {
        numeric.emplace_back();
        for (std::int64_t j = 0; j < x[k].numel(); ++j) {
            auto at = [&](double d) {
                std::vector<Tensor> xs;
                for (std::size_t i = 0; i < x.size(); ++i) {
                    Tensor c = x[i].detach().clone();
                    if (i == k) c.data<double>()[j] += d;
                    xs.push_back(c);
                }
                return projected(f, xs, o.seed).item();
            };
            numeric.back().push_back((at(o.eps) - at(-o.eps)) / (2 * o.eps));
        }
    }
    return compare(analytic, numeric, o, "gradcheck");
}

GradcheckReport gradgradcheck(const ScalarFunction& f, const std::vector<double>& x, const GradcheckOptions& o) {
    Rng rng(o.seed + 99);
    std::vector<double> v;
    for (std::size_t i = 0; i < x.size(); ++i) v.push_back(rng.uniform(0.5, 1.5));
    // h(x) = ⟨∇f(x), v⟩ built with create_graph; its gradient is H v.
    // Analytic: gradient of h with create_graph; numeric: central differences of ⟨∇f, v⟩.
    std::vector<std::vector<double>> analytic(1), numeric(1);
    {
        std::vector<Value> xs = leaves_of(x);
        Value y = f(xs);
        std::vector<Value> g = gradients(y, xs, {.retain_graph = true, .create_graph = true});
        Value s = Value::constant(0.0);
        for (std::size_t i = 0; i < g.size(); ++i) s = s + g[i] * v[i];
        if (s.is_constant()) {
            analytic[0].assign(x.size(), 0.0);
        } else {
            for (const Value& hv : gradients(s, xs)) analytic[0].push_back(hv.value());
        }
    }
    auto first = [&](const std::vector<double>& at) {
        std::vector<Value> xs = leaves_of(at);
        Value y = f(xs);
        double s = 0;
        const auto g = gradients(y, xs, {.retain_graph = false});
        for (std::size_t i = 0; i < g.size(); ++i) s += g[i].value() * v[i];
        return s;
    };
    for (std::size_t i = 0; i < x.size(); ++i) {
        std::vector<double> p = x, m = x;
        p[i] += o.eps;
        m[i] -= o.eps;
        numeric[0].push_back((first(p) - first(m)) / (2 * o.eps));
    }
    return compare(analytic, numeric, o, "gradgradcheck");
}

GradcheckReport gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& o) {
    std::vector<Tensor> v;
    for (std::size_t k = 0; k < inputs.size(); ++k)
        v.push_back(Tensor::uniform(inputs[k].shape(), 0.5, 1.5, DType::F64, o.seed + 777 + k));
    auto first = [&](const std::vector<Tensor>& xs, bool create_graph) {
        Tensor L = projected(f, xs, o.seed);
        auto g = gradients(L, xs, {}, {.retain_graph = create_graph, .create_graph = create_graph});
        Tensor s = Tensor::scalar(0.0, DType::F64);
        for (std::size_t k = 0; k < g.size(); ++k) s = s + sum(g[k] * v[k]);
        return s;
    };
    std::vector<std::vector<double>> analytic, numeric;
    {
        std::vector<Tensor> x = fresh_leaves(inputs);
        Tensor s = first(x, true);
        if (!s.requires_grad()) {
            for (const Tensor& xi : x) analytic.emplace_back(static_cast<std::size_t>(xi.numel()), 0.0);
        } else {
            for (const Tensor& g : gradients(s, x, {}, {.retain_graph = false})) analytic.push_back(g.to_vector());
        }
    }
    std::vector<Tensor> x = fresh_leaves(inputs);
    for (std::size_t k = 0; k < x.size(); ++k) {
        numeric.emplace_back();
        for (std::int64_t j = 0; j < x[k].numel(); ++j) {
            auto at = [&](double d) {
                std::vector<Tensor> xs = fresh_leaves(x);
                {
                    NoGrad ng;
                    xs[k].data<double>()[j] += d;
                }
                return first(xs, false).item();
            };
            numeric.back().push_back((at(o.eps) - at(-o.eps)) / (2 * o.eps));
        }
    }
    return compare(analytic, numeric, o, "gradgradcheck");
}

}  // namespace ad
