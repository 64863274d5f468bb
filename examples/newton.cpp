// newton: Newton's method on the Rosenbrock function, two ways.
//
//   1. full Newton:  solve ∇²f(x) p = −∇f(x) with the Hessian from ad::hessian;
//   2. Newton-CG:    solve the same system by conjugate gradients, using only Hessian-vector
//                    products ad::hvp (the Hessian is never formed: what large problems do).
//
// Rosenbrock f(x) = Σ 100 (x_{i+1} − x_i²)² + (1 − x_i)² has its minimum 0 at (1, …, 1); from
// the classic start (−1.2, 1) plain Newton steps reach it in a handful of iterations.
//
//     ./newton                       # n = 2 from (−1.2, 1)
//     ./newton --tol 1e-12 --max-iter 30
//
// Exit code 0 when both methods converge to (1, 1), 1 otherwise.
#include <autodiff/autodiff.hpp>
#include <autodiff/functional.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <utility>

namespace {

using Vec = std::vector<double>;
using Mat = std::vector<Vec>;

ad::Value rosenbrock(const std::vector<ad::Value>& x) {
    ad::Value f = ad::Value::constant(0.0);
    for (std::size_t i = 0; i + 1 < x.size(); ++i) f = f + 100.0 * square(x[i + 1] - square(x[i])) + square(1.0 - x[i]);
    return f;
}

double dot(const Vec& a, const Vec& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}
double norm(const Vec& a) { return std::sqrt(dot(a, a)); }

// Solves H p = b by Gaussian elimination with partial pivoting (n is tiny here).
Vec solve(Mat H, Vec b) {
    const std::size_t n = b.size();
    for (std::size_t k = 0; k < n; ++k) {
        std::size_t piv = k;
        for (std::size_t i = k + 1; i < n; ++i)
            if (std::fabs(H[i][k]) > std::fabs(H[piv][k])) piv = i;
        std::swap(H[k], H[piv]);
        std::swap(b[k], b[piv]);
        for (std::size_t i = k + 1; i < n; ++i) {
            const double m = H[i][k] / H[k][k];
            for (std::size_t j = k; j < n; ++j) H[i][j] -= m * H[k][j];
            b[i] -= m * b[k];
        }
    }
    Vec p(n);
    for (std::size_t k = n; k-- > 0;) {
        double s = b[k];
        for (std::size_t j = k + 1; j < n; ++j) s -= H[k][j] * p[j];
        p[k] = s / H[k][k];
    }
    return p;
}

// Conjugate gradients for H p = b given only v ↦ H v (stops early on negative curvature, as
// truncated Newton does).
Vec conjugate_gradients(const std::function<Vec(const Vec&)>& Hv, const Vec& b, double tol) {
    Vec p(b.size(), 0.0), r = b, d = b;
    double rr = dot(r, r);
    for (std::size_t k = 0; k < 2 * b.size() && std::sqrt(rr) > tol; ++k) {
        const Vec Hd = Hv(d);
        const double curvature = dot(d, Hd);
        if (curvature <= 0) break;
        const double alpha = rr / curvature;
        for (std::size_t i = 0; i < p.size(); ++i) {
            p[i] += alpha * d[i];
            r[i] -= alpha * Hd[i];
        }
        const double rr_next = dot(r, r);
        for (std::size_t i = 0; i < d.size(); ++i) d[i] = r[i] + rr_next / rr * d[i];
        rr = rr_next;
    }
    return p;
}

// Runs x ← x + p(x) until ‖∇f‖ ≤ tol; prints each iteration. Returns the final point.
Vec newton(const char* name, Vec x, int max_iter, double tol, const std::function<Vec(const Vec&, const Vec&)>& step) {
    fmt::print("\n{}\n{:>4}  {:>22}  {:>22}  {:>12}  {:>10}\n", name, "iter", "x0", "x1", "f", "|grad|");
    for (int k = 0; k <= max_iter; ++k) {
        const auto [f, g] = ad::value_and_grad(rosenbrock, x);
        fmt::print("{:>4}  {:>22.15f}  {:>22.15f}  {:>12.4e}  {:>10.3e}\n", k, x[0], x[1], f, norm(g));
        if (norm(g) <= tol) return x;
        const Vec p = step(x, g);
        for (std::size_t i = 0; i < x.size(); ++i) x[i] += p[i];
    }
    return x;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Newton's method on Rosenbrock: with the Hessian, and with Hessian-vector products + CG"};
    int max_iter = 20;
    double tol = 1e-10;
    app.add_option("--max-iter", max_iter, "iterations per method")->capture_default_str()->check(CLI::Range(1, 1000));
    app.add_option("--tol", tol, "stop when |grad f| <= tol")->capture_default_str()->check(CLI::PositiveNumber);
    CLI11_PARSE(app, argc, argv);

    const Vec start = {-1.2, 1.0};
    auto minus = [](Vec v) {
        for (double& e : v) e = -e;
        return v;
    };

    // 1. p = −H⁻¹ g with H from ad::hessian (one create_graph gradient, then one sweep per row).
    const Vec a = newton("Newton with the full Hessian (ad::hessian)", start, max_iter, tol,
                         [&](const Vec& x, const Vec& g) { return solve(ad::hessian(rosenbrock, x), minus(g)); });

    // 2. The same steps, H p = −g solved by CG; each CG iteration costs one ad::hvp (two sweeps).
    const Vec b = newton("Newton-CG with Hessian-vector products (ad::hvp)", start, max_iter, tol,
                         [&](const Vec& x, const Vec& g) {
                             return conjugate_gradients([&](const Vec& v) { return ad::hvp(rosenbrock, x, v); }, minus(g),
                                                        1e-14 * (1 + norm(g)));
                         });

    auto at_minimum = [](const Vec& x) { return std::fabs(x[0] - 1) < 1e-8 && std::fabs(x[1] - 1) < 1e-8; };
    const bool ok = at_minimum(a) && at_minimum(b);
    fmt::print("\n{}\n", ok ? "both methods converged to (1, 1)" : "NOT converged to (1, 1)");
    return ok ? 0 : 1;
}
