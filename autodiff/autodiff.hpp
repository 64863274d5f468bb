#pragma once
// The whole public API of the engine (namespace ad).
//   Value      differentiable scalars on a fast tape          value.hpp
//   Tensor     n-d float/double arrays on the same graph      tensor.hpp, ops/*.hpp
//   gradients  torch.autograd.grad                            backward.hpp
//   gradcheck  finite-difference checks (first, second order) gradcheck.hpp
//   NoGrad, GraphScope, AnomalyMode guards                    value.hpp
#include <autodiff/backward.hpp>
#include <autodiff/error.hpp>
#include <autodiff/gradcheck.hpp>
#include <autodiff/ops/elementwise.hpp>
#include <autodiff/ops/linalg.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/ops/shape_ops.hpp>
#include <autodiff/ops/softmax.hpp>
#include <autodiff/random.hpp>
#include <autodiff/shape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/value.hpp>
