#include <autodiff/kernels.hpp>
#include <autodiff/random.hpp>
#include <nn/init.hpp>

#include <cmath>

namespace ad::nn::init {

namespace {
// Overwrites every element of t with gen(rng), outside the graph.
template <class Gen>
void fill(Tensor& t, const char* op, std::uint64_t seed, Gen gen) {
    if (!t.defined()) throw ValueError(fmt::format("init::{}: undefined tensor", op));
    if (!t.is_contiguous()) throw ValueError(fmt::format("init::{}: tensor must be contiguous", op));
    if (!t.is_leaf()) throw GraphError(fmt::format("init::{}: only leaf tensors (parameters) can be re-initialised", op));
    Rng rng(seed);
    detail::dispatch(t.dtype(), [&]<class T>() {
        T* p = t.data<T>();
        for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen(rng));
    });
    t.bump_version();
}
}  // namespace

double calculate_gain(Activation a, double negative_slope) {
    switch (a) {
        case Activation::Sigmoid: return 1.0;
        case Activation::Tanh: return 5.0 / 3.0;
        case Activation::ReLU:
        case Activation::GELU: return std::sqrt(2.0);
        case Activation::LeakyReLU: return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
    }
    return 1.0;
}
double linear_gain() { return 1.0; }

std::pair<std::int64_t, std::int64_t> fans(const Tensor& w) {
    if (!w.defined() || w.dim() < 2)
        throw ValueError(fmt::format("init: fan in/out need a tensor of at least 2 dimensions, got {}",
                                     w.defined() ? w.shape().str() : "undefined"));
    std::int64_t receptive = 1;
    for (int i = 2; i < w.dim(); ++i) receptive *= w.shape()[i];
    return {w.shape()[1] * receptive, w.shape()[0] * receptive};
}

void uniform_(Tensor& t, double lo, double hi, std::uint64_t seed) {
    fill(t, "uniform_", seed, [&](Rng& r) { return r.uniform(lo, hi); });
}
void normal_(Tensor& t, double mean, double stddev, std::uint64_t seed) {
    fill(t, "normal_", seed, [&](Rng& r) { return mean + stddev * r.normal(); });
}
void constant_(Tensor& t, double value) {
    fill(t, "constant_", 0, [&](Rng&) { return value; });
}
void zeros_(Tensor& t) { constant_(t, 0.0); }

void xavier_uniform_(Tensor& w, double gain, std::uint64_t seed) {
    const auto [in, out] = fans(w);
    const double a = gain * std::sqrt(6.0 / static_cast<double>(in + out));
    uniform_(w, -a, a, seed);
}
void xavier_normal_(Tensor& w, double gain, std::uint64_t seed) {
    const auto [in, out] = fans(w);
    normal_(w, 0.0, gain * std::sqrt(2.0 / static_cast<double>(in + out)), seed);
}
void kaiming_uniform_(Tensor& w, double gain, FanMode mode, std::uint64_t seed) {
    const auto [in, out] = fans(w);
    const double b = gain * std::sqrt(3.0 / static_cast<double>(mode == FanMode::FanIn ? in : out));
    uniform_(w, -b, b, seed);
}
void kaiming_normal_(Tensor& w, double gain, FanMode mode, std::uint64_t seed) {
    const auto [in, out] = fans(w);
    normal_(w, 0.0, gain / std::sqrt(static_cast<double>(mode == FanMode::FanIn ? in : out)), seed);
}

}  // namespace ad::nn::init
