// libtorch (C++) anchor: time one MLP training step (zero_grad + forward + loss + backward +
// optimizer step) on fixed, seeded random data; the same configs as torch_mlp.py:
//   tiny     2-16-16-1        batch  32  MSE loss       SGD  lr 0.01
//   small    64-128-64-10     batch  64  cross-entropy  SGD  lr 0.01
//   fashion  784-256-128-10   batch 128  cross-entropy  Adam lr 1e-3
//   large    784-1024-1024-10 batch 512  cross-entropy  SGD  lr 0.01
// float32, ReLU between layers, libtorch's default Linear init.
//
//   libtorch_mlp [--config NAME|all] [--threads N] [--reps R] [--min-rep-seconds S]
//
// Warm up, then time R (default 5) repetitions of a block of steps sized so that one repetition
// lasts >= S (default 0.2) seconds; print the median microseconds per step, one JSON line each:
//   {"config":"tiny","libtorch_us":21.4,"threads":1}
// "threads" is torch::set_num_threads; GEMMs run in OpenBLAS, whose thread count is set by the
// environment variable OPENBLAS_NUM_THREADS (default: all cores). Exit code 2 on bad usage.
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

// One benchmark configuration (mirrors CONFIGS in torch_mlp.py).
struct Config {
    const char* name;
    std::vector<int64_t> sizes;
    int64_t batch;
    bool mse;   // MSE loss on random targets, else cross-entropy on random labels
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

// Model, data and optimizer of one config; step() runs one training step.
struct Bench {
    torch::nn::Sequential model;
    torch::Tensor x, y;
    std::unique_ptr<torch::optim::Optimizer> opt;
    bool mse = false;

    explicit Bench(const Config& c) : mse(c.mse) {
        torch::manual_seed(0);
        for (std::size_t i = 0; i + 1 < c.sizes.size(); ++i) {
            model->push_back(torch::nn::Linear(c.sizes[i], c.sizes[i + 1]));
            if (i + 2 < c.sizes.size()) model->push_back(torch::nn::ReLU());
        }
        x = torch::randn({c.batch, c.sizes.front()});
        y = c.mse ? torch::randn({c.batch, c.sizes.back()})
                  : torch::randint(0, c.sizes.back(), {c.batch}, torch::kLong);
        if (c.adam) {
            opt = std::make_unique<torch::optim::Adam>(model->parameters(),
                                                       torch::optim::AdamOptions(1e-3));
        } else {
            opt = std::make_unique<torch::optim::SGD>(model->parameters(),
                                                      torch::optim::SGDOptions(0.01));
        }
    }

    void step() {
        opt->zero_grad();
        const torch::Tensor out = model->forward(x);
        const torch::Tensor loss =
            mse ? torch::nn::functional::mse_loss(out, y)
                : torch::nn::functional::cross_entropy(out, y);
        loss.backward();
        opt->step();
    }
};

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Median microseconds per training step.
double time_config(const Config& c, int reps, double min_rep_seconds) {
    Bench b(c);
    const double warmup_seconds = 0.1;
    double t0 = now_seconds();
    long n = 0;
    while (n < 3 || now_seconds() - t0 < warmup_seconds) {
        b.step();
        ++n;
    }
    const double per_step = (now_seconds() - t0) / static_cast<double>(n);
    long block = std::max(1L, static_cast<long>(min_rep_seconds / per_step) + 1);
    std::vector<double> samples;
    while (static_cast<int>(samples.size()) < reps) {
        t0 = now_seconds();
        for (long i = 0; i < block; ++i) b.step();
        const double elapsed = now_seconds() - t0;
        if (elapsed < min_rep_seconds) {  // warm-up estimate was pessimistic: grow, discard
            block = std::max(block + 1,
                             static_cast<long>(static_cast<double>(block) * min_rep_seconds / elapsed) + 1);
            continue;
        }
        samples.push_back(elapsed / static_cast<double>(block) * 1e6);
    }
    std::sort(samples.begin(), samples.end());
    const std::size_t m = samples.size() / 2;
    return samples.size() % 2 == 1 ? samples[m] : 0.5 * (samples[m - 1] + samples[m]);
}

int usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--config tiny|small|fashion|large|all] [--threads N] [--reps R] "
                 "[--min-rep-seconds S]\n",
                 argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string which = "all";
    int threads = 1, reps = 5;
    double min_rep_seconds = 0.2;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return usage(argv[0]);
        if (a == "--config") {
            which = argv[++i];
        } else if (a == "--threads") {
            threads = std::atoi(argv[++i]);
        } else if (a == "--reps") {
            reps = std::atoi(argv[++i]);
        } else if (a == "--min-rep-seconds") {
            min_rep_seconds = std::strtod(argv[++i], nullptr);
        } else {
            return usage(argv[0]);
        }
    }
    const bool known = which == "all" || std::any_of(configs().begin(), configs().end(),
                                                     [&](const Config& c) { return which == c.name; });
    if (!known || threads < 1 || reps < 1 || !(min_rep_seconds > 0.0)) return usage(argv[0]);

    torch::set_num_threads(threads);
    try {
        for (const Config& c : configs()) {
            if (which != "all" && which != c.name) continue;
            const double us = time_config(c, reps, min_rep_seconds);
            std::printf("{\"config\":\"%s\",\"libtorch_us\":%.3f,\"threads\":%d}\n", c.name, us,
                        torch::get_num_threads());
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "libtorch_mlp: %s\n", e.what());
        return 1;
    }
    return 0;
}
