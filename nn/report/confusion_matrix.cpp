// confusion_matrix_chart of <nn/report/svg.hpp>.
#include <nn/report/chart_frame.hpp>
#include <nn/report/svg.hpp>

#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ad::nn {

namespace {

const Rgb kWhite{255, 255, 255};
const Rgb kCellBlue = parse_hex_color("#1f5fa8");
const Rgb kRecallGreen = parse_hex_color("#2e8b57");

std::vector<std::string> checked_names(const std::vector<std::vector<std::int64_t>>& counts,
                                       const std::vector<std::string>& class_names) {
    const std::size_t n = counts.size();
    for (std::size_t t = 0; t < n; ++t) {
        if (counts[t].size() != n)
            throw ValueError(fmt::format(
                "confusion_matrix_chart: matrix has {} rows but row {} has {} columns", n, t,
                counts[t].size()));
        for (std::size_t p = 0; p < n; ++p)
            if (counts[t][p] < 0)
                throw ValueError(fmt::format("confusion_matrix_chart: count [{}][{}] is negative ({})",
                                             t, p, counts[t][p]));
    }
    if (class_names.empty()) {
        std::vector<std::string> names;
        for (std::size_t k = 0; k < n; ++k) names.push_back(std::to_string(k));
        return names;
    }
    if (class_names.size() != n)
        throw ValueError(fmt::format("confusion_matrix_chart: {} class names for {} classes",
                                     class_names.size(), n));
    return class_names;
}

// A number centred in a cell, shrunk to fit, dark or light depending on the fill.
void cell_text(SvgWriter& svg, double cx, double cy, double box_width, const std::string& text,
               Rgb fill, std::string_view cls) {
    const double size = std::min(12.5, (box_width - 6) / std::max(text_width(text, 1), 1e-9));
    const char* ink = luminance(fill) < 0.55 ? "#ffffff" : detail::kInk;
    svg.text(cx, cy, text, TextStyle{size, ink, Anchor::middle, false, 0}, cls);
}

}  // namespace

std::string confusion_matrix_chart(const std::vector<std::vector<std::int64_t>>& counts,
                                   const std::vector<std::string>& class_names, std::string title) {
    const std::vector<std::string> names = checked_names(counts, class_names);
    const std::size_t n = counts.size();
    if (n == 0) {
        SvgWriter svg(480, 360);
        detail::draw_title(svg, 240, 20, title);
        detail::draw_no_data(svg, {40, 44, 400, 280});
        return svg.finish();
    }

    const auto nd = static_cast<double>(n);
    const double cell = std::clamp(440.0 / nd, 30.0, 64.0);
    const double recall_width = 66;
    double label_width = 0;
    for (const std::string& name : names) label_width = std::max(label_width, text_width(name, detail::kLabelSize));
    const bool rotate_columns = label_width > cell - 6;
    const double column_labels_height =
        rotate_columns ? label_width * std::sin(40 * std::numbers::pi / 180) + 18 : 22;

    const double left = 16 + 24 + label_width + 10;
    const double top = 38 + 22 + 24;
    const double matrix = nd * cell;
    const double width = std::max(left + matrix + 12 + recall_width + 20, 360.0);
    const double height = top + matrix + column_labels_height + 40;
    SvgWriter svg(width, height);

    std::int64_t total = 0, correct = 0;
    std::vector<std::int64_t> row_total(n, 0);
    for (std::size_t t = 0; t < n; ++t) {
        for (std::size_t p = 0; p < n; ++p) row_total[t] += counts[t][p];
        total += row_total[t];
        correct += counts[t][t];
    }
    detail::draw_title(svg, width / 2, 20, title);
    const std::string subtitle =
        total == 0 ? std::string("no samples")
                   : fmt::format("accuracy {:.1f}% of {} samples",
                                 100.0 * static_cast<double>(correct) / static_cast<double>(total), total);
    svg.text(width / 2, 44, subtitle, TextStyle{detail::kLabelSize, detail::kMuted, Anchor::middle}, "subtitle");

    // Cells, shaded by the fraction of their row (so the diagonal reads as recall).
    for (std::size_t t = 0; t < n; ++t) {
        const double y = top + static_cast<double>(t) * cell;
        for (std::size_t p = 0; p < n; ++p) {
            const double x = left + static_cast<double>(p) * cell;
            const double fraction =
                row_total[t] == 0 ? 0.0 : static_cast<double>(counts[t][p]) / static_cast<double>(row_total[t]);
            const Rgb fill = mix(kWhite, kCellBlue, fraction);
            svg.rect(x, y, cell, cell, to_hex(fill), Stroke{"#ffffff", 1, {}}, "cell");
            cell_text(svg, x + cell / 2, y + cell / 2, cell, std::to_string(counts[t][p]), fill, "count");
        }
        // Recall of class t.
        const double x = left + matrix + 12;
        if (row_total[t] == 0) {
            svg.rect(x, y, recall_width, cell, "#f2f2f2", Stroke{"#ffffff", 1, {}}, "recall");
            cell_text(svg, x + recall_width / 2, y + cell / 2, recall_width, "n/a", Rgb{242, 242, 242}, "recall-value");
        } else {
            const double recall = static_cast<double>(counts[t][t]) / static_cast<double>(row_total[t]);
            const Rgb fill = mix(kWhite, kRecallGreen, recall);
            svg.rect(x, y, recall_width, cell, to_hex(fill), Stroke{"#ffffff", 1, {}}, "recall");
            cell_text(svg, x + recall_width / 2, y + cell / 2, recall_width, fmt::format("{:.1f}%", 100 * recall), fill,
                      "recall-value");
        }
    }
    svg.rect(left, top, matrix, matrix, "none", Stroke{detail::kFrame, 1, {}}, "frame");

    // Labels: true classes on the left, predicted classes below, recall header above.
    const TextStyle row_style{detail::kLabelSize, detail::kInk, Anchor::end};
    for (std::size_t t = 0; t < n; ++t)
        svg.text(left - 8, top + (static_cast<double>(t) + 0.5) * cell, names[t], row_style, "row-label");
    TextStyle column_style{detail::kLabelSize, detail::kInk, rotate_columns ? Anchor::end : Anchor::middle,
                           false, rotate_columns ? -40.0 : 0.0};
    for (std::size_t p = 0; p < n; ++p) {
        const double cx = left + (static_cast<double>(p) + 0.5) * cell;
        svg.text(cx, top + matrix + (rotate_columns ? 10 : 12), names[p], column_style, "column-label");
    }
    const TextStyle header{detail::kLabelSize, detail::kInk, Anchor::middle, true};
    svg.text(left + matrix + 12 + recall_width / 2, top - 12, "recall", header, "recall-header");
    svg.text(left + matrix / 2, top + matrix + column_labels_height + 14, "predicted class", header,
             "axis-label");
    TextStyle true_style = header;
    true_style.rotate = -90;
    svg.text(left - label_width - 24, top + matrix / 2, "true class", true_style, "axis-label");
    return svg.finish();
}

}  // namespace ad::nn
