// adolc_anchor: prints ADOL-C and plain-double timings of the scalar benchmark functions as
// JSON lines, after checking ADOL-C's gradients against the analytic/forward-mode references.
//
//   adolc_anchor [--repeats R] [--x0 V] [--no-keep] [--no-sized] [--all-settings]
//
// One line per problem, e.g.
//   {"problem":"rosenbrock","n":10000,"adolc_s":0.0021,"plain_s":1.1e-05,"ratio":190.9,
//    "value":...,"max_grad_err":0,"keep_taylors":true,"sized_buffers":true}
// --no-keep / --no-sized switch off AdolcOptions::keep_taylors / sized_buffers; --all-settings
// times all four combinations (the unsized variants write ADOLC-*.tap files into the current
// directory for the large problems).
// Exit code 1 if a gradient disagrees with the reference (relative error > 1e-9), 2 on bad usage.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "adolc_scalar.hpp"

namespace {

using ad::anchors::AdolcOptions;
using ad::anchors::AdolcResult;

// Largest |a_i - b_i| / max(1, |b_i|).
double max_rel_error(const std::vector<double>& a, const std::vector<double>& b) {
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i])));
    }
    return a.size() == b.size() ? worst : INFINITY;
}

// Deterministic Rosenbrock point: uniform in [-1.5, 1.5], seed 42.
std::vector<double> rosenbrock_point(std::size_t n) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> dist(-1.5, 1.5);
    std::vector<double> x(n);
    for (double& v : x) v = dist(rng);
    return x;
}

void print_line(const char* problem, std::size_t size, const AdolcResult& r, double plain_s,
                double err, const AdolcOptions& o) {
    fmt::print("{{\"problem\":\"{}\",\"n\":{},\"adolc_s\":{:.6g},\"plain_s\":{:.6g},\"ratio\":{:.4g},"
               "\"value\":{:.17g},\"max_grad_err\":{:.3g},\"keep_taylors\":{},\"sized_buffers\":{}}}\n",
               problem, size, r.seconds, plain_s, r.seconds / plain_s, r.value, err, o.keep_taylors,
               o.sized_buffers);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    int repeats = 3;
    double x0 = 0.5;
    bool all_settings = false;
    AdolcOptions chosen;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--repeats" && i + 1 < argc) {
            repeats = std::atoi(argv[++i]);
        } else if (a == "--x0" && i + 1 < argc) {
            x0 = std::strtod(argv[++i], nullptr);
        } else if (a == "--all-settings") {
            all_settings = true;
        } else if (a == "--no-keep") {
            chosen.keep_taylors = false;
        } else if (a == "--no-sized") {
            chosen.sized_buffers = false;
        } else {
            fmt::print(stderr,
                       "usage: {} [--repeats R] [--x0 V] [--no-keep] [--no-sized] [--all-settings]\n",
                       argv[0]);
            return 2;
        }
    }
    if (repeats < 1) {
        fmt::print(stderr, "adolc_anchor: --repeats must be >= 1, got {}\n", repeats);
        return 2;
    }

    chosen.repeats = repeats;
    std::vector<AdolcOptions> settings{chosen};
    if (all_settings) {
        settings = {{true, true, repeats}, {false, true, repeats}, {true, false, repeats},
                    {false, false, repeats}};
    }
    bool ok = true;
    constexpr double tolerance = 1e-9;
    try {
        for (const std::size_t n : {std::size_t{10000}, std::size_t{1000000}}) {
            const auto x = rosenbrock_point(n);
            const auto reference = ad::anchors::rosenbrock_gradient(x);
            const double plain_s = ad::anchors::plain_rosenbrock_seconds(x, 2 * repeats + 1);
            for (const auto& o : settings) {
                const auto r = ad::anchors::adolc_rosenbrock(x, o);
                const double err = max_rel_error(r.gradient, reference);
                const double value_err = std::abs(r.value - ad::anchors::rosenbrock_value(x)) /
                                         std::max(1.0, std::abs(r.value));
                ok = ok && err <= tolerance && value_err <= tolerance;
                print_line("rosenbrock", n, r, plain_s, err, o);
            }
        }
        const std::size_t steps = 1000000;
        const std::vector<double> reference{ad::anchors::chain_derivative(x0, steps)};
        const double plain_s = ad::anchors::plain_chain_seconds(x0, steps, 2 * repeats + 1);
        for (const auto& o : settings) {
            const auto r = ad::anchors::adolc_chain(x0, steps, o);
            const double err = max_rel_error(r.gradient, reference);
            const double value_err = std::abs(r.value - ad::anchors::chain_value(x0, steps)) /
                                     std::max(1.0, std::abs(r.value));
            ok = ok && err <= tolerance && value_err <= tolerance;
            print_line("chain", steps, r, plain_s, err, o);
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "adolc_anchor: {}\n", e.what());
        return 1;
    }
    if (!ok) fmt::print(stderr, "adolc_anchor: a gradient or value disagrees with the reference\n");
    return ok ? 0 : 1;
}
