#pragma once
// Data sets and a mini-batch loader.
//
//     auto data = nn::load_fashion_mnist();                  // nn/fashion_mnist.hpp
//     nn::DataLoader train(data.train, {.batch_size = 128, .shuffle = true, .seed = 1});
//     for (const nn::Batch& b : train) { auto logits = model(b.features); ... b.labels ... }
//
// A Dataset is random access: it copies the samples at given indices into output tensors the
// caller allocated, so a loader can fill the same buffers batch after batch. Labels of a
// classification set are class indices stored as float values (what one_hot, gather and the
// losses take).
#include <autodiff/autodiff.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace ad::nn {

// Random-access samples of (features, target) pairs.
class Dataset {
public:
    virtual ~Dataset() = default;
    virtual std::int64_t size() const = 0;
    virtual Shape feature_shape() const = 0;  // of one sample, e.g. [784]
    virtual Shape label_shape() const = 0;    // of one sample's target; [] for a class index
    virtual DType feature_dtype() const = 0;
    virtual DType label_dtype() const = 0;
    // Copies samples indices[0..B) into features [B, feature_shape...] and labels
    // [B, label_shape...], which must be contiguous with the dtypes above (ShapeError
    // otherwise). Indices must be in [0, size()) (ValueError otherwise). Writes through data<T>()
    // and bumps both tensors' versions.
    virtual void get_batch(std::span<const std::int64_t> indices, Tensor& features, Tensor& labels) const = 0;
};

// Samples as rows of two tensors: features [N, ...] and labels [N, ...] (F32 or F64 each).
// Keeps a contiguous detached copy (the data does not follow later changes to the inputs).
class TensorDataset : public Dataset {
public:
    // ShapeError if a tensor is undefined or 0-d, or if the first dimensions differ.
    TensorDataset(const Tensor& features, const Tensor& labels);
    std::int64_t size() const override { return n_; }
    Shape feature_shape() const override;
    Shape label_shape() const override;
    DType feature_dtype() const override { return features_.dtype(); }
    DType label_dtype() const override { return labels_.dtype(); }
    void get_batch(std::span<const std::int64_t> indices, Tensor& features, Tensor& labels) const override;
    const Tensor& features() const { return features_; }
    const Tensor& labels() const { return labels_; }

private:
    Tensor features_, labels_;
    std::int64_t n_;
};

// Images kept as bytes (one per pixel) and converted to float times `scale` (default 1/255) only
// when a batch is assembled: Fashion-MNIST's 60000×784 training images stay 47 MB. Labels are
// class indices in [0, num_classes); batches carry them as float values.
class ByteImageDataset : public Dataset {
public:
    // `pixels` holds N samples of `sample_shape` (e.g. [784] or [1, 28, 28]) back to back.
    // ValueError if pixels.size() is not N·numel(sample_shape) for N = labels.size(), or a label
    // is outside [0, num_classes).
    ByteImageDataset(std::vector<std::uint8_t> pixels, Shape sample_shape, std::vector<std::uint8_t> labels,
                     std::int64_t num_classes, DType dtype = f32, double scale = 1.0 / 255.0);
    std::int64_t size() const override { return static_cast<std::int64_t>(labels_.size()); }
    Shape feature_shape() const override { return sample_shape_; }
    Shape label_shape() const override { return {}; }
    DType feature_dtype() const override { return dtype_; }
    DType label_dtype() const override { return dtype_; }
    void get_batch(std::span<const std::int64_t> indices, Tensor& features, Tensor& labels) const override;

    std::int64_t num_classes() const { return num_classes_; }
    std::span<const std::uint8_t> pixels() const { return pixels_; }
    std::span<const std::uint8_t> labels() const { return labels_; }
    // All features / labels as tensors (allocates N·numel floats).
    Tensor features_tensor() const;
    Tensor labels_tensor() const;

private:
    std::vector<std::uint8_t> pixels_;
    Shape sample_shape_;
    std::vector<std::uint8_t> labels_;
    std::int64_t num_classes_;
    DType dtype_;
    double scale_;
};

// The first `n` samples of another data set (quick runs, learning curves).
class Subset : public Dataset {
public:
    // ValueError unless 0 < n <= base->size().
    Subset(std::shared_ptr<const Dataset> base, std::int64_t n);
    std::int64_t size() const override { return n_; }
    Shape feature_shape() const override { return base_->feature_shape(); }
    Shape label_shape() const override { return base_->label_shape(); }
    DType feature_dtype() const override { return base_->feature_dtype(); }
    DType label_dtype() const override { return base_->label_dtype(); }
    void get_batch(std::span<const std::int64_t> indices, Tensor& features, Tensor& labels) const override;

private:
    std::shared_ptr<const Dataset> base_;
    std::int64_t n_;
};

// One mini-batch: features [B, ...] and labels [B, ...], plus the dataset indices they came from.
struct Batch {
    Tensor features{}, labels{};
    std::vector<std::int64_t> indices{};
    std::int64_t size() const { return static_cast<std::int64_t>(indices.size()); }
};

struct DataLoaderOptions {
    std::int64_t batch_size = 32;  // > 0
    bool shuffle = false;
    std::uint64_t seed = 0;       // shuffling seed
    bool drop_last = false;       // drop a last batch smaller than batch_size
};

// Iterates a dataset in mini-batches; range-for yields `const Batch&`.
//   - Each range-for (each begin()) is one epoch. With shuffle, epoch e uses the Fisher–Yates
//     permutation drawn from ad::Rng seeded by (seed, e), so runs are reproducible and the
//     order does not depend on how far earlier epochs were iterated. set_epoch(e) jumps.
//   - The last batch holds the remaining samples, or is dropped with drop_last.
//   - Batch tensors are reused from batch to batch when nobody else holds them (no
//     allocation in a steady training loop); a batch you keep (copy the Tensor handles) stays
//     intact, since the loader then allocates new buffers.
//   - The dataset is shared, not copied. One iteration at a time per loader.
class DataLoader {
public:
    // ValueError for a null or empty dataset or batch_size <= 0.
    DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});

    class iterator {
    public:
        using value_type = Batch;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        const Batch& operator*() const { return loader_->batch_; }
        const Batch* operator->() const { return &loader_->batch_; }
        iterator& operator++();
        void operator++(int) { ++*this; }
        bool operator==(const iterator& o) const { return position_ == o.position_; }

    private:
        friend class DataLoader;
        iterator(DataLoader* loader, std::int64_t position) : loader_(loader), position_(position) {}
        DataLoader* loader_ = nullptr;
        std::int64_t position_ = 0;  // index of the current batch
    };
    // Starts the next epoch (shuffling if enabled) and loads its first batch.
    iterator begin();
    iterator end() { return iterator(this, num_batches()); }

    std::int64_t num_batches() const;  // per epoch
    std::int64_t num_samples() const;  // per epoch (after drop_last)
    std::int64_t batch_size() const { return o_.batch_size; }
    const Dataset& dataset() const { return *dataset_; }
    const DataLoaderOptions& options() const { return o_; }
    // The epoch the next begin() starts (0 for a new loader).
    std::uint64_t epoch() const { return epoch_; }
    void set_epoch(std::uint64_t e) { epoch_ = e; }
    // The sample order of epoch `e` (identity without shuffle).
    std::vector<std::int64_t> order(std::uint64_t e) const;

private:
    void load(std::int64_t batch);
    // Keeps `t` if only the loader holds it and it has `rows` rows; otherwise allocates a new one.
    void prepare(Tensor& t, std::int64_t rows, const Shape& sample, DType dt);

    std::shared_ptr<const Dataset> dataset_;
    DataLoaderOptions o_;
    std::uint64_t epoch_ = 0;
    std::vector<std::int64_t> order_;
    struct Buffers {
        Tensor features, labels;
    };
    Buffers full_, tail_;  // owned batch buffers (full batches, and the smaller last one)
    Batch batch_;
};

}  // namespace ad::nn
