#pragma once
// The whole public API of the engine (namespace ad).
//   Value      differentiable scalars on a fast tape          value.hpp
//   Real       scalars recorded per statement (first order)   real.hpp
//   Active     a gradient at a point, fastest (first order)   active.hpp
//   Tensor     n-d float/double arrays on the same graph      tensor.hpp, ops/*.hpp
//   gradients  torch.autograd.grad                            backward.hpp
//   gradcheck  finite-difference checks (first, second order) gradcheck.hpp
//   grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp    functional.hpp
//   custom_op  user-defined ops with their own backward       custom_op.hpp
//   to_dot     graph pictures (Graphviz DOT)                   dot.hpp
//   NoGrad, GraphScope, AnomalyMode guards                    value.hpp
#include <autodiff/active.hpp>
#include <autodiff/backward.hpp>
#include <autodiff/blas_kernels.hpp>
#include <autodiff/custom_op.hpp>
#include <autodiff/dot.hpp>
#include <autodiff/error.hpp>
#include <autodiff/functional.hpp>
#include <autodiff/gradcheck.hpp>
#include <autodiff/ops/elementwise.hpp>
#include <autodiff/ops/linalg.hpp>
#include <autodiff/ops/reduce.hpp>
#include <autodiff/ops/shape_ops.hpp>
#include <autodiff/ops/softmax.hpp>
#include <autodiff/random.hpp>
#include <autodiff/real.hpp>
#include <autodiff/shape.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/value.hpp>
