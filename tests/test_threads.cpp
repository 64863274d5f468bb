// Threads: every thread records on its own tape, so independent computations on different threads
// give bit-identical results to the same computations run serially, and a graph handle taken to
// another thread is detected (ad::GraphError) instead of corrupting either tape. The engine's own
// team of helper threads (large products, Adam) runs every part once, from any number of callers.
//
// Sizes scale with the environment variable AD_TEST_SCALE (default 1; CI runs this suite under
// ThreadSanitizer with 0.1). Nothing is skipped at small scales: loops only get shorter.
#include <autodiff/autodiff.hpp>
#include <autodiff/threads.hpp>
#include <doctest/doctest.h>
#include <nn/linear.hpp>
#include <nn/optim.hpp>

#include <tests/test_util.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using ad::Tensor;
using ad::Shape;
using ad::Value;

namespace {

double scale() {
    const char* s = std::getenv("AD_TEST_SCALE");
    const double v = s ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}
int scaled(double n, int at_least) { return std::max(at_least, static_cast<int>(n * scale())); }

// Runs every job on its own thread at once and waits for all of them.
void run_concurrently(const std::vector<std::function<void()>>& jobs) {
    std::vector<std::thread> threads;
    for (const auto& job : jobs) threads.emplace_back(job);
    for (auto& t : threads) t.join();
}

// ---- (a) scalar gradients ---------------------------------------------------------------------

// A scalar function with a bit of everything: binary ops, constants, transcendental functions.
Value scalar_f(const Value& x, const Value& y) {
    Value h = x;
    for (int k = 0; k < 12; ++k) h = tanh(h * y + sin(x) * 0.5) + h / 2.0 + exp(-square(y - h)) * 0.1;
    return h * h + log1p(square(x * y));
}

struct ScalarResult {
    double f, dx, dy, dxx;  // value, gradient, and ∂²f/∂x² (through create_graph)
    bool operator==(const ScalarResult&) const = default;
};

std::vector<ScalarResult> scalar_run(int n, int offset) {
    std::vector<ScalarResult> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        const double t = 0.001 * (i + offset);
        Value x = std::sin(t) * 1.5, y = 0.5 + std::cos(3 * t);
        ScalarResult r{};
        {
            Value f = scalar_f(x, y);
            f.backward();
            r.f = f.value();
            r.dx = x.grad();
            r.dy = y.grad();
        }
        {
            Value f = scalar_f(x, y);
            Value gx = ad::gradients(f, {x}, {.create_graph = true})[0];
            r.dxx = ad::gradients(gx, {x})[0].value();
        }
        out.push_back(r);
    }
    return out;
}

// ---- (b) training a small MLP -----------------------------------------------------------------

struct TrainResult {
    std::vector<std::vector<double>> params;
    std::vector<double> losses;
};

// Three Linear layers with a tanh, a ReLU and a residual sum, softmax cross-entropy through
// log_softmax + gather, SGD with momentum. X and labels are shared (read-only) by every thread.
TrainResult train_mlp(const Tensor& X, const Tensor& labels, int steps) {
    ad::nn::Linear l1(4, 16, {.seed = 11}), l2(16, 16, {.seed = 12}), l3(16, 3, {.seed = 13});
    std::vector<Tensor> params = {l1.weight, l1.bias, l2.weight, l2.bias, l3.weight, l3.bias};
    ad::nn::SGD opt(params, {.lr = 0.1, .momentum = 0.9});
    TrainResult r;
    for (int s = 0; s < steps; ++s) {
        Tensor h = ad::tanh(l1(X));
        h = ad::relu(l2(h)) + h * 0.5;
        Tensor logp = ad::log_softmax(l3(h), 1);
        Tensor loss = -ad::mean(ad::gather(logp, 1, labels));
        opt.zero_grad();
        loss.backward();
        r.losses.push_back(loss.item());
        opt.step();
    }
    for (auto& p : params) r.params.push_back(p.to_vector());
    return r;
}

struct Data {
    Tensor X, labels;
};
Data make_data() {
    Data d;
    d.X = Tensor::randn({64, 4}, ad::f32, 7);
    d.labels = Tensor::zeros({64, 1}, ad::f64);
    for (std::int64_t i = 0; i < 64; ++i)
        d.labels.set({i, 0}, (d.X.at({i, 0}) > 0 ? 1.0 : 0.0) + (d.X.at({i, 1}) > 0.5 ? 1.0 : 0.0));
    return d;
}

}  // namespace

TEST_CASE("independent scalar gradients on two threads are bit-identical to serial") {
    const int n = scaled(20000, 50);
    const auto serial0 = scalar_run(n, 0);
    const auto serial1 = scalar_run(n, 7777);
    REQUIRE(serial0.size() == static_cast<std::size_t>(n));
    CHECK_FALSE(serial0 == serial1);  // the threads really do different work
    for (int round = 0; round < 2; ++round) {
        std::vector<ScalarResult> t0, t1;
        run_concurrently({[&] { t0 = scalar_run(n, 0); }, [&] { t1 = scalar_run(n, 7777); }});
        CHECK(t0 == serial0);
        CHECK(t1 == serial1);
    }
    // Sanity of the numbers themselves: ∂f/∂x against a central difference.
    const ScalarResult& r = serial0[static_cast<std::size_t>(n / 2)];
    const double t = 0.001 * (n / 2), eps = 1e-6;
    auto f_at = [&](double x) { return scalar_f(Value::constant(x), Value::constant(0.5 + std::cos(3 * t))).value(); };
    const double x0 = std::sin(t) * 1.5;
    CHECK(r.dx == doctest::Approx((f_at(x0 + eps) - f_at(x0 - eps)) / (2 * eps)).epsilon(1e-6));
}

TEST_CASE("two threads training the same MLP from the same seed match the serial run exactly") {
    const int steps = scaled(1000, 20);
    const Data d = make_data();
    const TrainResult serial = train_mlp(d.X, d.labels, steps);
    REQUIRE(serial.losses.size() == static_cast<std::size_t>(steps));
    CHECK(serial.losses.back() < serial.losses.front());  // it learns
    TrainResult a, b;
    run_concurrently({[&] { a = train_mlp(d.X, d.labels, steps); }, [&] { b = train_mlp(d.X, d.labels, steps); }});
    CHECK(a.losses == serial.losses);
    CHECK(b.losses == serial.losses);
    CHECK(a.params == serial.params);
    CHECK(b.params == serial.params);
    MESSAGE("MLP: " << steps << " steps per thread, loss " << serial.losses.front() << " -> " << serial.losses.back());
}

TEST_CASE("graph handles are confined to the thread that recorded them") {
    Value x = 1.5;
    Value y = x * x + 1.0;  // interior: recorded on this thread
    Tensor w = Tensor({1.0, 2.0}).requires_grad_();
    Tensor v = ad::exp(w);
    std::string value_error, tensor_error, tensor_backward_error;
    double read_value = 0, own_grad = 0;
    std::vector<double> read_tensor;
    std::thread other([&] {
        read_value = y.value();     // the number is plain data: readable anywhere
        read_tensor = v.to_vector();
        Value copy = y;             // copying and dropping a foreign handle leaves both tapes alone
        Tensor tcopy = v;
        try {
            (void)(y * 2.0);
        } catch (const ad::GraphError& e) {
            value_error = e.what();
        }
        try {
            (void)ad::sum(v * 2.0);
        } catch (const ad::GraphError& e) {
            tensor_error = e.what();
        }
        try {
            y.backward();
        } catch (const ad::GraphError& e) {
            tensor_backward_error = e.what();
        }
        // This thread's own tape is untouched by the failures and works normally.
        Value a = 2.0;
        Value b = a * a * a;
        b.backward();
        own_grad = a.grad();
    });
    other.join();
    CHECK(own_grad == 12.0);
    CHECK(read_value == 3.25);
    CHECK(read_tensor == std::vector<double>{std::exp(1.0), std::exp(2.0)});
    CHECK(value_error.find("another thread") != std::string::npos);
    CHECK(tensor_error.find("another thread") != std::string::npos);
    CHECK(tensor_backward_error.find("released") != std::string::npos);
    // The recording thread's graph is intact: backward still works and is correct.
    y.backward();
    CHECK(x.grad() == 3.0);
    ad::sum(v).backward();
    CHECK(w.grad().to_vector() == std::vector<double>{std::exp(1.0), std::exp(2.0)});
}

TEST_CASE("results outlive the thread that computed them") {
    // A worker returns interior handles and exits (its tape is destroyed); the main thread can
    // read them, and using them in a graph is a GraphError, not a use-after-free.
    std::promise<std::pair<Value, Tensor>> promise;
    auto result = promise.get_future();
    std::thread worker([&] {
        Value a = 3.0;
        Tensor t = Tensor::ones({3}, ad::f64).requires_grad_();
        promise.set_value({a * a, t * 2.0});
    });
    worker.join();
    auto [s, t] = result.get();
    CHECK(s.value() == 9.0);
    CHECK(t.to_vector() == std::vector<double>{2.0, 2.0, 2.0});
    CHECK_THROWS_AS(s.backward(), ad::GraphError);
    CHECK_THROWS_AS((void)ad::sum(t * t), ad::GraphError);
    CHECK((ad::sum(t.detach() * 2.0)).item() == 12.0);  // detached data is free to use
}

TEST_CASE("NoGrad and anomaly mode are per thread") {
    const int n = scaled(20000, 50);
    std::vector<double> grads, nograd_values;
    bool other_anomaly = true;
    int recorded = 0;
    run_concurrently({
        [&] {
            for (int i = 0; i < n; ++i) {
                Value x = 0.01 * i;
                Value f = sin(x) * x;
                f.backward();
                grads.push_back(x.grad());
            }
        },
        [&] {
            ad::NoGrad ng;
            ad::AnomalyMode am;
            for (int i = 0; i < n; ++i) {
                Value x = 0.01 * i;
                Value f = sin(x) * x;
                recorded += f.requires_grad() ? 1 : 0;
                nograd_values.push_back(f.value());
            }
        },
        [&] { other_anomaly = ad::anomaly_mode(); },
    });
    REQUIRE(grads.size() == static_cast<std::size_t>(n));
    REQUIRE(nograd_values.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; i += std::max(1, n / 50)) {
        const double x = 0.01 * i;
        CHECK(grads[static_cast<std::size_t>(i)] == doctest::Approx(std::cos(x) * x + std::sin(x)));
        CHECK(nograd_values[static_cast<std::size_t>(i)] == std::sin(x) * x);
    }
    CHECK(recorded == 0);
    CHECK_FALSE(other_anomaly);
    CHECK(ad::is_recording());
}

TEST_CASE("many short-lived threads: tapes and allocator caches come and go") {
    const int rounds = scaled(100, 4);
    // Read by every thread; the 128×128 products run whole, one at a time (the engine's BLAS lock).
    const Tensor shared = Tensor::randn({128, 128}, ad::f32, 3);
    const double expected = [&] {
        Tensor w = shared.detach().clone().requires_grad_();
        ad::sum(ad::matmul(w, shared)).backward();
        return ad::sum(w.grad()).item();
    }();
    for (int r = 0; r < rounds; ++r) {
        std::vector<double> got(3, 0.0);
        std::vector<std::function<void()>> jobs;
        for (std::size_t k = 0; k < got.size(); ++k)
            jobs.push_back([&, k] {
                Tensor w = shared.detach().clone().requires_grad_();
                Tensor keep = ad::matmul(w, shared);  // alive when the thread exits
                ad::sum(ad::matmul(w, shared)).backward();
                got[k] = ad::sum(w.grad()).item();
            });
        run_concurrently(jobs);
        for (double g : got) CHECK(g == expected);
    }
}

// ---- (f) the engine's team (autodiff/threads.hpp) ---------------------------------------------
namespace {
using EngineThreads = ad::test::BlasThreads;

// Runs `parts` parts and returns how many times each one ran.
std::vector<int> count_parts(int parts) {
    std::vector<std::atomic<int>> ran(static_cast<std::size_t>(parts));
    ad::detail::run_parts(parts, [&](int p) { ran[static_cast<std::size_t>(p)].fetch_add(1); });
    std::vector<int> out;
    for (const auto& r : ran) out.push_back(r.load());
    return out;
}
}  // namespace

TEST_CASE("the engine's team runs every part exactly once, awake or woken from sleep") {
    const int rounds = scaled(300, 30);
    for (int r = 0; r < rounds; ++r) {
        const int parts = 1 + r % 7;
        CHECK(count_parts(parts) == std::vector<int>(static_cast<std::size_t>(parts), 1));
        // Now and then let the helpers fall asleep (they spin for 0.5 ms), so waking is tested too.
        if (r % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
    // More parts than the team has helpers (63 at most): they share them with the caller.
    CHECK(count_parts(100) == std::vector<int>(100, 1));
    // A part that asks for parts runs them itself.
    std::vector<std::atomic<int>> inner(12);
    ad::detail::run_parts(3, [&](int p) {
        ad::detail::run_parts(4, [&](int q) { inner[static_cast<std::size_t>(p * 4 + q)].fetch_add(1); });
    });
    for (const auto& c : inner) CHECK(c.load() == 1);
}

TEST_CASE("two threads asking the team at once each get all their parts run once") {
    const int rounds = scaled(500, 50);
    std::atomic<int> wrong{0};
    auto loop = [&] {
        for (int r = 0; r < rounds; ++r)
            if (count_parts(2 + r % 3) != std::vector<int>(static_cast<std::size_t>(2 + r % 3), 1)) wrong.fetch_add(1);
    };
    run_concurrently({loop, loop, loop});
    CHECK(wrong.load() == 0);
}

TEST_CASE("part ranges cover every item once, on aligned boundaries") {
    for (std::int64_t n : {0, 1, 15, 16, 17, 100, 1000, 4097})
        for (int threads : {1, 2, 3, 8})
            for (std::int64_t align : {1, 16, 64}) {
                const int parts = ad::detail::parts_for(n, threads, align);
                CHECK(parts >= 1);
                CHECK(parts <= threads);
                std::int64_t next = 0;
                for (int p = 0; p < parts; ++p) {
                    const auto [b, e] = ad::detail::part_range(n, parts, p, align);
                    CHECK(b == next);
                    CHECK(e >= b);
                    if (e < n) CHECK(e % align == 0);
                    next = e;
                }
                CHECK(next == n);
            }
}

// Large products are cut into row blocks (or column blocks, when there are few rows, or when
// linear() asks for them) over the engine's threads: the result must agree with a product on one
// thread, for every transpose, and a given thread count must give the same bits every time.
namespace {
template <class F>
void check_cut_product(F&& product, ad::DType dtype, std::int64_t k) {
    Tensor one, cut, again, three;
    {
        EngineThreads t(1);
        one = product().contiguous();
    }
    {
        EngineThreads t(2);
        cut = product().contiguous();
        again = product().contiguous();
    }
    {
        EngineThreads t(3);
        three = product().contiguous();
    }
    REQUIRE(cut.shape() == one.shape());
    REQUIRE(three.shape() == one.shape());
    const double tol = dtype == ad::f32 ? 1e-5 : 1e-13;
    const Tensor x = one.to(ad::f64), y = cut.to(ad::f64), z = again.to(ad::f64), w = three.to(ad::f64);
    const double* xp = x.data<double>();
    const double* yp = y.data<double>();
    const double* zp = z.data<double>();
    const double* wp = w.data<double>();
    int far = 0, differ = 0;
    for (std::int64_t i = 0; i < one.numel(); ++i) {
        const double bound = tol * (std::fabs(xp[i]) + std::sqrt(double(k)));
        if (!(std::fabs(xp[i] - yp[i]) <= bound) || !(std::fabs(xp[i] - wp[i]) <= bound)) ++far;
        if (yp[i] != zp[i]) ++differ;
    }
    CHECK(far == 0);
    CHECK(differ == 0);
}
}  // namespace

TEST_CASE("products cut over the engine's threads agree with one thread and repeat exactly") {
    struct Case {
        std::int64_t m, k, n;
        bool ta, tb;
    };
    const Case cases[] = {{200, 300, 150, false, false}, {200, 300, 150, true, false}, {200, 300, 150, false, true},
                          {200, 300, 150, true, true},   {8, 300, 2000, false, false},  {8, 300, 2000, true, true},
                          {37, 1000, 131, false, true}};
    for (const auto dtype : {ad::f32, ad::f64})
        for (const Case& c : cases) {
            CAPTURE(c.m);
            CAPTURE(c.n);
            CAPTURE(c.ta);
            CAPTURE(c.tb);
            // Stored transposed when ta/tb, so the product reads a transposed view.
            const Tensor a0 = Tensor::randn(c.ta ? Shape{c.k, c.m} : Shape{c.m, c.k}, dtype, 21);
            const Tensor b0 = Tensor::randn(c.tb ? Shape{c.n, c.k} : Shape{c.k, c.n}, dtype, 22);
            const Tensor a = c.ta ? a0.t() : a0, b = c.tb ? b0.t() : b0;
            check_cut_product([&] { return ad::matmul(a, b); }, dtype, c.k);
        }
}

TEST_CASE("linear's product is cut into column blocks (rows when it has too few columns) and agrees with one thread") {
    // [batch, in] x [out, in]: out = 150 is cut into column blocks; out = 8 is too narrow, so rows.
    for (const auto dtype : {ad::f32, ad::f64})
        for (const std::int64_t out : {150, 8}) {
            CAPTURE(out);
            const std::int64_t batch = out == 8 ? 2000 : 200, in = 300;
            const Tensor x = Tensor::randn(Shape{batch, in}, dtype, 23);
            const Tensor W = Tensor::randn(Shape{out, in}, dtype, 24);
            const Tensor b = Tensor::randn(Shape{out}, dtype, 25);
            check_cut_product([&] { return ad::linear(x, W, b); }, dtype, in);
            check_cut_product([&] { return ad::linear(x, W, Tensor()); }, dtype, in);
        }
}

TEST_CASE("the caller runs part 0 of every job") {
    const auto me = std::this_thread::get_id();
    const int rounds = scaled(200, 20);
    int elsewhere = 0;
    for (int r = 0; r < rounds; ++r) {
        std::thread::id who;
        ad::detail::run_parts(2 + r % 4, [&](int p) {
            if (p == 0) who = std::this_thread::get_id();
        });
        if (who != me) ++elsewhere;
    }
    CHECK(elsewhere == 0);
}

TEST_CASE("optimizer updates cut over the engine's threads are bit-identical to one thread") {
    // 120000 elements: cut into slices. Each optimizer with the options that add buffers.
    using MakeOpt = std::function<std::unique_ptr<ad::nn::Optimizer>(Tensor)>;
    const std::vector<std::pair<const char*, MakeOpt>> optimizers{
        {"Adam", [](Tensor w) { return std::make_unique<ad::nn::Adam>(std::vector<Tensor>{w}, ad::nn::AdamOptions{.lr = 1e-2, .weight_decay = 0.01}); }},
        {"Adam amsgrad", [](Tensor w) { return std::make_unique<ad::nn::Adam>(std::vector<Tensor>{w}, ad::nn::AdamOptions{.lr = 1e-2, .amsgrad = true}); }},
        {"AdamW", [](Tensor w) { return std::make_unique<ad::nn::AdamW>(std::vector<Tensor>{w}, ad::nn::AdamWOptions{.lr = 1e-2}); }},
        {"SGD nesterov", [](Tensor w) { return std::make_unique<ad::nn::SGD>(std::vector<Tensor>{w}, ad::nn::SGDOptions{.lr = 1e-2, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}); }},
        {"RMSProp centered", [](Tensor w) { return std::make_unique<ad::nn::RMSProp>(std::vector<Tensor>{w}, ad::nn::RMSPropOptions{.lr = 1e-3, .momentum = 0.5, .centered = true}); }},
    };
    auto run = [](int threads, const MakeOpt& make) {
        EngineThreads t(threads);
        Tensor w = Tensor::randn({300, 400}, ad::f32, 5).requires_grad_();
        const auto opt = make(w);
        const Tensor target = Tensor::randn({300, 400}, ad::f32, 6);
        for (int s = 0; s < 3; ++s) {
            opt->zero_grad();
            ad::sum(ad::square(w - target) * ad::sin(w)).backward();
            opt->step();
        }
        return w.detach().contiguous();
    };
    const Tensor w0 = Tensor::randn({300, 400}, ad::f32, 5);
    auto bits_of = [](const Tensor& x) { return std::vector<float>(x.data<float>(), x.data<float>() + x.numel()); };
    for (const auto& [name, make] : optimizers) {
        CAPTURE(name);
        const auto one = bits_of(run(1, make)), two = bits_of(run(2, make)), three = bits_of(run(3, make));
        CHECK(two == one);
        CHECK(three == one);
        const auto start = bits_of(w0);
        std::size_t moved = 0;
        for (std::size_t i = 0; i < one.size(); ++i) moved += one[i] != start[i];
        CHECK(moved > one.size() / 2);  // the steps did update the weights
    }
    // Two threads stepping their own optimizers at once (one of them finds the team busy and
    // runs its slices itself): the same bits again.
    const auto serial = bits_of(run(2, optimizers[0].second));
    std::vector<float> r1, r2;
    run_concurrently({[&] { r1 = bits_of(run(2, optimizers[0].second)); }, [&] { r2 = bits_of(run(2, optimizers[0].second)); }});
    CHECK(r1 == serial);
    CHECK(r2 == serial);
}

#if !defined(__SANITIZE_THREAD__)  // TSan does not support threads started after fork()
TEST_CASE("a forked child starts its own team") {
    CHECK(count_parts(2) == std::vector<int>{1, 1});  // the parent's team exists
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const bool ok = count_parts(3) == std::vector<int>{1, 1, 1} && count_parts(2) == std::vector<int>{1, 1};
        std::_Exit(ok ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(count_parts(2) == std::vector<int>{1, 1});  // and the parent's still works
}
#endif
