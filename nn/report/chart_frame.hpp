#pragma once
// Internal layout pieces shared by the charts of <nn/report/svg.hpp>: a plot box, a data-to-
// pixel scale, axes with grid and tick labels, titles, and the "no data" placeholder.
// Not part of the public API.
#include <nn/report/svg_writer.hpp>

#include <string_view>

namespace ad::nn::detail {

// A rectangle in pixels (y grows downwards).
struct Box {
    double x = 0, y = 0, w = 0, h = 0;
    double right() const { return x + w; }
    double bottom() const { return y + h; }
};

// Maps data values in [d0, d1] to pixels [p0, p1], linearly or on log10 (d0, d1 > 0).
struct Scale {
    double d0 = 0, d1 = 1, p0 = 0, p1 = 1;
    bool log = false;
    double operator()(double v) const;
};

// Text colours and sizes used throughout.
inline constexpr const char* kInk = "#222222";
inline constexpr const char* kMuted = "#555555";
inline constexpr const char* kGrid = "#e8e8e8";
inline constexpr const char* kFrame = "#b0b0b0";
inline constexpr double kTitleSize = 16;
inline constexpr double kLabelSize = 12.5;
inline constexpr double kTickSize = 11;

// Width of the widest tick label of `ticks`.
double tick_labels_width(const Ticks& ticks);

// Ticks strictly inside [lo, hi] (with a little tolerance).
Ticks ticks_within(const Ticks& ticks, double lo, double hi);

// Draws grid lines, the plot frame, tick marks and labels (ticks outside the scales' domains are
// skipped), and the axis labels (the y label rotated, left of the tick labels).
void draw_axes(SvgWriter& svg, const Box& plot, const Scale& xs, const Ticks& xticks,
               const Scale& ys, const Ticks& yticks, std::string_view xlabel,
               std::string_view ylabel);

// A bold title centred on cx with its centre at y; nothing when empty.
void draw_title(SvgWriter& svg, double cx, double y, std::string_view title);

// A light frame with "no data" in its middle.
void draw_no_data(SvgWriter& svg, const Box& plot);

}  // namespace ad::nn::detail
