#pragma once
// Comparisons (not differentiable: they return masks of 0/1 in the input's dtype, recorded as
// constants), selection with where(), and the elementwise minimum/maximum.
#include <autodiff/tensor.hpp>

namespace ad {

Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);

// where(mask, a, b): a where mask ≠ 0, else b (broadcast). ∂a = mask, ∂b = 1 − mask.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);
// Elementwise min/max: the gradient goes to the selected input, split equally at ties.
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);

}  // namespace ad
