#pragma once
// A terminal progress bar for training loops.
//
//   ProgressBar bar(epochs);
//   for (epoch = 1..epochs) {
//       bar.start_epoch(epoch, batches_per_epoch);
//       for (each batch) { ...; bar.step(batch_size, batch_loss); }
//       bar.end_epoch(fmt::format("test acc {:.3f}", acc));
//   }
//
// On a terminal it redraws one line in place ('\r'), at most every min_redraw_seconds, e.g.
//   epoch 3/10 [=========>                    ] 120/469  loss 0.4321  5321 samples/s  0:12 elapsed  eta 0:35
// and leaves a final line per epoch. When the sink is not a terminal (isatty) or the
// environment variable CI is set, it draws no bar and prints only one summary line per epoch
// (or nothing, if epoch_summaries is false), e.g.
//   epoch 3/10: loss 0.4321, 469 batches, 60000 samples in 11.3 s (5321 samples/s) | test acc 0.910
#include <cstddef>
#include <cstdio>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace ad::nn {

struct ProgressOptions {
    std::FILE* file = stderr;        // where to write, unless `stream` is set
    std::ostream* stream = nullptr;  // alternative sink (never a terminal unless force_tty)
    bool force_tty = false;          // draw the bar whatever the sink and CI say (for tests)
    bool epoch_summaries = true;     // without a bar: print one line per finished epoch
    double min_redraw_seconds = 0.1;
    int bar_width = 30;
    std::function<double()> clock{};  // monotonic seconds; default std::chrono::steady_clock
};

// "0:07", "12:34", "1:02:03" for a number of seconds; "?" when negative or not finite.
std::string format_duration(double seconds);

// Shows progress of `epochs` epochs (0 = unknown). Not thread-safe: drive it from one thread.
class ProgressBar {
public:
    explicit ProgressBar(std::size_t epochs, ProgressOptions options = {});
    ~ProgressBar();  // finishes a bar line left open
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    // Begins epoch `epoch` (1-based) of `batches` batches (0 = unknown).
    void start_epoch(std::size_t epoch, std::size_t batches);
    // Records one finished batch of `samples` samples whose mean loss was `loss`.
    void step(std::size_t samples, double loss);
    // Ends the epoch: final bar line (terminal) or summary line (otherwise), with `summary`
    // appended after " | " when not empty.
    void end_epoch(std::string_view summary = {});

    // True when the bar is drawn in place (terminal or force_tty), false in quiet mode.
    bool interactive() const { return interactive_; }
    // The bar line as it would be drawn now (without '\r' or padding).
    std::string status_line() const;
    // Mean loss over the samples of the current epoch so far (NaN before the first step).
    double running_loss() const;

private:
    double now() const;
    std::string rate_text(double elapsed) const;
    void draw(std::string_view line, bool final_line);
    void emit(std::string_view text);

    std::size_t epochs_;
    ProgressOptions options_;
    bool interactive_;
    std::size_t epoch_ = 0, batches_ = 0, done_ = 0, samples_ = 0;
    double loss_sum_ = 0;
    double epoch_start_ = 0, last_draw_ = 0;
    bool drawn_once_ = false, line_open_ = false;
    std::size_t last_length_ = 0;
};

}  // namespace ad::nn
