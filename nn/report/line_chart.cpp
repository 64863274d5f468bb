// line_chart and curves_chart of <nn/report/svg.hpp>.
#include <nn/report/chart_frame.hpp>
#include <nn/report/svg.hpp>

#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace ad::nn {

namespace {

using detail::Box;
using detail::Scale;

// Series with more usable points than this are drawn without point markers.
constexpr std::size_t kMaxMarkedPoints = 60;
constexpr double kLegendRowHeight = 20;

struct Point {
    double x, y;
};

// A series reduced to its drawable runs (maximal stretches of consecutive usable points).
struct PreparedSeries {
    std::string name;
    std::string color;
    bool dashed = false;
    std::vector<std::vector<Point>> runs;
    std::size_t points = 0;
};

bool usable(double x, double y, bool log_y) {
    constexpr double kLimit = 1e300;  // keeps ranges and pixel maths finite
    return std::isfinite(x) && std::isfinite(y) && std::abs(x) <= kLimit && std::abs(y) <= kLimit &&
           (!log_y || y > 0);
}

std::vector<PreparedSeries> prepare(const LineChart& chart) {
    std::vector<PreparedSeries> prepared;
    for (std::size_t i = 0; i < chart.series.size(); ++i) {
        const Series& s = chart.series[i];
        if (s.x.size() != s.y.size())
            throw ValueError(fmt::format("line_chart: series '{}' has {} x values but {} y values",
                                         s.name, s.x.size(), s.y.size()));
        PreparedSeries p{s.name, s.color.empty() ? palette_color(i) : s.color, s.dashed, {}, 0};
        if (!s.color.empty()) parse_hex_color(s.color);  // validates
        bool in_run = false;
        for (std::size_t k = 0; k < s.x.size(); ++k) {
            if (!usable(s.x[k], s.y[k], chart.log_y)) {
                in_run = false;
                continue;
            }
            if (!in_run) p.runs.emplace_back();
            in_run = true;
            p.runs.back().push_back({s.x[k], s.y[k]});
            ++p.points;
        }
        prepared.push_back(std::move(p));
    }
    return prepared;
}

// Ticks for the x axis: nice ticks inside the data range, whole numbers only when every x is
// a whole number (epochs), widened when the data has a single x.
Ticks x_axis_ticks(double lo, double hi, bool integral, double& axis_lo, double& axis_hi) {
    Ticks ticks = nice_ticks(lo, hi, 7);
    if (lo == hi) {
        axis_lo = ticks.lo;
        axis_hi = ticks.hi;
    } else {
        axis_lo = lo;
        axis_hi = hi;
    }
    if (integral && ticks.step < 1) {
        ticks.values.clear();
        for (double v = std::ceil(axis_lo); v <= axis_hi && ticks.values.size() < 1000; v += 1)
            ticks.values.push_back(v);
        ticks.step = 1;
        ticks.decimals = 0;
    }
    return detail::ticks_within(ticks, axis_lo, axis_hi);
}

// Ticks and axis range for the y axis, honouring fixed bounds.
Ticks y_axis_ticks(const LineChart& chart, double lo, double hi, double& axis_lo, double& axis_hi) {
    if (chart.y_min) lo = *chart.y_min;
    if (chart.y_max) hi = *chart.y_max;
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi || (chart.y_min && chart.y_max && lo == hi))
        throw ValueError(fmt::format("line_chart: '{}': y range [{}, {}] is empty or not finite",
                                     chart.title, lo, hi));
    if (chart.log_y && lo <= 0)
        throw ValueError(fmt::format("line_chart: '{}': log y axis needs y_min > 0, got {}",
                                     chart.title, lo));
    Ticks ticks = chart.log_y ? log_ticks(lo, hi) : nice_ticks(lo, hi, 6);
    axis_lo = chart.y_min ? *chart.y_min : ticks.lo;
    axis_hi = chart.y_max ? *chart.y_max : ticks.hi;
    return detail::ticks_within(ticks, axis_lo, axis_hi);
}

struct LegendEntry {
    const PreparedSeries* series;
    double width;
};

// Splits legend entries into rows that fit in `max_width`.
std::vector<std::vector<LegendEntry>> legend_rows(const std::vector<PreparedSeries>& series,
                                                  double max_width) {
    std::vector<std::vector<LegendEntry>> rows;
    double used = 0;
    for (const PreparedSeries& s : series) {
        if (s.name.empty()) continue;
        const double width = 28 + text_width(s.name, detail::kLabelSize) + 18;
        if (rows.empty() || used + width > max_width) {
            rows.emplace_back();
            used = 0;
        }
        rows.back().push_back({&s, width});
        used += width;
    }
    return rows;
}

Stroke series_stroke(const PreparedSeries& s) { return {s.color, 2.2, s.dashed ? "7 4" : ""}; }

void draw_legend(SvgWriter& svg, const std::vector<std::vector<LegendEntry>>& rows, double cx,
                 double top) {
    for (std::size_t r = 0; r < rows.size(); ++r) {
        double total = 0;
        for (const LegendEntry& e : rows[r]) total += e.width;
        double x = cx - total / 2;
        const double y = top + kLegendRowHeight * (static_cast<double>(r) + 0.5);
        for (const LegendEntry& e : rows[r]) {
            svg.line(x, y, x + 22, y, series_stroke(*e.series), "legend-line");
            svg.text(x + 28, y, e.series->name, TextStyle{detail::kLabelSize, detail::kInk},
                     "legend");
            x += e.width;
        }
    }
}

// Draws one line chart into `area` of `svg`.
void draw_line_panel(SvgWriter& svg, const LineChart& chart, const Box& area) {
    const std::vector<PreparedSeries> series = prepare(chart);

    double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
    bool integral = true;
    for (const PreparedSeries& s : series)
        for (const auto& run : s.runs)
            for (const Point& p : run) {
                xlo = std::min(xlo, p.x);
                xhi = std::max(xhi, p.x);
                ylo = std::min(ylo, p.y);
                yhi = std::max(yhi, p.y);
                integral = integral && p.x == std::round(p.x);
            }
    const bool has_data = xlo <= xhi;

    double top = area.y + 14;
    if (!chart.title.empty()) {
        detail::draw_title(svg, area.x + area.w / 2, area.y + 20, chart.title);
        top = area.y + 38;
    }
    const auto rows = legend_rows(series, area.w - 40);
    draw_legend(svg, rows, area.x + area.w / 2, top);
    top += kLegendRowHeight * static_cast<double>(rows.size()) + (rows.empty() ? 0 : 8);

    if (!has_data) {
        const Box plot{area.x + 50, top, area.w - 80, area.bottom() - top - 50};
        detail::draw_no_data(svg, plot);
        return;
    }

    double x_axis_lo = 0, x_axis_hi = 1, y_axis_lo = 0, y_axis_hi = 1;
    const Ticks xticks = x_axis_ticks(xlo, xhi, integral, x_axis_lo, x_axis_hi);
    const Ticks yticks = y_axis_ticks(chart, ylo, yhi, y_axis_lo, y_axis_hi);

    const double left = 16 + (chart.ylabel.empty() ? 0 : 22) + detail::tick_labels_width(yticks) + 8;
    const double bottom = 26 + (chart.xlabel.empty() ? 0 : 22);
    const Box plot{area.x + left, top, std::max(area.w - left - 24, 10.0),
                   std::max(area.bottom() - top - bottom, 10.0)};
    // A small inset keeps points at the ends of the x range off the frame.
    const double inset = std::min(8.0, plot.w / 20);
    const Scale xs{x_axis_lo, x_axis_hi, plot.x + inset, plot.right() - inset, false};
    const Scale ys{y_axis_lo, y_axis_hi, plot.bottom(), plot.y, chart.log_y};
    detail::draw_axes(svg, plot, xs, xticks, ys, yticks, chart.xlabel, chart.ylabel);

    svg.begin_group(svg.clip_rect(plot.x, plot.y - 4, plot.w, plot.h + 8));
    for (const PreparedSeries& s : series) {
        PathData d;
        for (const auto& run : s.runs) {
            if (run.size() < 2) continue;
            d.move_to(xs(run.front().x), ys(run.front().y));
            for (std::size_t k = 1; k < run.size(); ++k) d.line_to(xs(run[k].x), ys(run[k].y));
        }
        svg.path(d, "none", series_stroke(s), "series");
        const bool markers = s.points <= kMaxMarkedPoints;
        for (const auto& run : s.runs)
            if (markers || run.size() == 1)
                for (const Point& p : run)
                    svg.circle(xs(p.x), ys(p.y), 3.2, s.color, Stroke{"#ffffff", 1, {}}, "marker");
    }
    svg.end_group();
}

}  // namespace

std::string line_chart(const LineChart& chart) {
    SvgWriter svg(chart.width, chart.height);
    draw_line_panel(svg, chart, {0, 0, chart.width, chart.height});
    return svg.finish();
}

std::string curves_chart(const LineChart& left, const LineChart& right, std::string_view title) {
    const double title_height = title.empty() ? 0 : 40;
    const double panels_height = std::max(left.height, right.height);
    SvgWriter svg(left.width + right.width, panels_height + title_height);
    if (!title.empty()) {
        svg.text((left.width + right.width) / 2, 22, title,
                 TextStyle{detail::kTitleSize + 2, detail::kInk, Anchor::middle, true, 0}, "title");
    }
    draw_line_panel(svg, left, {0, title_height, left.width, panels_height});
    draw_line_panel(svg, right, {left.width, title_height, right.width, panels_height});
    return svg.finish();
}

}  // namespace ad::nn
