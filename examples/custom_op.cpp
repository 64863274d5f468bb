// custom_op: a differentiable op with a hand-written backward, like torch.autograd.Function.
//
// Defines swish(x) = x·σ(x) as ONE tape entry with its own backward, checks it with gradcheck
// and gradgradcheck, shows gradcheck catching a deliberately wrong backward, and defines a scalar
// op on ad::Value the same way.
//
//     ./custom_op                 # a 3×4 input
//     ./custom_op --rows 8 --cols 5 --seed 7
//
// Exit code 0 when the correct op passes and the wrong one is caught, 1 otherwise.
#include <autodiff/autodiff.hpp>
#include <autodiff/custom_op.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>

namespace {

using Tensors = std::vector<ad::Tensor>;

// swish(x) = x σ(x);  swish'(x) = σ(x) + x σ(x)(1 − σ(x)) = s + y (1 − s) with s = σ(x), y = x s.
// The backward uses ctx.input(0), so it is itself differentiable (second derivatives work).
ad::Tensor swish(const ad::Tensor& x) {
    return ad::custom_op(
        "swish", {x},
        [](const Tensors& in) { return in[0] * ad::sigmoid(in[0]); },  // forward: not recorded
        [](ad::CustomContext& ctx, const ad::Tensor& g) -> Tensors {    // backward: g ⊙ swish'(x)
            const ad::Tensor s = ad::sigmoid(ctx.input(0));
            return {g * (s + ctx.input(0) * s * (1.0 - s))};
        });
}

// The same op with a classic mistake in its backward: the product rule's second term dropped.
ad::Tensor swish_wrong(const ad::Tensor& x) {
    return ad::custom_op(
        "swish_wrong", {x}, [](const Tensors& in) { return in[0] * ad::sigmoid(in[0]); },
        [](ad::CustomContext& ctx, const ad::Tensor& g) -> Tensors { return {g * ad::sigmoid(ctx.input(0))}; });
}

// A scalar op: softsign(x) = x / (1 + |x|), derivative 1 / (1 + |x|)².
ad::Value softsign(const ad::Value& x) {
    return ad::custom_op(
        "softsign", {x}, [](const std::vector<double>& v) { return v[0] / (1.0 + std::fabs(v[0])); },
        [](const std::vector<ad::Value>& in, const ad::Value&, const ad::Value& g) {
            const ad::Value d = 1.0 + abs(in[0]);
            return std::vector<ad::Value>{g / (d * d)};
        });
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"A custom op with its own backward, validated by gradcheck"};
    std::int64_t rows = 3, cols = 4;
    std::uint64_t seed = 1;
    app.add_option("--rows", rows, "rows of the test input")->capture_default_str()->check(CLI::Range(1, 100));
    app.add_option("--cols", cols, "columns of the test input")->capture_default_str()->check(CLI::Range(1, 100));
    app.add_option("--seed", seed, "seed of the test input")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    // Use it like any op: it records one entry and backward calls our closure.
    ad::Tensor x = ad::Tensor::randn({rows, cols}, ad::f64, seed).requires_grad_();
    ad::Tensor loss = ad::sum(swish(x));
    loss.backward();
    fmt::print("x =\n{}\nd sum(swish(x)) / dx =\n{}\n", x.detach().str(), x.grad().str());

    // gradcheck compares our backward with finite differences; gradgradcheck the backward's own
    // derivative (second order), which is right because the backward is made of tensor ops.
    auto f = [](const Tensors& in) { return swish(in[0]); };
    const auto first = ad::gradcheck(f, {x});
    const auto second = ad::gradgradcheck(f, {x});
    const auto wrong = ad::gradcheck([](const Tensors& in) { return swish_wrong(in[0]); }, {x});
    fmt::print("swish:       {}\n", first.message);
    fmt::print("swish:       {}\n", second.message);
    fmt::print("swish_wrong: {}\n", wrong.message);
    fmt::print("             (expected: the dropped x·σ'(x) term makes gradcheck fail)\n");

    // The scalar version.
    ad::Value v = -0.8;
    ad::Value y = softsign(v) * v;
    y.backward();
    const auto scalar = ad::gradcheck([](const std::vector<ad::Value>& a) { return softsign(a[0]) * a[0]; }, {-0.8});
    fmt::print("softsign(v)*v at v = -0.8: value {:.6f}, grad {:.6f}\nsoftsign:    {}\n", y.value(), v.grad(), scalar.message);

    const bool ok = first.ok && second.ok && !wrong.ok && scalar.ok;
    fmt::print("{}\n", ok ? "all checks behaved as expected" : "UNEXPECTED check result");
    return ok ? 0 : 1;
}
