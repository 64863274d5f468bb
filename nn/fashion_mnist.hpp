#pragma once
// Fashion-MNIST (Zalando's 28×28 grey clothing images, 10 classes) and a synthetic stand-in.
//
//     auto fm = nn::load_fashion_mnist();          // Debian's dataset-fashion-mnist location
//     nn::DataLoader train(fm.train, {.batch_size = 128, .shuffle = true});
//
// The images stay bytes in memory (47 MB for the training set) and become floats in [0, 1]
// only when a batch is assembled (ByteImageDataset).
#include <nn/data.hpp>

#include <memory>
#include <string>
#include <vector>

namespace ad::nn {

inline constexpr const char* fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

// "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
// "Ankle boot" (label k is entry k).
const std::vector<std::string>& fashion_mnist_class_names();

struct FashionMnistOptions {
    bool flatten = true;  // samples of shape [784] (for MLPs); otherwise [1, 28, 28]
    DType dtype = f32;    // of the batches
};

struct FashionMnist {
    std::shared_ptr<ByteImageDataset> train;  // 60000 samples
    std::shared_ptr<ByteImageDataset> test;   // 10000 samples
    std::vector<std::string> class_names;
};

// True if the four files exist in `dir` (gzip-compressed "train-images-idx3-ubyte.gz", ... or
// the same names without ".gz").
bool fashion_mnist_available(const std::string& dir = fashion_mnist_default_dir);

// Reads and validates the four IDX files in `dir`: 60000 training and 10000 test images of
// 28×28 ubyte, as many ubyte labels, every label below 10. Throws ad::IOError naming the file
// and the problem (missing, corrupt, wrong counts or sizes, label out of range).
FashionMnist load_fashion_mnist(const std::string& dir = fashion_mnist_default_dir, FashionMnistOptions options = {});

// A learnable classification problem for tests and for when the files are missing: `classes`
// Gaussian blobs in `features` dimensions. Class centres are drawn from N(0, separation²) with
// a seed derived only from (features, classes), so data sets drawn with different `seed`s are
// train/test splits of the same problem; each sample is its centre plus N(0, 1) noise. Labels
// cycle through the classes (balanced) in a seeded random order. Deterministic on every
// machine (ad::Rng). ValueError unless n >= 1, features >= 1, classes >= 2.
std::shared_ptr<TensorDataset> synthetic_classification(std::int64_t n, std::int64_t features, std::int64_t classes,
                                                        std::uint64_t seed, double separation = 1.5,
                                                        DType dtype = f32);

}  // namespace ad::nn
