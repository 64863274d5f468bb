#include <nn/report/progress.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <ostream>
#include <utility>

#include <unistd.h>

namespace ad::nn {

namespace {

bool running_in_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && ci[0] != '\0';
}

bool sink_is_terminal(const ProgressOptions& options) {
    if (options.stream != nullptr || options.file == nullptr) return false;
    const int fd = fileno(options.file);
    return fd >= 0 && isatty(fd) == 1;
}

std::string format_loss(double loss) {
    if (std::isfinite(loss) && std::abs(loss) >= 1000) return fmt::format("{:.4g}", loss);
    return fmt::format("{:.4f}", loss);
}

}  // namespace

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) return "?";
    const auto total = static_cast<long long>(seconds);
    const long long h = total / 3600, m = total / 60 % 60, s = total % 60;
    if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
    return fmt::format("{}:{:02}", m, s);
}

ProgressBar::ProgressBar(std::size_t epochs, ProgressOptions options)
    : epochs_(epochs), options_(std::move(options)) {
    interactive_ = options_.force_tty || (sink_is_terminal(options_) && !running_in_ci());
    if (options_.bar_width < 1) options_.bar_width = 1;
}

ProgressBar::~ProgressBar() {
    if (line_open_) emit("\n");
}

double ProgressBar::now() const {
    if (options_.clock) return options_.clock();
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void ProgressBar::start_epoch(std::size_t epoch, std::size_t batches) {
    if (line_open_) emit("\n");
    line_open_ = false;
    epoch_ = epoch;
    batches_ = batches;
    done_ = samples_ = 0;
    loss_sum_ = 0;
    epoch_start_ = now();
    drawn_once_ = false;
    last_length_ = 0;
    if (interactive_) draw(status_line(), false);
}

void ProgressBar::step(std::size_t samples, double loss) {
    ++done_;
    samples_ += samples;
    loss_sum_ += loss * static_cast<double>(samples);
    if (!interactive_) return;
    const bool last_batch = batches_ != 0 && done_ >= batches_;
    if (!drawn_once_ || last_batch || now() - last_draw_ >= options_.min_redraw_seconds)
        draw(status_line(), false);
}

double ProgressBar::running_loss() const {
    if (samples_ == 0) return std::numeric_limits<double>::quiet_NaN();
    return loss_sum_ / static_cast<double>(samples_);
}

std::string ProgressBar::rate_text(double elapsed) const {
    if (elapsed <= 0 || samples_ == 0) return "- samples/s";
    return fmt::format("{:.0f} samples/s", static_cast<double>(samples_) / elapsed);
}

std::string ProgressBar::status_line() const {
    const double elapsed = now() - epoch_start_;
    std::string line = epochs_ == 0 ? fmt::format("epoch {}", epoch_)
                                    : fmt::format("epoch {}/{}", epoch_, epochs_);
    if (batches_ != 0) {
        const auto width = static_cast<std::size_t>(options_.bar_width);
        const std::size_t filled = std::min(width, done_ * width / batches_);
        std::string bar(filled, '=');
        if (filled < width) {
            if (done_ > 0) bar += '>';
            bar.resize(width, ' ');
        }
        line += fmt::format(" [{}] {}/{}", bar, done_, batches_);
    } else {
        line += fmt::format(" batch {}", done_);
    }
    line += fmt::format("  loss {}  {}  {} elapsed", samples_ == 0 ? "-" : format_loss(running_loss()),
                        rate_text(elapsed), format_duration(elapsed));
    if (batches_ != 0 && done_ > 0 && done_ < batches_) {
        const double eta = elapsed / static_cast<double>(done_) * static_cast<double>(batches_ - done_);
        line += fmt::format("  eta {}", format_duration(eta));
    }
    return line;
}

void ProgressBar::end_epoch(std::string_view summary) {
    const double elapsed = now() - epoch_start_;
    if (interactive_) {
        std::string line = status_line();
        if (!summary.empty()) line += fmt::format(" | {}", summary);
        draw(line, true);
        return;
    }
    if (!options_.epoch_summaries) return;
    std::string line = epochs_ == 0 ? fmt::format("epoch {}:", epoch_)
                                    : fmt::format("epoch {}/{}:", epoch_, epochs_);
    line += fmt::format(" loss {}, {} batches, {} samples in {:.1f} s ({})",
                        samples_ == 0 ? "-" : format_loss(running_loss()), done_, samples_,
                        std::max(elapsed, 0.0), rate_text(elapsed));
    if (!summary.empty()) line += fmt::format(" | {}", summary);
    line += '\n';
    emit(line);
}

void ProgressBar::draw(std::string_view line, bool final_line) {
    std::string text = "\r";
    text += line;
    // Blank out what is left of a longer previous line.
    if (line.size() < last_length_) text.append(last_length_ - line.size(), ' ');
    last_length_ = line.size();
    if (final_line) text += '\n';
    line_open_ = !final_line;
    drawn_once_ = true;
    last_draw_ = now();
    emit(text);
}

void ProgressBar::emit(std::string_view text) {
    if (options_.stream != nullptr) {
        options_.stream->write(text.data(), static_cast<std::streamsize>(text.size()));
        options_.stream->flush();
    } else if (options_.file != nullptr) {
        std::fwrite(text.data(), 1, text.size(), options_.file);
        std::fflush(options_.file);
    }
}

}  // namespace ad::nn
