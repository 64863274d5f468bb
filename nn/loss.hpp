#pragma once
// Losses, as torch.nn.functional: each returns a 0-d tensor (the mean over the batch by default),
// or per-element/per-sample losses with Reduction::None. Targets are constants of the graph in the
// usual case, but every loss is also differentiable in its target (probability targets, MSE).
// A target of the other floating dtype is converted to the prediction's (inside the graph).
//
//     Tensor logits = model(x);                                  // [N, C]
//     Tensor loss = nn::cross_entropy(logits, labels);           // labels [N] holding 0..C−1
//     loss = nn::cross_entropy(logits, labels, {.label_smoothing = 0.1});
//     loss = nn::mse_loss(pred, y, {.half = true});              // the notes' ½‖a − y‖², averaged
//     loss = nn::binary_cross_entropy_with_logits(s, t);         // stable for |s| = 1000
//
// Bad targets throw ValueError naming the loss and the offending value: a class index that is not
// an integer in [0, C), a NaN target, a probability outside [0, 1]; shapes that do not fit throw
// ShapeError naming both shapes.
#include <autodiff/autodiff.hpp>

namespace ad::nn {

enum class Reduction { Mean, Sum, None };

// (pred − target)², or ½(pred − target)² with half = true (the notes' convention, §1: its
// gradient is pred − target). pred and target must have the same shape (no silent broadcasting
// of [N, 1] against [N]). Mean divides by the number of elements, as PyTorch.
struct MSEOptions {
    Reduction reduction = Reduction::Mean;
    bool half = false;
};
Tensor mse_loss(const Tensor& pred, const Tensor& target, MSEOptions opts = {});

// Softmax cross-entropy from logits [N, C] (or [C] for one sample), fused: one recorded node whose
// backward is (softmax(logits) − q)·g with q the (smoothed) target distribution — the notes'
// δ = p − y. Targets are either class indices [N] (or 0-d), or probabilities with the logits'
// shape (one-hot or soft); with class indices the mean or sum is taken inside that node too.
// label_smoothing ε mixes the target with the uniform distribution: q = (1 − ε)·target + ε/C, as
// torch.nn.functional.cross_entropy.
struct CrossEntropyOptions {
    Reduction reduction = Reduction::Mean;
    double label_smoothing = 0.0;
};
Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions opts = {});

// Negative log-likelihood of class indices under log-probabilities [N, C]: −log_probs[i, label_i].
Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, Reduction reduction = Reduction::Mean);

// What the target t of binary cross-entropy means (the notes, §3).
//   TargetIsPositive (the usual one, PyTorch's): σ(s) = p(t=1|x), L = −t log σ(s) − (1−t) log(1−σ(s)).
//   Note003 (note 003's): σ(s) = p(t=0|x), L = −(1−t) log σ(s) − t log(1−σ(s)); δ = σ(s) − (1 − t).
enum class LabelConvention { TargetIsPositive, Note003 };

struct BCEOptions {
    Reduction reduction = Reduction::Mean;
    LabelConvention convention = LabelConvention::TargetIsPositive;
};
// From logits s, as softplus(s) − q·s with q the probability of the positive outcome (t, or 1 − t
// for Note003): exact and finite for any finite s (|s| = 1000 included); ∂s = σ(s) − q.
// targets must have the logits' shape, with values in [0, 1].
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets, BCEOptions opts = {});
// From probabilities p in [0, 1]; each log is clamped at −100 as PyTorch does, so p = 0 or 1 gives
// a finite loss.
Tensor binary_cross_entropy(const Tensor& probs, const Tensor& targets, BCEOptions opts = {});

// Applies a reduction to per-element losses.
Tensor reduce_loss(const Tensor& losses, Reduction reduction);

}  // namespace ad::nn
