#pragma once
// Classification metrics over logits [N, C] (any real scores: logits, log-probabilities or
// probabilities) and labels [N] holding class indices as float values.
//
// Every function checks its input and throws: ad::ShapeError when logits are not 2-d with C >= 1,
// or labels are not [N]; ad::ValueError when a label is not an integer in [0, C). Nothing is
// recorded on the tape.
#include <autodiff/autodiff.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ad::nn {

// Fraction of rows whose arg-max (first one at ties, as argmax) equals the label; NaN for N = 0.
double accuracy(const Tensor& logits, const Tensor& labels);

// Fraction of rows whose label is among the k highest scores: a row counts when fewer than k
// classes score strictly higher than its label (ties are counted in the label's favour).
// ValueError unless 1 <= k <= C.
double top_k_accuracy(const Tensor& logits, const Tensor& labels, std::int64_t k);

// The predicted class (arg-max) of every row.
std::vector<std::int64_t> predictions(const Tensor& logits);

// The labels of a batch as class indices, checked as described above for `num_classes` classes
// and `rows` rows; `who` names the caller in messages.
std::vector<std::int64_t> class_indices(const Tensor& labels, std::int64_t rows, std::int64_t num_classes,
                                        const char* who);

// Counts of (true class, predicted class) pairs accumulated over batches.
class ConfusionMatrix {
public:
    // ValueError unless num_classes >= 1.
    explicit ConfusionMatrix(std::int64_t num_classes);

    // Adds a batch; logits must have num_classes columns (ShapeError otherwise).
    void update(const Tensor& logits, const Tensor& labels);
    // Adds one (true, predicted) pair; ValueError if either is outside [0, num_classes).
    void add(std::int64_t true_class, std::int64_t predicted_class);
    void reset();

    std::int64_t num_classes() const { return n_; }
    // counts()[t][p]: samples of true class t predicted as p.
    const std::vector<std::vector<std::int64_t>>& counts() const { return counts_; }
    std::int64_t total() const { return total_; }
    double accuracy() const;                     // trace / total; NaN when empty
    double recall(std::int64_t cls) const;       // correct / samples of the class; NaN if none
    double precision(std::int64_t cls) const;    // correct / predictions of the class; NaN if none
    std::vector<double> recalls() const;         // per class

    // SVG chart (nn/report/svg.hpp's confusion_matrix_chart); names may be empty.
    std::string to_svg(const std::vector<std::string>& class_names = {}, std::string title = "Confusion matrix") const;

private:
    std::int64_t n_;
    std::vector<std::vector<std::int64_t>> counts_;
    std::int64_t total_ = 0;
};

}  // namespace ad::nn
