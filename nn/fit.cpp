#include <nn/fit.hpp>

#include <nn/loss.hpp>
#include <nn/metrics.hpp>

#include <chrono>
#include <cmath>

namespace ad::nn {

namespace {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool is_classification(const Tensor& logits, const Tensor& labels) {
    return logits.dim() == 2 && labels.dim() == 1 && logits.shape()[1] >= 2 && logits.shape()[0] == labels.shape()[0];
}

// Number of rows whose arg-max is the label.
std::int64_t count_correct(const Tensor& logits, const Tensor& labels, const char* who) {
    const auto y = class_indices(labels, logits.shape()[0], logits.shape()[1], who);
    const auto p = predictions(logits);
    std::int64_t c = 0;
    for (std::size_t i = 0; i < y.size(); ++i) c += p[i] == y[i];
    return c;
}

double loss_value(const Tensor& loss, const char* who) {
    if (!loss.defined() || loss.numel() != 1)
        throw ValueError(fmt::format("{}: the loss function must return a single element, got {}", who,
                                     loss.defined() ? loss.shape().str() : std::string("an undefined tensor")));
    return loss.item();
}

// Restores a module's training mode on scope exit.
class ModeGuard {
public:
    explicit ModeGuard(Module& m) : m_(m), was_(m.is_training()) {}
    ~ModeGuard() { m_.train(was_); }
    ModeGuard(const ModeGuard&) = delete;
    ModeGuard& operator=(const ModeGuard&) = delete;

private:
    Module& m_;
    bool was_;
};

}  // namespace

Tensor default_classification_loss(const Tensor& logits, const Tensor& labels) {
    if (logits.dim() != 2 || labels.dim() != 1 || labels.shape()[0] != logits.shape()[0])
        throw ShapeError(fmt::format("cross_entropy: logits must be [N, C] and labels [N], got {} and {}",
                                     logits.shape().str(), labels.shape().str()));
    return cross_entropy(logits, labels);  // class indices, mean over the batch
}

EvalResult evaluate(Module& model, DataLoader& loader, const LossFn& loss) {
    const LossFn& fn = loss ? loss : LossFn(default_classification_loss);
    ModeGuard guard(model);
    model.eval();
    NoGrad off;
    // An evaluation pass does not count as an epoch of the loader (the training order of a
    // loader also used for evaluation stays the same).
    const std::uint64_t epoch = loader.epoch();
    EvalResult r;
    double loss_sum = 0;
    std::int64_t correct = 0;
    bool classification = true;
    for (const Batch& b : loader) {
        const Tensor out = model.forward(b.features);
        const double l = loss_value(fn(out, b.labels), "evaluate");
        loss_sum += l * static_cast<double>(b.size());
        r.samples += b.size();
        if (classification && is_classification(out, b.labels))
            correct += count_correct(out, b.labels, "evaluate");
        else
            classification = false;
    }
    loader.set_epoch(epoch);
    if (r.samples > 0) {
        r.loss = loss_sum / static_cast<double>(r.samples);
        if (classification) r.accuracy = static_cast<double>(correct) / static_cast<double>(r.samples);
    }
    return r;
}

History fit(Module& model, Optimizer& opt, DataLoader& train, const FitOptions& o) {
    if (o.epochs < 1) throw ValueError(fmt::format("fit: epochs must be >= 1, got {}", o.epochs));
    const LossFn fn = o.loss ? o.loss : LossFn(default_classification_loss);
    if (o.schedule && &o.schedule->optimizer() != &opt)
        throw ValueError("fit: the schedule drives a different optimizer than the one given");
    std::optional<ProgressBar> bar;
    if (o.progress) bar.emplace(static_cast<std::size_t>(o.epochs), o.progress_options);
    const std::vector<Tensor>& params = opt.params();
    History history;

    for (std::int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
        model.train();
        if (bar) bar->start_epoch(static_cast<std::size_t>(epoch), static_cast<std::size_t>(train.num_batches()));
        const double start = now_seconds();
        double loss_sum = 0;
        std::int64_t samples = 0, correct = 0, batch_index = 0;
        bool classification = true;
        EpochStats stats;
        stats.epoch = epoch;
        stats.lr = opt.lr();
        for (const Batch& b : train) {
            ++batch_index;
            opt.zero_grad();
            double l;
            {
                const Tensor out = model.forward(b.features);
                const Tensor loss = fn(out, b.labels);
                l = loss_value(loss, "fit");
                if (o.stop_on_nonfinite && !std::isfinite(l))
                    throw ValueError(fmt::format("fit: epoch {} batch {}: the loss is {}", epoch, batch_index, l));
                if (classification && is_classification(out, b.labels)) {
                    NoGrad off;
                    correct += count_correct(out.detach(), b.labels, "fit");
                } else {
                    classification = false;
                }
                loss.backward();
            }
            if (o.clip_grad_norm) clip_grad_norm_(params, *o.clip_grad_norm);
            stats.lr = opt.lr();
            opt.step();
            if (o.schedule && o.schedule_per_batch) o.schedule->step();
            loss_sum += l * static_cast<double>(b.size());
            samples += b.size();
            if (bar) bar->step(static_cast<std::size_t>(b.size()), l);
        }
        stats.seconds = now_seconds() - start;
        stats.train_loss = samples ? loss_sum / static_cast<double>(samples) : std::nan("");
        if (classification && samples) stats.train_acc = static_cast<double>(correct) / static_cast<double>(samples);
        stats.samples_per_s = stats.seconds > 0 ? static_cast<double>(samples) / stats.seconds : 0;
        if (o.schedule && !o.schedule_per_batch) o.schedule->step();

        std::string summary;
        if (o.eval) {
            const EvalResult e = evaluate(model, *o.eval, fn);
            stats.test_loss = e.loss;
            stats.test_acc = e.accuracy;
            summary = e.accuracy ? fmt::format("test loss {:.4f}, test acc {:.4f}", e.loss, *e.accuracy)
                                 : fmt::format("test loss {:.4f}", e.loss);
        }
        if (bar) bar->end_epoch(summary);

        History::Row row{{"epoch", static_cast<double>(epoch)}, {"train_loss", stats.train_loss}};
        if (stats.train_acc) row.emplace_back("train_acc", *stats.train_acc);
        if (stats.test_loss) row.emplace_back("test_loss", *stats.test_loss);
        if (stats.test_acc) row.emplace_back("test_acc", *stats.test_acc);
        row.emplace_back("lr", stats.lr);
        row.emplace_back("seconds", stats.seconds);
        row.emplace_back("samples_per_s", stats.samples_per_s);
        history.add(row);
        if (o.on_epoch) o.on_epoch(stats);
        if (stats.stop) break;
    }
    model.train();
    return history;
}

}  // namespace ad::nn
