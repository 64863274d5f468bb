#pragma once
// Learning-rate schedules, with PyTorch's closed forms.
//
//     nn::SGD opt(params, {.lr = 0.1});
//     nn::CosineAnnealingLR cosine(opt, {.T_max = 90});
//     nn::LinearWarmup sched(opt, {.warmup_steps = 10, .start_factor = 0.01}, &cosine);  // warm-up, then cosine
//     for (epoch ...) { train(...); sched.step(); }
//
// A schedule scales the optimizer's initial_lr() (PyTorch's param_group["initial_lr"]): after
// construction the optimizer's lr is lr_at(0), and each step() advances the step count t and
// sets the optimizer's lr to lr_at(t). lr_at is a pure function of t, so schedules compose
// without drift and a resumed run can jump with set_step(t).
#include <nn/optim.hpp>

#include <cstdint>

namespace ad::nn {

// Base of every schedule: the step counter and the link to the optimizer.
class Schedule {
public:
    virtual ~Schedule() = default;
    Schedule(const Schedule&) = delete;
    Schedule& operator=(const Schedule&) = delete;

    // The learning rate after `t` calls of step() (t >= 0).
    virtual double lr_at(std::int64_t t) const = 0;
    // Advances one step and applies the new learning rate to the optimizer.
    void step();
    // Jumps to step `t` (e.g. when resuming) and applies lr_at(t). ValueError if t < 0.
    void set_step(std::int64_t t);
    std::int64_t last_step() const { return t_; }
    double lr() const { return lr_at(t_); }  // the current learning rate
    double base_lr() const { return base_lr_; }
    Optimizer& optimizer() const { return *opt_; }

protected:
    explicit Schedule(Optimizer& opt) : opt_(&opt), base_lr_(opt.initial_lr()) {}
    // Sets the optimizer's lr to lr_at(0); derived constructors call it once they are ready.
    void apply() { opt_->set_lr(lr_at(t_)); }

private:
    Optimizer* opt_;
    double base_lr_;
    std::int64_t t_ = 0;
};

// lr = base · γ^⌊t / step_size⌋ (torch.optim.lr_scheduler.StepLR).
struct StepLROptions {
    std::int64_t step_size = 1;  // > 0
    double gamma = 0.1;          // >= 0
};
class StepLR : public Schedule {
public:
    StepLR(Optimizer& opt, StepLROptions options);
    double lr_at(std::int64_t t) const override;

private:
    StepLROptions o_;
};

// lr = η_min + (base − η_min)·(1 + cos(π·t / T_max))/2 (CosineAnnealingLR's closed form; past
// T_max it continues along the cosine, as PyTorch's closed form does).
struct CosineAnnealingOptions {
    std::int64_t T_max = 1;  // > 0
    double eta_min = 0;      // >= 0
};
class CosineAnnealingLR : public Schedule {
public:
    CosineAnnealingLR(Optimizer& opt, CosineAnnealingOptions options);
    double lr_at(std::int64_t t) const override;

private:
    CosineAnnealingOptions o_;
};

// Linear warm-up from start_factor·base to base over warmup_steps steps (PyTorch's LinearLR
// with end_factor 1): lr = base·(f + (1 − f)·min(t, W)/W). With a schedule `then`, which must
// drive the same optimizer, lr_at(t) = then->lr_at(t − W) once t >= W (PyTorch's SequentialLR
// with milestone W). `then` is not owned and must outlive this schedule; do not step it directly.
struct LinearWarmupOptions {
    std::int64_t warmup_steps = 0;  // >= 0; 0 means no warm-up
    double start_factor = 1.0 / 3;  // in (0, 1]
};
class LinearWarmup : public Schedule {
public:
    LinearWarmup(Optimizer& opt, LinearWarmupOptions options, const Schedule* then = nullptr);
    double lr_at(std::int64_t t) const override;

private:
    LinearWarmupOptions o_;
    const Schedule* then_;
};

}  // namespace ad::nn
