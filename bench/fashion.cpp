// Fashion-MNIST end to end: a 784-256-128-10 ReLU MLP (PyTorch's default Linear init), Adam lr 1e-3,
// batch 128, cross-entropy, the training set shuffled every epoch with a fixed seed, trained with
// nn::fit for --epochs epochs; against PyTorch CPU doing the same (bench/anchors/torch_fashion.py,
// run by /usr/bin/python3 as a subprocess).
//
//   bench_fashion [--epochs 10] [--threads 1] [--seed 0] [--data DIR] [--anchor-threads 1] [--anchor-blas-threads 1]
//                 [--no-torch]
//
// Reports the training seconds (the epochs' training loops: batch assembly, forward, loss, backward,
// step; without data loading and evaluation, as the anchor), the test accuracy after the last
// epoch, and the peak RSS of the process (ours: VmHWM from /proc/self/status; torch: ru_maxrss).
// Prints a table and one line starting with "JSON " (as bench_scalar):
//   JSON {"bench":"fashion_e2e","ours_s":…,"ours_acc":…,"ours_rss_mb":…,"torch_s":…,"torch_acc":…,"torch_rss_mb":…}
// When the data set is missing it says so and reports nulls (exit status 0).
// Threads: --threads N calls openblas_set_num_threads(N) for us; the anchor gets
// torch.set_num_threads(--anchor-threads) and OPENBLAS_NUM_THREADS=--anchor-blas-threads, both 1 by
// default: PyTorch's best setting on 2 cores, where its threads oversubscribe with OpenBLAS's.
#include <autodiff/autodiff.hpp>
#include <bench/timing.hpp>
#include <nn/nn.hpp>

#include <CLI/CLI.hpp>
#include <cblas.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

#ifndef AD_BENCH_ANCHOR_SOURCE_DIR
#define AD_BENCH_ANCHOR_SOURCE_DIR "bench/anchors"
#endif

namespace nn = ad::nn;

namespace {

struct Side {
    std::optional<double> seconds, accuracy, rss_mb;
    std::optional<int> blas_threads;
};

std::string num(std::optional<double> v, const char* f = "{:.4g}") {
    return v ? fmt::format(fmt::runtime(f), *v) : std::string("null");
}
std::string cell(std::optional<double> v, const char* f = "{:.2f}") {
    return v ? fmt::format(fmt::runtime(f), *v) : std::string("n/a");
}

Side run_ours(const std::string& dir, int epochs, std::int64_t batch, std::uint64_t seed, double& load_s) {
    Side r;
    const double t_load = bench::now_seconds();
    const nn::FashionMnist fm = nn::load_fashion_mnist(dir);
    load_s = bench::now_seconds() - t_load;
    auto model = nn::MLP({784, 256, 128, 10}, nn::Activation::ReLU, {.seed = seed});
    nn::Adam opt(model->parameters(), {.lr = 1e-3});
    nn::DataLoader train(fm.train, {.batch_size = batch, .shuffle = true, .seed = seed});
    nn::DataLoader test(fm.test, {.batch_size = 1000});
    double train_s = 0;
    const nn::History h = nn::fit(*model, opt, train,
                                  {.epochs = epochs,
                                   .loss = [](const ad::Tensor& logits, const ad::Tensor& labels) {
                                       return nn::cross_entropy(logits, labels);
                                   },
                                   .progress = false,
                                   .on_epoch = [&](nn::EpochStats& s) {
                                       train_s += s.seconds;
                                       fmt::print("  ours epoch {:2}: train loss {:.4f}  {:.2f} s\n", s.epoch,
                                                  s.train_loss, s.seconds);
                                       std::fflush(stdout);
                                   }});
    const nn::EvalResult e = nn::evaluate(*model, test);
    r.seconds = train_s;
    r.accuracy = e.accuracy;
    r.rss_mb = bench::peak_rss_mb();
    return r;
}

Side run_torch(const std::string& command) {
    Side r;
    const bench::CommandResult res = bench::run_lines(command);
    for (const std::string& line : res.lines) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("torch_s")) continue;
        auto get = [&](const char* k) -> std::optional<double> {
            if (j.contains(k) && j[k].is_number()) return j[k].get<double>();
            return std::nullopt;
        };
        r.seconds = get("torch_s");
        r.accuracy = get("torch_acc");
        r.rss_mb = get("torch_rss_mb");
        if (j.contains("blas_threads") && j["blas_threads"].is_number_integer()) r.blas_threads = j["blas_threads"].get<int>();
    }
    if (!res.ok || !r.seconds) fmt::print(stderr, "bench_fashion: the PyTorch anchor failed (exit status {}): {}\n", res.status, command);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Fashion-MNIST end to end: ours (nn::fit) vs PyTorch CPU"};
    int epochs = 10, threads = 1, anchor_threads = 1, anchor_blas_threads = 1;
    std::int64_t batch = 128;
    std::uint64_t seed = 0;
    bool no_torch = false;
    std::string dir = nn::fashion_mnist_default_dir, python = "/usr/bin/python3",
                torch_script = AD_BENCH_ANCHOR_SOURCE_DIR "/torch_fashion.py";
    app.add_option("--epochs", epochs, "training epochs")->check(CLI::PositiveNumber);
    app.add_option("--threads", threads, "OpenBLAS threads for us")
        ->check(CLI::PositiveNumber);
    app.add_option("--anchor-threads", anchor_threads, "torch.set_num_threads of the anchor")
        ->check(CLI::PositiveNumber);
    app.add_option("--anchor-blas-threads", anchor_blas_threads, "OPENBLAS_NUM_THREADS of the anchor")
        ->check(CLI::PositiveNumber);
    app.add_option("--batch", batch, "mini-batch size")->check(CLI::PositiveNumber);
    app.add_option("--seed", seed, "seed of the initialisation and the shuffling");
    app.add_option("--data", dir, "folder with the Fashion-MNIST IDX files");
    app.add_option("--python", python, "interpreter that has torch (Debian's, not pyenv's)");
    app.add_option("--torch-script", torch_script, "path of bench/anchors/torch_fashion.py");
    app.add_flag("--no-torch", no_torch, "skip the PyTorch anchor");
    CLI11_PARSE(app, argc, argv);
    openblas_set_num_threads(threads);

    fmt::print("Fashion-MNIST end to end: 784-256-128-10 ReLU, Adam 1e-3, batch {}, {} epoch{}, seed {}\n", batch, epochs,
               epochs == 1 ? "" : "s", seed);
    fmt::print("threads: ours OpenBLAS {} (openblas_get_num_threads() = {}); PyTorch torch.set_num_threads({}), "
               "OPENBLAS_NUM_THREADS={}\n",
               threads, openblas_get_num_threads(), anchor_threads, anchor_blas_threads);
    const ad::BlasKernels kernels = ad::blas_kernels();
    fmt::print("OpenBLAS kernels: {} ({}, for us and PyTorch; the CPU's widest: {})\n", kernels.in_use,
               kernels.forced ? "OPENBLAS_CORETYPE set" : "OpenBLAS's own detection", kernels.best);

    Side ours, pt;
    const bool have_data = nn::fashion_mnist_available(dir);
    double load_s = 0;
    if (!have_data) {
        fmt::print("Fashion-MNIST not found in {} (install the Debian package dataset-fashion-mnist): "
                   "reporting nulls\n",
                   dir);
    } else {
        try {
            ours = run_ours(dir, epochs, batch, seed, load_s);
        } catch (const std::exception& e) {
            fmt::print(stderr, "bench_fashion: our run failed: {}\n", e.what());
            return 1;
        }
    }
    namespace fs = std::filesystem;
    if (no_torch) {
        // nothing
    } else if (!have_data) {
        fmt::print("PyTorch anchor skipped (no data)\n");
    } else if (!fs::exists(python) || !fs::exists(torch_script)) {
        fmt::print("PyTorch anchor not available ({} or {} missing): torch null\n", python, torch_script);
    } else {
        pt = run_torch(fmt::format("OPENBLAS_NUM_THREADS={} {} {} --epochs {} --threads {} --batch {} --seed {} --data-dir {}",
                                   anchor_blas_threads, bench::shell_quote(python), bench::shell_quote(torch_script), epochs,
                                   anchor_threads, batch, seed, bench::shell_quote(dir)));
    }

    fmt::print("{:<8} {:>10} {:>10} {:>12} {:>12}\n", "", "train s", "test acc", "peak RSS MB", "s/epoch");
    auto row = [&](const char* who, const Side& s) {
        fmt::print("{:<8} {:>10} {:>10} {:>12} {:>12}\n", who, cell(s.seconds), cell(s.accuracy, "{:.4f}"),
                   cell(s.rss_mb, "{:.1f}"), cell(s.seconds ? std::optional<double>(*s.seconds / epochs) : std::nullopt, "{:.3f}"));
    };
    row("ours", ours);
    row("pytorch", pt);
    if (ours.seconds && pt.seconds && *pt.seconds > 0)
        fmt::print("ours/pytorch time: {:.2f}x (data loading {:.2f} s, not counted)\n", *ours.seconds / *pt.seconds, load_s);
    if (pt.blas_threads) fmt::print("PyTorch reported OpenBLAS threads: {}\n", *pt.blas_threads);
    fmt::print("JSON {{\"bench\":\"fashion_e2e\",\"ours_s\":{},\"ours_acc\":{},\"ours_rss_mb\":{},\"torch_s\":{},"
               "\"torch_acc\":{},\"torch_rss_mb\":{},\"epochs\":{},\"batch\":{},\"threads\":{},\"anchor_threads\":{},\"anchor_blas_threads\":{},"
               "\"ratio_torch\":{},\"data\":{},\"openblas_core\":\"{}\"}}\n",
               num(ours.seconds), num(ours.accuracy), num(ours.rss_mb, "{:.1f}"), num(pt.seconds), num(pt.accuracy),
               num(pt.rss_mb, "{:.1f}"), epochs, batch, threads, anchor_threads, anchor_blas_threads,
               ours.seconds && pt.seconds && *pt.seconds > 0 ? fmt::format("{:.4g}", *ours.seconds / *pt.seconds) : "null",
               have_data ? "true" : "false", kernels.in_use);
    return 0;
}
