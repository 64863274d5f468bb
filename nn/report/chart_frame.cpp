#include <nn/report/chart_frame.hpp>

#include <algorithm>
#include <cmath>

namespace ad::nn::detail {

double Scale::operator()(double v) const {
    double a = d0, b = d1;
    if (log) {
        v = std::log10(v);
        a = std::log10(a);
        b = std::log10(b);
    }
    if (b == a) return (p0 + p1) / 2;
    return p0 + (v - a) / (b - a) * (p1 - p0);
}

double tick_labels_width(const Ticks& ticks) {
    double widest = 0;
    for (double v : ticks.values) widest = std::max(widest, text_width(format_tick(v, ticks.decimals), kTickSize));
    return widest;
}

Ticks ticks_within(const Ticks& ticks, double lo, double hi) {
    Ticks kept = ticks;
    kept.values.clear();
    const double tolerance = (hi - lo) * 1e-9;
    for (double v : ticks.values)
        if (v >= lo - tolerance && v <= hi + tolerance) kept.values.push_back(v);
    if (!kept.values.empty()) {
        kept.lo = kept.values.front();
        kept.hi = kept.values.back();
    }
    return kept;
}

namespace {

bool inside(const Scale& s, double v) {
    const double lo = std::min(s.d0, s.d1), hi = std::max(s.d0, s.d1);
    const double tolerance = s.log ? lo * 1e-9 : (hi - lo) * 1e-9;
    return v >= lo - tolerance && v <= hi + tolerance;
}

}  // namespace

void draw_axes(SvgWriter& svg, const Box& plot, const Scale& xs, const Ticks& xticks,
               const Scale& ys, const Ticks& yticks, std::string_view xlabel,
               std::string_view ylabel) {
    const Stroke grid{kGrid, 1, {}};
    const Stroke tick{kFrame, 1, {}};
    TextStyle xtick_style{kTickSize, kMuted, Anchor::middle, false, 0};
    TextStyle ytick_style{kTickSize, kMuted, Anchor::end, false, 0};

    for (double v : xticks.values) {
        if (!inside(xs, v)) continue;
        const double x = xs(v);
        svg.line(x, plot.y, x, plot.bottom(), grid, "grid");
        svg.line(x, plot.bottom(), x, plot.bottom() + 4, tick);
        svg.text(x, plot.bottom() + 14, format_tick(v, xticks.decimals), xtick_style, "tick");
    }
    for (double v : yticks.values) {
        if (!inside(ys, v)) continue;
        const double y = ys(v);
        svg.line(plot.x, y, plot.right(), y, grid, "grid");
        svg.line(plot.x - 4, y, plot.x, y, tick);
        svg.text(plot.x - 7, y, format_tick(v, yticks.decimals), ytick_style, "tick");
    }
    svg.rect(plot.x, plot.y, plot.w, plot.h, "none", Stroke{kFrame, 1, {}}, "frame");

    TextStyle label_style{kLabelSize, kInk, Anchor::middle, false, 0};
    if (!xlabel.empty()) svg.text(plot.x + plot.w / 2, plot.bottom() + 34, xlabel, label_style, "xlabel");
    if (!ylabel.empty()) {
        label_style.rotate = -90;
        const double x = plot.x - tick_labels_width(yticks) - 22;
        svg.text(x, plot.y + plot.h / 2, ylabel, label_style, "ylabel");
    }
}

void draw_title(SvgWriter& svg, double cx, double y, std::string_view title) {
    if (title.empty()) return;
    svg.text(cx, y, title, TextStyle{kTitleSize, kInk, Anchor::middle, true, 0}, "title");
}

void draw_no_data(SvgWriter& svg, const Box& plot) {
    svg.rect(plot.x, plot.y, plot.w, plot.h, "#fafafa", Stroke{kFrame, 1, {}}, "frame");
    svg.text(plot.x + plot.w / 2, plot.y + plot.h / 2, "no data",
             TextStyle{14, "#888888", Anchor::middle, false, 0}, "no-data");
}

}  // namespace ad::nn::detail
