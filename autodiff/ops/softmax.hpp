#pragma once
// Numerically stable softmax and log-softmax along an axis: computed from x − max(x), so inputs
// of ±1000 give finite, correct values and gradients.
#include <autodiff/tensor.hpp>

namespace ad {

Tensor softmax(const Tensor& x, std::int64_t axis = -1);      // ∂: y ⊙ (g − Σ g y)
Tensor log_softmax(const Tensor& x, std::int64_t axis = -1);  // ∂: g − softmax(x) Σ g

}  // namespace ad
