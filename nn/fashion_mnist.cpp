#include <nn/fashion_mnist.hpp>

#include <nn/io/idx.hpp>

#include <autodiff/random.hpp>

#include <fmt/ranges.h>

#include <cmath>
#include <filesystem>

namespace ad::nn {

namespace {

constexpr std::size_t kRows = 28, kCols = 28, kClasses = 10;

// `dir/name.gz` if it exists, else `dir/name`.
std::string locate(const std::string& dir, const std::string& name) {
    const std::filesystem::path base = std::filesystem::path(dir) / name;
    std::error_code ec;
    const std::filesystem::path gz = base.string() + ".gz";
    if (std::filesystem::exists(gz, ec)) return gz.string();
    return base.string();
}

std::shared_ptr<ByteImageDataset> load_split(const std::string& dir, const std::string& prefix, std::size_t count,
                                             const FashionMnistOptions& o) {
    const std::string images_path = locate(dir, prefix + "-images-idx3-ubyte");
    const std::string labels_path = locate(dir, prefix + "-labels-idx1-ubyte");
    LabeledImages d = read_idx_pair(images_path, labels_path);
    const auto& s = d.images.shape;
    if (d.images.type != IdxType::u8 || s.size() != 3 || s[1] != kRows || s[2] != kCols)
        throw IOError(fmt::format("load_fashion_mnist: {}: expected ubyte images of 28x28, got {} of shape [{}]",
                                  images_path, idx_type_name(d.images.type), fmt::join(s, ", ")));
    if (s[0] != count)
        throw IOError(fmt::format("load_fashion_mnist: {}: expected {} images, found {}", images_path, count, s[0]));
    for (std::size_t i = 0; i < d.labels.bytes.size(); ++i)
        if (d.labels.bytes[i] >= kClasses)
            throw IOError(fmt::format("load_fashion_mnist: {}: label {} of sample {} is not below {}", labels_path,
                                      d.labels.bytes[i], i, kClasses));
    const Shape sample = o.flatten ? Shape{static_cast<std::int64_t>(kRows * kCols)}
                                   : Shape{1, static_cast<std::int64_t>(kRows), static_cast<std::int64_t>(kCols)};
    return std::make_shared<ByteImageDataset>(std::move(d.images.bytes), sample, std::move(d.labels.bytes),
                                              static_cast<std::int64_t>(kClasses), o.dtype);
}

}  // namespace

const std::vector<std::string>& fashion_mnist_class_names() {
    static const std::vector<std::string> names{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

bool fashion_mnist_available(const std::string& dir) {
    for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                             "t10k-labels-idx1-ubyte"}) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(locate(dir, name), ec)) return false;
    }
    return true;
}

FashionMnist load_fashion_mnist(const std::string& dir, FashionMnistOptions options) {
    FashionMnist out;
    out.train = load_split(dir, "train", 60000, options);
    out.test = load_split(dir, "t10k", 10000, options);
    out.class_names = fashion_mnist_class_names();
    return out;
}

std::shared_ptr<TensorDataset> synthetic_classification(std::int64_t n, std::int64_t features, std::int64_t classes,
                                                        std::uint64_t seed, double separation, DType dtype) {
    if (n < 1 || features < 1 || classes < 2)
        throw ValueError(fmt::format("synthetic_classification: need n >= 1, features >= 1, classes >= 2 (got n={}, "
                                     "features={}, classes={})",
                                     n, features, classes));
    if (!(separation >= 0) || !std::isfinite(separation))
        throw ValueError(fmt::format("synthetic_classification: separation must be >= 0, got {}", separation));
    // The problem: centres depend on the shape of the task only.
    Rng task(0x5eed'b10b'0000ULL ^ (static_cast<std::uint64_t>(features) << 20) ^ static_cast<std::uint64_t>(classes));
    std::vector<double> centres(static_cast<std::size_t>(classes * features));
    for (double& c : centres) c = separation * task.normal();
    // The sample: labels balanced, in random order; features = centre + noise.
    Rng rng(seed);
    std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = i % classes;
    for (std::size_t i = labels.size() - 1; i > 0; --i) std::swap(labels[i], labels[rng.below(i + 1)]);
    Tensor x = Tensor::empty(Shape{n, features}, f64);
    Tensor y = Tensor::empty(Shape{n}, f64);
    double* xp = x.data<double>();
    double* yp = y.data<double>();
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t c = labels[static_cast<std::size_t>(i)];
        yp[i] = static_cast<double>(c);
        for (std::int64_t j = 0; j < features; ++j)
            xp[i * features + j] = centres[static_cast<std::size_t>(c * features + j)] + rng.normal();
    }
    NoGrad off;
    return std::make_shared<TensorDataset>(x.to(dtype), y.to(dtype));
}

}  // namespace ad::nn
