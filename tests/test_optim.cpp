// Tests of nn/optim (SGD, Adam, AdamW, RMSProp, gradient clipping) and nn/schedule.
#include <nn/optim.hpp>
#include <nn/schedule.hpp>

#include <autodiff/autodiff.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

using namespace ad;
using namespace ad::nn;

namespace {

const std::vector<double> kStart{0.5, -1.0, 2.0, 0.0};
const Tensor kTarget() { return Tensor({1.0, 0.5, -1.0, 3.0}); }
const Tensor kWeight() { return Tensor({1.0, 2.0, 0.5, 1.5}); }

// loss(p) = Σ w·(p − target)², the problem the PyTorch reference below optimizes.
Tensor quadratic_loss(const Tensor& p) {
    return sum(square(p - kTarget().to(p.dtype())) * kWeight().to(p.dtype()));
}

// Runs `steps` optimizer steps on the quadratic from kStart and returns the parameter.
std::vector<double> run(const std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>& make, DType dt,
                        int steps = 5) {
    Tensor p = Tensor::from_data(std::span<const double>(kStart), Shape{4}).to(dt).detach().requires_grad_();
    auto opt = make({p});
    for (int i = 0; i < steps; ++i) {
        opt->zero_grad();
        quadratic_loss(p).backward();
        opt->step();
    }
    return p.to_vector();
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
        CHECK(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])));
    }
}

template <class O, class Opt>
std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)> maker(Opt options) {
    return [options](std::vector<Tensor> ps) { return std::make_unique<O>(std::move(ps), options); };
}

}  // namespace

TEST_CASE("optimizers: first steps by hand") {
    // grad of the quadratic at kStart: 2·w·(p − t) = [-1, -6, 3, -9]
    SUBCASE("SGD") {
        check_close(run(maker<SGD>(SGDOptions{.lr = 0.1}), f64, 1), {0.6, -0.4, 1.7, 0.9}, 1e-14);
    }
    SUBCASE("SGD with momentum: the buffer starts at the first gradient") {
        // step 1: b = g; p1 = p0 − 0.1 g.  step 2: b = 0.9 g0 + g1; p2 = p1 − 0.1 b
        // element 0: g0 = −1, p1 = 0.6, g1 = 2(0.6 − 1) = −0.8, b = −0.9 − 0.8 = −1.7, p2 = 0.77
        const auto p = run(maker<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9}), f64, 2);
        CHECK(p[0] == doctest::Approx(0.77).epsilon(1e-14));
    }
    SUBCASE("Adam: the first step moves each element by lr against the sign of its gradient") {
        // m̂ = g, v̂ = g², so Δ = −lr·g/(|g| + eps)
        const auto p = run(maker<Adam>(AdamOptions{.lr = 0.1}), f64, 1);
        const double g[] = {-1, -6, 3, -9};
        for (int i = 0; i < 4; ++i) CHECK(p[i] == doctest::Approx(kStart[i] - 0.1 * g[i] / (std::abs(g[i]) + 1e-8)));
    }
    SUBCASE("AdamW: decoupled decay first") {
        const auto p = run(maker<AdamW>(AdamWOptions{.lr = 0.1, .weight_decay = 0.5}), f64, 1);
        const double g[] = {-1, -6, 3, -9};
        for (int i = 0; i < 4; ++i)
            CHECK(p[i] == doctest::Approx(kStart[i] * (1 - 0.05) - 0.1 * g[i] / (std::abs(g[i]) + 1e-8)));
    }
    SUBCASE("RMSProp: first step divides by sqrt((1 − α) g²)") {
        const auto p = run(maker<RMSProp>(RMSPropOptions{.lr = 0.01}), f64, 1);
        const double g[] = {-1, -6, 3, -9};
        for (int i = 0; i < 4; ++i)
            CHECK(p[i] == doctest::Approx(kStart[i] - 0.01 * g[i] / (std::sqrt(0.01 * g[i] * g[i]) + 1e-8)));
    }
}

// Reference values: 5 steps on the quadratic above, computed with PyTorch 1.13 by
//   /usr/bin/python3 -c "
//   import torch; O = torch.optim; torch.set_default_dtype(torch.float64)
//   t = torch.tensor([1.0, 0.5, -1.0, 3.0]); w = torch.tensor([1.0, 2.0, 0.5, 1.5])
//   def run(make):
//       p = torch.tensor([0.5, -1.0, 2.0, 0.0], requires_grad=True); opt = make([p])
//       for _ in range(5): opt.zero_grad(); ((p - t) ** 2 * w).sum().backward(); opt.step()
//       return p.tolist()
//   print(run(lambda ps: O.SGD(ps, lr=0.1)))   # ... and likewise for each case's name below"
TEST_CASE("optimizers match PyTorch over five steps (float64 and float32)") {
    struct Case {
        const char* name;
        std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)> make;
        std::vector<double> torch;
    };
    const std::vector<Case> cases{
        {"SGD(lr=0.1)", maker<SGD>(SGDOptions{.lr = 0.1}), {0.83616, 0.38336000000000003, 0.77147, 2.49579}},
        {"SGD(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)",
         maker<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01}),
         {1.2610699191438073, 1.6567710154983597, -0.9434855626063444, 5.296200450961929}},
        {"SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)",
         maker<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}),
         {1.2011334693754436, 0.7435001039673479, -1.321373841748683, 4.0253748693794}},
        {"Adam(lr=0.1)", maker<Adam>(AdamOptions{.lr = 0.1}),
         {0.9721855486293904, -0.5043581685774425, 1.50177945708264, 0.4982205440578305}},
        {"Adam(lr=0.1, weight_decay=0.1, amsgrad=True)",
         maker<Adam>(AdamOptions{.lr = 0.1, .weight_decay = 0.1, .amsgrad = true}),
         {0.9657465042376978, -0.5044083107670753, 1.5018468790115307, 0.498148599447349}},
        {"AdamW(lr=0.1)", maker<AdamW>(AdamWOptions{.lr = 0.1}),
         {0.9690609071270806, -0.5004183597158716, 1.4928376845688882, 0.497225326263412}},
        {"AdamW(lr=0.1, weight_decay=0.1, amsgrad=True, betas=(0.8, 0.9))",
         maker<AdamW>(AdamWOptions{.lr = 0.1, .betas = {0.8, 0.9}, .weight_decay = 0.1, .amsgrad = true}),
         {0.9363435904977121, -0.4661857059656638, 1.4142551301070942, 0.48819783200209654}},
        {"RMSprop(lr=0.01)", maker<RMSProp>(RMSPropOptions{.lr = 0.01}),
         {0.7784289999479106, -0.6890254123468825, 1.682053845620525, 0.31794615937396375}},
        {"RMSprop(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)",
         maker<RMSProp>(RMSPropOptions{.lr = 0.01, .weight_decay = 0.1, .momentum = 0.9, .centered = true}),
         {1.2038981169476057, -0.09898603852803481, 1.067413206182782, 0.9325243227929509}},
    };
    for (const Case& c : cases) {
        INFO(c.name);
        check_close(run(c.make, f64), c.torch, 1e-12);
        check_close(run(c.make, f32), c.torch, 2e-5);
    }
}

TEST_CASE("optimizers: parameters without a gradient are skipped") {
    Tensor a = Tensor({1.0, 2.0}).requires_grad_();
    Tensor b = Tensor({3.0, 4.0}).requires_grad_();
    Adam opt({a, b}, {.lr = 0.1});
    sum(a * a).backward();  // b gets no gradient
    opt.step();
    CHECK(b.to_vector() == std::vector<double>{3.0, 4.0});
    CHECK(opt.step_count(0) == 1);
    CHECK(opt.step_count(1) == 0);
    CHECK(opt.state()[1].buffers.empty());
    CHECK(opt.state()[0].buffers.size() == 2);
    opt.zero_grad();
    CHECK_FALSE(a.grad().defined());
}

TEST_CASE("optimizers: misuse is a ValueError") {
    Tensor p = Tensor({1.0}).requires_grad_();
    CHECK_THROWS_WITH_AS(SGD({}, {}), doctest::Contains("empty parameter list"), ValueError);
    CHECK_THROWS_WITH_AS(Adam({}), doctest::Contains("empty parameter list"), ValueError);
    CHECK_THROWS_AS(SGD({p, p}), ValueError);
    CHECK_THROWS_AS(SGD({Tensor({1.0})}), ValueError);  // does not require grad
    CHECK_THROWS_AS(SGD({p * 2.0}), ValueError);        // not a leaf
    CHECK_THROWS_AS(SGD({p}, {.lr = -1}), ValueError);
    CHECK_THROWS_AS(SGD({p}, {.lr = 0.1, .nesterov = true}), ValueError);
    CHECK_THROWS_AS(Adam({p}, {.betas = {1.0, 0.9}}), ValueError);
    CHECK_THROWS_AS(AdamW({p}, {.eps = -1}), ValueError);
    CHECK_THROWS_AS(RMSProp({p}, {.momentum = -0.5}), ValueError);
    SGD ok({p});
    CHECK_THROWS_AS(ok.set_lr(std::nan("")), ValueError);
    ok.set_lr(0.5);
    CHECK(ok.lr() == 0.5);
    CHECK(ok.initial_lr() == 1e-3);
}

TEST_CASE("optimizers update in place, bump the version and keep their state buffers") {
    Tensor p = Tensor::randn(Shape{3, 4}, f32, 7).requires_grad_();
    const float* data = p.data<float>();
    Adam opt({p});
    Tensor saved = p * p;  // a graph that saved p
    sum(p * 3.0).backward();
    opt.step();
    CHECK(p.data<float>() == data);  // same storage
    CHECK_THROWS_AS(sum(saved).backward(), GraphError);
    const auto before = opt.state()[0].buffers[0].second.to_vector();
    sum(p * 3.0).backward();
    opt.step();
    CHECK(opt.state()[0].buffers[0].second.to_vector() != before);
    CHECK(opt.step_count(0) == 2);
}

TEST_CASE("optimizer state round trip: a restored optimizer continues identically") {
    auto fresh = [] { return Tensor::from_data(std::span<const double>(kStart), Shape{4}).requires_grad_(); };
    Tensor p = fresh();
    Adam a({p}, {.lr = 0.05, .amsgrad = true});
    for (int i = 0; i < 3; ++i) {
        a.zero_grad();
        quadratic_loss(p).backward();
        a.step();
    }
    Tensor q = fresh();
    {
        NoGrad off;
        q.copy_(p);
    }
    Adam b({q}, {.lr = 0.05, .amsgrad = true});
    b.load_state(a.state());
    CHECK(b.step_count(0) == 3);
    for (int i = 0; i < 2; ++i) {
        for (auto* o : {&a, &b}) o->zero_grad();
        quadratic_loss(p).backward();
        quadratic_loss(q).backward();
        a.step();
        b.step();
    }
    CHECK(p.to_vector() == q.to_vector());

    auto bad = a.state();
    bad[0].buffers.pop_back();
    CHECK_THROWS_AS(b.load_state(bad), ValueError);
    bad = a.state();
    bad[0].buffers[0].second = Tensor::zeros(Shape{5}, f64);
    CHECK_THROWS_AS(b.load_state(bad), ShapeError);
    bad = a.state();
    bad[0].buffers[1].first = "nonsense";
    CHECK_THROWS_AS(b.load_state(bad), ValueError);
    CHECK_THROWS_AS(b.load_state({}), ValueError);
    CHECK(b.step_count(0) == 5);  // failed loads changed nothing
}

// torch.nn.utils.clip_grad_norm_ on grads [3, 4] and [12]: total 13 (2-norm), 19 (1-norm),
// 12 (inf-norm); the gradients are scaled by max_norm / (total + 1e-6) when that is below 1.
TEST_CASE("clip_grad_norm_ and clip_grad_value_") {
    auto setup = [](Tensor& a, Tensor& b) {
        a = Tensor::zeros(Shape{2}, f64).requires_grad_();
        b = Tensor::zeros(Shape{1}, f64).requires_grad_();
        (sum(a * Tensor({3.0, 4.0})) + sum(b * 12.0)).backward();
    };
    Tensor a, b, unused = Tensor({1.0}).requires_grad_();
    setup(a, b);
    CHECK(clip_grad_norm_({a, b, unused}, 6.5) == doctest::Approx(13));
    const double c = 6.5 / (13 + 1e-6);
    check_close(a.grad().to_vector(), {3 * c, 4 * c}, 1e-12);
    check_close(b.grad().to_vector(), {12 * c}, 1e-12);

    setup(a, b);
    CHECK(clip_grad_norm_({a, b}, 100.0) == doctest::Approx(13));
    CHECK(a.grad().to_vector() == std::vector<double>{3, 4});  // untouched below the limit

    setup(a, b);
    CHECK(clip_grad_norm_({a, b}, 100.0, 1.0) == doctest::Approx(19));
    setup(a, b);
    CHECK(clip_grad_norm_({a, b}, 6.0, inf_norm) == doctest::Approx(12));
    check_close(b.grad().to_vector(), {6.0}, 1e-6);
    setup(a, b);
    CHECK(clip_grad_norm_({a, b}, 100.0, 3.0) == doctest::Approx(std::cbrt(27.0 + 64 + 1728)));
    CHECK_THROWS_AS(clip_grad_norm_({a}, -1.0), ValueError);
    CHECK_THROWS_AS(clip_grad_norm_({a}, 1.0, 0.0), ValueError);
    CHECK(clip_grad_norm_({unused}, 1.0) == 0.0);

    setup(a, b);
    clip_grad_value_({a, b}, 3.5);
    CHECK(a.grad().to_vector() == std::vector<double>{3, 3.5});
    CHECK(b.grad().to_vector() == std::vector<double>{3.5});
    CHECK_THROWS_AS(clip_grad_value_({a}, -1.0), ValueError);
}

// ---- schedules ---------------------------------------------------------------------------------

namespace {
// The learning rates after 0..n steps, as PyTorch prints them with
//   opt = SGD([p], lr=0.1); s = <Scheduler>(opt, ...); lrs = [lr]; repeat: opt.step(); s.step(); lrs.append(lr)
std::vector<double> trace(Schedule& s, int n) {
    std::vector<double> out{s.optimizer().lr()};
    for (int i = 0; i < n; ++i) {
        s.step();
        out.push_back(s.optimizer().lr());
    }
    return out;
}
Tensor one_param() { return Tensor({0.0}).requires_grad_(); }
}  // namespace

TEST_CASE("StepLR, CosineAnnealingLR and LinearWarmup follow PyTorch's closed forms") {
    SUBCASE("StepLR(step_size=3, gamma=0.5)") {
        SGD opt({one_param()}, {.lr = 0.1});
        StepLR s(opt, {.step_size = 3, .gamma = 0.5});
        // torch: [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, ...]
        const auto lrs = trace(s, 12);
        for (int t = 0; t <= 12; ++t) CHECK(lrs[t] == doctest::Approx(0.1 * std::pow(0.5, t / 3)));
        CHECK(lrs[12] == doctest::Approx(0.00625));
    }
    SUBCASE("CosineAnnealingLR(T_max=5, eta_min=0.01)") {
        SGD opt({one_param()}, {.lr = 0.1});
        CosineAnnealingLR s(opt, {.T_max = 5, .eta_min = 0.01});
        const std::vector<double> torch{0.1, 0.09140576474687263, 0.06890576474687263, 0.04109423525312736,
                                        0.018594235253127367, 0.01, 0.018594235253127367, 0.04109423525312739,
                                        0.06890576474687267, 0.09140576474687269, 0.10000000000000006};
        check_close(trace(s, 10), torch, 1e-12);
        for (int t = 0; t <= 10; ++t)
            CHECK(s.lr_at(t) == doctest::Approx(0.01 + 0.09 * (1 + std::cos(std::numbers::pi * t / 5)) / 2));
    }
    SUBCASE("LinearWarmup alone = LinearLR(start_factor=0.1, total_iters=4)") {
        SGD opt({one_param()}, {.lr = 0.1});
        LinearWarmup s(opt, {.warmup_steps = 4, .start_factor = 0.1});
        CHECK(opt.lr() == doctest::Approx(0.01));  // applied at construction, like PyTorch
        check_close(trace(s, 6), {0.01, 0.0325, 0.055, 0.0775, 0.1, 0.1, 0.1}, 1e-12);
    }
    SUBCASE("warm-up then cosine = SequentialLR([LinearLR(0.1, 3), CosineAnnealingLR(5, 0.01)], [3])") {
        SGD opt({one_param()}, {.lr = 0.1});
        CosineAnnealingLR cosine(opt, {.T_max = 5, .eta_min = 0.01});
        LinearWarmup s(opt, {.warmup_steps = 3, .start_factor = 0.1}, &cosine);
        const std::vector<double> torch{0.010000000000000002, 0.04, 0.07, 0.1, 0.09140576474687263,
                                        0.06890576474687263, 0.04109423525312736, 0.018594235253127367, 0.01};
        check_close(trace(s, 8), torch, 1e-12);
        s.set_step(2);
        CHECK(opt.lr() == doctest::Approx(0.07));
        CHECK(s.base_lr() == 0.1);
    }
    SUBCASE("bad options") {
        SGD opt({one_param()}, {.lr = 0.1});
        SGD other({one_param()}, {.lr = 0.1});
        CHECK_THROWS_AS(StepLR(opt, {.step_size = 0}), ValueError);
        CHECK_THROWS_AS(CosineAnnealingLR(opt, {.T_max = 0}), ValueError);
        CHECK_THROWS_AS(LinearWarmup(opt, {.warmup_steps = 2, .start_factor = 0}), ValueError);
        CosineAnnealingLR c(other, {.T_max = 3});
        CHECK_THROWS_AS(LinearWarmup(opt, {.warmup_steps = 2}, &c), ValueError);
        StepLR s(opt, {.step_size = 2});
        CHECK_THROWS_AS(s.set_step(-1), ValueError);
    }
}
