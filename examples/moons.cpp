// Two moons, micrograd's second demo: a 2-16-16-1 ReLU MLP separates two interleaved half
// circles, and the decision boundary is drawn with the data.
//
//   moons [--samples 200] [--steps 300] [--noise 0.1] [--seed 0] [--out results/moons]
//
// Writes <out>/moons.svg: the model's P(class 1) over the plane as a heat map, the 0.5 contour
// and the training points. Exits 1 if the training accuracy stays below 95%.
#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <numbers>

namespace nn = ad::nn;

int main(int argc, char** argv) {
    CLI::App app{"Two moons: an MLP decision boundary"};
    int samples = 200, steps = 300;
    double noise = 0.1, lr = 0.01;
    std::uint64_t seed = 0;
    std::string out = "results/moons";
    app.add_option("--samples", samples, "data points")->check(CLI::PositiveNumber);
    app.add_option("--steps", steps, "Adam steps (full batch)")->check(CLI::PositiveNumber);
    app.add_option("--noise", noise, "Gaussian noise of the points");
    app.add_option("--lr", lr, "learning rate");
    app.add_option("--seed", seed, "seed of the data and the initialisation");
    app.add_option("--out", out, "output folder");
    CLI11_PARSE(app, argc, argv);

    // The data: sklearn's make_moons, with ad::Rng.
    ad::Rng rng(seed);
    std::vector<double> xs, labels;
    for (int i = 0; i < samples; ++i) {
        const int c = i % 2;
        const double t = std::numbers::pi * rng.uniform();
        const double px = c == 0 ? std::cos(t) : 1.0 - std::cos(t);
        const double py = c == 0 ? std::sin(t) : 0.5 - std::sin(t);
        xs.push_back(px + noise * rng.normal());
        xs.push_back(py + noise * rng.normal());
        labels.push_back(c);
    }
    const ad::Tensor x = ad::Tensor::from_data(std::span<const double>(xs), ad::Shape{samples, 2}).to(ad::f32);
    const ad::Tensor y = ad::Tensor::from_data(std::span<const double>(labels), ad::Shape{samples}).to(ad::f32);

    auto model = nn::MLP({2, 16, 16, 1}, nn::Activation::ReLU, {.seed = seed});
    nn::Adam opt(model->parameters(), {.lr = lr});
    for (int step = 1; step <= steps; ++step) {
        opt.zero_grad();
        ad::Tensor loss = nn::binary_cross_entropy_with_logits(ad::reshape((*model)(x), ad::Shape{samples}), y);
        loss.backward();
        opt.step();
        if (step % 50 == 0 || step == steps) fmt::print("step {:4}: loss {:.4f}\n", step, loss.item());
    }

    // Accuracy and the decision boundary on a 100×100 grid.
    ad::NoGrad ng;
    const ad::Tensor p = ad::sigmoid(ad::reshape((*model)(x), ad::Shape{samples}));
    int correct = 0;
    for (int i = 0; i < samples; ++i) correct += (p.at({i}) > 0.5) == (labels[static_cast<std::size_t>(i)] == 1);
    const double accuracy = static_cast<double>(correct) / samples;

    nn::DecisionBoundaryChart chart{.title = fmt::format("Two moons: MLP 2-16-16-1, training accuracy {:.1f}%", 100 * accuracy),
                                    .nx = 100, .ny = 100, .x_min = -1.6, .x_max = 2.6, .y_min = -1.2, .y_max = 1.7};
    std::vector<double> grid;
    for (std::size_t iy = 0; iy < chart.ny; ++iy)
        for (std::size_t ix = 0; ix < chart.nx; ++ix) {
            grid.push_back(chart.x_min + (chart.x_max - chart.x_min) * (static_cast<double>(ix) + 0.5) / static_cast<double>(chart.nx));
            grid.push_back(chart.y_min + (chart.y_max - chart.y_min) * (static_cast<double>(iy) + 0.5) / static_cast<double>(chart.ny));
        }
    const auto n = static_cast<std::int64_t>(chart.nx * chart.ny);
    const ad::Tensor g = ad::Tensor::from_data(std::span<const double>(grid), ad::Shape{n, 2}).to(ad::f32);
    chart.probability = ad::sigmoid((*model)(g)).to_vector();
    for (int i = 0; i < samples; ++i) {
        chart.px.push_back(xs[2 * static_cast<std::size_t>(i)]);
        chart.py.push_back(xs[2 * static_cast<std::size_t>(i) + 1]);
        chart.labels.push_back(static_cast<std::int64_t>(labels[static_cast<std::size_t>(i)]));
    }
    std::filesystem::create_directories(out);
    nn::write_text_file(out + "/moons.svg", nn::decision_boundary_chart(chart));
    fmt::print("training accuracy {:.3f}; wrote {}/moons.svg\n", accuracy, out);
    return accuracy >= 0.95 ? 0 : 1;
}
