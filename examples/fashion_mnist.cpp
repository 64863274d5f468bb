// The main job: train an MLP on Fashion-MNIST through the graph API.
//
//   fashion_mnist [--epochs 20] [--batch-size 256] [--lr 2e-3] [--hidden 256,128] [--optimizer adamw]
//                 [--seed 0] [--threads 2] [--out results/fashion_mnist] [--save FILE] [--load FILE]
//
// Reads Debian's dataset-fashion-mnist (IDX .gz files under /usr/share/datasets/fashion-mnist/);
// when they are missing it says so and trains on a synthetic data set instead. Writes the
// per-epoch history (CSV), the loss/accuracy curves (SVG) and the confusion matrix (SVG) into
// --out. The last line printed is "test accuracy: 0.XXXX".
#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

#include <CLI/CLI.hpp>
#include <cblas.h>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>

namespace nn = ad::nn;

int main(int argc, char** argv) {
    CLI::App app{"Train an MLP on Fashion-MNIST with the autodiff engine"};
    int epochs = 20, batch = 256, threads = 2;
    double lr = 2e-3, weight_decay = 1e-4;
    std::vector<std::int64_t> hidden{256, 128};
    std::string optimizer = "adamw", out = "results/fashion_mnist", save, load, data_dir = nn::fashion_mnist_default_dir;
    std::uint64_t seed = 0;
    std::int64_t limit = 0;
    bool synthetic = false;
    app.add_option("--epochs", epochs, "training epochs")->check(CLI::PositiveNumber);
    app.add_option("--batch-size", batch, "mini-batch size")->check(CLI::PositiveNumber);
    app.add_option("--lr", lr, "peak learning rate (cosine-annealed to 0 over the run)")->check(CLI::PositiveNumber);
    app.add_option("--weight-decay", weight_decay, "weight decay (AdamW, SGD)");
    app.add_option("--hidden", hidden, "hidden layer sizes")->delimiter(',');
    app.add_option("--optimizer", optimizer, "adamw, adam or sgd")->check(CLI::IsMember({"adamw", "adam", "sgd"}));
    app.add_option("--seed", seed, "seed of the initialisation and the shuffling");
    app.add_option("--threads", threads, "OpenBLAS threads")->check(CLI::PositiveNumber);
    app.add_option("--out", out, "output folder for history.csv, curves.svg, confusion.svg");
    app.add_option("--save", save, "write a checkpoint (safetensors) after training");
    app.add_option("--load", load, "start from a checkpoint");
    app.add_option("--data", data_dir, "folder with the Fashion-MNIST IDX files");
    app.add_option("--limit", limit, "use only the first N training images (quick runs)");
    app.add_flag("--synthetic", synthetic, "train on the built-in synthetic data set");
    CLI11_PARSE(app, argc, argv);
    openblas_set_num_threads(threads);
    // Debian's OpenBLAS may pick kernels narrower than this CPU runs (autodiff/blas_kernels.hpp).
    if (const std::string advice = ad::blas_kernels().advice(); !advice.empty()) fmt::print(stderr, "note: {}\n", advice);

    // ---- data -------------------------------------------------------------------------------
    std::shared_ptr<const nn::Dataset> train, test;
    std::vector<std::string> class_names;
    std::int64_t features = 784, classes = 10;
    if (!synthetic && nn::fashion_mnist_available(data_dir)) {
        auto fm = nn::load_fashion_mnist(data_dir);
        train = fm.train;
        test = fm.test;
        class_names = fm.class_names;
        fmt::print("Fashion-MNIST from {}: {} training and {} test images\n", data_dir, train->size(), test->size());
    } else {
        if (!synthetic)
            fmt::print("Fashion-MNIST not found in {} (install the Debian package dataset-fashion-mnist);\n"
                       "training on a synthetic data set instead.\n",
                       data_dir);
        features = 64;
        train = nn::synthetic_classification(20000, features, classes, seed + 1);
        test = nn::synthetic_classification(4000, features, classes, seed + 2);
        for (int k = 0; k < classes; ++k) class_names.push_back(fmt::format("class {}", k));
        fmt::print("synthetic data: {} training and {} test samples of {} features\n", train->size(), test->size(), features);
    }
    if (limit > 0 && limit < train->size()) train = std::make_shared<nn::Subset>(train, limit);

    // ---- model ------------------------------------------------------------------------------
    std::vector<std::int64_t> sizes{features};
    sizes.insert(sizes.end(), hidden.begin(), hidden.end());
    sizes.push_back(classes);
    auto model = nn::MLP(sizes, nn::Activation::ReLU, {.seed = seed});
    fmt::print("{}\n{} parameters\n", *model, model->parameter_count());

    std::unique_ptr<nn::Optimizer> opt;
    if (optimizer == "adamw")
        opt = std::make_unique<nn::AdamW>(model->parameters(), nn::AdamWOptions{.lr = lr, .weight_decay = weight_decay});
    else if (optimizer == "adam")
        opt = std::make_unique<nn::Adam>(model->parameters(), nn::AdamOptions{.lr = lr});
    else
        opt = std::make_unique<nn::SGD>(model->parameters(),
                                        nn::SGDOptions{.lr = lr, .momentum = 0.9, .weight_decay = weight_decay, .nesterov = true});
    if (!load.empty()) {
        nn::load_checkpoint(load, *model, opt.get());
        fmt::print("loaded {}\n", load);
    }

    nn::DataLoader train_loader(train, {.batch_size = batch, .shuffle = true, .seed = seed});
    nn::DataLoader test_loader(test, {.batch_size = 1000, .shuffle = false});
    nn::CosineAnnealingLR schedule(*opt, {.T_max = std::max<std::int64_t>(1, epochs * train_loader.num_batches())});

    // ---- train ------------------------------------------------------------------------------
    const auto t0 = std::chrono::steady_clock::now();
    nn::History history = nn::fit(*model, *opt, train_loader,
                                  {.epochs = epochs,
                                   .loss = [](const ad::Tensor& logits, const ad::Tensor& labels) {
                                       return nn::cross_entropy(logits, labels);
                                   },
                                   .eval = &test_loader,
                                   .schedule = &schedule,
                                   .schedule_per_batch = true,
                                   .on_epoch = [](nn::EpochStats& s) {
                                       fmt::print("epoch {:2}: train loss {:.4f}  test loss {:.4f}  test accuracy {:.4f}  "
                                                  "({:.1f} s, {:.0f} samples/s)\n",
                                                  s.epoch, s.train_loss, s.test_loss.value_or(NAN),
                                                  s.test_acc.value_or(NAN), s.seconds, s.samples_per_s);
                                   }});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // ---- report -----------------------------------------------------------------------------
    nn::ConfusionMatrix cm(classes);
    {
        ad::NoGrad ng;
        model->eval();
        for (const nn::Batch& b : test_loader) cm.update((*model)(b.features), b.labels);
    }
    std::filesystem::create_directories(out);
    history.write_csv(out + "/history.csv");
    history.write_svg(out + "/curves.svg", {.title = "Fashion-MNIST: MLP " + fmt::format("{}", fmt::join(sizes, "-"))});
    nn::write_text_file(out + "/confusion.svg", cm.to_svg(class_names, "Fashion-MNIST test set"));
    if (!save.empty()) {
        nn::save_checkpoint(save, *model, opt.get(), {{"example", "fashion_mnist"}});
        fmt::print("saved {}\n", save);
    }
    fmt::print("training time {:.1f} s; wrote {}/history.csv, curves.svg, confusion.svg\n", seconds, out);
    fmt::print("test accuracy: {:.4f}\n", cm.accuracy());
    return 0;
}
