// Tests of nn/fit (training loop, evaluation) and nn/metrics.
#include <nn/data.hpp>
#include <nn/fashion_mnist.hpp>
#include <nn/fit.hpp>
#include <nn/linear.hpp>
#include <nn/metrics.hpp>
#include <nn/optim.hpp>
#include <nn/schedule.hpp>

#include <autodiff/autodiff.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>

using namespace ad;
using namespace ad::nn;

namespace {

// Linear → ReLU → Linear, like nn.Sequential(Linear, ReLU, Linear).
struct Net : Module {
    std::shared_ptr<Linear> l0, l2;
    Net(std::int64_t in, std::int64_t hidden, std::int64_t out, std::uint64_t seed)
        : l0(register_module("0", std::make_shared<Linear>(in, hidden, LinearOptions{.seed = seed}))),
          l2(register_module("2", std::make_shared<Linear>(hidden, out, LinearOptions{.seed = seed + 1}))) {}
    Tensor forward(const Tensor& x) override { return l2->forward(relu(l0->forward(x))); }
    std::string name() const override { return "Sequential"; }
};

Tensor logits_2x3() { return Tensor({{0.1, 2.0, -1.0}, {3.0, 1.0, 2.0}}, f32); }

}  // namespace

// ---- metrics --------------------------------------------------------------------------------------

TEST_CASE("accuracy and top_k_accuracy") {
    const Tensor logits = Tensor({{0.1, 2.0, -1.0}, {3.0, 1.0, 2.0}, {0.0, 0.0, 5.0}, {1.0, 0.5, 0.0}});
    const Tensor labels = Tensor({1.0, 2.0, 2.0, 2.0});
    CHECK(accuracy(logits, labels) == 0.5);
    CHECK(top_k_accuracy(logits, labels, 1) == 0.5);
    CHECK(top_k_accuracy(logits, labels, 2) == 0.75);
    CHECK(top_k_accuracy(logits, labels, 3) == 1.0);
    CHECK(predictions(logits) == std::vector<std::int64_t>{1, 0, 2, 0});
    CHECK(accuracy(Tensor({{1.0, 1.0}}), Tensor({0.0})) == 1.0);  // ties: the first maximum
    CHECK(std::isnan(accuracy(Tensor::zeros(Shape{0, 3}), Tensor::zeros(Shape{0}))));
    CHECK_THROWS_AS(accuracy(logits, Tensor({1.0, 2.0})), ShapeError);
    CHECK_THROWS_AS(accuracy(Tensor({1.0, 2.0}), Tensor({1.0, 2.0})), ShapeError);
    CHECK_THROWS_WITH_AS(accuracy(logits, Tensor({1.0, 3.0, 0.0, 0.0})), doctest::Contains("label 3"), ValueError);
    CHECK_THROWS_AS(accuracy(logits, Tensor({1.5, 0.0, 0.0, 0.0})), ValueError);
    CHECK_THROWS_AS(accuracy(logits, Tensor({-1.0, 0.0, 0.0, 0.0})), ValueError);
    CHECK_THROWS_AS(top_k_accuracy(logits, labels, 0), ValueError);
    CHECK_THROWS_AS(top_k_accuracy(logits, labels, 4), ValueError);
}

TEST_CASE("ConfusionMatrix counts, recall, precision, accuracy") {
    ConfusionMatrix cm(3);
    cm.update(logits_2x3(), Tensor({1.0, 2.0}, f32));  // predictions 1, 0
    cm.update(Tensor({{0.0, 0.0, 1.0}}), Tensor({2.0}));
    CHECK(cm.total() == 3);
    CHECK(cm.counts()[1][1] == 1);
    CHECK(cm.counts()[2][0] == 1);
    CHECK(cm.counts()[2][2] == 1);
    CHECK(cm.accuracy() == doctest::Approx(2.0 / 3));
    CHECK(cm.recall(2) == 0.5);
    CHECK(cm.recall(1) == 1.0);
    CHECK(std::isnan(cm.recall(0)));
    CHECK(cm.precision(0) == 0.0);
    CHECK(cm.recalls().size() == 3);
    const std::string svg = cm.to_svg({"a", "b", "c"});
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK_THROWS_AS(cm.update(Tensor({{0.0, 1.0}}), Tensor({0.0})), ShapeError);
    CHECK_THROWS_AS(cm.update(logits_2x3(), Tensor({1.0, 7.0}, f32)), ValueError);
    CHECK_THROWS_AS(cm.add(0, 3), ValueError);
    CHECK_THROWS_AS(ConfusionMatrix(0), ValueError);
    CHECK(cm.total() == 3);  // failed updates added nothing
    cm.reset();
    CHECK(cm.total() == 0);
    CHECK(std::isnan(cm.accuracy()));
}

// ---- fit ------------------------------------------------------------------------------------------

TEST_CASE("fit learns the synthetic problem and records the history") {
    auto train_set = synthetic_classification(512, 8, 4, 1);
    auto test_set = synthetic_classification(256, 8, 4, 2);
    DataLoader train(train_set, {.batch_size = 32, .shuffle = true, .seed = 7});
    DataLoader test(test_set, {.batch_size = 128});
    Net model(8, 16, 4, 3);
    const EvalResult before = evaluate(model, test);
    Adam opt(model.parameters(), {.lr = 0.02});
    std::ostringstream log;
    int callbacks = 0;
    const History h = fit(model, opt, train,
                          {.epochs = 4,
                           .eval = &test,
                           .progress_options = {.stream = &log},
                           .on_epoch = [&](EpochStats& s) {
                               ++callbacks;
                               CHECK(s.epoch == callbacks);
                               CHECK(s.test_acc.has_value());
                           }});
    CHECK(callbacks == 4);
    REQUIRE(h.size() == 4);
    CHECK(h.columns() == std::vector<std::string>{"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr",
                                                  "seconds", "samples_per_s"});
    const auto csv = h.to_csv();
    CHECK(csv.rfind("epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,samples_per_s\n1,", 0) == 0);
    const auto train_loss = h.column("train_loss"), test_loss = h.column("test_loss");
    CHECK(train_loss.back() < train_loss.front());
    CHECK(test_loss.back() < 0.5 * before.loss);
    CHECK(h.column("test_acc").back() >= 0.95);
    CHECK(h.column("train_acc").back() >= 0.9);
    CHECK(h.column("epoch") == std::vector<double>{1, 2, 3, 4});
    CHECK(h.column("samples_per_s").back() > 0);
    // Quiet mode (not a terminal): one summary line per epoch, with the test metrics.
    CHECK(log.str().find("epoch 4/4") != std::string::npos);
    CHECK(log.str().find("test acc") != std::string::npos);
    const EvalResult after = evaluate(model, test);
    CHECK(after.samples == 256);
    CHECK(*after.accuracy == doctest::Approx(h.column("test_acc").back()));
    CHECK(model.is_training());
}

TEST_CASE("fit: schedule, gradient clipping, early stop, custom loss") {
    auto data = synthetic_classification(64, 4, 2, 5);
    DataLoader train(data, {.batch_size = 16});
    Net model(4, 8, 2, 1);
    SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
    StepLR sched(opt, {.step_size = 1, .gamma = 0.5});
    const History h = fit(model, opt, train,
                          {.epochs = 10,
                           .schedule = &sched,
                           .progress = false,
                           .clip_grad_norm = 1.0,
                           .on_epoch = [](EpochStats& s) { s.stop = s.epoch == 3; }});
    CHECK(h.size() == 3);
    CHECK(h.column("lr") == std::vector<double>{0.1, 0.05, 0.025});
    CHECK(opt.lr() == doctest::Approx(0.0125));
    CHECK_FALSE(h.has_column("test_loss"));

    // A regression loss on [N, 1] outputs: no accuracy columns.
    Net reg(4, 8, 1, 2);
    SGD opt2(reg.parameters(), {.lr = 0.01});
    const LossFn mse = [](const Tensor& out, const Tensor& y) {
        return mean(square(squeeze(out, 1) - y));
    };
    const History r = fit(reg, opt2, train, {.epochs = 2, .loss = mse, .eval = &train, .progress = false});
    CHECK(r.columns() == std::vector<std::string>{"epoch", "train_loss", "test_loss", "lr", "seconds", "samples_per_s"});
    CHECK(r.column("train_loss")[1] < r.column("train_loss")[0]);

    // Bad options and a diverging loss.
    CHECK_THROWS_AS(fit(model, opt, train, {.epochs = 0}), ValueError);
    const LossFn nan_loss = [](const Tensor& out, const Tensor&) { return sum(out) * std::nan(""); };
    CHECK_THROWS_WITH_AS(fit(model, opt, train, {.loss = nan_loss, .progress = false}),
                         doctest::Contains("epoch 1 batch 1: the loss is nan"), ValueError);
    const LossFn vector_loss = [](const Tensor& out, const Tensor&) { return out; };
    CHECK_THROWS_WITH_AS(fit(model, opt, train, {.loss = vector_loss, .progress = false}),
                         doctest::Contains("single element"), ValueError);
    SGD other(reg.parameters());
    StepLR other_sched(other, {.step_size = 1});
    CHECK_THROWS_AS(fit(model, opt, train, {.schedule = &other_sched, .progress = false}), ValueError);
}

TEST_CASE("evaluate runs in eval mode without recording and restores the mode") {
    struct ModeSpy : Net {
        bool saw_training = false, saw_recording = false;
        ModeSpy() : Net(4, 4, 2, 0) {}
        Tensor forward(const Tensor& x) override {
            saw_training |= is_training();
            saw_recording |= is_recording();
            return Net::forward(x);
        }
    } spy;
    DataLoader loader(synthetic_classification(20, 4, 2, 1), {.batch_size = 8});
    spy.train();
    const EvalResult r = evaluate(spy, loader);
    CHECK(loader.epoch() == 0);  // an evaluation pass is not a training epoch
    CHECK_FALSE(spy.saw_training);
    CHECK_FALSE(spy.saw_recording);
    CHECK(spy.is_training());
    CHECK(r.samples == 20);
    CHECK(r.accuracy.has_value());
    // The default loss is the mean cross-entropy: log(2) for constant logits over 2 classes.
    const Tensor zeros = Tensor::zeros(Shape{3, 2});
    CHECK(default_classification_loss(zeros, Tensor({0.0, 1.0, 1.0}, f32)).item() == doctest::Approx(std::log(2.0)));
}
