// XOR, micrograd's first demo: a 2-8-1 tanh MLP learns the one function a linear model cannot.
//
//   xor [--steps 500] [--lr 0.1] [--seed 0]
//
// Full-batch gradient descent on the four points with binary cross-entropy from logits.
// Prints the loss every 100 steps and the final predictions; exits 1 if XOR was not learned.
#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace nn = ad::nn;

int main(int argc, char** argv) {
    CLI::App app{"Learn XOR with a tiny MLP"};
    int steps = 500;
    double lr = 0.5;
    std::uint64_t seed = 0;
    app.add_option("--steps", steps, "gradient steps")->check(CLI::PositiveNumber);
    app.add_option("--lr", lr, "learning rate");
    app.add_option("--seed", seed, "initialisation seed");
    CLI11_PARSE(app, argc, argv);

    const ad::Tensor x({{0, 0}, {0, 1}, {1, 0}, {1, 1}}, ad::f32);
    const ad::Tensor y({0, 1, 1, 0}, ad::f32);
    auto model = nn::MLP({2, 8, 1}, nn::Activation::Tanh, {.seed = seed});
    nn::SGD opt(model->parameters(), {.lr = lr, .momentum = 0.9});

    for (int step = 1; step <= steps; ++step) {
        opt.zero_grad();
        ad::Tensor logits = ad::reshape((*model)(x), ad::Shape{4});
        ad::Tensor loss = nn::binary_cross_entropy_with_logits(logits, y);
        loss.backward();
        opt.step();
        if (step % 100 == 0 || step == steps) fmt::print("step {:4}: loss {:.5f}\n", step, loss.item());
    }

    ad::NoGrad ng;
    const ad::Tensor p = ad::sigmoid(ad::reshape((*model)(x), ad::Shape{4}));
    bool ok = true;
    for (int i = 0; i < 4; ++i) {
        const int want = static_cast<int>(y.at({i}));
        fmt::print("xor({}, {}) = {:.3f}  (want {})\n", x.at({i, 0}), x.at({i, 1}), p.at({i}), want);
        ok = ok && ((p.at({i}) > 0.5) == (want == 1));
    }
    fmt::print("{}\n", ok ? "learned XOR" : "did not learn XOR");
    return ok ? 0 : 1;
}
