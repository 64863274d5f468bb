// Scalar benchmark: extended Rosenbrock (n = 10^4, 10^6) and a 10^6-step dependent chain,
// evaluated in plain doubles, recorded + differentiated by our tape, and by ADOL-C when built.
// Prints a table and one JSON line per case; medians of ≥ 5 repetitions after a warm-up.
#include <autodiff/autodiff.hpp>
#include <bench/timing.hpp>
#ifdef AD_BENCH_HAVE_ADOLC
#include <bench/anchors/adolc_scalar.hpp>
#endif

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <vector>

namespace {

// The same source for plain doubles and for ad::Value.
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
template <class T>
T chain(T x, std::size_t steps) {
    for (std::size_t k = 0; k < steps; ++k) x = sin(x) * 0.5 + x * x * 0.1;
    return x;
}

std::vector<double> analytic_rosenbrock_gradient(const std::vector<double>& x) {
    std::vector<double> g(x.size(), 0.0);
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
        const double a = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * a;
    }
    return g;
}
double chain_derivative(double x, std::size_t steps) {
    double d = 1.0;
    for (std::size_t k = 0; k < steps; ++k) {
        d *= std::cos(x) * 0.5 + 0.2 * x;
        x = std::sin(x) * 0.5 + x * x * 0.1;
    }
    return d;
}
double max_rel_error(const std::vector<double>& a, const std::vector<double>& b) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = std::fabs(a[i] - b[i]);
        m = std::max(m, d == 0 ? 0.0 : d / std::max(1e-300, std::fabs(b[i])));
    }
    return m;
}

struct Row {
    std::string bench;
    std::size_t n;
    double plain_s, ours_s;
    std::optional<double> adolc_s;
    double bytes_per_op, ours_err;
    std::optional<double> adolc_err;
};

void print(const Row& r) {
    auto opt = [](std::optional<double> v, const char* f = "{:.6g}") { return v ? fmt::format(fmt::runtime(f), *v) : std::string("null"); };
    fmt::print("{:<18} n={:<8} plain {:9.3f} ms  ours {:9.3f} ms ({:6.1f}x plain)  adolc {:>9} ms  ours/adolc {:>6}  {:.1f} B/op  grad rel err {:.1e}\n",
               r.bench, r.n, r.plain_s * 1e3, r.ours_s * 1e3, r.ours_s / r.plain_s,
               r.adolc_s ? fmt::format("{:.3f}", *r.adolc_s * 1e3) : "n/a",
               r.adolc_s ? fmt::format("{:.3f}", r.ours_s / *r.adolc_s) : "n/a", r.bytes_per_op, r.ours_err);
    fmt::print(stderr, "");
    fmt::print("JSON {{\"bench\":\"{}\",\"n\":{},\"plain_s\":{:.6g},\"ours_s\":{:.6g},\"adolc_s\":{},\"bytes_per_op\":{:.2f},"
               "\"ratio_plain\":{:.3g},\"ratio_adolc\":{},\"ours_grad_rel_err\":{:.3g},\"adolc_grad_rel_err\":{}}}\n",
               r.bench, r.n, r.plain_s, r.ours_s, opt(r.adolc_s), r.bytes_per_op, r.ours_s / r.plain_s,
               r.adolc_s ? fmt::format("{:.4g}", r.ours_s / *r.adolc_s) : "null", r.ours_err, opt(r.adolc_err, "{:.3g}"));
}

Row bench_rosenbrock(std::size_t n, int reps) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = 0.5 + 0.001 * static_cast<double>(i % 100);
    Row r{"scalar_rosenbrock", n, 0, 0, {}, 0, 0, {}};
    volatile double sink = 0;
    r.plain_s = bench::median_seconds(reps, [&] { sink = sink + rosenbrock(x); });
    std::vector<ad::Value> xv(x.begin(), x.end());
    std::vector<double> grad(n);
    r.ours_s = bench::median_seconds(reps, [&] {
        for (auto& v : xv) v.zero_grad();
        ad::Value f = rosenbrock(xv);
        f.backward();
        r.bytes_per_op = static_cast<double>(ad::detail::tape().bytes_recorded()) / ad::detail::tape().size;
    });
    for (std::size_t i = 0; i < n; ++i) grad[i] = xv[i].grad();
    const auto exact = analytic_rosenbrock_gradient(x);
    r.ours_err = max_rel_error(grad, exact);
#ifdef AD_BENCH_HAVE_ADOLC
    const auto a = ad::anchors::adolc_rosenbrock(x, {.repeats = reps});
    r.adolc_s = a.seconds;
    r.adolc_err = max_rel_error(a.gradient, exact);
#endif
    return r;
}

Row bench_chain(std::size_t steps, int reps) {
    const double x0 = 0.3;
    Row r{"scalar_chain", steps, 0, 0, {}, 0, 0, {}};
    volatile double sink = 0;
    r.plain_s = bench::median_seconds(reps, [&] { sink = sink + chain(x0 + sink * 0, steps); });
    ad::Value x = x0;
    r.ours_s = bench::median_seconds(reps, [&] {
        x.zero_grad();
        ad::Value f = chain(x, steps);
        f.backward();
        r.bytes_per_op = static_cast<double>(ad::detail::tape().bytes_recorded()) / ad::detail::tape().size;
    });
    const double exact = chain_derivative(x0, steps);
    r.ours_err = max_rel_error({x.grad()}, {exact});
#ifdef AD_BENCH_HAVE_ADOLC
    const auto a = ad::anchors::adolc_chain(x0, steps, {.repeats = reps});
    r.adolc_s = a.seconds;
    r.adolc_err = max_rel_error(a.gradient, {exact});
#endif
    return r;
}

// micrograd's MLP 2-16-16-1 (tanh hidden, linear out) on scalar Values: one sample forward + backward.
void bench_scalar_mlp(int reps) {
    ad::Rng rng(1);
    const std::vector<int> sizes{2, 16, 16, 1};
    std::vector<std::vector<ad::Value>> W, b;
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
        W.emplace_back();
        b.emplace_back();
        for (int i = 0; i < sizes[l + 1] * sizes[l]; ++i) W.back().emplace_back(rng.uniform(-1, 1));
        for (int i = 0; i < sizes[l + 1]; ++i) b.back().emplace_back(0.0);
    }
    const std::vector<double> input{0.5, -1.5};
    const int inner = 2000;
    const double s = bench::median_seconds(reps, [&] {
        for (int it = 0; it < inner; ++it) {
            std::vector<ad::Value> a{ad::Value::constant(input[0]), ad::Value::constant(input[1])};
            for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
                std::vector<ad::Value> z;
                z.reserve(static_cast<std::size_t>(sizes[l + 1]));
                for (int j = 0; j < sizes[l + 1]; ++j) {
                    ad::Value acc = b[l][static_cast<std::size_t>(j)];
                    for (int k = 0; k < sizes[l]; ++k) acc = acc + W[l][static_cast<std::size_t>(j * sizes[l] + k)] * a[static_cast<std::size_t>(k)];
                    z.push_back(l + 2 < sizes.size() ? tanh(acc) : acc);
                }
                a = std::move(z);
            }
            a[0].backward();
        }
    });
    const double us = s / inner * 1e6;
    fmt::print("{:<18} 2-16-16-1 one sample fwd+bwd: {:.2f} us (micrograd: ~1750 us)\n", "scalar_mlp", us);
    fmt::print("JSON {{\"bench\":\"scalar_mlp\",\"ours_us\":{:.4g}}}\n", us);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Scalar AD benchmark: plain doubles vs our tape vs ADOL-C"};
    int reps = 5;
    bool quick = false;
    app.add_option("--reps", reps, "timed repetitions (median reported)")->check(CLI::PositiveNumber);
    app.add_flag("--quick", quick, "small sizes (for tests)");
    CLI11_PARSE(app, argc, argv);
#ifndef AD_BENCH_HAVE_ADOLC
    fmt::print("ADOL-C not built (install libadolc-dev): reporting ours alone\n");
#endif
    print(bench_rosenbrock(10'000, reps));
    if (!quick) print(bench_rosenbrock(1'000'000, reps));
    print(bench_chain(quick ? 10'000 : 1'000'000, reps));
    bench_scalar_mlp(reps);
}
