#pragma once
// Parameter initializers, as torch.nn.init: each overwrites a parameter tensor in place (outside
// the graph; the tensor's version is bumped) from a seeded generator, so the same seed gives the
// same weights on every machine.
//
// Fans are computed as PyTorch does for a weight [out, in]: fan_in = in, fan_out = out.
//   xavier_uniform_   U(−a, a), a = gain·√(6/(fan_in + fan_out))          (Glorot & Bengio 2010)
//   xavier_normal_    N(0, σ²), σ = gain·√(2/(fan_in + fan_out))
//   kaiming_uniform_  U(−b, b), b = gain·√(3/fan)                           (He et al. 2015)
//   kaiming_normal_   N(0, σ²), σ = gain/√fan
// with fan = fan_in (FanMode::FanIn, the default) or fan_out, and gain = calculate_gain(...).
// nn::Linear's default (PyTorch's) is kaiming_uniform_ with a = √5: U(−1/√in, 1/√in).
#include <nn/activation.hpp>

namespace ad::nn::init {

enum class FanMode { FanIn, FanOut };

// The recommended gain for a nonlinearity (PyTorch's table): linear/sigmoid 1, tanh 5/3, relu √2,
// leaky_relu √(2/(1 + slope²)), gelu √2 (PyTorch has no entry; ReLU's is the usual choice).
double calculate_gain(Activation a, double negative_slope = 0.01);
double linear_gain();  // 1

std::pair<std::int64_t, std::int64_t> fans(const Tensor& w);  // (fan_in, fan_out); ValueError below 2-d

void uniform_(Tensor& t, double lo, double hi, std::uint64_t seed);
void normal_(Tensor& t, double mean, double stddev, std::uint64_t seed);
void constant_(Tensor& t, double value);
void zeros_(Tensor& t);
void xavier_uniform_(Tensor& w, double gain = 1.0, std::uint64_t seed = 0);
void xavier_normal_(Tensor& w, double gain = 1.0, std::uint64_t seed = 0);
void kaiming_uniform_(Tensor& w, double gain = 1.4142135623730951, FanMode mode = FanMode::FanIn, std::uint64_t seed = 0);
void kaiming_normal_(Tensor& w, double gain = 1.4142135623730951, FanMode mode = FanMode::FanIn, std::uint64_t seed = 0);

}  // namespace ad::nn::init
