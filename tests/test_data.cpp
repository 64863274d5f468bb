// Tests of nn/data (datasets, DataLoader) and nn/fashion_mnist (real files and the synthetic set).
#include <nn/data.hpp>
#include <nn/fashion_mnist.hpp>

#include <autodiff/autodiff.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <vector>

using namespace ad;
using namespace ad::nn;

namespace {

// A dataset of n samples whose feature row i is [i, 10 i] and label i.
std::shared_ptr<TensorDataset> counting(std::int64_t n) {
    Tensor x = Tensor::empty(Shape{n, 2}, f64), y = Tensor::empty(Shape{n}, f32);
    for (std::int64_t i = 0; i < n; ++i) {
        x.set({i, 0}, static_cast<double>(i));
        x.set({i, 1}, 10.0 * static_cast<double>(i));
        y.set({i}, static_cast<double>(i));
    }
    return std::make_shared<TensorDataset>(x, y);
}

// The sample ids (feature column 0) of every batch of one epoch, checking rows stay paired.
std::vector<std::vector<std::int64_t>> epoch_ids(DataLoader& loader) {
    std::vector<std::vector<std::int64_t>> out;
    for (const Batch& b : loader) {
        std::vector<std::int64_t> ids;
        for (std::int64_t r = 0; r < b.size(); ++r) {
            const double id = b.features.at({r, 0});
            CHECK(b.features.at({r, 1}) == 10 * id);
            CHECK(b.labels.at({r}) == id);
            CHECK(b.indices[static_cast<std::size_t>(r)] == static_cast<std::int64_t>(id));
            ids.push_back(static_cast<std::int64_t>(id));
        }
        out.push_back(ids);
    }
    return out;
}

std::vector<std::int64_t> flat(const std::vector<std::vector<std::int64_t>>& v) {
    std::vector<std::int64_t> f;
    for (const auto& b : v) f.insert(f.end(), b.begin(), b.end());
    return f;
}

}  // namespace

TEST_CASE("TensorDataset copies the rows it is asked for") {
    auto ds = counting(5);
    CHECK(ds->size() == 5);
    CHECK(ds->feature_shape() == Shape{2});
    CHECK(ds->label_shape() == Shape{});
    CHECK(ds->feature_dtype() == f64);
    CHECK(ds->label_dtype() == f32);
    Tensor f = Tensor::empty(Shape{2, 2}, f64), l = Tensor::empty(Shape{2}, f32);
    const std::int64_t idx[] = {4, 1};
    ds->get_batch(idx, f, l);
    CHECK(f.to_vector() == std::vector<double>{4, 40, 1, 10});
    CHECK(l.to_vector() == std::vector<double>{4, 1});
    const std::int64_t bad[] = {0, 5};
    CHECK_THROWS_AS(ds->get_batch(bad, f, l), ValueError);
    Tensor wrong = Tensor::empty(Shape{2, 3}, f64);
    CHECK_THROWS_AS(ds->get_batch(idx, wrong, l), ShapeError);
    Tensor wrong_dtype = Tensor::empty(Shape{2, 2}, f32);
    CHECK_THROWS_AS(ds->get_batch(idx, wrong_dtype, l), ShapeError);
    CHECK_THROWS_AS(TensorDataset(Tensor::zeros(Shape{3, 2}), Tensor::zeros(Shape{4})), ShapeError);
    CHECK_THROWS_AS(TensorDataset(Tensor::scalar(1), Tensor::zeros(Shape{1})), ShapeError);
}

TEST_CASE("ByteImageDataset converts bytes to scaled floats only in batches") {
    std::vector<std::uint8_t> px{0, 255, 51, 102, 10, 20};  // 3 samples of [2]
    ByteImageDataset ds(px, Shape{2}, {2, 0, 1}, 3);
    CHECK(ds.size() == 3);
    Tensor f = Tensor::empty(Shape{2, 2}, f32), l = Tensor::empty(Shape{2}, f32);
    const std::int64_t idx[] = {0, 1};
    ds.get_batch(idx, f, l);
    CHECK(f.at({0, 1}) == doctest::Approx(1.0));
    CHECK(f.at({1, 0}) == doctest::Approx(0.2));
    CHECK(l.to_vector() == std::vector<double>{2, 0});
    CHECK(ds.features_tensor().shape() == Shape{3, 2});
    CHECK(ds.labels_tensor().to_vector() == std::vector<double>{2, 0, 1});
    CHECK_THROWS_AS(ByteImageDataset(px, Shape{4}, {0, 1}, 3), ValueError);   // 6 bytes are not 2 × 4
    CHECK_THROWS_AS(ByteImageDataset(px, Shape{2}, {0, 1, 3}, 3), ValueError);  // label 3 of 3 classes
    ByteImageDataset d64(px, Shape{1, 2}, {2, 0, 1}, 3, f64, 1.0);
    Tensor f64b = Tensor::empty(Shape{1, 1, 2}, f64), l64 = Tensor::empty(Shape{1}, f64);
    const std::int64_t one[] = {2};
    d64.get_batch(one, f64b, l64);
    CHECK(f64b.to_vector() == std::vector<double>{10, 20});
}

TEST_CASE("DataLoader: every sample once per epoch, in order without shuffle") {
    DataLoader loader(counting(10), {.batch_size = 4});
    CHECK(loader.num_batches() == 3);
    CHECK(loader.num_samples() == 10);
    const auto ids = epoch_ids(loader);
    REQUIRE(ids.size() == 3);
    CHECK(ids[0] == std::vector<std::int64_t>{0, 1, 2, 3});
    CHECK(ids[2] == std::vector<std::int64_t>{8, 9});  // the smaller last batch
    CHECK(epoch_ids(loader) == ids);
}

TEST_CASE("DataLoader: drop_last") {
    DataLoader loader(counting(10), {.batch_size = 4, .shuffle = true, .seed = 3, .drop_last = true});
    CHECK(loader.num_batches() == 2);
    CHECK(loader.num_samples() == 8);
    const auto ids = epoch_ids(loader);
    CHECK(ids.size() == 2);
    for (const auto& b : ids) CHECK(b.size() == 4);
    DataLoader none(counting(3), {.batch_size = 4, .drop_last = true});
    int batches = 0;
    for (const Batch& b : none) batches += static_cast<int>(b.size() > 0);
    CHECK(batches == 0);
}

TEST_CASE("DataLoader: shuffling is a reproducible permutation per epoch") {
    DataLoader a(counting(50), {.batch_size = 8, .shuffle = true, .seed = 42});
    DataLoader b(counting(50), {.batch_size = 8, .shuffle = true, .seed = 42});
    DataLoader c(counting(50), {.batch_size = 8, .shuffle = true, .seed = 43});
    const auto a0 = flat(epoch_ids(a)), a1 = flat(epoch_ids(a));
    std::vector<std::int64_t> sorted = a0;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int64_t> all(50);
    std::iota(all.begin(), all.end(), 0);
    CHECK(sorted == all);        // a permutation
    CHECK(a0 != all);            // actually shuffled
    CHECK(a0 != a1);             // a new order each epoch
    CHECK(flat(epoch_ids(b)) == a0);  // same seed, same epoch: same order
    CHECK(flat(epoch_ids(c)) != a0);
    CHECK(a.order(0) == a0);
    CHECK(a.order(1) == a1);
    CHECK(a.epoch() == 2);
    b.set_epoch(1);  // jumping to an epoch gives its order, whatever ran before
    CHECK(flat(epoch_ids(b)) == a1);
    // A partially iterated epoch does not shift the next one.
    DataLoader d(counting(50), {.batch_size = 8, .shuffle = true, .seed = 42});
    for (const Batch& batch : d) {
        CHECK(batch.size() == 8);
        break;
    }
    CHECK(flat(epoch_ids(d)) == a1);
}

TEST_CASE("DataLoader reuses its batch buffers unless a batch is kept") {
    DataLoader loader(counting(12), {.batch_size = 4});
    std::set<const void*> storages;
    for (const Batch& b : loader) storages.insert(b.features.storage().get());
    for (const Batch& b : loader) storages.insert(b.features.storage().get());
    CHECK(storages.size() == 1);

    std::vector<Tensor> kept;
    for (const Batch& b : loader) kept.push_back(b.features);
    REQUIRE(kept.size() == 3);
    CHECK(kept[0].at({0, 0}) == 0);
    CHECK(kept[1].at({0, 0}) == 4);
    CHECK(kept[2].at({0, 0}) == 8);
    CHECK(kept[0].storage() != kept[1].storage());

    // The batch survives a training-like use: a graph over it is built and released.
    Tensor w = Tensor::ones(Shape{2, 1}, f64).requires_grad_();
    storages.clear();
    for (int epoch = 0; epoch < 2; ++epoch)
        for (const Batch& b : loader) {
            sum(matmul(b.features, w)).backward();
            storages.insert(b.features.storage().get());
        }
    CHECK(storages.size() == 1);
}

TEST_CASE("DataLoader: invalid construction is a ValueError") {
    CHECK_THROWS_WITH_AS(DataLoader(counting(3), {.batch_size = 0}), doctest::Contains("batch_size"), ValueError);
    CHECK_THROWS_AS(DataLoader(counting(3), {.batch_size = -2}), ValueError);
    CHECK_THROWS_AS(DataLoader(nullptr), ValueError);
    auto empty = std::make_shared<TensorDataset>(Tensor::zeros(Shape{0, 2}), Tensor::zeros(Shape{0}));
    CHECK_THROWS_WITH_AS(DataLoader{empty}, doctest::Contains("empty"), ValueError);
}

TEST_CASE("synthetic_classification: deterministic, balanced, same task for every seed") {
    auto a = synthetic_classification(200, 5, 4, 1);
    auto b = synthetic_classification(200, 5, 4, 1);
    auto c = synthetic_classification(200, 5, 4, 2);
    CHECK(a->features().to_vector() == b->features().to_vector());
    CHECK(a->labels().to_vector() == b->labels().to_vector());
    CHECK(a->features().to_vector() != c->features().to_vector());
    CHECK(a->features().shape() == Shape{200, 5});
    std::map<double, int> per_class;
    for (double y : a->labels().to_vector()) ++per_class[y];
    CHECK(per_class == std::map<double, int>{{0, 50}, {1, 50}, {2, 50}, {3, 50}});
    // Class means of two splits agree (same centres), within the noise of 50 samples.
    auto class_mean = [](const TensorDataset& d, double cls, std::int64_t j) {
        double s = 0;
        int n = 0;
        for (std::int64_t i = 0; i < d.size(); ++i)
            if (d.labels().at({i}) == cls) {
                s += d.features().at({i, j});
                ++n;
            }
        return s / n;
    };
    for (double cls : {0.0, 3.0})
        CHECK(std::abs(class_mean(*a, cls, 0) - class_mean(*c, cls, 0)) < 0.6);
    CHECK_THROWS_AS(synthetic_classification(0, 5, 4, 1), ValueError);
    CHECK_THROWS_AS(synthetic_classification(10, 5, 1, 1), ValueError);
}

TEST_CASE("load_fashion_mnist: the real files, validated") {
    if (!fashion_mnist_available()) {
        MESSAGE("Fashion-MNIST not found in " << fashion_mnist_default_dir << ": skipping the real-data check");
        return;
    }
    const FashionMnist fm = load_fashion_mnist();
    REQUIRE(fm.train);
    REQUIRE(fm.test);
    CHECK(fm.train->size() == 60000);
    CHECK(fm.test->size() == 10000);
    CHECK(fm.train->feature_shape() == Shape{784});
    CHECK(fm.train->pixels().size() == 60000u * 784u);  // kept as bytes
    CHECK(fm.class_names.size() == 10);
    CHECK(fm.class_names[9] == "Ankle boot");
    std::vector<int> counts(10);
    for (auto y : fm.test->labels()) ++counts[y];
    for (int c : counts) CHECK(c == 1000);  // the test set is balanced
    DataLoader loader(fm.test, {.batch_size = 256});
    const Batch& b = *loader.begin();
    CHECK(b.features.shape() == Shape{256, 784});
    const auto v = b.features.to_vector();
    CHECK(*std::max_element(v.begin(), v.end()) <= 1.0);
    CHECK(*std::max_element(v.begin(), v.end()) > 0.9);
    CHECK(*std::min_element(v.begin(), v.end()) == 0.0);
}

TEST_CASE("load_fashion_mnist: missing or wrong files are IOErrors naming the file") {
    const auto dir = std::filesystem::temp_directory_path() / "ad_test_fmnist_bad";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    CHECK_FALSE(fashion_mnist_available(dir.string()));
    CHECK_THROWS_WITH_AS(load_fashion_mnist(dir.string()), doctest::Contains("train-images-idx3-ubyte"), IOError);
    // Valid IDX files with the wrong number of images (2 instead of 60000).
    auto write = [&](const char* name, std::vector<std::uint8_t> bytes) {
        std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                          static_cast<std::streamsize>(bytes.size()));
    };
    std::vector<std::uint8_t> images{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28};
    images.resize(images.size() + 2 * 28 * 28, 7);
    write("train-images-idx3-ubyte", images);
    write("train-labels-idx1-ubyte", {0, 0, 8, 1, 0, 0, 0, 2, 1, 2});
    write("t10k-images-idx3-ubyte", images);
    write("t10k-labels-idx1-ubyte", {0, 0, 8, 1, 0, 0, 0, 2, 1, 2});
    CHECK(fashion_mnist_available(dir.string()));
    CHECK_THROWS_WITH_AS(load_fashion_mnist(dir.string()), doctest::Contains("expected 60000 images, found 2"), IOError);
    std::filesystem::remove_all(dir);
}
