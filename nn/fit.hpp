#pragma once
// The standard training loop, with evaluation, progress display and a per-epoch history.
//
//     nn::Adam opt(model.parameters(), {.lr = 1e-3});
//     nn::DataLoader train(data.train, {.batch_size = 128, .shuffle = true}), test(data.test, {.batch_size = 1000});
//     nn::History h = nn::fit(model, opt, train, {.epochs = 5, .eval = &test});
//     h.write_csv("history.csv");
//
// Each epoch: model.train(); for every batch: zero_grad, forward, loss, backward, (clip), step,
// (schedule step per batch); then (schedule step per epoch), evaluation of the eval loader in
// eval mode under ad::NoGrad, one History row, the callback. Every graph is released before
// the next batch.
#include <nn/data.hpp>
#include <nn/module.hpp>
#include <nn/optim.hpp>
#include <nn/report/history.hpp>
#include <nn/report/progress.hpp>
#include <nn/schedule.hpp>

#include <functional>
#include <optional>

namespace ad::nn {

// A loss: mean over the batch of the loss of each (output row, target) pair, as a 0-d tensor.
using LossFn = std::function<Tensor(const Tensor& logits, const Tensor& labels)>;

// Mean cross-entropy of logits [N, C] against class indices [N] (the default loss of fit).
Tensor default_classification_loss(const Tensor& logits, const Tensor& labels);

// What one epoch achieved; passed to FitOptions::on_epoch.
struct EpochStats {
    std::int64_t epoch = 0;          // 1-based
    double train_loss = 0;           // sample-weighted mean over the epoch's batches
    std::optional<double> train_acc{};  // when outputs are [N, C] and targets [N]
    std::optional<double> test_loss{}, test_acc{};
    double lr = 0;                   // learning rate used in the epoch's last batch
    double seconds = 0;              // training time of the epoch (without evaluation)
    double samples_per_s = 0;
    bool stop = false;               // set by the callback to end training after this epoch
};

struct FitOptions {
    std::int64_t epochs = 1;               // >= 1
    LossFn loss = {};                      // default: default_classification_loss
    DataLoader* eval = nullptr;            // evaluated after every epoch when set
    Schedule* schedule = nullptr;          // stepped after every epoch (or batch, see below)
    bool schedule_per_batch = false;
    bool progress = true;                  // ProgressBar (quiet when not a terminal or CI is set)
    ProgressOptions progress_options = {};
    std::optional<double> clip_grad_norm{};  // max total 2-norm of the gradients
    bool stop_on_nonfinite = true;         // ValueError when a batch loss is NaN or infinite
    std::function<void(EpochStats&)> on_epoch = {};
};

// Runs the loop and returns one History row per epoch, with the columns
//   epoch, train_loss, train_acc, test_loss, test_acc, lr, seconds, samples_per_s
// (train_acc and test_acc only for classification outputs; test_* only with an eval loader).
// Throws ValueError for epochs < 1, a loss that is not a single element, or (with
// stop_on_nonfinite) a non-finite loss, naming the epoch and batch.
History fit(Module& model, Optimizer& optimizer, DataLoader& train, const FitOptions& options = {});

struct EvalResult {
    double loss = 0;                  // sample-weighted mean
    std::optional<double> accuracy{};  // when outputs are [N, C] and targets [N]
    std::int64_t samples = 0;
};

// Mean loss (and accuracy) of `model` over one pass of `loader`, in eval mode under NoGrad;
// restores the model's training mode and the loader's epoch counter afterwards (so evaluating
// with a shuffling loader does not change the order of its later training epochs).
EvalResult evaluate(Module& model, DataLoader& loader, const LossFn& loss = {});

}  // namespace ad::nn
