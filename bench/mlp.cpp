// MLP training-step benchmark: zero_grad + forward + loss + backward + optimizer step, float32,
// through the nn library (nn::MLP, nn::mse_loss / nn::cross_entropy, nn::SGD / nn::Adam), against
// PyTorch CPU (bench/anchors/torch_mlp.py, run by /usr/bin/python3 as a subprocess), libtorch
// (the libtorch_mlp anchor, when built) and the OpenBLAS sgemm time of the step's GEMMs.
//
//   bench_mlp [--config all|tiny,small,fashion,large] [--threads 1] [--reps 5] [--min-rep-seconds 0.2]
//             [--anchor-threads N] [--anchor-blas-threads N] [--malloc tuned|default] [--no-torch] [--no-libtorch] [--quick]
//
// Configs (the anchors' own, see bench/anchors/README.md): ReLU between layers, PyTorch's default
// Linear init, fixed seeded random data (x ~ N(0, 1); MSE targets ~ N(0, 1), CE labels uniform):
//   tiny     2-16-16-1        batch  32  MSE  SGD 0.01
//   small    64-128-64-10     batch  64  CE   SGD 0.01
//   fashion  784-256-128-10   batch 128  CE   Adam 1e-3
//   large    784-1024-1024-10 batch 512  CE   SGD 0.01
// Timing (the anchors' policy): warm-up, then the median over --reps repetitions of a block of
// steps lasting >= --min-rep-seconds. GFLOP/s counts 6·batch·Σ in·out per step (forward X·Wᵀ,
// dW = Gᵀ·X, dX = G·W for every layer). "sgemm" times exactly those 3 GEMMs per layer with
// cblas_sgemm at the same shapes (our roofline); "gemm floor" times the GEMMs a step really needs
// (the first layer's dX is skipped by every engine here, its input does not require grad), with
// OpenBLAS's threads as set, on one thread, and cut into blocks over the engine's threads as the
// engine does (ad::detail::gemm); the floor is the fastest of the three.
//
// Threads: --threads N calls openblas_set_num_threads(N) for us, and the anchors get --threads N
// (torch.set_num_threads) and OPENBLAS_NUM_THREADS=M in their environment (M = --anchor-blas-threads,
// default N): Debian's torch does its GEMMs in OpenBLAS, which ignores torch.set_num_threads.
// --anchor-threads K overrides the anchors' --threads alone (our element-wise ops are single-threaded;
// torch's OpenMP threads next to OpenBLAS's oversubscribe a 2-core machine, see the anchors' README).
//
// Memory allocator (--malloc tuned, the default): glibc serves allocations >= its mmap threshold
// (128 KiB at start) with a fresh mmap and returns them with munmap, so a process that has not
// yet freed a large block pays page faults for every big tensor, every step (torch's fashion step:
// ~600k minor faults in 3 s, ~2.0 ms instead of ~1.45 ms). A real training script leaves that state
// as soon as its data loading frees a large buffer: glibc then raises the threshold by itself (up
// to 32 MiB, trim threshold twice that); torch_fashion.py runs in that state. So the anchors get
// GLIBC_TUNABLES=glibc.malloc.mmap_threshold=32MiB:trim_threshold=64MiB, and we call mallopt with
// the same values (our engine reuses its own storage pool, so it is insensitive to this).
// --malloc default leaves glibc alone in both.
// Prints a table, then one line per config starting with "JSON " (as bench_scalar):
//   JSON {"bench":"mlp_step","config":"tiny","ours_us":…,"torch_us":…,"libtorch_us":…,"sgemm_gflops":…,…}
// An anchor that is not available is null.
#include <autodiff/autodiff.hpp>
#include <bench/timing.hpp>
#include <nn/nn.hpp>

#include <CLI/CLI.hpp>
#include <cblas.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#ifndef AD_BENCH_ANCHOR_SOURCE_DIR
#define AD_BENCH_ANCHOR_SOURCE_DIR "bench/anchors"
#endif
#ifndef AD_BENCH_ANCHOR_BUILD_DIR
#define AD_BENCH_ANCHOR_BUILD_DIR "build/bench/anchors"
#endif

namespace nn = ad::nn;

namespace {

// glibc's state once a large block has been freed (see the top of this file).
constexpr int kMmapThreshold = 32 << 20, kTrimThreshold = 64 << 20;

struct Config {
    std::string name;
    std::vector<std::int64_t> sizes;
    std::int64_t batch;
    bool mse;   // MSE on random targets, else cross-entropy on random labels
    bool adam;  // Adam lr 1e-3, else SGD lr 0.01
};

const std::vector<Config>& configs() {
    static const std::vector<Config> all{
        {"tiny", {2, 16, 16, 1}, 32, true, false},
        {"small", {64, 128, 64, 10}, 64, false, false},
        {"fashion", {784, 256, 128, 10}, 128, false, true},
        {"large", {784, 1024, 1024, 10}, 512, false, false},
    };
    return all;
}

std::string describe(const Config& c) {
    return fmt::format("{} b{} {} {}", fmt::join(c.sizes, "-"), c.batch, c.mse ? "MSE" : "CE", c.adam ? "Adam" : "SGD");
}

// 6·batch·Σ in·out: forward, dW and dX GEMMs of every layer.
double step_flops(const Config& c) {
    double s = 0;
    for (std::size_t l = 0; l + 1 < c.sizes.size(); ++l) s += static_cast<double>(c.sizes[l] * c.sizes[l + 1]);
    return 6.0 * static_cast<double>(c.batch) * s;
}

struct Timing {
    bench::CallTiming t;
    double first_loss = 0, last_loss = 0;
};

// Our side, as a user writes it with the nn library.
Timing time_ours(const Config& c, int reps, double min_rep, double warmup) {
    const std::uint64_t seed = 0;
    auto model = nn::MLP(c.sizes, nn::Activation::ReLU, {.seed = seed});
    const ad::Tensor x = ad::Tensor::randn(ad::Shape{c.batch, c.sizes.front()}, ad::f32, 1000 + seed);
    ad::Tensor y;
    if (c.mse) {
        y = ad::Tensor::randn(ad::Shape{c.batch, c.sizes.back()}, ad::f32, 2000 + seed);
    } else {
        ad::Rng rng(3000 + seed);
        std::vector<float> labels(static_cast<std::size_t>(c.batch));
        for (float& l : labels) l = static_cast<float>(rng.below(static_cast<std::uint64_t>(c.sizes.back())));
        y = ad::Tensor::from_data(std::span<const float>(labels), ad::Shape{c.batch});
    }
    std::unique_ptr<nn::Optimizer> opt;
    if (c.adam)
        opt = std::make_unique<nn::Adam>(model->parameters(), nn::AdamOptions{.lr = 1e-3});
    else
        opt = std::make_unique<nn::SGD>(model->parameters(), nn::SGDOptions{.lr = 0.01});

    // Every handle of the step's graph dies at the end of the step, so the tape rewinds to empty
    // (a handle kept across steps, e.g. the last loss, would make every backward walk all the
    // steps recorded since).
    auto step = [&](double* loss_value) {
        opt->zero_grad();
        const ad::Tensor out = (*model)(x);
        const ad::Tensor loss = c.mse ? nn::mse_loss(out, y) : nn::cross_entropy(out, y);
        if (loss_value) *loss_value = loss.item();
        loss.backward();
        opt->step();
    };
    Timing r;
    step(&r.first_loss);
    r.t = bench::time_per_call([&] { step(nullptr); }, reps, min_rep, warmup);
    step(&r.last_loss);
    return r;
}

// cblas_sgemm at the step's shapes: all 3 GEMMs per layer, and the GEMMs a step needs, with
// OpenBLAS's threads as set, on one thread, and as the engine runs them (ad::detail::gemm: large
// products in blocks over the engine's threads, each on one OpenBLAS thread).
struct SgemmTimes {
    double all_s, needed_s, needed_one_thread_s, needed_engine_s;
    double floor_s() const { return std::min({needed_s, needed_one_thread_s, needed_engine_s}); }
};
SgemmTimes time_sgemm(const Config& c, int reps, double min_rep, double warmup) {
    struct Layer {
        int in, out;
        std::vector<float> X, W, Y, G, dW, dX;
    };
    const int B = static_cast<int>(c.batch);
    ad::Rng rng(7);
    auto fill = [&](std::size_t n) {
        std::vector<float> v(n);
        for (float& e : v) e = static_cast<float>(rng.uniform(-1, 1));
        return v;
    };
    std::vector<Layer> layers;
    for (std::size_t l = 0; l + 1 < c.sizes.size(); ++l) {
        const int in = static_cast<int>(c.sizes[l]), out = static_cast<int>(c.sizes[l + 1]);
        const auto bi = static_cast<std::size_t>(B) * static_cast<std::size_t>(in);
        const auto bo = static_cast<std::size_t>(B) * static_cast<std::size_t>(out);
        const auto oi = static_cast<std::size_t>(out) * static_cast<std::size_t>(in);
        layers.push_back({in, out, fill(bi), fill(oi), std::vector<float>(bo), fill(bo), std::vector<float>(oi),
                          std::vector<float>(bi)});
    }
    bool engine = false;  // ad::detail::gemm instead of cblas_sgemm
    auto product = [&](bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* out,
                       int ldc) {
        if (engine) return ad::detail::gemm(ta, tb, m, n, k, a, lda, b, ldb, 0.0f, out, ldc);
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda,
                    b, ldb, 0.0f, out, ldc);
    };
    auto run = [&](bool all) {
        for (std::size_t l = 0; l < layers.size(); ++l) {
            Layer& L = layers[l];
            product(false, true, B, L.out, L.in, L.X.data(), L.in, L.W.data(), L.in, L.Y.data(), L.out);  // Y = X·Wᵀ
            product(true, false, L.out, L.in, B, L.G.data(), L.out, L.X.data(), L.in, L.dW.data(), L.in);  // dW = Gᵀ·X
            if (all || l > 0)  // dX[B,in] = G·W
                product(false, false, B, L.in, L.out, L.G.data(), L.out, L.W.data(), L.in, L.dX.data(), L.in);
        }
    };
    const double all = bench::time_per_call([&] { run(true); }, reps, min_rep, warmup).median_s;
    const double needed = bench::time_per_call([&] { run(false); }, reps, min_rep, warmup).median_s;
    const int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    const double one = bench::time_per_call([&] { run(false); }, reps, min_rep, warmup).median_s;
    openblas_set_num_threads(threads);
    engine = true;
    const double blocks = bench::time_per_call([&] { run(false); }, reps, min_rep, warmup).median_s;
    return {all, needed, one, blocks};
}

struct AnchorResult {
    std::optional<double> us;
    std::optional<int> blas_threads;
    std::string version;
};

// Runs an anchor for one config and reads its JSON line ({"config":..., key: µs, ...}).
AnchorResult run_anchor(const std::string& command, const std::string& config, const char* key) {
    AnchorResult r;
    const bench::CommandResult res = bench::run_lines(command);
    for (const std::string& line : res.lines) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || j.value("config", "") != config || !j.contains(key)) continue;
        if (j[key].is_number()) r.us = j[key].get<double>();
        if (j.contains("blas_threads") && j["blas_threads"].is_number_integer()) r.blas_threads = j["blas_threads"].get<int>();
        if (j.contains("torch_version") && j["torch_version"].is_string()) r.version = j["torch_version"].get<std::string>();
    }
    if (!res.ok || !r.us)
        fmt::print(stderr, "bench_mlp: anchor failed for {} (exit status {}), not run again: {}\n", config, res.status,
                   command);
    return r;
}

std::string num(std::optional<double> v, const char* f = "{:.4g}") {
    return v ? fmt::format(fmt::runtime(f), *v) : std::string("null");
}
std::string cell(std::optional<double> v, const char* f = "{:.1f}") {
    return v ? fmt::format(fmt::runtime(f), *v) : std::string("n/a");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"MLP training step: ours (nn library) vs PyTorch CPU vs libtorch vs OpenBLAS sgemm"};
    std::vector<std::string> which{"all"};
    int threads = 1, anchor_blas_threads = 0, anchor_threads = 0, reps = 5;
    double min_rep = 0.2, warmup = 0.1;
    bool quick = false, no_torch = false, no_libtorch = false;
    std::string malloc_policy = "tuned";
    std::string python = "/usr/bin/python3", torch_script = AD_BENCH_ANCHOR_SOURCE_DIR "/torch_mlp.py",
                libtorch = AD_BENCH_ANCHOR_BUILD_DIR "/libtorch_mlp";
    app.add_option("--config", which, "configs to run: all, or a comma list of tiny,small,fashion,large")
        ->delimiter(',')
        ->check(CLI::IsMember({"all", "tiny", "small", "fashion", "large"}));
    app.add_option("--threads", threads, "OpenBLAS threads for us; torch/libtorch --threads for the anchors")
        ->check(CLI::PositiveNumber);
    app.add_option("--anchor-blas-threads", anchor_blas_threads,
                   "OPENBLAS_NUM_THREADS of the anchors (default: the faster of 1 and --threads, per config)")
        ->check(CLI::PositiveNumber);
    app.add_option("--anchor-threads", anchor_threads,
                   "--threads passed to the anchors, i.e. torch.set_num_threads (default: 1, PyTorch's best on 2 cores, "
                   "where its own threads oversubscribe with OpenBLAS's)")
        ->check(CLI::PositiveNumber);
    app.add_option("--reps", reps, "timed repetitions (median reported)")->check(CLI::PositiveNumber);
    app.add_option("--min-rep-seconds", min_rep, "minimum duration of one repetition")->check(CLI::PositiveNumber);
    app.add_option("--warmup-seconds", warmup, "minimum warm-up duration")->check(CLI::NonNegativeNumber);
    app.add_option("--malloc", malloc_policy,
                   "tuned: glibc mmap threshold 32 MiB / trim 64 MiB for us and the anchors (a real training "
                   "process's steady state); default: glibc as it starts")
        ->check(CLI::IsMember({"tuned", "default"}));
    app.add_flag("--quick", quick, "smoke run: 3 repetitions of >= 0.05 s (overrides --reps, --min-rep-seconds)");
    app.add_option("--python", python, "interpreter that has torch (Debian's, not pyenv's)");
    app.add_option("--torch-script", torch_script, "path of bench/anchors/torch_mlp.py");
    app.add_option("--libtorch", libtorch, "path of the libtorch_mlp anchor executable");
    app.add_flag("--no-torch", no_torch, "skip the PyTorch anchor");
    app.add_flag("--no-libtorch", no_libtorch, "skip the libtorch anchor");
    CLI11_PARSE(app, argc, argv);
    if (quick) {
        reps = 3;
        min_rep = 0.05;
        warmup = 0.02;
    }
    // The anchors' settings to try: each anchor is reported at its fastest one, per config.
    if (anchor_threads == 0) anchor_threads = 1;
    std::vector<int> blas_settings{anchor_blas_threads};
    if (anchor_blas_threads == 0) blas_settings = threads == 1 ? std::vector<int>{1} : std::vector<int>{1, threads};
    openblas_set_num_threads(threads);

    std::vector<Config> run;
    for (const Config& c : configs())
        if (std::find(which.begin(), which.end(), "all") != which.end() ||
            std::find(which.begin(), which.end(), c.name) != which.end())
            run.push_back(c);

    namespace fs = std::filesystem;
    // An anchor that fails once (e.g. an interpreter without torch) is not run again.
    bool have_torch = !no_torch && fs::exists(python) && fs::exists(torch_script);
    bool have_libtorch = !no_libtorch && fs::exists(libtorch);
    if (!no_torch && !have_torch) fmt::print("PyTorch anchor not available ({} or {} missing): torch_us null\n", python, torch_script);
    if (!no_libtorch && !have_libtorch) fmt::print("libtorch anchor not built ({} missing): libtorch_us null\n", libtorch);
    const std::string anchor_args = fmt::format("--threads {} --reps {} --min-rep-seconds {}", anchor_threads, reps, min_rep);
    std::string env;
    const bool tuned = malloc_policy == "tuned";
    if (tuned) {
        env += fmt::format("GLIBC_TUNABLES=glibc.malloc.mmap_threshold={}:glibc.malloc.trim_threshold={} ",
                           kMmapThreshold, kTrimThreshold);
#if defined(__GLIBC__)
        mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
        mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
#endif
    }

    fmt::print("MLP training step (zero_grad + forward + loss + backward + step), float32; median of {} reps of >= {} s\n",
               reps, min_rep);
    fmt::print("threads: ours OpenBLAS {} (openblas_get_num_threads() = {}); anchors torch.set_num_threads({}), "
               "OPENBLAS_NUM_THREADS={} (each anchor reported at its fastest; the pt/lt blas columns say which)\n",
               threads, openblas_get_num_threads(), anchor_threads, fmt::join(blas_settings, " or "));
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    const ad::BlasKernels kernels = ad::blas_kernels();
    fmt::print("OpenBLAS kernels: {} ({}; the CPU's widest: {})\n", kernels.in_use,
               coretype ? fmt::format("OPENBLAS_CORETYPE={}, for us and the anchors", coretype)
                        : std::string("OpenBLAS's own detection, OPENBLAS_CORETYPE unset"),
               kernels.best);
    if (const std::string advice = kernels.advice(); !advice.empty()) fmt::print("note: {}\n", advice);
    fmt::print("malloc: {}\n", tuned ? fmt::format("glibc mmap threshold {} MiB, trim threshold {} MiB for all (--malloc tuned)",
                                                   kMmapThreshold >> 20, kTrimThreshold >> 20)
                                     : std::string("glibc defaults (--malloc default)"));
    fmt::print("{:<8} {:<32} {:>10} {:>10} {:>11} {:>8} {:>8} {:>8} {:>9} {:>10} {:>11}\n", "config", "shape", "ours µs", "torch µs",
               "libtorch µs", "ours/pt", "ours GF", "pt GF", "sgemm GF", "floor µs", "pt/lt blas");

    std::vector<std::string> json;
    std::string torch_version;
    for (const Config& c : run) {
        const Timing ours = time_ours(c, reps, min_rep, warmup);
        if (!std::isfinite(ours.first_loss) || !std::isfinite(ours.last_loss)) {
            fmt::print(stderr, "bench_mlp: {}: non-finite loss ({} -> {})\n", c.name, ours.first_loss, ours.last_loss);
            return 1;
        }
        const SgemmTimes sgemm = time_sgemm(c, reps, min_rep, warmup);
        const double sgemm_s = sgemm.all_s, floor_s = sgemm.floor_s();
        AnchorResult pt, lt;
        // Runs one anchor at every BLAS setting; keeps the fastest (and which it was).
        auto best_of = [&](bool& have, const std::string& command, const char* key) {
            AnchorResult best;
            for (int b : blas_settings) {
                if (!have) break;
                AnchorResult r = run_anchor(fmt::format("OPENBLAS_NUM_THREADS={} ", b) + env + command, c.name, key);
                have = r.us.has_value();
                if (r.us && (!best.us || *r.us < *best.us)) {
                    best = r;
                    best.blas_threads = b;
                }
            }
            return best;
        };
        if (have_torch) {
            pt = best_of(have_torch,
                         bench::shell_quote(python) + " " + bench::shell_quote(torch_script) + " --config " + c.name + " " +
                             anchor_args,
                         "torch_us");
            if (!pt.version.empty()) torch_version = pt.version;
        }
        if (have_libtorch)
            lt = best_of(have_libtorch, bench::shell_quote(libtorch) + " --config " + c.name + " " + anchor_args, "libtorch_us");
        auto blas_of = [](const AnchorResult& r) { return r.blas_threads ? fmt::format("{}", *r.blas_threads) : std::string("-"); };
        const std::string blas_cell = blas_of(pt) + "/" + blas_of(lt);

        const double flops = step_flops(c);
        const double ours_us = ours.t.median_s * 1e6;
        auto gflops = [&](std::optional<double> us) -> std::optional<double> {
            if (!us || *us <= 0) return std::nullopt;
            return flops / (*us * 1e-6) / 1e9;
        };
        auto ratio = [&](std::optional<double> us) -> std::optional<double> {
            if (!us || *us <= 0) return std::nullopt;
            return ours_us / *us;
        };
        const double sgemm_gflops = flops / sgemm_s / 1e9;
        fmt::print("{:<8} {:<32} {:>10.1f} {:>10} {:>11} {:>8} {:>8.2f} {:>8} {:>9.2f} {:>10.1f} {:>11}\n", c.name, describe(c),
                   ours_us, cell(pt.us), cell(lt.us), cell(ratio(pt.us), "{:.2f}"), *gflops(ours_us),
                   cell(gflops(pt.us), "{:.2f}"), sgemm_gflops, floor_s * 1e6, blas_cell);
        std::fflush(stdout);
        json.push_back(fmt::format(
            "{{\"bench\":\"mlp_step\",\"config\":\"{}\",\"ours_us\":{:.2f},\"torch_us\":{},\"libtorch_us\":{},"
            "\"sgemm_gflops\":{:.4g},\"ours_gflops\":{:.4g},\"torch_gflops\":{},\"ratio_torch\":{},\"ratio_libtorch\":{},"
            "\"sgemm_us\":{:.2f},\"gemm_floor_us\":{:.2f},\"gemm_floor_threads_us\":{:.2f},\"gemm_floor_one_thread_us\":{:.2f},\"gemm_floor_engine_us\":{:.2f},\"batch\":{},\"sizes\":[{}],\"flops\":{:.6g},\"threads\":{},"
            "\"openblas_coretype\":{},\"openblas_core\":\"{}\",\"anchor_threads\":{},\"torch_blas_threads\":{},\"libtorch_blas_threads\":{},\"malloc\":\"{}\",\"reps\":{},\"first_loss\":{:.6g},\"last_loss\":{:.6g}}}",
            c.name, ours_us, num(pt.us, "{:.2f}"), num(lt.us, "{:.2f}"), sgemm_gflops, *gflops(ours_us), num(gflops(pt.us)),
            num(ratio(pt.us), "{:.4g}"), num(ratio(lt.us), "{:.4g}"), sgemm_s * 1e6, floor_s * 1e6, sgemm.needed_s * 1e6, sgemm.needed_one_thread_s * 1e6,
            sgemm.needed_engine_s * 1e6, c.batch,
            fmt::join(c.sizes, ","), flops, threads, coretype ? fmt::format("\"{}\"", coretype) : "null", kernels.in_use, anchor_threads,
            pt.blas_threads ? fmt::format("{}", *pt.blas_threads) : "null",
            lt.blas_threads ? fmt::format("{}", *lt.blas_threads) : "null", malloc_policy, reps, ours.first_loss, ours.last_loss));
    }
    fmt::print("ours/pt > 1: slower than PyTorch. GF = 6·batch·Σ in·out per step / time. sgemm GF: the 3 GEMMs per layer "
               "alone (cblas_sgemm); floor µs: the GEMMs a step needs (first layer's dX skipped), the fastest of OpenBLAS's threads "
               "as set, one thread, and the engine's blocks (ad::detail::gemm).\n");
    if (!torch_version.empty()) fmt::print("PyTorch {}\n", torch_version);
    for (const std::string& j : json) fmt::print("JSON {}\n", j);
    return 0;
}
