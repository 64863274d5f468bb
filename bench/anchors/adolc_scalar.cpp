// ADOL-C anchor: Rosenbrock and dependent-chain gradients with ADOL-C, and plain-double timings.
// See adolc_scalar.hpp for what is measured.
#include "adolc_scalar.hpp"

#include <adolc/adolc.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <autodiff/error.hpp>

namespace ad::anchors {
namespace {

constexpr short rosenbrock_tag = 71;
constexpr short chain_tag = 72;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

void check_repeats(const char* fn, int repeats) {
    if (repeats < 1) {
        throw ValueError(fmt::format("{}: repeats must be >= 1, got {}", fn, repeats));
    }
}

// Sizes of ADOL-C's four tape buffers, in entries (what trace_on's obs/lbs/vbs/tbs expect).
struct TapeBuffers {
    uint ops = 0, locations = 0, values = 0, taylors = 0;
};

// Records one instance of a problem on `tag`. `size` is the problem size (n or steps); `body`
// receives it and must declare independents/dependents and return the dependent's value.
template <class Body>
double record(short tag, bool keep, const TapeBuffers* buffers, std::size_t size, Body&& body) {
    if (buffers != nullptr) {
        trace_on(tag, keep ? 1 : 0, buffers->ops, buffers->locations, buffers->values,
                 buffers->taylors);
    } else {
        trace_on(tag, keep ? 1 : 0);
    }
    const double y = body(size);
    trace_off();
    return y;
}

// Buffers that hold a whole tape of problem size `size` in memory. Tape statistics are linear
// in the size for both problems, so two small untimed recordings (which fit ADOL-C's default
// buffers) give them exactly; a little slack is added. Cached per (tag, size).
template <class Body>
TapeBuffers buffers_for(short tag, std::size_t size, std::size_t small, Body& body) {
    static std::map<std::pair<short, std::size_t>, TapeBuffers> cache;
    const auto key = std::make_pair(tag, size);
    if (auto it = cache.find(key); it != cache.end()) return it->second;

    auto stats_at = [&](std::size_t s) {
        record(tag, /*keep=*/true, nullptr, s, body);
        std::vector<std::size_t> st(STAT_SIZE);
        tapestats(tag, st.data());
        return st;
    };
    const auto s1 = stats_at(small);
    const auto s2 = stats_at(2 * small);
    removeTape(tag, ADOLC_REMOVE_COMPLETELY);
    auto extrapolate = [&](int entry) -> uint {
        const double a = static_cast<double>(s1[entry]);
        const double b = static_cast<double>(s2[entry]);
        const double per_unit = (b - a) / static_cast<double>(small);
        const double at_size = a + per_unit * (static_cast<double>(size) - static_cast<double>(small));
        const double with_slack = std::max(at_size, b) * 1.01 + 1024.0;
        if (with_slack >= static_cast<double>(UINT_MAX)) {
            throw ValueError(fmt::format(
                "adolc anchor: a tape of problem size {} needs {:.0f} entries in one buffer, more "
                "than ADOL-C's uint buffer sizes allow", size, at_size));
        }
        return static_cast<uint>(with_slack);
    };
    TapeBuffers buf{extrapolate(NUM_OPERATIONS), extrapolate(NUM_LOCATIONS),
                    extrapolate(NUM_VALUES), extrapolate(TAY_STACK_SIZE)};
    cache.emplace(key, buf);
    return buf;
}

// Timed record + gradient, `options.repeats` times; the median time is reported.
template <class Body>
AdolcResult run(const char* fn, short tag, std::size_t size, int n_independents,
                const std::vector<double>& point, const AdolcOptions& options, Body body) {
    check_repeats(fn, options.repeats);
    TapeBuffers buffers;
    if (options.sized_buffers) buffers = buffers_for(tag, size, 1000, body);
    const TapeBuffers* buf = options.sized_buffers ? &buffers : nullptr;

    AdolcResult result;
    result.gradient.assign(static_cast<std::size_t>(n_independents), 0.0);
    std::vector<double> times;
    for (int r = 0; r < options.repeats; ++r) {
        const auto start = Clock::now();
        result.value = record(tag, options.keep_taylors, buf, size, body);
        int rc = 0;
        if (options.keep_taylors) {
            double weight = 1.0;
            rc = fos_reverse(tag, 1, n_independents, &weight, result.gradient.data());
        } else {
            rc = gradient(tag, n_independents, point.data(), result.gradient.data());
        }
        times.push_back(seconds_since(start));
        if (rc < 0) {
            throw Error(fmt::format("{}: ADOL-C {} returned error code {} (size {})", fn,
                                    options.keep_taylors ? "fos_reverse" : "gradient", rc, size));
        }
        removeTape(tag, ADOLC_REMOVE_COMPLETELY);  // untimed: free the tape before the next run
    }
    result.seconds = median(std::move(times));
    return result;
}

void check_rosenbrock_size(const char* fn, std::size_t n) {
    if (n < 2 || n > static_cast<std::size_t>(INT_MAX)) {
        throw ValueError(fmt::format("{}: Rosenbrock needs 2 <= n <= {}, got n = {}", fn, INT_MAX, n));
    }
}

void check_chain_steps(const char* fn, std::size_t steps) {
    if (steps == 0) throw ValueError(fmt::format("{}: the chain needs steps >= 1, got 0", fn));
}

volatile double sink;  // keeps plain-double results alive so the timed loops are not elided

}  // namespace

AdolcResult adolc_rosenbrock(const std::vector<double>& x, const AdolcOptions& options) {
    check_rosenbrock_size("adolc_rosenbrock", x.size());
    // Records Rosenbrock of size `size` at x (the calibration sizes, 1000 and 2000, read x
    // cyclically; the tape's shape does not depend on the values).
    auto body = [&x](std::size_t size) {
        std::vector<adouble> ax(size);
        for (std::size_t i = 0; i < size; ++i) ax[i] <<= x[i % x.size()];
        adouble f = 0.0;
        for (std::size_t i = 0; i + 1 < size; ++i) {
            adouble t = ax[i + 1] - ax[i] * ax[i];
            adouble u = 1.0 - ax[i];
            f += 100.0 * t * t + u * u;
        }
        double y = 0.0;
        f >>= y;
        return y;
    };
    return run("adolc_rosenbrock", rosenbrock_tag, x.size(), static_cast<int>(x.size()), x,
               options, body);
}

AdolcResult adolc_chain(double x0, std::size_t steps, const AdolcOptions& options) {
    check_chain_steps("adolc_chain", steps);
    auto body = [x0](std::size_t size) {
        adouble x;
        x <<= x0;
        for (std::size_t k = 0; k < size; ++k) x = sin(x) * 0.5 + x * x * 0.1;
        double y = 0.0;
        x >>= y;
        return y;
    };
    return run("adolc_chain", chain_tag, steps, 1, std::vector<double>{x0}, options, body);
}

double rosenbrock_value(const std::vector<double>& x) {
    double f = 0.0;
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
        const double t = x[i + 1] - x[i] * x[i];
        const double u = 1.0 - x[i];
        f += 100.0 * t * t + u * u;
    }
    return f;
}

std::vector<double> rosenbrock_gradient(const std::vector<double>& x) {
    std::vector<double> g(x.size(), 0.0);
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
        const double t = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * t;
    }
    return g;
}

double chain_value(double x0, std::size_t steps) {
    double x = x0;
    for (std::size_t k = 0; k < steps; ++k) x = std::sin(x) * 0.5 + x * x * 0.1;
    return x;
}

double chain_derivative(double x0, std::size_t steps) {
    double x = x0, dx = 1.0;
    for (std::size_t k = 0; k < steps; ++k) {
        dx *= std::cos(x) * 0.5 + 0.2 * x;
        x = std::sin(x) * 0.5 + x * x * 0.1;
    }
    return dx;
}

double plain_rosenbrock_seconds(const std::vector<double>& x, int repeats) {
    check_repeats("plain_rosenbrock_seconds", repeats);
    check_rosenbrock_size("plain_rosenbrock_seconds", x.size());
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
        const auto start = Clock::now();
        sink = rosenbrock_value(x);
        times.push_back(seconds_since(start));
    }
    return median(std::move(times));
}

double plain_chain_seconds(double x0, std::size_t steps, int repeats) {
    check_repeats("plain_chain_seconds", repeats);
    check_chain_steps("plain_chain_seconds", steps);
    std::vector<double> times;
    for (int r = 0; r < repeats; ++r) {
        const auto start = Clock::now();
        sink = chain_value(x0, steps);
        times.push_back(seconds_since(start));
    }
    return median(std::move(times));
}

}  // namespace ad::anchors
