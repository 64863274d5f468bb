// The notes' δ rules against the engine, on the small network of the lecture: 3-4-2 with
// sigmoid units and the ½-squared error, a batch of two samples.
//
//   delta_rules [--seed 0] [--out results/delta_rules] [--svg]
//
// Computes ∂L_T/∂W^l and ∂L_T/∂b^l three ways — the engine (nn::Linear + backward), the δ rules
// by hand (nn/delta_rules.hpp) and central finite differences of the hand forward pass — prints
// them side by side per layer with the largest differences, and writes the graph the engine
// recorded as <out>/delta_rules.dot (and .svg with --svg, when Graphviz is installed).
// Exits 0 when the three agree (relative error ≤ 1e-9 engine vs δ rules, ≤ 1e-6 vs finite
// differences), 1 otherwise.
#include <autodiff/autodiff.hpp>
#include <nn/delta_rules.hpp>
#include <nn/linear.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

namespace delta = ad::nn::delta;

namespace {

// ‖g − r‖∞ / max(‖r‖∞, 1e-10): the error measure of tests/test_delta_rules.cpp.
double rel_err(std::span<const double> g, std::span<const double> r) {
    double diff = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        diff = std::max(diff, std::abs(g[i] - r[i]));
        scale = std::max(scale, std::abs(r[i]));
    }
    return diff / std::max(scale, 1e-10);
}

// Prints one parameter's three gradients, entry by entry; returns {engine vs δ, δ vs FD} errors.
std::pair<double, double> print_gradients(const std::string& name, std::int64_t cols, std::span<const double> engine,
                                          std::span<const double> hand, std::span<const double> fd) {
    fmt::print("  {:<10} {:>16} {:>16} {:>16}\n", name, "engine", "delta rules", "finite diff.");
    for (std::size_t e = 0; e < engine.size(); ++e) {
        const auto i = static_cast<std::int64_t>(e) / cols, j = static_cast<std::int64_t>(e) % cols;
        const std::string entry = cols == 1 && name[0] == 'b' ? fmt::format("{}[{}]", name, i)
                                                              : fmt::format("{}[{},{}]", name, i, j);
        fmt::print("  {:<10} {:>16.10f} {:>16.10f} {:>16.10f}\n", entry, engine[e], hand[e], fd[e]);
    }
    double max_ed = 0.0, max_df = 0.0;
    for (std::size_t e = 0; e < engine.size(); ++e) {
        max_ed = std::max(max_ed, std::abs(engine[e] - hand[e]));
        max_df = std::max(max_df, std::abs(hand[e] - fd[e]));
    }
    const double rel_ed = rel_err(engine, hand), rel_df = rel_err(hand, fd);
    fmt::print("  max |engine − δ| = {:.2e} (relative {:.2e}),  max |δ − FD| = {:.2e} (relative {:.2e})\n\n", max_ed,
               rel_ed, max_df, rel_df);
    return {rel_ed, rel_df};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The notes' δ rules checked against the engine and finite differences"};
    std::uint64_t seed = 0;
    std::string out = "results/delta_rules";
    bool svg = false;
    app.add_option("--seed", seed, "initialisation seed of the two layers")->capture_default_str();
    app.add_option("--out", out, "folder for delta_rules.dot")->capture_default_str();
    app.add_flag("--svg", svg, "also render delta_rules.svg with Graphviz");
    CLI11_PARSE(app, argc, argv);

    try {
        // The network: 3 inputs, 4 sigmoid hidden units, 2 sigmoid outputs (weights [out, in] = W^l).
        ad::nn::Linear fc1(3, 4, ad::nn::LinearOptions{.dtype = ad::f64, .seed = seed});
        ad::nn::Linear fc2(4, 2, ad::nn::LinearOptions{.dtype = ad::f64, .seed = seed + 1});
        fc1.weight.set_label("W1");
        fc1.bias.set_label("b1");
        fc2.weight.set_label("W2");
        fc2.bias.set_label("b2");
        const delta::Matrix X(2, 3, {0.5, -1.0, 2.0, 1.5, 0.25, -0.75});
        const delta::Matrix Y(2, 2, {0.0, 1.0, 1.0, 0.0});

        // (a) the engine: L_T = (1/n) Σ_i ½‖a_i − y_i‖².
        ad::Tensor x = ad::Tensor::from_data(std::span<const double>(X.data), {2, 3});
        const ad::Tensor y = ad::Tensor::from_data(std::span<const double>(Y.data), {2, 2});
        x.set_label("x");
        const ad::Tensor a2 = ad::sigmoid(fc2.forward(ad::sigmoid(fc1.forward(x))));
        ad::Tensor loss = ad::sum(ad::square(a2 - y)) * (0.5 / 2.0);
        loss.set_label("L_T");
        const std::string dot_path = out + "/delta_rules.dot";
        ad::write_dot(dot_path, ad::to_dot(loss));  // before backward, which releases the graph
        loss.backward();

        // (b) the δ rules and (c) finite differences, on the same weights.
        delta::Network net{.layout = delta::Layout::Column, .layers = {}};
        for (const ad::nn::Linear* L : {&fc1, &fc2})
            net.layers.push_back({delta::Matrix(L->out_features, L->in_features, L->weight.to_vector()),
                                  L->bias.to_vector(), delta::Activation::Sigmoid});
        const delta::Head head{.loss = delta::Loss::HalfSquaredError};
        const delta::Gradients hand = delta::backprop(net, head, X, Y);
        const delta::Gradients fd = delta::finite_differences(net, head, X, Y);

        fmt::print("3-4-2 sigmoid network, ½-squared error, batch of 2 (seed {})\n", seed);
        fmt::print("L_T: engine {:.15f}, delta rules {:.15f}\n\n", loss.item(), hand.loss);
        double worst_ed = 0.0, worst_df = 0.0;
        const ad::nn::Linear* layers[] = {&fc1, &fc2};
        for (std::size_t l = 0; l < 2; ++l) {
            fmt::print("layer {} (W{} is {}×{}):\n", l + 1, l + 1, net.layers[l].W.rows, net.layers[l].W.cols);
            const std::vector<double> eW = layers[l]->weight.grad().to_vector();
            const std::vector<double> eb = layers[l]->bias.grad().to_vector();
            const auto [w_ed, w_df] =
                print_gradients(fmt::format("W{}", l + 1), net.layers[l].W.cols, eW, hand.dW[l].data, fd.dW[l].data);
            const auto [b_ed, b_df] = print_gradients(fmt::format("b{}", l + 1), 1, eb, hand.db[l], fd.db[l]);
            worst_ed = std::max({worst_ed, w_ed, b_ed});
            worst_df = std::max({worst_df, w_df, b_df});
        }
        fmt::print("graph the engine recorded: {}", dot_path);
        if (svg) {
            const std::string svg_path = out + "/delta_rules.svg";
            if (ad::render_dot(dot_path, svg_path))
                fmt::print(", {}", svg_path);
            else
                fmt::print(" (no {}: Graphviz is not available)", svg_path);
        }
        const bool ok = worst_ed <= 1e-9 && worst_df <= 1e-6;
        fmt::print("\nworst relative error: engine vs δ rules {:.2e} (≤ 1e-9), δ rules vs FD {:.2e} (≤ 1e-6): {}\n",
                   worst_ed, worst_df, ok ? "agree" : "DISAGREE");
        return ok ? 0 : 1;
    } catch (const ad::Error& e) {
        fmt::print(stderr, "delta_rules: {}\n", e.what());
        return 1;
    }
}
