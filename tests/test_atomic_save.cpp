// Crash safety of checkpoint saving: a child process saves safetensors files over one path in a
// loop and is killed with SIGKILL at random moments; after every kill the file at the path must
// be one of the two complete contents, whatever temporary files the kills left behind.
// Set AD_TEST_SCALE > 1 to run proportionally more kills (never fewer than 50). (Kills test the write/rename
// protocol; surviving power loss additionally relies on the fsyncs, which no test here can see.)
#include <nn/io/safetensors.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace ad::nn;
using Clock = std::chrono::steady_clock;

namespace {

double test_scale() {
    const char* s = std::getenv("AD_TEST_SCALE");
    const double v = s != nullptr ? std::atof(s) : 1.0;
    return v > 0 ? v : 1.0;
}

// A checkpoint of about 3 MB whose values all depend on `seed`.
SafetensorsFile checkpoint(float seed) {
    std::vector<float> w(768 * 1024);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = seed + static_cast<float>(i % 1000);
    SafetensorsFile f;
    f.metadata["seed"] = std::to_string(seed);
    f.tensors.push_back(make_tensor_f32("w", {768, 1024}, w));
    const std::vector<float> b{seed};
    f.tensors.push_back(make_tensor_f32("b", {1}, b));
    return f;
}

std::vector<std::byte> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), {});
    std::vector<std::byte> out(chars.size());
    std::copy(chars.begin(), chars.end(), reinterpret_cast<char*>(out.data()));
    return out;
}

// Saves `a` and `b` alternately to `path` until killed (or orphaned, or after a minute).
[[noreturn]] void save_forever(const std::string& path, const SafetensorsFile& a,
                               const SafetensorsFile& b, int first, pid_t parent) {
    const auto give_up = Clock::now() + std::chrono::minutes(1);
    for (int k = first;; ++k) {
        if (::getppid() != parent || Clock::now() > give_up) ::_exit(0);
        try {
            save_safetensors(path, k % 2 == 0 ? a : b);
        } catch (...) {
            ::_exit(3);
        }
    }
}

}  // namespace

TEST_CASE("atomic save: SIGKILL at random moments never leaves a broken checkpoint") {
    std::string tmpl = (fs::temp_directory_path() / "ad_atomic_save_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    const fs::path dir = tmpl;
    struct RemoveAtExit {
        fs::path dir;
        ~RemoveAtExit() { fs::remove_all(dir); }
    } cleanup{dir};
    const std::string path = (dir / "ckpt.safetensors").string();

    const SafetensorsFile a = checkpoint(1.0f);
    const SafetensorsFile b = checkpoint(2.0f);
    const std::vector<std::byte> a_bytes = serialize_safetensors(a);
    const std::vector<std::byte> b_bytes = serialize_safetensors(b);
    REQUIRE(a_bytes != b_bytes);

    const auto t0 = Clock::now();
    save_safetensors(path, a);
    const auto save_time =
        std::max<Clock::duration>(Clock::now() - t0, std::chrono::milliseconds(1));
    // At least 50 kills whatever the scale (they take about a second): fewer would make the
    // "both contents were seen" check a coin toss.
    const double scale = std::max(1.0, test_scale());
    const int kills_wanted = static_cast<int>(50 * scale);
    // The deadline only keeps a broken build from looping: a kill takes 20 ms normally, but up to
    // 0.55 s under AddressSanitizer on a slow day (27 kills in 15 s, the sixteenth session's CI).
    const auto deadline = Clock::now() + std::chrono::duration<double>(120 * scale);
    // Kill somewhere within the first three saves of each child, but keep the test short.
    const auto max_delay = std::min<Clock::duration>(3 * save_time, std::chrono::milliseconds(60));
    const unsigned seed = std::random_device{}();
    INFO("seed " << seed << ", one save takes "
                 << std::chrono::duration<double, std::milli>(save_time).count() << " ms");
    std::mt19937 rng(seed);
    std::uniform_int_distribution<Clock::rep> delay(0, max_delay.count());

    int kills = 0;
    int seen_a = 0;
    int seen_b = 0;
    std::size_t most_leftovers = 0;
    const pid_t parent = ::getpid();
    while (kills < kills_wanted && Clock::now() < deadline) {
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) save_forever(path, a, b, kills, parent);
        std::this_thread::sleep_for(Clock::duration(delay(rng)));
        REQUIRE(::kill(child, SIGKILL) == 0);
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        CHECK_MESSAGE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
                      "the saving child ended by itself, status " << status);
        ++kills;

        const std::vector<std::byte> now = read_all(path);
        const bool is_a = now == a_bytes;
        const bool is_b = now == b_bytes;
        CHECK_MESSAGE((is_a || is_b), "after kill " << kills << " the file has " << now.size()
                                                    << " bytes matching neither content");
        seen_a += is_a;
        seen_b += is_b;
        const SafetensorsFile loaded = load_safetensors(path);
        REQUIRE(loaded.find("b") != nullptr);
        CHECK(tensor_to_f32(*loaded.find("b"))[0] == (is_a ? 1.0f : 2.0f));
        const auto files = static_cast<std::size_t>(
            std::distance(fs::directory_iterator(dir), fs::directory_iterator{}));
        most_leftovers = std::max(most_leftovers, files - 1);
    }
    MESSAGE(kills << " kills: file held content A " << seen_a << " times, B " << seen_b
                  << " times; up to " << most_leftovers << " temporary files left by kills");
    CHECK(kills >= std::min(kills_wanted, 50));
    CHECK(seen_a + seen_b == kills);
    CHECK(seen_a > 0);  // the children really replaced the file, both ways
    CHECK(seen_b > 0);
    CHECK(most_leftovers > 0);  // and some kills landed in the middle of a write

    // Leftover temporary files do not get in the way of later saves.
    save_safetensors(path, b);
    CHECK(read_all(path) == b_bytes);
}
