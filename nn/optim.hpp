#pragma once
// Optimizers with PyTorch's update rules and defaults, and gradient clipping.
//
//     nn::Adam opt(model.parameters(), {.lr = 1e-3});
//     for (...) { opt.zero_grad(); auto loss = ...; loss.backward(); opt.step(); }
//
// Guarantees shared by every optimizer here:
//   - step() follows the algorithm documented for torch.optim.<Name> (single-tensor form,
//     maximize=False) with the same option defaults; a parameter whose gradient is undefined
//     is skipped, and its step count does not advance.
//   - the update is one fused loop per parameter over its float or double data (e.g. Adam reads
//     the gradient once and writes m, v and the parameter in the same pass). It runs under
//     ad::NoGrad, records nothing, and bumps the parameter's version counter, so a graph that
//     saved the old value refuses to backpropagate through it instead of giving wrong results.
//   - state buffers (momentum, moments) are allocated lazily at a parameter's first update;
//     later steps allocate nothing (a non-contiguous gradient, possible only after a
//     create_graph backward, is copied once per step).
//   - misuse is an ad::ValueError naming the optimizer: an empty parameter list, a parameter
//     given twice, a non-leaf or a tensor that does not require grad, a negative learning
//     rate, ... A gradient whose shape or dtype differs from its parameter is an ad::ShapeError.
#include <autodiff/autodiff.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ad::nn {

// The state of one parameter as saved in a checkpoint: its step count and named buffers
// ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", "square_avg", "grad_avg",
// as in PyTorch's optimizer.state_dict()). A parameter not yet updated has step 0 and no buffers.
struct ParamState {
    std::int64_t step = 0;
    std::vector<std::pair<std::string, Tensor>> buffers{};
};

// Base of every optimizer: owns the parameter list, the learning rate and per-parameter state.
class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    // One update of every parameter that has a gradient.
    virtual void step() = 0;
    // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
    void zero_grad();

    double lr() const { return lr_; }
    void set_lr(double lr);  // ValueError if negative or not finite
    // The learning rate given at construction (schedules scale this one, like PyTorch's
    // param_group["initial_lr"]); set_lr does not change it.
    double initial_lr() const { return initial_lr_; }
    const std::vector<Tensor>& params() const { return params_; }
    // "SGD", "Adam", "AdamW", "RMSProp".
    virtual std::string name() const = 0;
    // Hyper-parameters as text (for checkpoint metadata and logs), e.g. {"lr": "0.001", ...}.
    virtual std::map<std::string, std::string> hyperparameters() const = 0;

    // Per-parameter state, one entry per parameter in params() order. The tensors are copies.
    std::vector<ParamState> state() const;
    // Replaces the state (e.g. from a checkpoint). Validates everything before changing
    // anything: one entry per parameter, buffer names this optimizer uses, shapes and dtypes
    // equal to the parameter's (ad::ValueError / ad::ShapeError naming the parameter index).
    void load_state(const std::vector<ParamState>& state);
    // Number of updates parameter `i` has received.
    std::int64_t step_count(std::size_t i) const { return slots_.at(i).step; }

protected:
    // Validates the parameters (see the top of this file); `who` names the optimizer in errors.
    Optimizer(std::vector<Tensor> params, double lr, const char* who);

    struct Slot {
        std::int64_t step = 0;
        std::vector<Tensor> buffers;  // empty until the first update, then one per name
    };
    // The names of the buffers this optimizer keeps with its current options.
    virtual std::vector<std::string> buffer_names() const = 0;
    // Allocates the slot's buffers (zeros) if this is its first update.
    void ensure_buffers(std::size_t i);
    // The gradient of parameter `i` checked against it (ShapeError otherwise), contiguous;
    // undefined if the parameter has no gradient.
    Tensor grad_of(std::size_t i) const;
    std::vector<Slot>& slots() { return slots_; }

private:
    std::vector<Tensor> params_;
    std::vector<Slot> slots_;
    double lr_, initial_lr_;
    const char* who_;
};

// Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 decay:
//   g = grad + wd·p;  b = g (first step) or μ·b + (1−τ)·g;  g = g + μ·b (Nesterov) or b;  p −= lr·g
struct SGDOptions {
    double lr = 1e-3;
    double momentum = 0;
    double dampening = 0;
    double weight_decay = 0;
    bool nesterov = false;  // needs momentum > 0 and dampening == 0
};
class SGD : public Optimizer {
public:
    SGD(std::vector<Tensor> params, SGDOptions options = {});
    void step() override;
    std::string name() const override { return "SGD"; }
    std::map<std::string, std::string> hyperparameters() const override;
    const SGDOptions& options() const { return o_; }

private:
    std::vector<std::string> buffer_names() const override;
    SGDOptions o_;
};

// Adam (Kingma & Ba) with PyTorch's bias correction and optional AMSGrad; weight_decay is L2
// added to the gradient. With step t:
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  v̂max = max(v̂max, v) (AMSGrad)
//   p −= lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε)
struct AdamOptions {
    double lr = 1e-3;
    std::pair<double, double> betas = {0.9, 0.999};
    double eps = 1e-8;
    double weight_decay = 0;
    bool amsgrad = false;
};
class Adam : public Optimizer {
public:
    Adam(std::vector<Tensor> params, AdamOptions options = {});
    void step() override;
    std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
    std::map<std::string, std::string> hyperparameters() const override;
    const AdamOptions& options() const { return o_; }

protected:
    Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled, const char* who);

private:
    std::vector<std::string> buffer_names() const override;
    AdamOptions o_;
    bool decoupled_;
};

// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, p ← p·(1 − lr·wd) before the
// Adam update (no L2 term in the gradient). Default weight_decay 1e-2, as in PyTorch.
struct AdamWOptions {
    double lr = 1e-3;
    std::pair<double, double> betas = {0.9, 0.999};
    double eps = 1e-8;
    double weight_decay = 1e-2;
    bool amsgrad = false;
};
class AdamW : public Adam {
public:
    AdamW(std::vector<Tensor> params, AdamWOptions options = {});
};

// RMSProp as in PyTorch (eps outside the square root, optional centering and momentum):
//   s = α·s + (1−α)·g²;  a = α·a + (1−α)·g (centered);  d = √(s − a²) or √s, plus ε
//   b = μ·b + g/d, p −= lr·b (momentum > 0)   or   p −= lr·g/d
struct RMSPropOptions {
    double lr = 1e-2;
    double alpha = 0.99;
    double eps = 1e-8;
    double weight_decay = 0;
    double momentum = 0;
    bool centered = false;
};
class RMSProp : public Optimizer {
public:
    RMSProp(std::vector<Tensor> params, RMSPropOptions options = {});
    void step() override;
    std::string name() const override { return "RMSProp"; }
    std::map<std::string, std::string> hyperparameters() const override;
    const RMSPropOptions& options() const { return o_; }

private:
    std::vector<std::string> buffer_names() const override;
    RMSPropOptions o_;
};

// Scales every gradient by max_norm / (total + 1e-6) when the total norm exceeds max_norm,
// where total is the norm_type-norm of all gradients together (the norm of the per-tensor
// norms; norm_type = infinity gives the largest absolute entry). Parameters without a gradient
// are ignored. Returns the total norm before clipping, as torch.nn.utils.clip_grad_norm_.
// ValueError if max_norm < 0 or norm_type <= 0 (or NaN).
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);
// Clamps every gradient entry to [−clip_value, clip_value]. ValueError if clip_value < 0.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

inline constexpr double inf_norm = std::numeric_limits<double>::infinity();

}  // namespace ad::nn
