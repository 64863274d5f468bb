// Memory: training and evaluation loops keep a flat resident set (the tape rewinds when its last
// handle dies and keeps its capacity; tensor storage is recycled), and very deep graphs record,
// differentiate and die without recursion (no stack overflow) at a bounded cost per operation.
//
// The resident set is read from /proc/self/statm. Sizes scale with AD_TEST_SCALE (default 1; CI
// uses 0.1 under sanitizers). Under AddressSanitizer freed memory sits in a quarantine, so the
// RSS bounds are reported but not asserted there; every other check still runs.
#include <autodiff/autodiff.hpp>
#include <autodiff/pool.hpp>
#include <doctest/doctest.h>
#include <nn/linear.hpp>
#include <nn/optim.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using ad::Tensor;
using ad::Value;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

double scale() {
    const char* s = std::getenv("AD_TEST_SCALE");
    const double v = s ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}
std::int64_t scaled(double n, std::int64_t at_least) {
    return std::max(at_least, static_cast<std::int64_t>(n * scale()));
}

// The resident set from /proc/self/statm: `resident` pages in total, of which `shared` are backed
// by files (code, libraries). Leaks show in the anonymous part, resident − shared; the file-backed
// part jumps by 64 KiB whenever a code page is touched for the first time (the kernel maps the
// pages around it too), so the flatness checks use the anonymous part and print both.
struct Rss {
    std::int64_t total = 0, anon = 0;
};
Rss read_statm() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    REQUIRE(f != nullptr);
    long long size = 0, resident = 0, shared = 0;
    const int n = std::fscanf(f, "%lld %lld %lld", &size, &resident, &shared);
    std::fclose(f);
    REQUIRE(n == 3);
    const auto page = static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
    return {resident * page, (resident - shared) * page};
}
// Read twice: the first reading pages in the stdio code it runs after the kernel sampled the
// numbers, which would otherwise show up as growth in the next reading.
Rss rss() {
    read_statm();
    return read_statm();
}
std::int64_t rss_bytes() { return rss().total; }

double kib(std::int64_t b) { return static_cast<double>(b) / 1024.0; }

// Checks that anonymous memory grew ≤ max(rel · total before, floor) and prints the numbers. A loop
// that allocates is not checked under a sanitizer (its allocator quarantines freed blocks); one
// that never allocates is.
enum class Allocates { No, Yes };
void check_flat(const std::string& what, Rss before, Rss after, double rel, std::int64_t floor, Allocates allocates) {
    const std::int64_t growth = after.anon - before.anon;
    const auto allowed = std::max(static_cast<std::int64_t>(rel * static_cast<double>(before.total)), floor);
    const bool checked = !kSanitized || allocates == Allocates::No;
    MESSAGE(what << ": RSS " << kib(before.total) << " KiB -> " << kib(after.total) << " KiB (anonymous "
                 << kib(before.anon) << " -> " << kib(after.anon) << " KiB), growth " << kib(growth) << " KiB (allowed "
                 << kib(allowed) << " KiB)" << std::string(checked ? "" : " [sanitizer: not asserted]"));
    if (checked) CHECK(growth <= allowed);
}

// The expression of the loop: a few dozen scalar ops with constants and leaves.
Value expr(const Value& x, const Value& y) {
    Value h = x * y;
    for (int k = 0; k < 8; ++k) h = sin(h) * x + exp(-square(y)) / (1.0 + h * h) - 0.25 * y;
    return h;
}

// y ← tanh(y·a + b)·0.999: one Mul, Add, Tanh (Value operands) and one MulC (a constant).
struct ChainRef {
    double y, dx, da, db;  // value and forward-mode derivatives
};
ChainRef chain_reference(double x, double a, double b, std::int64_t steps) {
    ChainRef r{x, 1.0, 0.0, 0.0};
    for (std::int64_t i = 0; i < steps; ++i) {
        const double u = r.y * a + b, t = std::tanh(u), d = (1 - t * t) * 0.999;
        r.dx = d * (r.dx * a);
        r.da = d * (r.da * a + r.y);
        r.db = d * (r.db * a + 1.0);
        r.y = t * 0.999;
    }
    return r;
}

}  // namespace

TEST_CASE("the issue's loop keeps a flat resident set and an empty tape") {
    const std::int64_t n = scaled(1e5, 2000);
    Value x = 0.3, y = -1.2;
    double sink = 0;
    std::int64_t nonempty = 0;
    const auto& tape = ad::detail::tape();
    auto step = [&] {
        {
            Value f = expr(x, y);
            f.backward();
            sink += x.grad() + y.grad();
            x.zero_grad();
            y.zero_grad();
        }
        nonempty += tape.size != 0 || tape.live != 0;
    };
    for (int i = 0; i < 1000; ++i) step();  // warm-up: the tape and adjoint arrays reach their size
    const std::uint32_t capacity = tape.capacity;
    const Rss before = rss();
    for (std::int64_t i = 0; i < n; ++i) step();
    const Rss after = rss();
    CHECK(nonempty == 0);
    CHECK(tape.capacity == capacity);  // no regrowth in steady state
    CHECK(std::isfinite(sink));
    // The gradient itself is right (it is the same number every iteration).
    Value f = expr(x, y);
    f.backward();
    CHECK(sink == doctest::Approx((x.grad() + y.grad()) * static_cast<double>(n + 1000)));
    MESSAGE("scalar loop: " << n << " iterations of a " << tape.size << "-entry graph");
    check_flat("scalar loop", before, after, 0.01, 64 * 1024, Allocates::No);
}

TEST_CASE("training a small tensor MLP keeps a flat resident set") {
    const std::int64_t steps = scaled(1e4, 500);
    ad::nn::Linear l1(8, 32, {.seed = 1}), l2(32, 32, {.seed = 2}), l3(32, 1, {.seed = 3});
    ad::nn::Adam opt({l1.weight, l1.bias, l2.weight, l2.bias, l3.weight, l3.bias}, {.lr = 1e-2});
    const Tensor X = Tensor::randn({32, 8}, ad::f32, 5);
    const Tensor target = ad::sin(ad::sum(X, 1, true));
    const auto& tape = ad::detail::tape();
    std::int64_t nonempty = 0;
    double first = 0, last = 0;
    auto step = [&](std::int64_t i) {
        {
            Tensor h = ad::relu(l2(ad::tanh(l1(X))));
            Tensor loss = ad::mean(ad::square(l3(h) - target));
            opt.zero_grad();
            loss.backward();
            if (i == 0) first = loss.item();
            last = loss.item();
            opt.step();
        }
        nonempty += tape.size != 0 || tape.live != 0;
    };
    const std::int64_t warmup = 200;
    for (std::int64_t i = 0; i < warmup; ++i) step(i);
    const Rss before = rss();
    const std::size_t pool_mallocs = ad::detail::pool_system_allocations();
    for (std::int64_t i = warmup; i < warmup + steps; ++i) step(i);
    const Rss after = rss();
    CHECK(nonempty == 0);
    // Handles, storage records and closures come from the per-thread pools in steady state.
    CHECK(ad::detail::pool_system_allocations() == pool_mallocs);
    CHECK(last < first);  // it trains
    MESSAGE("MLP: " << steps << " steps after " << warmup << " warm-up, loss " << first << " -> " << last);
    check_flat("MLP training", before, after, 0.01, 0, Allocates::Yes);
}

TEST_CASE("a very deep scalar chain: no recursion, bounded bytes per op") {
    const std::int64_t ops = scaled(1e7, 1000000);
    const std::int64_t steps = ops / 4;
    const double x0 = 0.7, a0 = 1.2, b0 = 0.05;
    const ChainRef ref = chain_reference(x0, a0, b0, steps);
    const std::int64_t rss0 = rss_bytes();
    Value x = x0, a = a0, b = b0;
    const auto& tape = ad::detail::tape();
    std::size_t bytes = 0;
    std::uint32_t entries = 0;
    std::int64_t rss_recorded = 0;
    {
        Value y = x;
        for (std::int64_t i = 0; i < steps; ++i) y = tanh(y * a + b) * 0.999;
        entries = tape.size;
        bytes = tape.bytes_recorded();
        rss_recorded = rss_bytes();
        CHECK(y.value() == doctest::Approx(ref.y).epsilon(1e-12));
        y.backward();
        CHECK(x.grad() == doctest::Approx(ref.dx).epsilon(1e-9));
        CHECK(a.grad() == doctest::Approx(ref.da).epsilon(1e-9));
        CHECK(b.grad() == doctest::Approx(ref.db).epsilon(1e-9));
    }  // the last handle dies here: the tape rewinds in one step
    CHECK(tape.size == 0);
    CHECK(tape.live == 0);
    CHECK(entries >= static_cast<std::uint32_t>(ops));
    const double per_op = static_cast<double>(bytes) / entries;
    MESSAGE("deep chain: " << entries << " entries, " << bytes << " bytes recorded = " << per_op
                           << " bytes/op (17 per entry + 8 per constant); RSS " << kib(rss0) << " KiB before, "
                           << kib(rss_recorded) << " KiB recorded, " << kib(rss_bytes()) << " KiB after");
    CHECK(per_op <= 24.0);

    // Recorded and dropped without a backward, and a chain of Value-only ops (no constants).
    {
        Value y = x;
        for (std::int64_t i = 0; i < ops / 2; ++i) y = y * a + b;
        const double pure = static_cast<double>(tape.bytes_recorded()) / tape.size;
        MESSAGE("Value-only chain: " << pure << " bytes/op");
        CHECK(pure <= 17.5);
    }
    CHECK(tape.size == 0);
}

TEST_CASE("a deep chain under create_graph: the gradient of the gradient") {
    const std::int64_t n = scaled(1e6, 100000);
    // y ← sin(y): forward-mode reference for y, y' and y''.
    double y = 1.0, d1 = 1.0, d2 = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double s = std::sin(y), c = std::cos(y);
        d2 = -s * d1 * d1 + c * d2;
        d1 = c * d1;
        y = s;
    }
    REQUIRE(d1 != 0.0);
    REQUIRE(d2 != 0.0);
    const auto& tape = ad::detail::tape();
    Value x = 1.0;
    std::uint32_t first_order = 0, with_backward = 0;
    {
        Value f = x;
        for (std::int64_t i = 0; i < n; ++i) f = sin(f);
        first_order = tape.size;
        Value g = ad::gradients(f, {x}, {.create_graph = true})[0];
        with_backward = tape.size;
        CHECK(g.value() == doctest::Approx(d1).epsilon(1e-8));
        Value gg = ad::gradients(g, {x})[0];
        CHECK(gg.value() == doctest::Approx(d2).epsilon(1e-7));
        // and through backward(create_graph) + grad_value(), as a user would write it
        f.backward({.create_graph = true});
        CHECK(x.grad() == doctest::Approx(d1).epsilon(1e-8));
        Value h = x.grad_value();
        x.zero_grad();
        h.backward();
        CHECK(x.grad() == doctest::Approx(d2).epsilon(1e-7));
    }
    CHECK(tape.size == 0);
    MESSAGE("create_graph chain: " << n << " sin ops, " << first_order << " entries, " << with_backward
                                   << " after recording the backward; f'' = " << d2);
}

TEST_CASE("a deep tensor chain records, differentiates and dies") {
    const std::int64_t n = scaled(1e5, 10000);
    Tensor x = Tensor({0.5, -0.25, 1.0}).requires_grad_();
    const auto& tape = ad::detail::tape();
    {
        Tensor h = x;
        for (std::int64_t i = 0; i < n; ++i) h = ad::tanh(h) * 0.5 + x * 0.5;  // stays O(1)
        ad::sum(h).backward();
        // reference: the same recurrence in doubles, forward mode per element
        const std::vector<double> xs = x.to_vector();
        const std::vector<double> got = x.grad().to_vector();
        for (std::size_t k = 0; k < xs.size(); ++k) {
            double v = xs[k], d = 1.0;
            for (std::int64_t i = 0; i < n; ++i) {
                const double t = std::tanh(v);
                d = (1 - t * t) * d * 0.5 + 0.5;
                v = t * 0.5 + xs[k] * 0.5;
            }
            CHECK(got[k] == doctest::Approx(d).epsilon(1e-9));
        }
    }
    CHECK(tape.size == 0);
    CHECK(tape.live == 0);
}
