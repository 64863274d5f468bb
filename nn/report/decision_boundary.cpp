// decision_boundary_chart of <nn/report/svg.hpp>.
#include <nn/report/chart_frame.hpp>
#include <nn/report/svg.hpp>

#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace ad::nn {

namespace {

using detail::Box;
using detail::Scale;

constexpr int kLevels = 20;  // probability is quantised to 1/20 so equal cells merge
const Rgb kWhite{255, 255, 255};
const Rgb kClass0Heat = parse_hex_color("#3b7bc8");
const Rgb kClass1Heat = parse_hex_color("#d9444f");
constexpr double kHeatStrength = 0.6;  // pastel heat map, so the points stay visible

// Quantised level of a probability, or -1 for NaN.
int level_of(double p) {
    if (std::isnan(p)) return -1;
    return static_cast<int>(std::lround(std::clamp(p, 0.0, 1.0) * kLevels));
}

std::string heat_color(int level) {
    if (level < 0) return "#cccccc";
    const double q = static_cast<double>(level) / kLevels;
    const Rgb base = q < 0.5 ? kClass0Heat : kClass1Heat;
    return to_hex(mix(kWhite, base, std::abs(q - 0.5) * 2 * kHeatStrength));
}

std::string point_color(std::int64_t label) {
    if (label == 0) return "#1a4e9a";
    if (label == 1) return "#b5202e";
    return palette_color(static_cast<std::size_t>(label) + 2);
}

std::string class_name(const DecisionBoundaryChart& chart, std::int64_t label) {
    const auto k = static_cast<std::size_t>(label);
    if (k < chart.class_names.size()) return chart.class_names[k];
    return fmt::format("class {}", label);
}

void validate(const DecisionBoundaryChart& c) {
    const std::size_t max = std::numeric_limits<std::size_t>::max();
    if ((c.nx != 0 && c.ny > max / c.nx) || c.probability.size() != c.nx * c.ny)
        throw ValueError(fmt::format(
            "decision_boundary_chart: grid is {} x {} but has {} probabilities", c.nx, c.ny,
            c.probability.size()));
    const bool extent_ok = std::isfinite(c.x_min) && std::isfinite(c.x_max) &&
                           std::isfinite(c.y_min) && std::isfinite(c.y_max) && c.x_min < c.x_max &&
                           c.y_min < c.y_max;
    if (!c.probability.empty() && !extent_ok)
        throw ValueError(fmt::format(
            "decision_boundary_chart: extent [{}, {}] x [{}, {}] is empty or not finite", c.x_min,
            c.x_max, c.y_min, c.y_max));
    if (c.px.size() != c.py.size() || c.px.size() != c.labels.size())
        throw ValueError(fmt::format(
            "decision_boundary_chart: {} x values, {} y values and {} labels differ in length",
            c.px.size(), c.py.size(), c.labels.size()));
    for (std::size_t i = 0; i < c.labels.size(); ++i)
        if (c.labels[i] < 0)
            throw ValueError(fmt::format("decision_boundary_chart: label {} of point {} is negative",
                                         c.labels[i], i));
}

// Heat map rows, one <rect> per run of equally coloured cells.
void draw_cells(SvgWriter& svg, const DecisionBoundaryChart& c, const Scale& xs, const Scale& ys) {
    const double dx = (c.x_max - c.x_min) / static_cast<double>(c.nx);
    const double dy = (c.y_max - c.y_min) / static_cast<double>(c.ny);
    svg.begin_group({}, R"(shape-rendering="crispEdges")");
    for (std::size_t iy = 0; iy < c.ny; ++iy) {
        const double top = ys(c.y_min + dy * static_cast<double>(iy + 1));
        const double bottom = ys(c.y_min + dy * static_cast<double>(iy));
        std::size_t start = 0;
        while (start < c.nx) {
            const int level = level_of(c.probability[iy * c.nx + start]);
            std::size_t end = start + 1;
            while (end < c.nx && level_of(c.probability[iy * c.nx + end]) == level) ++end;
            const double left = xs(c.x_min + dx * static_cast<double>(start));
            const double right = xs(c.x_min + dx * static_cast<double>(end));
            svg.rect(left, top, right - left, bottom - top, heat_color(level), {}, "cell");
            start = end;
        }
    }
    svg.end_group();
}

// The 0.5 level line by marching squares over the cell centres.
void draw_boundary(SvgWriter& svg, const DecisionBoundaryChart& c, const Scale& xs, const Scale& ys) {
    const double dx = (c.x_max - c.x_min) / static_cast<double>(c.nx);
    const double dy = (c.y_max - c.y_min) / static_cast<double>(c.ny);
    const auto value = [&](std::size_t ix, std::size_t iy) { return c.probability[iy * c.nx + ix]; };
    const auto cx = [&](double ix) { return xs(c.x_min + (ix + 0.5) * dx); };
    const auto cy = [&](double iy) { return ys(c.y_min + (iy + 0.5) * dy); };
    PathData d;
    for (std::size_t iy = 0; iy + 1 < c.ny; ++iy) {
        for (std::size_t ix = 0; ix + 1 < c.nx; ++ix) {
            const double v00 = value(ix, iy), v10 = value(ix + 1, iy);
            const double v01 = value(ix, iy + 1), v11 = value(ix + 1, iy + 1);
            if (std::isnan(v00) || std::isnan(v10) || std::isnan(v01) || std::isnan(v11)) continue;
            const bool i00 = v00 >= 0.5, i10 = v10 >= 0.5, i01 = v01 >= 0.5, i11 = v11 >= 0.5;
            const auto t = [](double a, double b) { return a == b ? 0.5 : (0.5 - a) / (b - a); };
            const double x = static_cast<double>(ix), y = static_cast<double>(iy);
            // Crossing points on the four edges of the square (bottom, right, top, left).
            struct Cut {
                bool on;
                double px, py;
            };
            const std::array<Cut, 4> cut = {
                Cut{i00 != i10, cx(x + t(v00, v10)), cy(y)},
                Cut{i10 != i11, cx(x + 1), cy(y + t(v10, v11))},
                Cut{i01 != i11, cx(x + t(v01, v11)), cy(y + 1)},
                Cut{i00 != i01, cx(x), cy(y + t(v00, v01))},
            };
            const auto segment = [&](int a, int b) {
                d.move_to(cut[a].px, cut[a].py);
                d.line_to(cut[b].px, cut[b].py);
            };
            const int crossings = cut[0].on + cut[1].on + cut[2].on + cut[3].on;
            if (crossings == 2) {
                int a = -1, b = -1;
                for (int k = 0; k < 4; ++k)
                    if (cut[k].on) (a < 0 ? a : b) = k;
                segment(a, b);
            } else if (crossings == 4) {
                const bool centre_in = (v00 + v10 + v01 + v11) / 4 >= 0.5;
                if (centre_in == i00) {  // 00 and 11 are cut off from their diagonal partners
                    segment(0, 1);
                    segment(2, 3);
                } else {
                    segment(0, 3);
                    segment(1, 2);
                }
            }
        }
    }
    svg.path(d, "none", Stroke{"#333333", 1.6, {}}, "boundary");
}

void draw_colorbar(SvgWriter& svg, const Box& plot, const std::string& positive_name) {
    const Box bar{plot.right() + 22, plot.y, 14, plot.h};
    svg.begin_group({}, R"(shape-rendering="crispEdges")");
    for (int level = 0; level <= kLevels; ++level) {
        const double h = bar.h / (kLevels + 1);
        svg.rect(bar.x, bar.bottom() - h * (level + 1), bar.w, h, heat_color(level), {}, "colorbar");
    }
    svg.end_group();
    svg.rect(bar.x, bar.y, bar.w, bar.h, "none", Stroke{detail::kFrame, 1, {}});
    const TextStyle style{detail::kTickSize, detail::kMuted, Anchor::start, false, 0};
    for (double v : {0.0, 0.5, 1.0}) svg.text(bar.right() + 5, bar.bottom() - v * bar.h, format_tick(v, 1), style);
    TextStyle caption{detail::kLabelSize, detail::kInk, Anchor::middle, false, 90};
    svg.text(bar.right() + 36, bar.y + bar.h / 2, fmt::format("P({})", positive_name), caption);
}

void draw_class_legend(SvgWriter& svg, const DecisionBoundaryChart& c, double cx, double y) {
    std::int64_t classes = 2;
    for (std::int64_t label : c.labels) classes = std::max(classes, label + 1);
    classes = std::min<std::int64_t>(classes, 12);
    double total = 0;
    for (std::int64_t k = 0; k < classes; ++k) total += 18 + text_width(class_name(c, k), detail::kLabelSize) + 18;
    double x = cx - total / 2;
    for (std::int64_t k = 0; k < classes; ++k) {
        svg.circle(x + 5, y, 5, point_color(k), Stroke{"#ffffff", 1, {}}, "legend-marker");
        const std::string name = class_name(c, k);
        svg.text(x + 16, y, name, TextStyle{detail::kLabelSize, detail::kInk}, "legend");
        x += 18 + text_width(name, detail::kLabelSize) + 18;
    }
}

}  // namespace

std::string decision_boundary_chart(const DecisionBoundaryChart& c) {
    validate(c);
    SvgWriter svg(c.width, c.height);
    double top = 14;
    if (!c.title.empty()) {
        detail::draw_title(svg, c.width / 2, 20, c.title);
        top = 38;
    }
    draw_class_legend(svg, c, c.width / 2, top + 8);
    top += 28;

    // The extent: the grid's, or the points' when there is no grid.
    double xlo = c.x_min, xhi = c.x_max, ylo = c.y_min, yhi = c.y_max;
    if (c.probability.empty()) {
        xlo = ylo = std::numeric_limits<double>::infinity();
        xhi = yhi = -xlo;
        for (std::size_t i = 0; i < c.px.size(); ++i) {
            if (!std::isfinite(c.px[i]) || !std::isfinite(c.py[i])) continue;
            if (std::abs(c.px[i]) > 1e300 || std::abs(c.py[i]) > 1e300) continue;
            xlo = std::min(xlo, c.px[i]);
            xhi = std::max(xhi, c.px[i]);
            ylo = std::min(ylo, c.py[i]);
            yhi = std::max(yhi, c.py[i]);
        }
        if (xlo > xhi) {
            detail::draw_no_data(svg, {60, top, c.width - 90, c.height - top - 50});
            return svg.finish();
        }
        const Ticks xt = nice_ticks(xlo, xhi), yt = nice_ticks(ylo, yhi);
        xlo = xt.lo, xhi = xt.hi, ylo = yt.lo, yhi = yt.hi;
    }
    const Ticks xticks = detail::ticks_within(nice_ticks(xlo, xhi, 7), xlo, xhi);
    const Ticks yticks = detail::ticks_within(nice_ticks(ylo, yhi, 7), ylo, yhi);

    const double left = 16 + (c.ylabel.empty() ? 0 : 22) + detail::tick_labels_width(yticks) + 8;
    const double bottom = 26 + (c.xlabel.empty() ? 0 : 22);
    const double right = c.probability.empty() ? 24 : 100;
    const Box plot{left, top, std::max(c.width - left - right, 10.0), std::max(c.height - top - bottom, 10.0)};
    const Scale xs{xlo, xhi, plot.x, plot.right(), false};
    const Scale ys{ylo, yhi, plot.bottom(), plot.y, false};

    if (!c.probability.empty()) {
        draw_cells(svg, c, xs, ys);
        draw_boundary(svg, c, xs, ys);
        draw_colorbar(svg, plot, class_name(c, 1));
    }
    detail::draw_axes(svg, plot, xs, xticks, ys, yticks, c.xlabel, c.ylabel);

    svg.begin_group(svg.clip_rect(plot.x, plot.y, plot.w, plot.h));
    const double radius = c.px.size() > 1000 ? 2.4 : 3.6;
    for (std::size_t i = 0; i < c.px.size(); ++i) {
        if (std::abs(c.px[i]) > 1e300 || std::abs(c.py[i]) > 1e300) continue;
        svg.circle(xs(c.px[i]), ys(c.py[i]), radius, point_color(c.labels[i]),
                   Stroke{"#ffffff", 0.9, {}}, "point");
    }
    svg.end_group();
    return svg.finish();
}

}  // namespace ad::nn
