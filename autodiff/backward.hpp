#pragma once
// Reverse-mode entry points below Value::backward and Tensor::backward.
//
// ad::gradients is torch.autograd.grad: the gradients of one output with respect to chosen
// inputs (leaves or interior values), returned instead of accumulated into leaves. With
// create_graph the results are themselves differentiable (grad of grad, Hessians).
#include <autodiff/tensor.hpp>
#include <autodiff/value.hpp>

#include <vector>

namespace ad {

struct GradOptions {
    bool retain_graph = true;   // the graph stays usable (functional transforms call this often)
    bool create_graph = false;  // record the backward pass
};

// ∂f/∂x for each x in wrt. An x that f does not depend on gets 0 (an exact zero, not an error).
std::vector<Value> gradients(const Value& f, const std::vector<Value>& wrt, const GradOptions& opts = {});
// Tensor output: `seed` is the vector v of the vector-Jacobian product vᵀJ (may be undefined when
// f has one element). Inputs f does not depend on get zeros of their shape.
std::vector<Tensor> gradients(const Tensor& f, const std::vector<Tensor>& wrt, const Tensor& seed = {},
                              const GradOptions& opts = {});

namespace detail {
struct Seed {
    Value scalar;
    Tensor tensor;
};
struct SweepRequest {
    bool accumulate = true;     // add into leaves' grad (backward()) or only collect (gradients())
    bool retain_graph = false;
    bool create_graph = false;
    std::vector<std::uint32_t> wanted;  // entries whose adjoints are returned
    // Inputs of a functional transform: consecutive scalar entries [inputs, inputs + n), recorded
    // before f ran. With n > 0 (first order only) the sweep stops above them and writes their
    // adjoints to inputs_grad[0, n): ∇f with no leaf objects and no per-entry bookkeeping.
    std::uint32_t inputs = 0, n_inputs = 0;
    double* inputs_grad = nullptr;
    bool keep(std::uint32_t entry) const;
};
struct SweepResult {
    std::vector<Value> scalars;  // for scalar wanted entries, in order
    std::vector<Tensor> tensors;  // for tensor wanted entries, in order
};
// The seed of a tensor root: ones for a one-element output, else `seed` (checked).
Tensor backward_seed(const Tensor& f, const Tensor& seed, const char* op);
void run_sweep(std::uint32_t root, const Seed& seed, const SweepRequest& req, SweepResult* out);
}  // namespace detail

}  // namespace ad
