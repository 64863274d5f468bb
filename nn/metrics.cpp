#include <nn/metrics.hpp>

#include <autodiff/kernels.hpp>
#include <nn/report/svg.hpp>

#include <cmath>
#include <limits>

namespace ad::nn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_logits(const Tensor& logits, const char* who) {
    if (!logits.defined() || logits.dim() != 2 || logits.shape()[1] < 1)
        throw ShapeError(fmt::format("{}: logits must be [N, C] with C >= 1, got {}", who,
                                     logits.defined() ? logits.shape().str() : std::string("an undefined tensor")));
}

// Calls f(row, const T* scores) for every row of the logits.
template <class F>
void for_rows(const Tensor& logits, F&& f) {
    const Tensor c = logits.detach().contiguous();
    const std::int64_t n = c.shape()[0], k = c.shape()[1];
    detail::dispatch(c.dtype(), [&]<class T>() {
        const T* p = c.data<T>();
        for (std::int64_t i = 0; i < n; ++i) f(i, p + i * k);
    });
}

}  // namespace

std::vector<std::int64_t> class_indices(const Tensor& labels, std::int64_t rows, std::int64_t num_classes,
                                        const char* who) {
    if (!labels.defined() || labels.dim() != 1 || labels.shape()[0] != rows)
        throw ShapeError(fmt::format("{}: labels must have shape [{}], got {}", who, rows,
                                     labels.defined() ? labels.shape().str() : std::string("an undefined tensor")));
    const std::vector<double> v = labels.to_vector();
    std::vector<std::int64_t> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double x = v[i];
        if (!(x >= 0 && x < static_cast<double>(num_classes)) || x != std::floor(x))
            throw ValueError(fmt::format("{}: label {} at position {} is not a class index in [0, {})", who, x, i,
                                         num_classes));
        out[i] = static_cast<std::int64_t>(x);
    }
    return out;
}

std::vector<std::int64_t> predictions(const Tensor& logits) {
    check_logits(logits, "predictions");
    const std::int64_t k = logits.shape()[1];
    std::vector<std::int64_t> out(static_cast<std::size_t>(logits.shape()[0]));
    for_rows(logits, [&](std::int64_t i, const auto* s) {
        std::int64_t best = 0;
        for (std::int64_t j = 1; j < k; ++j)
            if (s[j] > s[best] || (std::isnan(s[j]) && !std::isnan(s[best]))) best = j;
        out[static_cast<std::size_t>(i)] = best;
    });
    return out;
}

double accuracy(const Tensor& logits, const Tensor& labels) {
    check_logits(logits, "accuracy");
    const auto y = class_indices(labels, logits.shape()[0], logits.shape()[1], "accuracy");
    if (y.empty()) return kNaN;
    const auto pred = predictions(logits);
    std::int64_t correct = 0;
    for (std::size_t i = 0; i < y.size(); ++i) correct += pred[i] == y[i];
    return static_cast<double>(correct) / static_cast<double>(y.size());
}

double top_k_accuracy(const Tensor& logits, const Tensor& labels, std::int64_t k) {
    check_logits(logits, "top_k_accuracy");
    const std::int64_t c = logits.shape()[1];
    if (k < 1 || k > c) throw ValueError(fmt::format("top_k_accuracy: k must be in [1, {}], got {}", c, k));
    const auto y = class_indices(labels, logits.shape()[0], c, "top_k_accuracy");
    if (y.empty()) return kNaN;
    std::int64_t correct = 0;
    for_rows(logits, [&](std::int64_t i, const auto* s) {
        const auto target = s[y[static_cast<std::size_t>(i)]];
        std::int64_t higher = 0;
        for (std::int64_t j = 0; j < c; ++j) higher += s[j] > target;
        correct += higher < k && !std::isnan(target);
    });
    return static_cast<double>(correct) / static_cast<double>(y.size());
}

// ---- ConfusionMatrix ------------------------------------------------------------------------------

ConfusionMatrix::ConfusionMatrix(std::int64_t num_classes) : n_(num_classes) {
    if (num_classes < 1) throw ValueError(fmt::format("ConfusionMatrix: num_classes must be >= 1, got {}", num_classes));
    reset();
}

void ConfusionMatrix::reset() {
    counts_.assign(static_cast<std::size_t>(n_), std::vector<std::int64_t>(static_cast<std::size_t>(n_), 0));
    total_ = 0;
}

void ConfusionMatrix::add(std::int64_t t, std::int64_t p) {
    if (t < 0 || t >= n_ || p < 0 || p >= n_)
        throw ValueError(fmt::format("ConfusionMatrix::add: classes ({}, {}) outside [0, {})", t, p, n_));
    ++counts_[static_cast<std::size_t>(t)][static_cast<std::size_t>(p)];
    ++total_;
}

void ConfusionMatrix::update(const Tensor& logits, const Tensor& labels) {
    check_logits(logits, "ConfusionMatrix::update");
    if (logits.shape()[1] != n_)
        throw ShapeError(fmt::format("ConfusionMatrix::update: logits {} have {} columns for {} classes",
                                     logits.shape().str(), logits.shape()[1], n_));
    const auto y = class_indices(labels, logits.shape()[0], n_, "ConfusionMatrix::update");
    const auto pred = predictions(logits);
    for (std::size_t i = 0; i < y.size(); ++i) add(y[i], pred[i]);
}

double ConfusionMatrix::accuracy() const {
    if (total_ == 0) return kNaN;
    std::int64_t trace = 0;
    for (std::int64_t i = 0; i < n_; ++i) trace += counts_[static_cast<std::size_t>(i)][static_cast<std::size_t>(i)];
    return static_cast<double>(trace) / static_cast<double>(total_);
}

double ConfusionMatrix::recall(std::int64_t cls) const {
    if (cls < 0 || cls >= n_) throw ValueError(fmt::format("ConfusionMatrix::recall: class {} outside [0, {})", cls, n_));
    const auto& row = counts_[static_cast<std::size_t>(cls)];
    std::int64_t sum = 0;
    for (auto c : row) sum += c;
    return sum == 0 ? kNaN : static_cast<double>(row[static_cast<std::size_t>(cls)]) / static_cast<double>(sum);
}

double ConfusionMatrix::precision(std::int64_t cls) const {
    if (cls < 0 || cls >= n_)
        throw ValueError(fmt::format("ConfusionMatrix::precision: class {} outside [0, {})", cls, n_));
    std::int64_t sum = 0;
    for (const auto& row : counts_) sum += row[static_cast<std::size_t>(cls)];
    const auto hit = counts_[static_cast<std::size_t>(cls)][static_cast<std::size_t>(cls)];
    return sum == 0 ? kNaN : static_cast<double>(hit) / static_cast<double>(sum);
}

std::vector<double> ConfusionMatrix::recalls() const {
    std::vector<double> r;
    for (std::int64_t i = 0; i < n_; ++i) r.push_back(recall(i));
    return r;
}

std::string ConfusionMatrix::to_svg(const std::vector<std::string>& class_names, std::string title) const {
    return confusion_matrix_chart(counts_, class_names, std::move(title));
}

}  // namespace ad::nn
