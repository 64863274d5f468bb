// Runs every example program with small sizes, as a user would from the build folder, and checks
// what it prints and writes: exit status 0, the lines that carry its result, its output files.
// (The test runs with the build root as working directory; the examples are in examples/.)
#include <doctest/doctest.h>
#include <tests/test_util.hpp>
#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>

namespace fs = std::filesystem;

using ad::test::contains;

namespace {

struct Run {
    int status = -1;
    std::string output;  // stdout and stderr
};

Run run(const std::string& example, const std::string& args) {
    const fs::path exe = fs::path("examples") / example;
    REQUIRE_MESSAGE(fs::exists(exe), "example not built: ", exe.string());
    Run r;
    FILE* p = ::popen(fmt::format("{} {} 2>&1", exe.string(), args).c_str(), "r");
    REQUIRE(p != nullptr);
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) r.output += buf.data();
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

// A fresh, empty folder for one example's files.
fs::path out_dir(const std::string& name) {
    const fs::path d = fs::temp_directory_path() / fmt::format("ad_test_examples_{}_{}", name, ::getpid());
    fs::remove_all(d);
    return d;
}

std::string last_line(const std::string& s) {
    std::string t = s;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    const auto nl = t.rfind('\n');
    return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace

TEST_CASE("expressions: value, gradient, gradcheck and the graph picture") {
    const fs::path d = out_dir("expressions");
    const Run r = run("expressions", fmt::format("--x 0.5 --y 1.5 --out {}", d.string()));
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(contains(r.output, "(match)"));
    CHECK(contains(r.output, "gradcheck passed"));
    CHECK(fs::file_size(d / "expressions.dot") > 100);
    fs::remove_all(d);
}

TEST_CASE("xor: micrograd's demo learns XOR") {
    const Run r = run("xor", "--seed 1");
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(last_line(r.output) == "learned XOR");
}

TEST_CASE("moons: separates the two moons and draws the decision boundary") {
    const fs::path d = out_dir("moons");
    const Run r = run("moons", fmt::format("--samples 100 --steps 150 --out {}", d.string()));
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(contains(r.output, "training accuracy"));
    CHECK_FALSE(contains(r.output, "training accuracy 0."));  // 1.000 on 100 points after 150 steps
    REQUIRE(fs::exists(d / "moons.svg"));
    CHECK(fs::file_size(d / "moons.svg") > 1000);
    fs::remove_all(d);
}

TEST_CASE("delta_rules: the three gradients agree") {
    const fs::path d = out_dir("delta_rules");
    const Run r = run("delta_rules", fmt::format("--seed 3 --out {}", d.string()));
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(contains(last_line(r.output), "agree"));
    CHECK(fs::exists(d / "delta_rules.dot"));
    fs::remove_all(d);
}

TEST_CASE("custom_op: a user-defined op passes gradcheck") {
    const Run r = run("custom_op", "--rows 2 --cols 3");
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(last_line(r.output) == "all checks behaved as expected");
}

TEST_CASE("newton: converges to Rosenbrock's minimum") {
    const Run r = run("newton", "");
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(last_line(r.output) == "both methods converged to (1, 1)");
}

TEST_CASE("fashion_mnist: falls back to synthetic data and ends with the accuracy line") {
    const fs::path d = out_dir("fashion");
    const Run r = run("fashion_mnist",
                      fmt::format("--data /nonexistent/fashion --epochs 1 --limit 3000 --threads 1 --out {}", d.string()));
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(contains(r.output, "synthetic"));
    const std::string last = last_line(r.output);
    REQUIRE(last.rfind("test accuracy: ", 0) == 0);
    CHECK(std::stod(last.substr(15)) > 0.5);  // 10 well-separated synthetic classes
    for (const char* f : {"history.csv", "curves.svg", "confusion.svg"}) CHECK(fs::exists(d / f));
    fs::remove_all(d);
}

TEST_CASE("fashion_mnist: a short run on the real data, then --save and --load") {
    if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
        MESSAGE("dataset-fashion-mnist not installed: checked the synthetic fallback only");
        return;
    }
    const fs::path d = out_dir("fashion_real");
    const std::string ckpt = (d / "model.safetensors").string();
    const Run r = run("fashion_mnist", fmt::format("--epochs 1 --limit 6000 --batch-size 64 --threads 1 --out {} --save {}", d.string(), ckpt));
    INFO(r.output);
    CHECK(r.status == 0);
    const std::string last = last_line(r.output);
    REQUIRE(last.rfind("test accuracy: ", 0) == 0);
    const double first = std::stod(last.substr(15));
    CHECK(first > 0.70);  // one epoch on 6000 images (94 batches)
    REQUIRE(fs::exists(ckpt));
    const Run again = run("fashion_mnist", fmt::format("--epochs 1 --limit 6000 --batch-size 64 --threads 1 --out {} --load {}", d.string(), ckpt));
    INFO(again.output);
    CHECK(again.status == 0);
    CHECK(std::stod(last_line(again.output).substr(15)) > first - 0.02);  // continues from the checkpoint
    fs::remove_all(d);
}
