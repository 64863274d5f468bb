#pragma once
// Self-contained SVG charts for training reports: line charts (loss / accuracy curves), a
// decision-boundary heat map for 2-D classifiers, and a confusion matrix.
//
// Every function returns a complete, well-formed SVG document (white background, sans-serif
// labels, 1-2-5 axis ticks, light grid, legend, title). Text is XML-escaped. Non-finite values
// are never written: in a line series they leave a gap, in a heat map they are drawn grey. A
// chart with nothing to draw says "no data" instead of failing. Inconsistent input (x and y of
// different lengths, a grid whose size does not match, a non-square confusion matrix) throws
// ad::ValueError naming the function and the sizes. Write the result with write_text_file.
#include <nn/report/svg_writer.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ad::nn {

// One named curve: point i is (x[i], y[i]). A non-finite value (or, on a log axis, a value <= 0)
// breaks the curve there; an isolated point is drawn as a dot.
struct Series {
    std::string name{};
    std::vector<double> x{}, y{};
    std::string color{};  // "#rrggbb"; empty = the palette colour of the series' position
    bool dashed = false;  // e.g. dashed for training curves, solid for test curves
};

// A line chart. The y range covers the data (rounded out to nice ticks) unless y_min / y_max
// fix it; points outside a fixed range are clipped at the plot border.
struct LineChart {
    std::string title{}, xlabel{}, ylabel{};
    std::vector<Series> series{};
    bool log_y = false;
    std::optional<double> y_min{}, y_max{};
    double width = 720, height = 440;  // size of the whole chart in px
};

std::string line_chart(const LineChart& chart);

// Two line charts side by side in one document (e.g. loss on the left, accuracy on the right),
// under a common `title` (omitted when empty). Each panel keeps its own title and axes; the
// document is left.width + right.width wide.
std::string curves_chart(const LineChart& left, const LineChart& right, std::string_view title = {});

// A binary classifier's view of the plane plus the data it was trained on.
// probability[iy * nx + ix] is the predicted probability of class 1 at the centre of cell
// (ix, iy); cells tile [x_min, x_max] x [y_min, y_max], row iy = 0 at y_min. Values are
// clamped to [0, 1]; NaN cells are grey. A dark line marks the 0.5 level (the decision
// boundary). Points (px[i], py[i]) are coloured by labels[i] (class 0 blue, class 1 red,
// further classes from the palette); points outside the grid are clipped.
struct DecisionBoundaryChart {
    std::string title{}, xlabel = "x1", ylabel = "x2";
    std::size_t nx = 0, ny = 0;
    double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
    std::vector<double> probability{};
    std::vector<double> px{}, py{};
    std::vector<std::int64_t> labels{};
    std::vector<std::string> class_names{};  // legend names; missing ones are "class k"
    double width = 640, height = 560;
};

// Throws ad::ValueError if probability.size() != nx * ny, if the extent is empty or not finite
// while there are cells, if px, py and labels differ in length, or if a label is negative.
std::string decision_boundary_chart(const DecisionBoundaryChart& chart);

// Confusion matrix: counts[t][p] = number of samples of true class t predicted as p. Rows are
// true classes, columns predicted ones; cells are shaded by the fraction of their row, show
// the count, and a side column shows each class's recall. The subtitle gives the accuracy.
// class_names may be empty (classes are then named 0, 1, ...); otherwise it must have one name
// per class. Throws ad::ValueError if counts is not square, a count is negative, or the
// number of names does not match.
std::string confusion_matrix_chart(const std::vector<std::vector<std::int64_t>>& counts,
                                   const std::vector<std::string>& class_names,
                                   std::string title);

}  // namespace ad::nn
