#include <nn/data.hpp>

#include <autodiff/kernels.hpp>
#include <autodiff/multiversion.hpp>
#include <autodiff/random.hpp>

#include <cstring>
#include <numeric>

namespace ad::nn {

namespace {

// dst[j] = src[j] · s: the per-batch conversion of pixel bytes, vectorized for the running CPU.
template <class T>
AD_ALWAYS_INLINE inline void scale_bytes_loop(const std::uint8_t* __restrict src, std::size_t n, T s, T* __restrict dst) {
    for (std::size_t j = 0; j < n; ++j) dst[j] = static_cast<T>(src[j]) * s;
}
AD_MULTIVERSION void scale_bytes(const std::uint8_t* src, std::size_t n, float s, float* dst) {
    scale_bytes_loop(src, n, s, dst);
}
AD_MULTIVERSION void scale_bytes(const std::uint8_t* src, std::size_t n, double s, double* dst) {
    scale_bytes_loop(src, n, s, dst);
}

Shape sample_shape_of(const Tensor& t) {
    Shape s;
    for (int i = 1; i < t.dim(); ++i) s.push_back(t.shape()[i]);
    return s;
}

Shape batch_shape(std::int64_t rows, const Shape& sample) {
    Shape s{rows};
    for (auto d : sample) s.push_back(d);
    return s;
}

// Checks that `out` is a contiguous [B, sample...] tensor of dtype dt.
void check_output(const char* who, const char* what, const Tensor& out, std::size_t rows, const Shape& sample, DType dt) {
    const Shape want = batch_shape(static_cast<std::int64_t>(rows), sample);
    if (!out.defined() || !(out.shape() == want) || out.dtype() != dt || !out.is_contiguous())
        throw ShapeError(fmt::format("{}: {} output must be a contiguous {} tensor of shape {}, got {}", who, what,
                                     dtype_name(dt), want.str(),
                                     out.defined() ? fmt::format("{} {}{}", dtype_name(out.dtype()), out.shape().str(),
                                                                 out.is_contiguous() ? "" : " (not contiguous)")
                                                   : std::string("an undefined tensor")));
}

void check_index(const char* who, std::int64_t i, std::int64_t n) {
    if (i < 0 || i >= n) throw ValueError(fmt::format("{}: sample index {} is out of range for {} samples", who, i, n));
}

// Copies rows `indices` of the contiguous tensor `src` ([N, ...]) into `dst` (same dtype).
void gather_rows(const char* who, const Tensor& src, std::span<const std::int64_t> indices, Tensor& dst) {
    const std::int64_t n = src.shape()[0];
    const std::size_t row = n == 0 ? 0 : static_cast<std::size_t>(src.numel() / n);
    detail::dispatch(src.dtype(), [&]<class T>() {
        const T* s = src.data<T>();
        T* d = dst.data<T>();
        for (std::size_t k = 0; k < indices.size(); ++k) {
            check_index(who, indices[k], n);
            if (row) std::memcpy(d + k * row, s + static_cast<std::size_t>(indices[k]) * row, row * sizeof(T));
        }
    });
    dst.bump_version();
}

}  // namespace

// ---- TensorDataset --------------------------------------------------------------------------------

TensorDataset::TensorDataset(const Tensor& features, const Tensor& labels) {
    if (!features.defined() || !labels.defined())
        throw ShapeError("TensorDataset: features and labels must be defined tensors");
    if (features.dim() == 0 || labels.dim() == 0)
        throw ShapeError(fmt::format("TensorDataset: features {} and labels {} need a first (sample) dimension",
                                     features.shape().str(), labels.shape().str()));
    if (features.shape()[0] != labels.shape()[0])
        throw ShapeError(fmt::format("TensorDataset: features {} and labels {} have different numbers of samples",
                                     features.shape().str(), labels.shape().str()));
    NoGrad off;
    features_ = features.detach().clone();
    labels_ = labels.detach().clone();
    n_ = features.shape()[0];
}

Shape TensorDataset::feature_shape() const { return sample_shape_of(features_); }
Shape TensorDataset::label_shape() const { return sample_shape_of(labels_); }

void TensorDataset::get_batch(std::span<const std::int64_t> indices, Tensor& features, Tensor& labels) const {
    check_output("TensorDataset::get_batch", "features", features, indices.size(), feature_shape(), feature_dtype());
    check_output("TensorDataset::get_batch", "labels", labels, indices.size(), label_shape(), label_dtype());
    gather_rows("TensorDataset::get_batch", features_, indices, features);
    gather_rows("TensorDataset::get_batch", labels_, indices, labels);
}

// ---- ByteImageDataset -----------------------------------------------------------------------------

ByteImageDataset::ByteImageDataset(std::vector<std::uint8_t> pixels, Shape sample_shape,
                                   std::vector<std::uint8_t> labels, std::int64_t num_classes, DType dtype,
                                   double scale)
    : pixels_(std::move(pixels)), sample_shape_(sample_shape), labels_(std::move(labels)), num_classes_(num_classes),
      dtype_(dtype), scale_(scale) {
    for (auto d : sample_shape_)
        if (d <= 0) throw ValueError(fmt::format("ByteImageDataset: sample shape {} must be positive", sample_shape_.str()));
    if (num_classes <= 0)
        throw ValueError(fmt::format("ByteImageDataset: num_classes must be positive, got {}", num_classes));
    const std::size_t per = static_cast<std::size_t>(sample_shape_.numel());
    if (pixels_.size() / per != labels_.size() || pixels_.size() % per != 0)
        throw ValueError(fmt::format("ByteImageDataset: {} pixels do not hold {} samples of shape {} ({} bytes each)",
                                     pixels_.size(), labels_.size(), sample_shape_.str(), per));
    for (std::size_t i = 0; i < labels_.size(); ++i)
        if (labels_[i] >= num_classes)
            throw ValueError(fmt::format("ByteImageDataset: label {} of sample {} is outside [0, {})", labels_[i], i,
                                         num_classes));
}

void ByteImageDataset::get_batch(std::span<const std::int64_t> indices, Tensor& features, Tensor& labels) const {
    check_output("ByteImageDataset::get_batch", "features", features, indices.size(), sample_shape_, dtype_);
    check_output("ByteImageDataset::get_batch", "labels", labels, indices.size(), Shape{}, dtype_);
    const std::int64_t n = size();
    const std::size_t per = static_cast<std::size_t>(sample_shape_.numel());
    detail::dispatch(dtype_, [&]<class T>() {
        T* __restrict f = features.data<T>();
        T* __restrict l = labels.data<T>();
        const T s = static_cast<T>(scale_);
        for (std::size_t k = 0; k < indices.size(); ++k) {
            check_index("ByteImageDataset::get_batch", indices[k], n);
            const std::uint8_t* src = pixels_.data() + static_cast<std::size_t>(indices[k]) * per;
            if (k + 1 < indices.size() && indices[k + 1] >= 0 && indices[k + 1] < n) {
                // Shuffled rows are scattered over the whole data set: fetch the next one while
                // this one converts (the cache misses, not the conversion, dominate).
                const std::uint8_t* next = pixels_.data() + static_cast<std::size_t>(indices[k + 1]) * per;
                for (std::size_t off = 0; off < per; off += 64) __builtin_prefetch(next + off);
            }
            scale_bytes(src, per, s, f + k * per);
            l[k] = static_cast<T>(labels_[static_cast<std::size_t>(indices[k])]);
        }
    });
    features.bump_version();
    labels.bump_version();
}

Tensor ByteImageDataset::features_tensor() const {
    std::vector<std::int64_t> all(static_cast<std::size_t>(size()));
    std::iota(all.begin(), all.end(), 0);
    Tensor f = Tensor::empty(batch_shape(size(), sample_shape_), dtype_);
    Tensor l = Tensor::empty(Shape{size()}, dtype_);
    get_batch(all, f, l);
    return f;
}

Tensor ByteImageDataset::labels_tensor() const {
    Tensor l = Tensor::empty(Shape{size()}, dtype_);
    detail::dispatch(dtype_, [&]<class T>() {
        for (std::size_t i = 0; i < labels_.size(); ++i) l.data<T>()[i] = static_cast<T>(labels_[i]);
    });
    return l;
}

// ---- DataLoader -----------------------------------------------------------------------------------

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), o_(options) {
    if (!dataset_) throw ValueError("DataLoader: the dataset is null");
    if (dataset_->size() <= 0) throw ValueError("DataLoader: the dataset is empty");
    if (o_.batch_size <= 0) throw ValueError(fmt::format("DataLoader: batch_size must be positive, got {}", o_.batch_size));
}

std::int64_t DataLoader::num_batches() const {
    const std::int64_t n = dataset_->size(), b = o_.batch_size;
    return o_.drop_last ? n / b : (n + b - 1) / b;
}

std::int64_t DataLoader::num_samples() const {
    return o_.drop_last ? num_batches() * o_.batch_size : dataset_->size();
}

std::vector<std::int64_t> DataLoader::order(std::uint64_t e) const {
    std::vector<std::int64_t> idx(static_cast<std::size_t>(dataset_->size()));
    std::iota(idx.begin(), idx.end(), 0);
    if (!o_.shuffle) return idx;
    Rng rng(o_.seed ^ (0x9e3779b97f4a7c15ULL * (e + 1)));
    for (std::size_t i = idx.size() - 1; i > 0; --i) std::swap(idx[i], idx[rng.below(i + 1)]);
    return idx;
}

DataLoader::iterator DataLoader::begin() {
    if (o_.shuffle || order_.size() != static_cast<std::size_t>(dataset_->size())) order_ = order(epoch_);
    ++epoch_;
    if (num_batches() > 0) load(0);
    return iterator(this, 0);
}

DataLoader::iterator& DataLoader::iterator::operator++() {
    ++position_;
    if (position_ < loader_->num_batches()) loader_->load(position_);
    return *this;
}

void DataLoader::prepare(Tensor& t, std::int64_t rows, const Shape& sample, DType dt) {
    const bool reusable =
        t.defined() && t.impl_ptr().use_count() == 1 && t.storage().use_count() == 1 && t.shape()[0] == rows;
    if (!reusable) t = Tensor::empty(batch_shape(rows, sample), dt);
}

void DataLoader::load(std::int64_t batch) {
    const std::int64_t n = dataset_->size(), b = o_.batch_size;
    const std::int64_t first = batch * b, rows = std::min(b, n - first);
    batch_.indices.assign(order_.begin() + first, order_.begin() + first + rows);
    // Drop the batch's handles first, so the buffers are reusable unless someone else kept them.
    batch_.features = Tensor();
    batch_.labels = Tensor();
    Buffers& buf = rows == b ? full_ : tail_;
    prepare(buf.features, rows, dataset_->feature_shape(), dataset_->feature_dtype());
    prepare(buf.labels, rows, dataset_->label_shape(), dataset_->label_dtype());
    dataset_->get_batch(batch_.indices, buf.features, buf.labels);
    batch_.features = buf.features;
    batch_.labels = buf.labels;
}

Subset::Subset(std::shared_ptr<const Dataset> base, std::int64_t n) : base_(std::move(base)), n_(n) {
    if (!base_ || n <= 0 || n > base_->size())
        throw ValueError(fmt::format("Subset: n = {} must be in [1, {}]", n, base_ ? base_->size() : 0));
}

void Subset::get_batch(std::span<const std::int64_t> indices, Tensor& features, Tensor& labels) const {
    for (std::int64_t i : indices)
        if (i < 0 || i >= n_) throw ValueError(fmt::format("Subset: index {} is out of range [0, {})", i, n_));
    base_->get_batch(indices, features, labels);
}

}  // namespace ad::nn
