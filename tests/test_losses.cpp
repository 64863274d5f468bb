// Tests of nn/loss: values by hand and against PyTorch, first and second derivatives by finite
// differences (ad::gradcheck / ad::gradgradcheck, float64) for every loss, reduction and option,
// stability at logits of ±1000, and the errors bad targets and shapes raise.
#include <nn/loss.hpp>

#include <autodiff/autodiff.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace ad;
using namespace ad::nn;

namespace {

// The problems every test uses (float64). Reference numbers below were computed once with
// PyTorch 1.13 by
//   /usr/bin/python3 -c "
//   import torch, torch.nn.functional as F; torch.set_default_dtype(torch.float64)
//   X = torch.tensor([[0.2, -1.3, 0.7], [1.5, 0.1, -0.4], [-0.6, 0.9, 0.3], [0.0, 2.0, -1.0]])
//   y = torch.tensor([2, 0, 1, 1])
//   P = torch.tensor([[0.1, 0.6, 0.3], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5], [0.2, 0.7, 0.1]])
//   A = torch.tensor([[0.5, -1.0], [2.0, 0.25], [-0.5, 1.5]]); B = torch.tensor([[1.0, 0.0], [1.5, 0.5], [0.0, 1.0]])
//   S = torch.tensor([[0.3, -1.2], [2.5, 0.0], [-0.7, 4.0]]); T = torch.tensor([[1.0, 0.0], [0.3, 1.0], [0.0, 0.8]])
//   Pp = torch.tensor([[0.2, 0.9], [0.5, 0.01], [0.7, 0.999]])
//   print(F.cross_entropy(X, y, reduction='none').tolist())   # ... and likewise for each value below"
Tensor logits() { return Tensor({{0.2, -1.3, 0.7}, {1.5, 0.1, -0.4}, {-0.6, 0.9, 0.3}, {0.0, 2.0, -1.0}}); }
Tensor labels() { return Tensor({2.0, 0.0, 1.0, 1.0}); }
Tensor soft_targets() { return Tensor({{0.1, 0.6, 0.3}, {1.0, 0.0, 0.0}, {0.25, 0.25, 0.5}, {0.2, 0.7, 0.1}}); }
Tensor mse_pred() { return Tensor({{0.5, -1.0}, {2.0, 0.25}, {-0.5, 1.5}}); }
Tensor mse_target() { return Tensor({{1.0, 0.0}, {1.5, 0.5}, {0.0, 1.0}}); }
Tensor bce_logits() { return Tensor({{0.3, -1.2}, {2.5, 0.0}, {-0.7, 4.0}}); }
Tensor bce_targets() { return Tensor({{1.0, 0.0}, {0.3, 1.0}, {0.0, 0.8}}); }
Tensor bce_probs() { return Tensor({{0.2, 0.9}, {0.5, 0.01}, {0.7, 0.999}}); }

void check_values(const Tensor& got, const std::vector<double>& want, double tol = 1e-14) {
    const std::vector<double> g = got.to_vector();
    REQUIRE(g.size() == want.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
        INFO("element " << i << ": got " << g[i] << ", want " << want[i]);
        CHECK(std::abs(g[i] - want[i]) <= tol * (1 + std::abs(want[i])));
    }
}

// The gradient of loss(x) with respect to x (a fresh leaf copy of x).
Tensor grad_of(const std::function<Tensor(const Tensor&)>& loss, const Tensor& x) {
    Tensor leaf = x.detach().clone().detach().requires_grad_();
    loss(leaf).backward();
    return leaf.grad();
}

const Reduction kReductions[] = {Reduction::Mean, Reduction::Sum, Reduction::None};
const char* reduction_name(Reduction r) { return r == Reduction::Mean ? "mean" : r == Reduction::Sum ? "sum" : "none"; }

// First and second derivatives of f against central differences (float64).
void check_derivatives(const std::string& what, const TensorFunction& f, const std::vector<Tensor>& inputs) {
    INFO(what);
    const GradcheckReport first = gradcheck(f, inputs);
    CHECK_MESSAGE(first.ok, first.message);
    CHECK(first.checked > 0);
    const GradcheckReport second = gradgradcheck(f, inputs);
    CHECK_MESSAGE(second.ok, second.message);
}

// Targets strictly inside (0, 1), so the finite-difference steps stay valid probabilities.
Tensor interior_soft_targets() { return Tensor({{0.1, 0.6, 0.3}, {0.7, 0.2, 0.1}, {0.25, 0.25, 0.5}, {0.2, 0.7, 0.1}}); }
Tensor interior_bce_targets() { return Tensor({{0.9, 0.1}, {0.3, 0.6}, {0.2, 0.8}}); }
Tensor interior_bce_probs() { return Tensor({{0.2, 0.9}, {0.5, 0.3}, {0.7, 0.6}}); }

}  // namespace

TEST_CASE("mse_loss: by hand and against PyTorch") {
    // (A − B)² = [[0.25, 1], [0.25, 0.0625], [0.25, 0.25]]: sum 2.0625, mean over 6 elements 0.34375.
    CHECK(mse_loss(mse_pred(), mse_target()).item() == 0.34375);
    CHECK(mse_loss(mse_pred(), mse_target(), {.reduction = Reduction::Sum}).item() == 2.0625);
    const Tensor none = mse_loss(mse_pred(), mse_target(), {.reduction = Reduction::None});
    CHECK(none.shape() == Shape{3, 2});
    check_values(none, {0.25, 1.0, 0.25, 0.0625, 0.25, 0.25}, 0.0);
    // half: the notes' ½(a − y)², whose gradient is a − y.
    CHECK(mse_loss(mse_pred(), mse_target(), {.reduction = Reduction::Sum, .half = true}).item() == 1.03125);
    CHECK(mse_loss(mse_pred(), mse_target(), {.half = true}).item() == 0.171875);
    const Tensor g_half = grad_of([](const Tensor& a) { return mse_loss(a, mse_target(), {.reduction = Reduction::Sum, .half = true}); },
                                  mse_pred());
    check_values(g_half, (mse_pred() - mse_target()).to_vector(), 0.0);
    const Tensor g_mean = grad_of([](const Tensor& a) { return mse_loss(a, mse_target()); }, mse_pred());
    check_values(g_mean, ((mse_pred() - mse_target()) * (2.0 / 6.0)).to_vector());
    // differentiable in the target too: ∂/∂y = −2(a − y)/n
    const Tensor g_target = grad_of([](const Tensor& y) { return mse_loss(mse_pred(), y); }, mse_target());
    check_values(g_target, ((mse_target() - mse_pred()) * (2.0 / 6.0)).to_vector());
    // float32 predictions against float64 targets: the target is converted to the prediction's dtype.
    const Tensor mixed = mse_loss(mse_pred().to(f32), mse_target());
    CHECK(mixed.dtype() == f32);
    CHECK(mixed.item() == doctest::Approx(0.34375).epsilon(1e-7));
}

TEST_CASE("cross_entropy with class indices: by hand and against PyTorch") {
    // By hand for row 0: logsumexp(0.2, −1.3, 0.7) − 0.7.
    const double lse0 = std::log(std::exp(0.2) + std::exp(-1.3) + std::exp(0.7));
    const Tensor none = cross_entropy(logits(), labels(), {.reduction = Reduction::None});
    CHECK(none.shape() == Shape{4});
    CHECK(none.to_vector()[0] == doctest::Approx(lse0 - 0.7).epsilon(1e-15));
    // torch: F.cross_entropy(X, y, reduction='none'), then 'mean' and 'sum'
    check_values(none, {0.5549569196419906, 0.33372960988809963, 0.5720760052791333, 0.16984601955628567});
    check_values(cross_entropy(logits(), labels()), {0.4076521385913773});
    check_values(cross_entropy(logits(), labels(), {.reduction = Reduction::Sum}), {1.630608554365509});
    // torch: F.cross_entropy(X, y, label_smoothing=0.1) and with reduction='none'
    check_values(cross_entropy(logits(), labels(), {.label_smoothing = 0.1}), {0.5151521385913773});
    check_values(cross_entropy(logits(), labels(), {.reduction = Reduction::None, .label_smoothing = 0.1}),
                 {0.6382902529753239, 0.4437296098880996, 0.6420760052791333, 0.3365126862229524});
    // torch: Xg = X.requires_grad_(); F.cross_entropy(Xg, y).backward(); Xg.grad  (= (softmax − onehot)/N)
    const Tensor g = grad_of([](const Tensor& x) { return cross_entropy(x, labels()); }, logits());
    check_values(g, {0.08705185697093372, 0.019423894787142643, -0.10647575175807636, -0.07093814443312302,
                     0.04415610994054232, 0.0267820344925807, 0.03148102277140185, -0.1089118443223446,
                     0.07743082155094276, 0.02854879984614862, -0.039051316379665135, 0.010502516533516512});
    // Non-contiguous logits (a transposed view) give the same losses.
    const Tensor strided = logits().t().contiguous().t();
    REQUIRE_FALSE(strided.is_contiguous());
    check_values(cross_entropy(strided, labels(), {.reduction = Reduction::None, .label_smoothing = 0.1}),
                 {0.6382902529753239, 0.4437296098880996, 0.6420760052791333, 0.3365126862229524});
    check_values(grad_of([](const Tensor& x) { return cross_entropy(x.t().contiguous().t(), labels()); }, logits()),
                 g.to_vector());
    // One sample: logits [C] with a 0-d label gives a 0-d loss (torch: F.cross_entropy(X[0], y[0])).
    const Tensor one = cross_entropy(Tensor({0.2, -1.3, 0.7}), Tensor::scalar(2.0, f64));
    CHECK(one.dim() == 0);
    check_values(one, {0.5549569196419906});
    // float32 logits with float32 labels.
    const Tensor f = cross_entropy(logits().to(f32), labels().to(f32));
    CHECK(f.dtype() == f32);
    CHECK(f.item() == doctest::Approx(0.4076521385913773).epsilon(1e-6));
}

TEST_CASE("cross_entropy with probability targets: by hand and against PyTorch") {
    // A one-hot probability target is the same loss as its class index.
    const Tensor one_hot({{0.0, 0.0, 1.0}, {1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}, {0.0, 1.0, 0.0}});
    check_values(cross_entropy(logits(), one_hot, {.reduction = Reduction::None}),
                 cross_entropy(logits(), labels(), {.reduction = Reduction::None}).to_vector());
    check_values(cross_entropy(logits(), one_hot, {.label_smoothing = 0.3}),
                 cross_entropy(logits(), labels(), {.label_smoothing = 0.3}).to_vector());
    // torch: F.cross_entropy(X, P, reduction='none'), F.cross_entropy(X, P), ... label_smoothing=0.2
    check_values(cross_entropy(logits(), soft_targets(), {.reduction = Reduction::None}),
                 {1.8049569196419908, 0.33372960988809963, 1.2470760052791332, 0.8698460195562857});
    check_values(cross_entropy(logits(), soft_targets()), {1.0639021385913774});
    check_values(cross_entropy(logits(), soft_targets(), {.label_smoothing = 0.2}), {1.1476521385913772});
    // ∂/∂logits = (softmax − q)/N, the notes' δ = p − y
    const Tensor g = grad_of([](const Tensor& x) { return cross_entropy(x, soft_targets()); }, logits());
    check_values(g, ((softmax(logits(), 1) - soft_targets()) * 0.25).to_vector());
    // One sample with a [C] distribution.
    check_values(cross_entropy(Tensor({0.2, -1.3, 0.7}), Tensor({0.1, 0.6, 0.3})), {1.8049569196419908});
}

TEST_CASE("nll_loss: −log_probs[i, label_i], against PyTorch") {
    const Tensor lp = log_softmax(logits(), 1);
    // torch: F.nll_loss(F.log_softmax(X, 1), y) and reduction='sum'
    check_values(nll_loss(lp, labels()), {0.4076521385913773});
    check_values(nll_loss(lp, labels(), Reduction::Sum), {1.630608554365509});
    const Tensor raw({{-1.0, -2.0}, {-0.5, -3.0}});
    check_values(nll_loss(raw, Tensor({1.0, 0.0}), Reduction::None), {2.0, 0.5}, 0.0);
    const Tensor g = grad_of([](const Tensor& x) { return nll_loss(x, Tensor({1.0, 0.0}), Reduction::Sum); }, raw);
    check_values(g, {0.0, -1.0, -1.0, 0.0}, 0.0);
}

TEST_CASE("binary_cross_entropy_with_logits: by hand and against PyTorch, both label conventions") {
    // By hand for one element: −t log σ(s) − (1 − t) log(1 − σ(s)) at s = 2.5, t = 0.3.
    const double sg = 1 / (1 + std::exp(-2.5));
    const Tensor none = binary_cross_entropy_with_logits(bce_logits(), bce_targets(), {.reduction = Reduction::None});
    CHECK(none.shape() == Shape{3, 2});
    CHECK(none.to_vector()[2] == doctest::Approx(-0.3 * std::log(sg) - 0.7 * std::log(1 - sg)).epsilon(1e-14));
    // torch: F.binary_cross_entropy_with_logits(S, T, reduction=...)
    check_values(none, {0.554355244468527, 0.2632824673380313, 1.8288897342925496, 0.6931471805599453,
                        0.40318604888545784, 0.8181499279178096});
    check_values(binary_cross_entropy_with_logits(bce_logits(), bce_targets()), {0.7601684339103868});
    check_values(binary_cross_entropy_with_logits(bce_logits(), bce_targets(), {.reduction = Reduction::Sum}),
                 {4.561010603462321});
    // Note 003: t = p(t=0), the usual loss of 1 − t (torch: F.binary_cross_entropy_with_logits(S, 1 - T)).
    check_values(binary_cross_entropy_with_logits(bce_logits(), bce_targets(), {.convention = LabelConvention::Note003}),
                 {1.3601684339103868});
    // ∂s = σ(s) − q, q = t or 1 − t
    for (LabelConvention c : {LabelConvention::TargetIsPositive, LabelConvention::Note003}) {
        const Tensor g = grad_of(
            [c](const Tensor& s) {
                return binary_cross_entropy_with_logits(s, bce_targets(), {.reduction = Reduction::Sum, .convention = c});
            },
            bce_logits());
        const Tensor q = c == LabelConvention::Note003 ? 1.0 - bce_targets() : bce_targets();
        check_values(g, (sigmoid(bce_logits()) - q).to_vector());
    }
    // float32 logits with float64 targets: converted, forward and backward.
    const Tensor g32 = grad_of([](const Tensor& s) { return binary_cross_entropy_with_logits(s, bce_targets()); },
                               bce_logits().to(f32));
    CHECK(g32.dtype() == f32);
    check_values(g32, ((sigmoid(bce_logits()) - bce_targets()) / 6.0).to_vector(), 1e-6);
}

TEST_CASE("binary_cross_entropy from probabilities: against PyTorch, clamped logs") {
    // torch: F.binary_cross_entropy(Pp, T, reduction=...)
    check_values(binary_cross_entropy(bce_probs(), bce_targets(), {.reduction = Reduction::None}),
                 {1.6094379124341003, 2.302585092994046, 0.6931471805599453, 4.605170185988091, 1.203972804325936,
                  1.3823514560632937});
    check_values(binary_cross_entropy(bce_probs(), bce_targets()), {1.9661107720609021});
    check_values(binary_cross_entropy(bce_probs(), bce_targets(), {.reduction = Reduction::Sum}), {11.796664632365413});
    check_values(binary_cross_entropy(bce_probs(), bce_targets(), {.convention = LabelConvention::Note003}),
                 {1.1524634750961067});
    // torch: Pg = Pp.requires_grad_(); F.binary_cross_entropy(Pg, T).backward(); Pg.grad
    const Tensor g = grad_of([](const Tensor& p) { return binary_cross_entropy(p, bce_targets()); }, bce_probs());
    check_values(g, {-0.8333333333333331, 1.666666666666667, 0.13333333333333333, -16.666666666666664, 0.5555555555555555,
                     33.19986653319983},
                 1e-12);
    // p = 0 or 1: each log clamped at −100, as PyTorch (torch gives [100, 100, 0, 0]).
    const Tensor edge = binary_cross_entropy(Tensor({0.0, 1.0, 0.0, 1.0}), Tensor({1.0, 0.0, 0.0, 1.0}),
                                             {.reduction = Reduction::None});
    check_values(edge, {100.0, 100.0, 0.0, 0.0}, 0.0);
    // the same loss as from logits, when p = σ(s)
    check_values(binary_cross_entropy(sigmoid(bce_logits()), bce_targets()), {0.7601684339103868}, 1e-13);
    // float32 probabilities with float64 targets: backward works too (targets converted).
    const Tensor g32 = grad_of([](const Tensor& p) { return binary_cross_entropy(p, bce_targets()); }, bce_probs().to(f32));
    CHECK(g32.dtype() == f32);
    CHECK(g32.to_vector()[0] == doctest::Approx(-0.8333333333333331).epsilon(1e-5));
}

TEST_CASE("every loss: first and second derivatives against finite differences, every reduction and option") {
    for (Reduction r : kReductions) {
        const std::string red = reduction_name(r);
        for (bool half : {false, true})
            check_derivatives(fmt::format("mse_loss {} half={}", red, half),
                              [r, half](const std::vector<Tensor>& x) {
                                  return mse_loss(x[0], x[1], {.reduction = r, .half = half});
                              },
                              {mse_pred(), mse_target()});
        for (double eps : {0.0, 0.1}) {
            check_derivatives(fmt::format("cross_entropy indices {} label_smoothing={}", red, eps),
                              [r, eps](const std::vector<Tensor>& x) {
                                  return cross_entropy(x[0], labels(), {.reduction = r, .label_smoothing = eps});
                              },
                              {logits()});
            check_derivatives(fmt::format("cross_entropy probabilities {} label_smoothing={}", red, eps),
                              [r, eps](const std::vector<Tensor>& x) {
                                  return cross_entropy(x[0], x[1], {.reduction = r, .label_smoothing = eps});
                              },
                              {logits(), interior_soft_targets()});
            check_derivatives(fmt::format("cross_entropy one sample {} label_smoothing={}", red, eps),
                              [r, eps](const std::vector<Tensor>& x) {
                                  return cross_entropy(x[0], Tensor::scalar(1.0, f64), {.reduction = r, .label_smoothing = eps});
                              },
                              {Tensor({0.2, -1.3, 0.7})});
        }
        check_derivatives(fmt::format("nll_loss {}", red),
                          [r](const std::vector<Tensor>& x) { return nll_loss(log_softmax(x[0], 1), labels(), r); },
                          {logits()});
        check_derivatives(fmt::format("nll_loss of raw scores {}", red),
                          [r](const std::vector<Tensor>& x) { return nll_loss(x[0] * x[0], labels(), r); }, {logits()});
        for (LabelConvention c : {LabelConvention::TargetIsPositive, LabelConvention::Note003}) {
            const char* conv = c == LabelConvention::Note003 ? "Note003" : "TargetIsPositive";
            check_derivatives(fmt::format("binary_cross_entropy_with_logits {} {}", red, conv),
                              [r, c](const std::vector<Tensor>& x) {
                                  return binary_cross_entropy_with_logits(x[0], x[1], {.reduction = r, .convention = c});
                              },
                              {bce_logits(), interior_bce_targets()});
            check_derivatives(fmt::format("binary_cross_entropy {} {}", red, conv),
                              [r, c](const std::vector<Tensor>& x) {
                                  return binary_cross_entropy(x[0], x[1], {.reduction = r, .convention = c});
                              },
                              {interior_bce_probs(), interior_bce_targets()});
        }
    }
}

TEST_CASE("cross_entropy: the fused first-order backward gives the same gradient as the recorded one") {
    // backward() takes a one-pass kernel; backward(create_graph) records softmax − q times g. They
    // must agree to the last bit in both dtypes, with and without label smoothing and a seed g.
    for (DType dt : {f32, f64}) {
        for (double eps : {0.0, 0.2}) {
            const Tensor labels = Tensor({3, 0, 2, 3, 1}).to(dt);
            for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
                auto grad_of = [&](bool create_graph) {
                    Tensor x = (Tensor::randn(Shape{5, 4}, f64, 11) * 3.0).to(dt).requires_grad_();
                    const Tensor l = cross_entropy(x, labels, {.reduction = red, .label_smoothing = eps});
                    const Tensor seed = red == Reduction::None ? Tensor({0.5, -1, 2, 0, 1.5}).to(dt) : Tensor();
                    if (seed.defined())
                        l.backward(seed, {.create_graph = create_graph});
                    else
                        l.backward({.create_graph = create_graph});
                    return x.grad().detach().to(f64).to_vector();
                };
                const std::vector<double> fused = grad_of(false), recorded = grad_of(true);
                INFO("dtype ", dtype_name(dt), ", eps ", eps, ", reduction ", static_cast<int>(red));
                CHECK(fused == recorded);
            }
        }
    }
}

TEST_CASE("cross_entropy reduces inside its node: one node, the sum in double, mean = sum / N") {
    Tensor x = (Tensor::randn(Shape{6, 5}, f64, 17) * 2.0).to(f32).requires_grad_();
    const Tensor labels = Tensor({4, 0, 1, 4, 2, 3});
    for (double eps : {0.0, 0.1}) {
        const Tensor none = cross_entropy(x, labels, {.reduction = Reduction::None, .label_smoothing = eps});
        const Tensor sum = cross_entropy(x, labels, {.reduction = Reduction::Sum, .label_smoothing = eps});
        const Tensor mean = cross_entropy(x, labels, {.label_smoothing = eps});
        CHECK(sum.dim() == 0);
        CHECK(mean.dim() == 0);
        double expected = 0;
        for (double v : none.to_vector()) expected += v;
        CHECK(sum.item() == doctest::Approx(expected).epsilon(1e-6));
        CHECK(mean.item() == doctest::Approx(expected / 6.0).epsilon(1e-6));
        // The picture of a reduced loss: one op, cross_entropy, between the logits and the root.
        for (const Tensor& reduced : {mean, sum}) {
            const std::string picture = ad::to_dot(reduced);
            CHECK(picture.find("label=\"cross_entropy\"") != std::string::npos);
            std::size_t ops = 0;
            for (std::size_t at = picture.find("_op ["); at != std::string::npos; at = picture.find("_op [", at + 1)) ++ops;
            CHECK(ops == 1);
        }
    }
    // Its gradient is every row's (softmax − q) times g·k.
    cross_entropy(x, labels, {.reduction = Reduction::Sum}).backward(Tensor::scalar(0.5, f32));
    const std::vector<double> g = x.grad().to(f64).to_vector(), p = softmax(x.detach(), 1).to(f64).to_vector();
    const std::vector<double> lv = labels.to_vector();
    for (std::int64_t i = 0; i < 6; ++i)
        for (std::int64_t j = 0; j < 5; ++j) {
            const double q = j == static_cast<std::int64_t>(lv[i]) ? 1.0 : 0.0;
            CHECK(g[i * 5 + j] == doctest::Approx(0.5 * (p[i * 5 + j] - q)).epsilon(1e-6));
        }
}

TEST_CASE("cross_entropy over more classes than one buffer of exponentials (512): loss and gradient") {
    // Rows longer than detail::kExpChunk take softmax's other path (one row at a time, the
    // exponentials computed twice); the forward's log-sum-exp and the softmax it keeps for the
    // backward come from it too.
    const std::int64_t n = 3, c = 5000;
    const Tensor x = Tensor::randn(Shape{n, c}, f64, 21) * 4.0;
    const Tensor labels = Tensor({7.0, 4999.0, 0.0});
    const std::vector<double> label = labels.to_vector();
    for (double eps : {0.0, 0.1}) {
        const Tensor loss = cross_entropy(x, labels, {.reduction = Reduction::None, .label_smoothing = eps});
        const std::vector<double> xv = x.to_vector(), lv = loss.to_vector();
        for (std::int64_t i = 0; i < n; ++i) {
            double m = xv[i * c], z = 0, total = 0;
            for (std::int64_t j = 0; j < c; ++j) m = std::max(m, xv[i * c + j]);
            for (std::int64_t j = 0; j < c; ++j) {
                z += std::exp(xv[i * c + j] - m);
                total += xv[i * c + j];
            }
            const double picked = xv[i * c + static_cast<std::int64_t>(label[i])];
            const double expected = m + std::log(z) - (1 - eps) * picked - eps / c * total;
            INFO("row ", i, ", eps ", eps);
            CHECK(lv[i] == doctest::Approx(expected).epsilon(1e-12));
        }
        // ∂ mean loss / ∂x = (softmax(x) − q) / n, from the kept softmax, the same bits as recorded.
        auto grad = [&](bool create_graph) {
            Tensor xg = x.detach().clone().requires_grad_();
            cross_entropy(xg, labels, {.label_smoothing = eps}).backward({.create_graph = create_graph});
            return xg.grad().detach().to_vector();
        };
        const std::vector<double> fused = grad(false), recorded = grad(true), sm = softmax(x, 1).to_vector();
        CHECK(fused == recorded);
        for (std::int64_t i = 0; i < n; ++i) {
            const auto picked = static_cast<std::int64_t>(label[i]);
            for (std::int64_t j : {std::int64_t(0), picked, c - 1}) {
                const double q = (j == picked ? 1 - eps : 0.0) + eps / c;
                CHECK(fused[i * c + j] == doctest::Approx((sm[i * c + j] - q) / n).epsilon(1e-12));
            }
        }
    }
}

TEST_CASE("stability: logits of ±1000 give exact, finite losses and gradients") {
    // torch: s = [1000, −1000, 1000, −1000, 1000], q = [1, 0, 0, 1, 0.25]:
    //   F.binary_cross_entropy_with_logits(s, q, reduction='none') = [0, 0, 1000, 1000, 750], ∂s = σ(s) − q
    const Tensor s({1000.0, -1000.0, 1000.0, -1000.0, 1000.0});
    const Tensor q({1.0, 0.0, 0.0, 1.0, 0.25});
    for (DType dt : {f64, f32}) {
        CAPTURE(dtype_name(dt));
        check_values(binary_cross_entropy_with_logits(s.to(dt), q.to(dt), {.reduction = Reduction::None}),
                     {0.0, 0.0, 1000.0, 1000.0, 750.0}, 0.0);
        const Tensor g = grad_of(
            [&q, dt](const Tensor& x) { return binary_cross_entropy_with_logits(x, q.to(dt), {.reduction = Reduction::Sum}); },
            s.to(dt));
        check_values(g, {0.0, 0.0, 1.0, -1.0, 0.75}, 0.0);
        // Note003 with 1 − q is the same problem.
        const Tensor g3 = grad_of(
            [&q, dt](const Tensor& x) {
                return binary_cross_entropy_with_logits(x, 1.0 - q.to(dt),
                                                        {.reduction = Reduction::Sum, .convention = LabelConvention::Note003});
            },
            s.to(dt));
        check_values(g3, {0.0, 0.0, 1.0, -1.0, 0.75}, 0.0);
    }
    // torch: Z = [[1000, −1000, 0], [−1000, 1000, 999]], y = [1, 2]:
    //   F.cross_entropy(Z, y, reduction='none') = [2000, 1.3132616875182228]
    const Tensor z({{1000.0, -1000.0, 0.0}, {-1000.0, 1000.0, 999.0}});
    const Tensor y({1.0, 2.0});
    check_values(cross_entropy(z, y, {.reduction = Reduction::None}), {2000.0, 1.3132616875182228});
    const Tensor g = grad_of([&y](const Tensor& x) { return cross_entropy(x, y, {.reduction = Reduction::Sum}); }, z);
    check_values(g, {1.0, -1.0, 0.0, 0.0, 0.7310585786300049, -0.7310585786300049});
    // probability targets and label smoothing at ±1000: finite
    const Tensor soft({{0.5, 0.5, 0.0}, {0.0, 0.0, 1.0}});
    const double l_soft = cross_entropy(z, soft, {.label_smoothing = 0.1}).item();
    CHECK(std::isfinite(l_soft));
    const double l_ls = cross_entropy(z, y, {.label_smoothing = 0.1}).item();
    CHECK(std::isfinite(l_ls));
    CHECK(std::isfinite(cross_entropy(z.to(f32), y).item()));
    for (double v : grad_of([&soft](const Tensor& x) { return cross_entropy(x, soft); }, z).to_vector())
        CHECK(std::isfinite(v));
    // A masked class (a logit of −inf) that is not the label leaves the loss finite. torch:
    //   Z = [[1, −inf, 0.5], [−inf, 2, 0]], y = [0, 2]: F.cross_entropy(Z, y, reduction='none') =
    //   [0.4740769841801067, 2.1269280110429727], ∂Z (summed) = [[−0.3775406687981454, 0, 0.3775406687981454],
    //   [0, 0.8807970779778823, −0.8807970779778824]]; with label_smoothing = 0.1, inf
    constexpr double inf = std::numeric_limits<double>::infinity();
    const Tensor masked({{1.0, -inf, 0.5}, {-inf, 2.0, 0.0}});
    const Tensor ym({0.0, 2.0});
    check_values(cross_entropy(masked, ym, {.reduction = Reduction::None}), {0.4740769841801067, 2.1269280110429727});
    check_values(grad_of([&ym](const Tensor& x) { return cross_entropy(x, ym, {.reduction = Reduction::Sum}); }, masked),
                 {-0.3775406687981454, 0.0, 0.3775406687981454, 0.0, 0.8807970779778823, -0.8807970779778824});
    CHECK(cross_entropy(masked, ym, {.label_smoothing = 0.1}).item() == inf);
}

TEST_CASE("bad targets and shapes: the documented exception, naming the loss and the value") {
    const Tensor x = logits();
    SUBCASE("class index out of range, negative, not an integer, NaN") {
        CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor({2.0, 3.0, 1.0, 0.0})),
                             "cross_entropy: label 3 at index 1 is out of range for 3 classes", ValueError);
        CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor({2.0, 0.0, -1.0, 0.0})),
                             doctest::Contains("cross_entropy: label -1 at index 2 is out of range"), ValueError);
        CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor({2.0, 0.0, 1.5, 0.0})),
                             doctest::Contains("cross_entropy: label 1.5 at index 2 is not a class index"), ValueError);
        CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor({NAN, 0.0, 1.0, 0.0})),
                             doctest::Contains("cross_entropy: label nan at index 0"), ValueError);
        CHECK_THROWS_WITH_AS(nll_loss(log_softmax(x, 1), Tensor({0.0, 0.0, 7.0, 0.0})),
                             doctest::Contains("nll_loss: label 7 at index 2 is out of range for 3 classes"), ValueError);
        CHECK_THROWS_WITH_AS(cross_entropy(Tensor({0.1, 0.2}), Tensor::scalar(2.0, f64)),
                             doctest::Contains("cross_entropy: label 2 at index 0 is out of range for 2 classes"), ValueError);
    }
    SUBCASE("NaN targets, probabilities outside [0, 1]") {
        Tensor p = soft_targets();
        p.set({1, 1}, NAN);
        CHECK_THROWS_WITH_AS(cross_entropy(x, p), "cross_entropy: target is NaN at flat index 4", ValueError);
        CHECK_THROWS_WITH_AS(cross_entropy(x, soft_targets() * 2.0),
                             doctest::Contains("cross_entropy: target 1.2 at flat index 1 is outside [0, 1]"), ValueError);
        CHECK_THROWS_WITH_AS(mse_loss(mse_pred(), Tensor({{1.0, 0.0}, {1.5, NAN}, {0.0, 1.0}})),
                             "mse_loss: target is NaN at flat index 3", ValueError);
        CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(bce_logits(), bce_targets() + 0.5),
                             doctest::Contains("binary_cross_entropy_with_logits: target 1.5 at flat index 0 is outside [0, 1]"),
                             ValueError);
        CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(bce_logits(), bce_targets() - 0.25),
                             doctest::Contains("target -0.25 at flat index 1"), ValueError);
        CHECK_THROWS_WITH_AS(binary_cross_entropy(bce_probs(), bce_targets() * NAN),
                             doctest::Contains("binary_cross_entropy: target is NaN"), ValueError);
        CHECK_THROWS_WITH_AS(binary_cross_entropy(Tensor({{0.2, 1.08}, {0.5, 0.3}, {0.7, 0.6}}), bce_targets()),
                             doctest::Contains("binary_cross_entropy: probability 1.08 at flat index 1 is outside [0, 1]"),
                             ValueError);
        CHECK_THROWS_WITH_AS(binary_cross_entropy(bce_logits(), bce_targets()),
                             doctest::Contains("probability -1.2 at flat index 1"), ValueError);
    }
    SUBCASE("wrong batch size, shape mismatch") {
        CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor({1.0, 0.0, 2.0})),
                             "cross_entropy: logits must be [N, C] and labels [N], got [4, 3] and [3]", ShapeError);
        CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor({{0.5, 0.5}, {0.5, 0.5}, {1.0, 0.0}, {0.0, 1.0}})),
                             doctest::Contains("got [4, 3] and [4, 2]"), ShapeError);
        CHECK_THROWS_WITH_AS(nll_loss(x, Tensor({1.0})), doctest::Contains("nll_loss: log_probs must be [N, C]"), ShapeError);
        CHECK_THROWS_WITH_AS(mse_loss(Tensor({1.0, 2.0}).reshape(Shape{2, 1}), Tensor({1.0, 2.0})),
                             "mse_loss: pred [2, 1] and target [2] must have the same shape", ShapeError);
        CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(bce_logits(), Tensor({1.0, 0.0})),
                             doctest::Contains("binary_cross_entropy_with_logits: logits [3, 2] and targets [2]"), ShapeError);
        CHECK_THROWS_WITH_AS(binary_cross_entropy(bce_probs(), Tensor({1.0, 0.0})),
                             doctest::Contains("binary_cross_entropy: probs [3, 2] and targets [2]"), ShapeError);
        CHECK_THROWS_WITH_AS(cross_entropy(Tensor::zeros(Shape{2, 0}, f64), Tensor({0.0, 0.0})),
                             doctest::Contains("has no classes"), ShapeError);
    }
    SUBCASE("bad options, empty batches, undefined tensors") {
        CHECK_THROWS_WITH_AS(cross_entropy(x, labels(), {.label_smoothing = 1.5}),
                             "cross_entropy: label_smoothing must be in [0, 1], got 1.5", ValueError);
        CHECK_THROWS_WITH_AS(cross_entropy(x, labels(), {.label_smoothing = -0.1}), doctest::Contains("got -0.1"), ValueError);
        CHECK_THROWS_WITH_AS(cross_entropy(Tensor::zeros(Shape{0, 3}, f64), Tensor::zeros(Shape{0}, f64)),
                             doctest::Contains("cross_entropy: empty batch"), ValueError);
        CHECK(cross_entropy(Tensor::zeros(Shape{0, 3}, f64), Tensor::zeros(Shape{0}, f64), {.reduction = Reduction::Sum})
                  .item() == 0.0);
        CHECK_THROWS_WITH_AS(mse_loss(Tensor(), mse_target()), "mse_loss: pred is an undefined tensor", ValueError);
        CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor()), "cross_entropy: target is an undefined tensor", ValueError);
    }
}
