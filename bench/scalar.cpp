// Scalar benchmark: extended Rosenbrock (n = 10^4, 10^6) and a 10^6-step dependent chain,
// evaluated in plain doubles, recorded + differentiated by our tapes (ours: ad::Active on an
// ActiveTape; also ad::Real, ad::Value and value_and_grad over each), by a minimal hand-written
// statement tape (the floor), and by ADOL-C when built.
// Prints a table and one JSON line per case; medians of ≥ 5 repetitions after a warm-up.
#include <autodiff/autodiff.hpp>
#include <bench/functions.hpp>
#include <bench/reference_tape.hpp>
#include <bench/timing.hpp>
#ifdef AD_BENCH_HAVE_ADOLC
#include <bench/anchors/adolc_scalar.hpp>
#endif

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace {

using bench::analytic_rosenbrock_gradient;
using bench::chain;
using bench::chain_derivative;
using bench::rosenbrock;

// The CPU this run is pinned to (--cpu), written into every JSON line ("cpu": null when not pinned).
std::optional<int> pinned_cpu;
std::string cpu_field() { return pinned_cpu ? fmt::format(",\"cpu\":{}", *pinned_cpu) : std::string(",\"cpu\":null"); }

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
    double plain_s = 0, ours_s = 0;  // ours: ad::Active on an ActiveTape, the engine's fastest first-order path
    double ours_err = 0, ours_tape_bytes = 0, ours_bytes_per_stmt = 0;
    double real_s = 0, real_err = 0;  // ad::Real (statement tape with leaves and handles)
    double real_bytes_per_stmt = 0, real_tape_bytes = 0;
    double value_s = 0, value_err = 0, bytes_per_op = 0;  // ad::Value (one entry per operation; any order)
    std::optional<double> adolc_s, adolc_err;
    double traffic_s = 0;                            // the time to write and read as many bytes as ours records
    double ref_s = 0, ref_bytes = 0, ref_err = 0;    // the minimal statement tape of reference_tape.hpp
    double functional_s = 0, functional_err = 0;     // ad::value_and_grad of the function over ad::Active
    double functional_real_s = 0;                    // ... over ad::Real
    double functional_value_s = 0;                   // ... over ad::Value
};

void print(const Row& r) {
    auto opt = [](std::optional<double> v, const char* f = "{:.6g}") { return v ? fmt::format(fmt::runtime(f), *v) : std::string("null"); };
    auto x = [&r](double s) { return s / r.plain_s; };
    fmt::print("{:<18} n={:<8} plain {:8.3f} ms  Active {:8.3f} ms ({:5.1f}x plain)  Real {:8.3f} ms ({:5.1f}x)  "
               "Value {:8.3f} ms ({:5.1f}x)  adolc {:>9} ms  Active/adolc {:>6}  grad rel err {:.1e} / {:.1e} / {:.1e}\n",
               r.bench, r.n, r.plain_s * 1e3, r.ours_s * 1e3, x(r.ours_s), r.real_s * 1e3, x(r.real_s), r.value_s * 1e3,
               x(r.value_s), r.adolc_s ? fmt::format("{:.3f}", *r.adolc_s * 1e3) : "n/a",
               r.adolc_s ? fmt::format("{:.3f}", r.ours_s / *r.adolc_s) : "n/a", r.ours_err, r.real_err, r.value_err);
    fmt::print("{:<18} bytes: {:.1f} per Value op, {:.1f} per Real statement, {:.1f} per Active statement ({:.1f} MB; "
               "writing and reading that much alone takes {:.3f} ms, {:.1f}x plain)\n",
               "", r.bytes_per_op, r.real_bytes_per_stmt, r.ours_bytes_per_stmt, r.ours_tape_bytes / 1e6, r.traffic_s * 1e3,
               x(r.traffic_s));
    fmt::print("{:<18} ad::value_and_grad(f, x) with f over Active {:.3f} ms ({:.1f}x plain), over Real {:.3f} ms ({:.1f}x), "
               "over Value {:.3f} ms ({:.1f}x), grad rel err {:.1e}\n",
               "", r.functional_s * 1e3, x(r.functional_s), r.functional_real_s * 1e3, x(r.functional_real_s),
               r.functional_value_s * 1e3, x(r.functional_value_s), r.functional_err);
    fmt::print("{:<18} a minimal statement tape (bench/reference_tape.hpp) records {:.1f} MB and takes {:.3f} ms ({:.1f}x plain; "
               "Active / it = {:.2f}, Real / it = {:.2f}), grad rel err {:.1e}\n",
               "", r.ref_bytes / 1e6, r.ref_s * 1e3, x(r.ref_s), r.ours_s / r.ref_s, r.real_s / r.ref_s, r.ref_err);
    fmt::print("JSON {{\"bench\":\"{}\",\"n\":{},\"plain_s\":{:.6g},\"ours_s\":{:.6g},\"ours\":\"ad::Active\",\"real_s\":{:.6g},"
               "\"value_s\":{:.6g},\"adolc_s\":{},\"bytes_per_op\":{:.2f},\"real_bytes_per_stmt\":{:.2f},"
               "\"active_bytes_per_stmt\":{:.2f},\"ratio_plain\":{:.3g},\"real_ratio_plain\":{:.3g},\"value_ratio_plain\":{:.3g},"
               "\"ratio_adolc\":{},\"ours_grad_rel_err\":{:.3g},\"real_grad_rel_err\":{:.3g},\"value_grad_rel_err\":{:.3g},"
               "\"adolc_grad_rel_err\":{},\"ours_tape_bytes\":{:.0f},\"real_tape_bytes\":{:.0f},\"tape_traffic_s\":{:.6g},"
               "\"reference_tape_s\":{:.6g},\"reference_tape_bytes\":{:.0f},\"reference_ratio_plain\":{:.3g},"
               "\"functional_s\":{:.6g},\"functional_ratio_plain\":{:.3g},\"functional_real_s\":{:.6g},"
               "\"functional_value_s\":{:.6g},\"functional_grad_rel_err\":{:.3g}{}}}\n",
               r.bench, r.n, r.plain_s, r.ours_s, r.real_s, r.value_s, opt(r.adolc_s), r.bytes_per_op, r.real_bytes_per_stmt,
               r.ours_bytes_per_stmt, x(r.ours_s), x(r.real_s), x(r.value_s),
               r.adolc_s ? fmt::format("{:.4g}", r.ours_s / *r.adolc_s) : "null", r.ours_err, r.real_err, r.value_err,
               opt(r.adolc_err, "{:.3g}"), r.ours_tape_bytes, r.real_tape_bytes, r.traffic_s, r.ref_s, r.ref_bytes,
               x(r.ref_s), r.functional_s, x(r.functional_s), r.functional_real_s, r.functional_value_s, r.functional_err,
               cpu_field());
}

double bytes_per_entry_recorded() {
    const auto& t = ad::detail::tape();
    return static_cast<double>(t.bytes_recorded()) / t.size;
}

// The memory floor of a tape: the time to write `bytes` and read them back, as recording and the
// reverse sweep must at least do (the sweep's adjoint array, 8 bytes per entry, comes on top).
double time_traffic(std::size_t bytes, int reps) {
    std::vector<std::uint64_t> buf(bytes / sizeof(std::uint64_t) + 1);
    volatile std::uint64_t sink = 0;
    unsigned char fill = 1;
    return bench::median_seconds(reps, [&] {
        std::memset(buf.data(), fill++, buf.size() * sizeof(std::uint64_t));
        std::uint64_t sum = 0;
        for (const std::uint64_t w : buf) sum += w;
        sink = sink + sum;
    });
}

// Record + gradient of rosenbrock<T> (T = ad::Value or ad::Real): median seconds, gradient, B/entry.
template <class T>
double time_rosenbrock(const std::vector<double>& x, int reps, std::vector<double>& grad, double& bytes,
                       double* total_bytes = nullptr) {
    std::vector<T> xv(x.begin(), x.end());
    const double s = bench::median_seconds(reps, [&] {
        for (auto& v : xv) v.zero_grad();
        T f = rosenbrock(xv);
        f.backward();
        bytes = bytes_per_entry_recorded();
        if (total_bytes) *total_bytes = static_cast<double>(ad::detail::tape().bytes_recorded());
    });
    grad.resize(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) grad[i] = xv[i].grad();
    return s;
}

// JAX's form, given x and returning ∇f like ADOL-C's gradient(): ad::value_and_grad of f (over
// ad::Active, ad::Real or ad::Value; over the last two its inputs are tape entries, not leaves).
template <class F>
double time_value_and_grad(const F& f, const std::vector<double>& x, int reps, std::vector<double>& grad) {
    return bench::median_seconds(reps, [&] { grad = ad::value_and_grad(f, x).second; });
}

// Ours: record on an ad::ActiveTape (begin, f, end) and take the gradient; the tape's bytes and
// bytes per identifier (statements and inputs) of the last recording.
template <class F>
double time_active(const F& f, const std::vector<double>& x, int reps, std::vector<double>& grad, Row& r) {
    ad::ActiveTape tape;
    std::vector<ad::Active> xa;
    const double s = bench::median_seconds(reps, [&] {
        tape.begin(x, xa);
        const ad::Active y = f(xa);
        tape.end();
        tape.gradient(y, grad);
    });
    r.ours_tape_bytes = static_cast<double>(tape.bytes());
    r.ours_bytes_per_stmt = r.ours_tape_bytes / static_cast<double>(tape.statements() + tape.inputs());
    return s;
}

// The same gradients on the reference tape, each statement's partials written by hand.
using Active = bench::ReferenceTape::Active;
double time_reference_rosenbrock(const std::vector<double>& x, int reps, std::vector<double>& grad, double& bytes) {
    bench::ReferenceTape tape;
    std::vector<Active> xa;
    const double s = bench::median_seconds(reps, [&] {
        tape.begin(x, xa);
        Active s{0.0, 0};
        for (std::size_t i = 0; i + 1 < xa.size(); ++i) {
            const Active xi = xa[i], xn = xa[i + 1];
            const Active a = tape.record(xn.v - xi.v * xi.v, {{xn.id, 1.0}, {xi.id, -2.0 * xi.v}});
            const Active b = tape.record(1.0 - xi.v, {{xi.id, -1.0}});
            s = tape.record(s.v + 100.0 * (a.v * a.v) + b.v * b.v, {{s.id, 1.0}, {a.id, 200.0 * a.v}, {b.id, 2.0 * b.v}});
        }
        tape.gradient(s, grad);
    });
    bytes = static_cast<double>(tape.bytes());
    return s;
}
double time_reference_chain(double x0, std::size_t steps, int reps, std::vector<double>& grad, double& bytes) {
    bench::ReferenceTape tape;
    std::vector<Active> xa;
    const double s = bench::median_seconds(reps, [&] {
        tape.begin(std::span<const double>(&x0, 1), xa);
        Active x = xa[0];
        for (std::size_t k = 0; k < steps; ++k)
            x = tape.record(std::sin(x.v) * 0.5 + x.v * x.v * 0.1, {{x.id, std::cos(x.v) * 0.5 + 0.2 * x.v}});
        tape.gradient(x, grad);
    });
    bytes = static_cast<double>(tape.bytes());
    return s;
}

Row bench_rosenbrock(std::size_t n, int reps) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = 0.5 + 0.001 * static_cast<double>(i % 100);
    Row r;
    r.bench = "scalar_rosenbrock";
    r.n = n;
    volatile double sink = 0;
    r.plain_s = bench::median_seconds(reps, [&] { sink = sink + rosenbrock(x); });
    const auto exact = analytic_rosenbrock_gradient(x);
    std::vector<double> grad;
    r.value_s = time_rosenbrock<ad::Value>(x, reps, grad, r.bytes_per_op);
    r.value_err = max_rel_error(grad, exact);
    r.real_s = time_rosenbrock<ad::Real>(x, reps, grad, r.real_bytes_per_stmt, &r.real_tape_bytes);
    r.real_err = max_rel_error(grad, exact);
    r.ours_s = time_active(rosenbrock<ad::Active>, x, reps, grad, r);
    r.ours_err = max_rel_error(grad, exact);
    r.traffic_s = time_traffic(static_cast<std::size_t>(r.ours_tape_bytes), reps);
    r.ref_s = time_reference_rosenbrock(x, reps, grad, r.ref_bytes);
    r.ref_err = max_rel_error(grad, exact);
    r.functional_s = time_value_and_grad(rosenbrock<ad::Active>, x, reps, grad);
    r.functional_err = max_rel_error(grad, exact);
    r.functional_real_s = time_value_and_grad([](const std::vector<ad::Real>& v) { return rosenbrock(v); }, x, reps, grad);
    r.functional_err = std::max(r.functional_err, max_rel_error(grad, exact));
    r.functional_value_s = time_value_and_grad([](const std::vector<ad::Value>& v) { return rosenbrock(v); }, x, reps, grad);
    r.functional_err = std::max(r.functional_err, max_rel_error(grad, exact));
#ifdef AD_BENCH_HAVE_ADOLC
    const auto a = ad::anchors::adolc_rosenbrock(x, {.repeats = reps});
    r.adolc_s = a.seconds;
    r.adolc_err = max_rel_error(a.gradient, exact);
#endif
    return r;
}

template <class T>
double time_chain(double x0, std::size_t steps, int reps, double& grad, double& bytes, double* total_bytes = nullptr) {
    T x = x0;
    const double s = bench::median_seconds(reps, [&] {
        x.zero_grad();
        T f = chain(x, steps);
        f.backward();
        bytes = bytes_per_entry_recorded();
        if (total_bytes) *total_bytes = static_cast<double>(ad::detail::tape().bytes_recorded());
    });
    grad = x.grad();
    return s;
}

Row bench_chain(std::size_t steps, int reps) {
    const double x0 = 0.3;
    Row r;
    r.bench = "scalar_chain";
    r.n = steps;
    volatile double sink = 0;
    r.plain_s = bench::median_seconds(reps, [&] { sink = sink + chain(x0 + sink * 0, steps); });
    const double exact = chain_derivative(x0, steps);
    double g = 0;
    r.value_s = time_chain<ad::Value>(x0, steps, reps, g, r.bytes_per_op);
    r.value_err = max_rel_error({g}, {exact});
    r.real_s = time_chain<ad::Real>(x0, steps, reps, g, r.real_bytes_per_stmt, &r.real_tape_bytes);
    r.real_err = max_rel_error({g}, {exact});
    std::vector<double> grad;
    auto active_chain = [steps](const std::vector<ad::Active>& v) -> ad::Active { return chain(v[0], steps); };
    r.ours_s = time_active(active_chain, {x0}, reps, grad, r);
    r.ours_err = max_rel_error(grad, {exact});
    r.traffic_s = time_traffic(static_cast<std::size_t>(r.ours_tape_bytes), reps);
    r.ref_s = time_reference_chain(x0, steps, reps, grad, r.ref_bytes);
    r.ref_err = max_rel_error(grad, {exact});
    r.functional_s = time_value_and_grad(active_chain, {x0}, reps, grad);
    r.functional_err = max_rel_error(grad, {exact});
    r.functional_real_s = time_value_and_grad([steps](const std::vector<ad::Real>& v) { return chain(v[0], steps); }, {x0}, reps, grad);
    r.functional_err = std::max(r.functional_err, max_rel_error(grad, {exact}));
    r.functional_value_s =
        time_value_and_grad([steps](const std::vector<ad::Value>& v) { return chain(v[0], steps); }, {x0}, reps, grad);
    r.functional_err = std::max(r.functional_err, max_rel_error(grad, {exact}));
#ifdef AD_BENCH_HAVE_ADOLC
    const auto a = ad::anchors::adolc_chain(x0, steps, {.repeats = reps});
    r.adolc_s = a.seconds;
    r.adolc_err = max_rel_error(a.gradient, {exact});
#endif
    return r;
}

// Statements of four distinct arguments (a * b + c * d): plain and ad::Active only, the path that
// stores every partial of a statement whose x * x could have merged but did not.
void bench_products(std::size_t n, int reps) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = 0.5 + 0.001 * static_cast<double>(i % 100);
    Row r;
    r.n = n;
    volatile double sink = 0;
    r.plain_s = bench::median_seconds(reps, [&] { sink = sink + bench::products(x); });
    std::vector<double> grad;
    r.ours_s = time_active(bench::products<ad::Active>, x, reps, grad, r);
    r.ours_err = max_rel_error(grad, bench::analytic_products_gradient(x));
    fmt::print("{:<18} n={:<8} plain {:8.3f} ms  Active {:8.3f} ms ({:5.1f}x plain)  {:.1f} bytes per identifier  "
               "grad rel err {:.1e}\n",
               "scalar_products", n, r.plain_s * 1e3, r.ours_s * 1e3, r.ours_s / r.plain_s, r.ours_bytes_per_stmt, r.ours_err);
    fmt::print("JSON {{\"bench\":\"scalar_products\",\"n\":{},\"plain_s\":{:.6g},\"ours_s\":{:.6g},\"ours\":\"ad::Active\","
               "\"ratio_plain\":{:.4g},\"ours_bytes_per_id\":{:.4g},\"ours_err\":{:.3g}{}}}\n",
               n, r.plain_s, r.ours_s, r.ours_s / r.plain_s, r.ours_bytes_per_stmt, r.ours_err, cpu_field());
}

// micrograd's MLP 2-16-16-1 (tanh hidden, linear out) on scalars: one sample forward + backward,
// in microseconds, with T = ad::Value or ad::Real (the same source). A neuron is written as
// micrograd writes it, a running sum `acc = acc + w * a` (Dot = false), or with dot() over the
// weight row (Dot = true: dot is one entry of the tape instead of 2n; for Real, the rest of the
// neuron, tanh(b + ·), is one statement over it).
template <class T, bool Dot>
double time_scalar_mlp(int reps) {
    ad::Rng rng(1);
    const std::vector<int> sizes{2, 16, 16, 1};
    std::vector<std::vector<T>> W, b;
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
            std::vector<T> a{T::constant(input[0]), T::constant(input[1])};
            for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
                const auto in = static_cast<std::size_t>(sizes[l]);
                const bool hidden = l + 2 < sizes.size();
                std::vector<T> z;
                z.reserve(static_cast<std::size_t>(sizes[l + 1]));
                for (std::size_t j = 0; j < static_cast<std::size_t>(sizes[l + 1]); ++j) {
                    if constexpr (Dot) {
                        const std::span<const T> w(W[l].data() + j * in, in);
                        z.push_back(hidden ? T(tanh(b[l][j] + dot(w, a))) : T(b[l][j] + dot(w, a)));
                    } else {
                        T acc = b[l][j];
                        for (std::size_t k = 0; k < in; ++k) acc = acc + W[l][j * in + k] * a[k];
                        z.push_back(hidden ? T(tanh(acc)) : acc);
                    }
                }
                a = std::move(z);
            }
            a[0].backward();
        }
    });
    return s / inner * 1e6;
}

// The same MLP as JAX trains one: the loss is a function of the parameters, which are the inputs
// of a recording on an ad::ActiveTape (353 of them, W and b of each layer in turn), and one sweep
// returns the gradient as a vector. Neurons with dot().
double time_scalar_mlp_active(int reps) {
    ad::Rng rng(1);
    const std::vector<int> sizes{2, 16, 16, 1};
    std::vector<double> params;
    std::vector<std::size_t> w_at, b_at;  // where each layer's W and b start in params
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
        w_at.push_back(params.size());
        for (int i = 0; i < sizes[l + 1] * sizes[l]; ++i) params.push_back(rng.uniform(-1, 1));
        b_at.push_back(params.size());
        for (int i = 0; i < sizes[l + 1]; ++i) params.push_back(0.0);
    }
    const std::vector<double> input{0.5, -1.5};
    ad::ActiveTape tape;
    std::vector<ad::Active> p, a, z;
    std::vector<double> grad;
    const int inner = 2000;
    const double s = bench::median_seconds(reps, [&] {
        for (int it = 0; it < inner; ++it) {
            tape.begin(params, p);
            a.assign({input[0], input[1]});
            for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
                const auto in = static_cast<std::size_t>(sizes[l]);
                const bool hidden = l + 2 < sizes.size();
                z.clear();
                for (std::size_t j = 0; j < static_cast<std::size_t>(sizes[l + 1]); ++j) {
                    const std::span<const ad::Active> w(p.data() + w_at[l] + j * in, in);
                    const ad::Active& b = p[b_at[l] + j];
                    z.push_back(hidden ? ad::Active(tanh(b + dot(w, a))) : ad::Active(b + dot(w, a)));
                }
                a.swap(z);
            }
            tape.end();
            tape.gradient(a[0], grad);
        }
    });
    return s / inner * 1e6;
}

void bench_scalar_mlp(int reps) {
    const double real_dot = time_scalar_mlp<ad::Real, true>(reps);
    const double real_loop = time_scalar_mlp<ad::Real, false>(reps);
    const double value_dot = time_scalar_mlp<ad::Value, true>(reps);
    const double value_loop = time_scalar_mlp<ad::Value, false>(reps);
    const double active = time_scalar_mlp_active(reps);
    fmt::print("{:<18} 2-16-16-1 one sample fwd+bwd: the parameters as the inputs of an ActiveTape (ours, dot) {:.2f} us; "
               "neurons written with dot() / as a running sum: Real {:.2f} / {:.2f} us, Value {:.2f} / {:.2f} us "
               "(micrograd: ~1750 us)\n",
               "scalar_mlp", active, real_dot, real_loop, value_dot, value_loop);
    fmt::print("JSON {{\"bench\":\"scalar_mlp\",\"ours_us\":{:.4g},\"ours\":\"ad::Active\",\"real_dot_us\":{:.4g},"
               "\"real_loop_us\":{:.4g},\"value_dot_us\":{:.4g},\"value_us\":{:.4g}{}}}\n",
               active, real_dot, real_loop, value_dot, value_loop, cpu_field());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Scalar AD benchmark: plain doubles vs our tape vs ADOL-C"};
    int reps = 5;
    bool quick = false;
    app.add_option("--reps", reps, "timed repetitions (median reported)")->check(CLI::PositiveNumber);
    app.add_flag("--quick", quick, "small sizes (for tests)");
    int cpu = -1;
    app.add_option("--cpu", cpu, "run pinned to this CPU (every contender runs in this process, on it)")
        ->check(CLI::NonNegativeNumber);
    CLI11_PARSE(app, argc, argv);
    if (cpu >= 0) {
        if (!bench::pin_to_cpu(cpu)) {
            fmt::print(stderr, "bench_scalar: cannot run on CPU {} (not present or not allowed to this process)\n", cpu);
            return 2;
        }
        pinned_cpu = cpu;
        fmt::print("pinned to CPU {}\n", cpu);
    }
#ifndef AD_BENCH_HAVE_ADOLC
    fmt::print("ADOL-C not built (install libadolc-dev): reporting ours alone\n");
#endif
    print(bench_rosenbrock(10'000, reps));
    if (!quick) print(bench_rosenbrock(1'000'000, reps));
    print(bench_chain(quick ? 10'000 : 1'000'000, reps));
    bench_products(quick ? 10'000 : 1'000'000, reps);
    bench_scalar_mlp(reps);
}
