// Allocations: a steady-state training step (and a scalar Value loop) calls neither operator new
// nor malloc. Tensor storage, tensor handles, backward closures and tape nodes come from the
// engine's per-thread caches; per-op bookkeeping lives in fixed-capacity containers and per-thread
// scratch buffers that keep their capacity. This suite replaces the global operator new/delete
// (and, outside sanitizer builds, malloc and friends) with counting versions and checks that
// steps after a warm-up allocate nothing.
//
// When a count is not zero the test prints a histogram of the sizes requested. To find the
// caller, run with AD_ALLOC_TRACE=1: every counted allocation prints a raw backtrace to stderr
// (addresses; resolve them with addr2line -f -C -e build/tests/test_alloc ADDRESS).
//
// Under AddressSanitizer the replacements still count operator new (and forward to malloc, which
// ASan intercepts), but malloc itself belongs to ASan and is not replaced; the engine's own
// counter of the blocks its pools take from malloc is checked in every build.
#include <autodiff/autodiff.hpp>
#include <autodiff/pool.hpp>
#include <doctest/doctest.h>
#include <nn/loss.hpp>
#include <nn/optim.hpp>
#include <nn/sequential.hpp>

#include <tests/test_util.hpp>

#include <execinfo.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AD_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define AD_TEST_SANITIZED 1
#endif
#endif
#if !defined(AD_TEST_SANITIZED) && defined(__GLIBC__)
#define AD_TEST_COUNT_MALLOC 1  // replace malloc too (forwarding to glibc's own)
#endif

using ad::Tensor;
using ad::Value;
namespace nn = ad::nn;

// ---- counting allocator ----------------------------------------------------------------------------
// Only this thread's allocations are counted, and only while `counting` is set. Everything here
// is constant-initialized and trivially destructible: it is used before main and after exit.
namespace {

struct Counter {
    std::size_t news = 0;     // operator new (any form)
    std::size_t mallocs = 0;  // malloc, calloc, realloc, aligned_alloc, ... (when replaced)
    // Histogram of requested sizes: (size, count) for the first distinct sizes seen.
    static constexpr int kSizes = 32;
    std::size_t size[kSizes] = {};
    std::size_t count[kSizes] = {};
    int distinct = 0;
    std::size_t other = 0;  // allocations of sizes beyond the table
};
constinit thread_local bool counting = false;
constinit thread_local bool in_hook = false;  // the tracer's own allocations are not counted
constinit thread_local Counter counter{};
constinit bool trace = false;

void note(std::size_t bytes, bool is_new) {
    if (!counting || in_hook) return;
    in_hook = true;
    (is_new ? counter.news : counter.mallocs) += 1;
    int k = 0;
    while (k < counter.distinct && counter.size[k] != bytes) ++k;
    if (k < counter.distinct) {
        ++counter.count[k];
    } else if (k < Counter::kSizes) {
        counter.size[k] = bytes;
        counter.count[k] = 1;
        ++counter.distinct;
    } else {
        ++counter.other;
    }
    if (trace) {
        static constexpr char header[] = "---- counted allocation, backtrace:\n";
        (void)!write(2, header, sizeof header - 1);
        void* frames[32];
        backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
    }
    in_hook = false;
}

}  // namespace

#ifdef AD_TEST_COUNT_MALLOC
// glibc's allocator under its internal names: replacing the public ones (glibc documents this,
// "Replacing malloc") lets us count the engine's direct calls (the pools, the storage cache, the
// tape's columns) without changing the allocator.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}
#endif

namespace {

void* raw_allocate(std::size_t n, std::size_t align) {
    if (n == 0) n = 1;
#ifdef AD_TEST_COUNT_MALLOC
    return align <= alignof(std::max_align_t) ? __libc_malloc(n) : __libc_memalign(align, n);
#else
    return align <= alignof(std::max_align_t) ? std::malloc(n) : std::aligned_alloc(align, (n + align - 1) / align * align);
#endif
}
void raw_free(void* p) {
#ifdef AD_TEST_COUNT_MALLOC
    __libc_free(p);
#else
    std::free(p);
#endif
}

void* counted_new(std::size_t n, std::size_t align, bool nothrow) {
    note(n, true);
    void* p = raw_allocate(n, align);
    if (!p && !nothrow) throw std::bad_alloc();
    return p;
}

}  // namespace

void* operator new(std::size_t n) { return counted_new(n, 0, false); }
void* operator new[](std::size_t n) { return counted_new(n, 0, false); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_new(n, static_cast<std::size_t>(a), false); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_new(n, static_cast<std::size_t>(a), false); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n, 0, true); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n, 0, true); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_new(n, static_cast<std::size_t>(a), true);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted_new(n, static_cast<std::size_t>(a), true);
}
void operator delete(void* p) noexcept { raw_free(p); }
void operator delete[](void* p) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }

#ifdef AD_TEST_COUNT_MALLOC
extern "C" {
void* malloc(std::size_t n) noexcept {
    note(n, false);
    return __libc_malloc(n);
}
void* calloc(std::size_t k, std::size_t n) noexcept {
    note(k * n, false);
    return __libc_calloc(k, n);
}
void* realloc(void* p, std::size_t n) noexcept {
    note(n, false);
    return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) noexcept {
    note(n, false);
    return __libc_memalign(a, n);
}
void* memalign(std::size_t a, std::size_t n) noexcept {
    note(n, false);
    return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) noexcept {
    note(n, false);
    if (a < sizeof(void*) || (a & (a - 1)) != 0) return EINVAL;
    void* p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void free(void* p) noexcept { __libc_free(p); }
}
#endif

namespace {

constexpr bool kCountsMalloc =
#ifdef AD_TEST_COUNT_MALLOC
    true;
#else
    false;
#endif

// What a block of steps allocated.
struct Allocations {
    std::size_t news = 0, mallocs = 0;
    std::size_t pool_refills = 0;  // blocks the engine's small-object pools took from the system
    std::string sizes;             // "bytes x count" pairs
};

// Runs `step` `warmup` times, then `steps` times counting allocations.
template <class Step>
Allocations count_allocations(int warmup, int steps, Step&& step) {
    trace = std::getenv("AD_ALLOC_TRACE") != nullptr;
    for (int i = 0; i < warmup; ++i) step();
    const std::size_t pool_before = ad::detail::pool_system_allocations();
    counter = Counter{};
    counting = true;
    for (int i = 0; i < steps; ++i) step();
    counting = false;
    const Counter c = counter;
    Allocations r{c.news, c.mallocs, ad::detail::pool_system_allocations() - pool_before, {}};
    std::ostringstream s;
    for (int k = 0; k < c.distinct; ++k) s << (k ? ", " : "") << c.size[k] << " B x" << c.count[k];
    if (c.other) s << ", " << c.other << " more of other sizes";
    r.sizes = s.str();
    return r;
}

void check_none(const std::string& what, const Allocations& a, int steps) {
    MESSAGE(what << ": " << a.news << " operator new and "
                 << (kCountsMalloc ? std::to_string(a.mallocs) + " malloc" : std::string("(uncounted) malloc"))
                 << " calls in " << steps << " steps" << (a.sizes.empty() ? "" : "; sizes: " + a.sizes));
    CHECK(a.news == 0);
    CHECK(a.mallocs == 0);
    CHECK(a.pool_refills == 0);
}

// The engine never uses OpenBLAS's own threaded driver (which mallocs a job table on every call it
// splits): large products run in blocks on the engine's team, each on single-threaded OpenBLAS, so
// the steps below allocate nothing with 1 or 2 engine threads (ad::test::BlasThreads).
using ad::test::BlasThreads;

constexpr int kWarmup = 5, kSteps = 20;

// The scalar loop of test_memory.cpp: a few dozen scalar ops with constants and leaves.
Value expr(const Value& x, const Value& y) {
    Value h = x * y;
    for (int k = 0; k < 8; ++k) h = sin(h) * x + exp(-square(y)) / (1.0 + h * h) - 0.25 * y;
    return h;
}

}  // namespace

TEST_CASE("the allocation counter sees operator new and malloc") {
    static void* volatile keep;  // so that the compiler cannot drop an allocation it sees freed
    counter = Counter{};
    counting = true;
    auto v = std::make_unique<std::vector<int>>(100);
    keep = v.get();
    void* m = std::malloc(24);
    keep = m;
    counting = false;
    std::free(keep);
    CHECK(counter.news == 2);  // the vector and its buffer
    if (kCountsMalloc) CHECK(counter.mallocs == 1);
}

TEST_CASE("a fashion-shaped training step (784-256-128-10, float32, Adam, cross_entropy) allocates nothing") {
    const std::int64_t batch = 32;
    auto model = nn::MLP({784, 256, 128, 10}, nn::Activation::ReLU, {.seed = 1});
    nn::Adam opt(model->parameters(), {.lr = 1e-3});
    const Tensor x = Tensor::randn({batch, 784}, ad::f32, 11);
    std::vector<float> labels(static_cast<std::size_t>(batch));
    ad::Rng rng(12);
    for (float& l : labels) l = static_cast<float>(rng.below(10));
    const Tensor y = Tensor::from_data(std::span<const float>(labels), {batch});
    const double before = nn::cross_entropy((*model)(x), y).item();

    // The step of bench/mlp.cpp: zero_grad + forward + loss + backward + optimizer step. Every
    // handle of the step's graph dies with the step, so the tape rewinds to empty each time.
    // With 2 threads the step's products (32×256×784 and 32×784×256 multiply-adds) and Adam's
    // largest update are cut over the engine's team; only this thread's allocations are counted.
    for (const int threads : {1, 2}) {
        const BlasThreads blas(threads);
        const Allocations a = count_allocations(kWarmup, kSteps, [&] {
            opt.zero_grad();
            const Tensor out = (*model)(x);
            const Tensor loss = nn::cross_entropy(out, y);
            loss.backward();
            opt.step();
        });
        check_none(fmt::format("fashion step, {} engine thread(s)", threads), a, kSteps);
    }
    CHECK(nn::cross_entropy((*model)(x), y).item() < before);  // it trains
    CHECK(ad::detail::tape().size == 0);
}

TEST_CASE("a tiny training step (2-16-16-1, MSE, SGD with momentum) allocates nothing") {
    auto model = nn::MLP({2, 16, 16, 1}, nn::Activation::ReLU, {.seed = 2});
    nn::SGD opt(model->parameters(), {.lr = 0.01, .momentum = 0.9});
    const Tensor x = Tensor::randn({32, 2}, ad::f32, 21);
    const Tensor y = Tensor::randn({32, 1}, ad::f32, 22);
    const double before = nn::mse_loss((*model)(x), y).item();

    const BlasThreads blas(2);  // products this small run whole, on this thread
    const Allocations a = count_allocations(kWarmup, kSteps, [&] {
        model->zero_grad();  // the module's zero_grad this time (the same effect as the optimizer's)
        const Tensor loss = nn::mse_loss((*model)(x), y);
        loss.backward();
        opt.step();
    });
    check_none("tiny step", a, kSteps);
    CHECK(nn::mse_loss((*model)(x), y).item() < before);
    CHECK(ad::detail::tape().size == 0);
}

TEST_CASE("a scalar Value loop (expr, backward, zero_grad) allocates nothing") {
    Value x = 0.3, y = -1.2;
    double sink = 0;
    const Allocations a = count_allocations(kWarmup, kSteps, [&] {
        auto f = expr(x, y);
        f.backward();
        sink += x.grad() + y.grad();
        x.zero_grad();
        y.zero_grad();
    });
    check_none("scalar loop", a, kSteps);
    CHECK(std::isfinite(sink));
    CHECK(ad::detail::tape().size == 0);
}
