// Losses: MSE and BCE-from-logits composed from engine ops; cross-entropy and BCE-from-probabilities
// fused (one node each, hand-derived backward written with ops so create_graph still works).
#include <autodiff/kernels.hpp>
#include <autodiff/tensor_node.hpp>
#include <nn/loss.hpp>

#include <cmath>
#include <limits>
#include <utility>

namespace ad::nn {

using detail::GradContext;
using detail::save;

namespace {

void require_defined(const Tensor& t, const char* op, const char* what) {
    if (!t.defined()) throw ValueError(fmt::format("{}: {} is an undefined tensor", op, what));
}

void require_same_shape(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
    require_defined(a, op, an);
    require_defined(b, op, bn);
    if (a.shape() != b.shape())
        throw ShapeError(fmt::format("{}: {} {} and {} {} must have the same shape", op, an, a.shape().str(), bn,
                                     b.shape().str()));
}

void require_nonempty(const Tensor& losses, Reduction r, const char* op) {
    if (r == Reduction::Mean && losses.numel() == 0) throw ValueError(fmt::format("{}: empty batch (mean of no losses)", op));
}

// Every value of t (a target, or what `what` names) must be a number in [lo, hi].
void check_targets(const Tensor& t, double lo, double hi, const char* op, const char* what = "target") {
    const Tensor c = t.detach().contiguous();  // reading records nothing
    detail::dispatch(c.dtype(), [&]<class T>() {
        const T* p = c.data<T>();
        for (std::int64_t i = 0; i < c.numel(); ++i) {
            const double v = p[i];
            if (std::isnan(v)) throw ValueError(fmt::format("{}: {} is NaN at flat index {}", op, what, i));
            if (v < lo || v > hi)
                throw ValueError(fmt::format("{}: {} {} at flat index {} is outside [{}, {}]", op, what, v, i, lo, hi));
        }
    });
}

// Labels [N] holding class indices, each an integer in [0, classes): returns them as a new
// contiguous float64 tensor (a copy: a backward that reads it does not see later changes).
Tensor class_indices(const Tensor& labels, std::int64_t classes, const char* op) {
    const Tensor idx = labels.dtype() == DType::F64 ? labels.detach().clone() : labels.detach().to(DType::F64);
    const double* v = idx.data<double>();
    for (std::int64_t i = 0; i < idx.numel(); ++i) {
        if (!std::isfinite(v[i]) || v[i] != std::floor(v[i]))
            throw ValueError(fmt::format("{}: label {} at index {} is not a class index (an integer)", op, v[i], i));
        if (v[i] < 0 || v[i] >= static_cast<double>(classes))
            throw ValueError(fmt::format("{}: label {} at index {} is out of range for {} classes", op, v[i], i, classes));
    }
    return idx;
}

// Checks logits [N, C] against labels [N]; returns the class indices (see class_indices).
Tensor check_class_problem(const Tensor& scores, const Tensor& labels, const char* op, const char* what) {
    require_defined(scores, op, what);
    require_defined(labels, op, "labels");
    if (scores.dim() != 2 || labels.dim() != 1 || labels.shape()[0] != scores.shape()[0])
        throw ShapeError(fmt::format("{}: {} must be [N, C] and labels [N], got {} and {}", op, what, scores.shape().str(),
                                     labels.shape().str()));
    if (scores.shape()[1] == 0) throw ShapeError(fmt::format("{}: {} {} has no classes", op, what, scores.shape().str()));
    return class_indices(labels, scores.shape()[1], op);
}

// The target distribution q = (1 − ε)·onehot(labels) + ε/C, as a constant [N, C] tensor.
Tensor smoothed_one_hot(const Tensor& labels, std::int64_t classes, double eps, DType dt) {
    const std::int64_t n = labels.numel();
    const double* label = labels.data<double>();
    Tensor q = Tensor::full(Shape{n, classes}, eps / static_cast<double>(classes), dt);
    detail::dispatch(dt, [&]<class T>() {
        T* p = q.data<T>();
        for (std::int64_t i = 0; i < n; ++i) p[i * classes + static_cast<std::int64_t>(label[i])] += static_cast<T>(1.0 - eps);
    });
    return q;
}

// The first-order backward of cross_entropy_indices in one pass, (softmax(x_i) − q_i)·g_i, from
// the softmax its forward kept, with the same arithmetic as the recorded form below (used under
// create_graph) and without its four temporaries: the difference and product in T. `gout` holds
// g_i per row, or one g for every row (0-d: a reduced loss's gradient, already scaled).
Tensor cross_entropy_grad(const Tensor& softmax, const Tensor& labels, double eps, const Tensor& gout) {
    const std::int64_t n = softmax.shape()[0], c = softmax.shape()[1];
    const Tensor gc = gout.detach().contiguous();
    const std::int64_t gstep = gc.dim() == 0 ? 0 : 1;
    const double* label = labels.data<double>();
    Tensor r = Tensor::empty(softmax.shape(), softmax.dtype());
    detail::dispatch(softmax.dtype(), [&]<class T>() {
        const T* p = softmax.data<T>();
        const T* go = gc.data<T>();
        T* out = r.data<T>();
        const T off = static_cast<T>(eps / static_cast<double>(c)), on = off + static_cast<T>(1.0 - eps);
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t picked = static_cast<std::int64_t>(label[i]);
            const T g = go[i * gstep];
            for (std::int64_t j = 0; j < c; ++j)
                out[i * c + j] = static_cast<T>(p[i * c + j] - (j == picked ? on : off)) * g;
        }
    });
    return r;
}

// Cross-entropy of logits [N, C] with class indices, one fused node:
//   l_i = logsumexp(x_i) − Σ_j q_ij x_ij,   ∂l_i/∂x_i = softmax(x_i) − q_i.
// The forward computes the rows' softmax as softmax() does, with their log-sum-exp, and keeps it:
// the backward needs no exponential (a 64-128-64-10 step computed 1280 of them, now 640: ~2.7 µs).
// Reduction::None gives [l_i]; Mean and Sum give k Σ_i l_i (k = 1/N or 1), summed in double, from
// the same node (as PyTorch's nll_loss reduces inside), whose backward scales every row by g·k:
// no per-sample tensor and no reduction node (64×10 logits, forward + backward: 5.04–5.34 -> 3.87–4.12 µs).
// `labels` comes from class_indices.
Tensor cross_entropy_indices(const Tensor& logits, const Tensor& labels, double eps, Reduction reduction) {
    const std::int64_t n = logits.shape()[0], c = logits.shape()[1];
    const bool reduced = reduction != Reduction::None;
    const double k = reduction == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0;
    const Tensor xc = logits.detach().contiguous();
    const double* label = labels.data<double>();
    Tensor out = reduced ? Tensor::empty(Shape{}, logits.dtype()) : Tensor::empty(Shape{n}, logits.dtype());
    Tensor sm = Tensor::empty(logits.shape(), logits.dtype());
    const Tensor lse = Tensor::empty(Shape{n}, f64);  // each row's log-sum-exp
    detail::dispatch(logits.dtype(), [&]<class T>() {
        const T* x = xc.data<T>();
        T* o = out.data<T>();
        double* l = lse.data<double>();
        detail::softmax_rows(x, sm.data<T>(), n, c, 1, c, false, l);
        double sum = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const T* row = x + i * c;
            // ε/C Σ_j x_ij, only with label smoothing: without it a logit of −inf (a masked class)
            // leaves the loss finite, as in PyTorch.
            double smooth = 0;
            if (eps != 0) {
                double total = 0;
                for (std::int64_t j = 0; j < c; ++j) total += static_cast<double>(row[j]);
                smooth = eps / static_cast<double>(c) * total;
            }
            const double picked = row[static_cast<std::int64_t>(label[i])];
            const double li = l[i] - (1.0 - eps) * picked - smooth;
            if (reduced)
                sum += li;
            else
                o[i] = static_cast<T>(li);
        }
        if (reduced) o[0] = static_cast<T>(sum * k);
    });
    // A reduced loss's g is scaled by k with the same tensor op in both backward forms (same bits).
    auto backward = [sx = save(logits), sp = save(sm), labels, eps, reduced, k](GradContext& g) {
        if (!g.create_graph()) {
            g.add(0, cross_entropy_grad(sp.get(), labels, eps, reduced ? g.out() * k : g.out()));
            return;
        }
        const Tensor x = sx.get();
        const Tensor q = smoothed_one_hot(labels, x.shape()[1], eps, x.dtype());
        g.add(0, (softmax(x, 1) - q) * (reduced ? g.out() * k : reshape(g.out(), Shape{x.shape()[0], 1})));
    };
    return detail::record("cross_entropy", out, {logits}, std::move(backward));
}

// Elementwise binary cross-entropy of probabilities p with positive-outcome probabilities q:
//   l = −(q·max(log p, −100) + (1 − q)·max(log(1 − p), −100)),
//   ∂l/∂p = (p − q) / max(p(1 − p), 1e−12)   (PyTorch's formula),   ∂l/∂q = L0 − L1.
Tensor bce_elementwise(const Tensor& p, const Tensor& q) {
    const Tensor pc = p.detach().contiguous(), qc = q.detach().contiguous();  // q has p's dtype
    Tensor out = Tensor::empty(p.shape(), p.dtype());
    detail::dispatch(p.dtype(), [&]<class T>() {
        const T* pp = pc.data<T>();
        const T* qq = qc.data<T>();
        T* o = out.data<T>();
        for (std::int64_t i = 0; i < out.numel(); ++i) {
            const double l1 = std::max(std::log(static_cast<double>(pp[i])), -100.0);
            const double l0 = std::max(std::log1p(-static_cast<double>(pp[i])), -100.0);
            o[i] = static_cast<T>(-(qq[i] * l1 + (1.0 - qq[i]) * l0));
        }
    });
    constexpr double inf = std::numeric_limits<double>::infinity();
    return detail::record("binary_cross_entropy", out, {p, q}, [sp = save(p), sq = save(q)](GradContext& g) {
        const Tensor pv = sp.get(), qv = sq.get();
        if (g.needs(0)) g.add(0, g.out() * (pv - qv) / clamp(pv * (1.0 - pv), 1e-12, inf));
        if (g.needs(1)) g.add(1, g.out() * (clamp(log1p(-pv), -100.0, inf) - clamp(log(pv), -100.0, inf)));
    });
}

}  // namespace

namespace {
// Mean or summed squared error as one node: l = k Σ (p − t)², k = (½ if half) (/ n if mean).
// First-order backward in one pass, ∂p = 2k (p − t) g = −∂t; under create_graph the same formula
// is recorded with tensor ops, so it can be differentiated again.
Tensor mse_reduced(const Tensor& pred, const Tensor& target, bool half, bool mean) {
    const Tensor pc = pred.detach().contiguous(), tc = target.detach().contiguous();
    const double n = static_cast<double>(pred.numel());
    const double k = (half ? 0.5 : 1.0) / (mean ? n : 1.0);
    double acc = 0;
    detail::dispatch(pred.dtype(), [&]<class T>() {
        const T* p = pc.data<T>();
        const T* q = tc.data<T>();
        for (std::int64_t i = 0; i < pc.numel(); ++i) {
            const double d = static_cast<double>(p[i]) - static_cast<double>(q[i]);
            acc += d * d;
        }
    });
    const Tensor out = Tensor::scalar(acc * k, pred.dtype());
    return detail::record("mse_loss", out, {pred, target}, [sp = save(pred), st = save(target), c = 2.0 * k](GradContext& g) {
        if (!g.create_graph()) {
            const double scale = c * g.out().item();
            const Tensor d = detail::zip(sp.get(), st.get(), "mse_loss",
                                         [scale](auto p, auto q) { return (p - q) * static_cast<decltype(p)>(scale); });
            if (g.needs(1)) g.add(1, -d);
            if (g.needs(0)) g.add(0, d);
            return;
        }
        const Tensor d = (sp.get() - st.get()) * (g.out() * c);
        if (g.needs(1)) g.add(1, -d);
        if (g.needs(0)) g.add(0, d);
    });
}
}  // namespace

Tensor reduce_loss(const Tensor& losses, Reduction reduction) {
    switch (reduction) {
        case Reduction::Mean: return mean(losses);
        case Reduction::Sum: return sum(losses);
        case Reduction::None: return losses;
    }
    return losses;
}

Tensor mse_loss(const Tensor& pred, const Tensor& target, MSEOptions o) {
    require_same_shape(pred, target, "mse_loss", "pred", "target");
    check_targets(target, -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), "mse_loss");
    require_nonempty(pred, o.reduction, "mse_loss");
    const Tensor t = target.to(pred.dtype());
    if (o.reduction != Reduction::None) return mse_reduced(pred, t, o.half, o.reduction == Reduction::Mean);
    const Tensor sq = square(pred - t);
    return o.half ? sq * 0.5 : sq;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions o) {
    require_defined(logits, "cross_entropy", "logits");
    require_defined(target, "cross_entropy", "target");
    if (!(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0))
        throw ValueError(fmt::format("cross_entropy: label_smoothing must be in [0, 1], got {}", o.label_smoothing));
    if (logits.dim() == 1) {  // one sample: [C] with a 0-d label or a [C] distribution
        const Tensor t = target.dim() == 0 ? reshape(target, Shape{1}) : unsqueeze(target, 0);
        return reshape(cross_entropy(unsqueeze(logits, 0), t, o), Shape{});
    }
    if (target.shape() == logits.shape() && logits.dim() == 2) {  // probability targets
        check_targets(target, 0.0, 1.0, "cross_entropy");
        require_nonempty(target, o.reduction, "cross_entropy");
        const double c = static_cast<double>(logits.shape()[1]);
        const Tensor t = target.to(logits.dtype());
        const Tensor q = o.label_smoothing > 0 ? t * (1.0 - o.label_smoothing) + o.label_smoothing / c : t;
        return reduce_loss(-sum(q * log_softmax(logits, 1), Axes{1}), o.reduction);
    }
    const Tensor labels = check_class_problem(logits, target, "cross_entropy", "logits");
    require_nonempty(labels, o.reduction, "cross_entropy");
    return cross_entropy_indices(logits, labels, o.label_smoothing, o.reduction);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, Reduction reduction) {
    check_class_problem(log_probs, labels, "nll_loss", "log_probs");
    const std::int64_t n = log_probs.shape()[0];
    require_nonempty(labels, reduction, "nll_loss");
    const Tensor picked = gather(log_probs, 1, reshape(labels.detach(), Shape{n, 1}));
    return reduce_loss(-reshape(picked, Shape{n}), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets, BCEOptions o) {
    require_same_shape(logits, targets, "binary_cross_entropy_with_logits", "logits", "targets");
    check_targets(targets, 0.0, 1.0, "binary_cross_entropy_with_logits");
    require_nonempty(logits, o.reduction, "binary_cross_entropy_with_logits");
    const Tensor t = targets.to(logits.dtype());
    const Tensor q = o.convention == LabelConvention::Note003 ? 1.0 - t : t;
    return reduce_loss(softplus(logits) - q * logits, o.reduction);
}

Tensor binary_cross_entropy(const Tensor& probs, const Tensor& targets, BCEOptions o) {
    require_same_shape(probs, targets, "binary_cross_entropy", "probs", "targets");
    check_targets(probs, 0.0, 1.0, "binary_cross_entropy", "probability");
    check_targets(targets, 0.0, 1.0, "binary_cross_entropy");
    require_nonempty(probs, o.reduction, "binary_cross_entropy");
    const Tensor t = targets.to(probs.dtype());
    const Tensor q = o.convention == LabelConvention::Note003 ? 1.0 - t : t;
    return reduce_loss(bce_elementwise(probs, q), o.reduction);
}

}  // namespace ad::nn
