#pragma once
// Helpers shared by the benchmarks:
//   median_seconds      median seconds per call over blocks of calls lasting >= 20 ms (bench_scalar)
//   time_per_call       the anchors' policy (bench/anchors/torch_mlp.py): warm up >= 3 calls and
//                       >= warmup_seconds, then time >= reps blocks of calls, each block lasting
//                       >= min_rep_seconds; median seconds per call
//   run_lines           runs a shell command and returns its stdout lines (for the anchors)
//   shell_quote         quotes one word for /bin/sh
//   peak_rss_mb         VmHWM of this process from /proc/self/status
//   pin_to_cpu          keeps this process (and the threads it starts) on one CPU
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sched.h>
#include <sys/wait.h>

namespace bench {

inline double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct CallTiming {
    double median_s = 0;             // seconds per call, median over the repetitions
    std::vector<double> samples_s{};  // seconds per call of each repetition
    long block = 0;                  // calls per repetition
};

// The timing policy of the anchors (torch_mlp.py, libtorch_mlp.cpp), so the numbers compare:
// warm up (>= 3 calls and >= warmup_seconds), size a block of calls from the warm-up so one
// repetition lasts >= min_rep_seconds, then time `reps` repetitions (a repetition that came out
// shorter grows the block and is discarded) and report the median time per call.
template <class F>
CallTiming time_per_call(F&& f, int reps, double min_rep_seconds, double warmup_seconds = 0.1) {
    double t0 = now_seconds();
    long n = 0;
    while (n < 3 || now_seconds() - t0 < warmup_seconds) {
        f();
        ++n;
    }
    const double per_call = (now_seconds() - t0) / static_cast<double>(n);
    CallTiming r;
    r.block = std::max(1L, static_cast<long>(min_rep_seconds / per_call) + 1);
    while (static_cast<int>(r.samples_s.size()) < std::max(reps, 1)) {
        t0 = now_seconds();
        for (long i = 0; i < r.block; ++i) f();
        const double elapsed = now_seconds() - t0;
        if (elapsed < min_rep_seconds) {
            r.block = std::max(r.block + 1,
                               static_cast<long>(static_cast<double>(r.block) * min_rep_seconds / elapsed) + 1);
            continue;
        }
        r.samples_s.push_back(elapsed / static_cast<double>(r.block));
    }
    r.median_s = median(r.samples_s);
    return r;
}

// Seconds per call of f for bench_scalar: time_per_call with blocks lasting >= 20 ms and no warm-up
// beyond its three calls. Every contender of a ratio is timed so: a single 1.2 ms call slips
// between the machine's interruptions far more often than a single 13 ms one, and on a busy
// machine the ratio of two single-call medians came out 1.5-2x too high.
template <class F>
double median_seconds(int reps, F&& f, double min_block_seconds = 0.02) {
    return time_per_call(std::forward<F>(f), reps, min_block_seconds, 0.0).median_s;
}

// '...' quoting for /bin/sh.
inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

struct CommandResult {
    bool ok = false;                 // started and exited with status 0
    int status = -1;                 // exit status (or -1 when it could not start / was killed)
    std::vector<std::string> lines;  // stdout, one entry per line (without the newline)
};

// Runs `command` through /bin/sh; its stderr goes to ours.
inline CommandResult run_lines(const std::string& command) {
    CommandResult r;
    std::fflush(stdout);
    FILE* p = ::popen(command.c_str(), "r");
    if (p == nullptr) return r;
    std::string line;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p) != nullptr) {
        line += buf;
        if (!line.empty() && line.back() == '\n') {
            line.pop_back();
            r.lines.push_back(line);
            line.clear();
        }
    }
    if (!line.empty()) r.lines.push_back(line);
    const int st = ::pclose(p);
    if (st != -1 && WIFEXITED(st)) r.status = WEXITSTATUS(st);
    r.ok = r.status == 0;
    return r;
}

// Peak resident set size of this process (VmHWM), in MB (MiB, as ru_maxrss / 1024 on Linux).
inline std::optional<double> peak_rss_mb() {
    std::ifstream f("/proc/self/status");
    std::string key;
    while (f >> key) {
        if (key == "VmHWM:") {
            double kb = 0;
            if (f >> kb) return kb / 1024.0;
            return std::nullopt;
        }
        std::string rest;
        std::getline(f, rest);
    }
    return std::nullopt;
}

// Keeps this process, and every thread it starts afterwards, on CPU `cpu` (for single-threaded
// benchmarks whose contenders all run in this process: on our 2-vCPU machines one vCPU has at
// times been ~1.5x slower than the other on tape-heavy loops, and the scheduler picks either, or
// moves the process midway). False if the CPU does not exist or is not allowed to this process.
inline bool pin_to_cpu(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

}  // namespace bench
