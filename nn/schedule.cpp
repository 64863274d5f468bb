#include <nn/schedule.hpp>

#include <cmath>
#include <numbers>

namespace ad::nn {

void Schedule::step() {
    ++t_;
    apply();
}

void Schedule::set_step(std::int64_t t) {
    if (t < 0) throw ValueError(fmt::format("Schedule::set_step: step must be >= 0, got {}", t));
    t_ = t;
    apply();
}

namespace {
void check_t(const char* who, std::int64_t t) {
    if (t < 0) throw ValueError(fmt::format("{}::lr_at: step must be >= 0, got {}", who, t));
}
}  // namespace

StepLR::StepLR(Optimizer& opt, StepLROptions o) : Schedule(opt), o_(o) {
    if (o.step_size <= 0) throw ValueError(fmt::format("StepLR: step_size must be positive, got {}", o.step_size));
    if (!(o.gamma >= 0) || !std::isfinite(o.gamma))
        throw ValueError(fmt::format("StepLR: gamma must be >= 0, got {}", o.gamma));
    apply();
}

double StepLR::lr_at(std::int64_t t) const {
    check_t("StepLR", t);
    return base_lr() * std::pow(o_.gamma, static_cast<double>(t / o_.step_size));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, CosineAnnealingOptions o) : Schedule(opt), o_(o) {
    if (o.T_max <= 0) throw ValueError(fmt::format("CosineAnnealingLR: T_max must be positive, got {}", o.T_max));
    if (!(o.eta_min >= 0) || !std::isfinite(o.eta_min))
        throw ValueError(fmt::format("CosineAnnealingLR: eta_min must be >= 0, got {}", o.eta_min));
    apply();
}

double CosineAnnealingLR::lr_at(std::int64_t t) const {
    check_t("CosineAnnealingLR", t);
    const double c = std::cos(std::numbers::pi * static_cast<double>(t) / static_cast<double>(o_.T_max));
    return o_.eta_min + (base_lr() - o_.eta_min) * (1.0 + c) / 2.0;
}

LinearWarmup::LinearWarmup(Optimizer& opt, LinearWarmupOptions o, const Schedule* then)
    : Schedule(opt), o_(o), then_(then) {
    if (o.warmup_steps < 0)
        throw ValueError(fmt::format("LinearWarmup: warmup_steps must be >= 0, got {}", o.warmup_steps));
    if (!(o.start_factor > 0 && o.start_factor <= 1))
        throw ValueError(fmt::format("LinearWarmup: start_factor must be in (0, 1], got {}", o.start_factor));
    if (then && &then->optimizer() != &opt)
        throw ValueError("LinearWarmup: the schedule to continue with drives a different optimizer");
    apply();
}

double LinearWarmup::lr_at(std::int64_t t) const {
    check_t("LinearWarmup", t);
    const std::int64_t w = o_.warmup_steps;
    if (t >= w) return then_ ? then_->lr_at(t - w) : base_lr();
    const double f = o_.start_factor + (1.0 - o_.start_factor) * static_cast<double>(t) / static_cast<double>(w);
    return base_lr() * f;
}

}  // namespace ad::nn
