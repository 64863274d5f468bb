#pragma once
// Training history: one row of named metrics per epoch, exported as CSV and as SVG curves.
//
//   History h;
//   h.add({{"epoch", 1}, {"train_loss", 0.52}, {"test_loss", 0.48}, {"test_acc", 0.83}});
//   h.write_csv("history.csv");   // epoch,train_loss,test_loss,test_acc \n 1,0.52,0.48,0.83
//   h.write_svg("history.svg");   // loss panel (left) and accuracy panel (right)
//
// Columns appear in the order their names were first seen. A row may omit columns; the CSV
// cell is then empty and column() gives NaN there.
#include <cstddef>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ad::nn {

// How History::to_svg draws the curves.
struct HistoryChartOptions {
    std::string title = "Training history";
    bool log_loss = false;  // log scale for the loss panel
    double panel_width = 560, height = 420;
};

class History {
public:
    using Row = std::vector<std::pair<std::string, double>>;

    // Appends a row. Throws ad::ValueError on an empty or repeated name (the row is not added).
    void add(std::initializer_list<std::pair<std::string, double>> row);
    void add(const Row& row);
    void add(const std::map<std::string, double>& row);  // columns in the map's (sorted) order

    std::size_t size() const { return rows_.size(); }
    bool empty() const { return rows_.empty(); }
    const std::vector<std::string>& columns() const { return columns_; }
    bool has_column(std::string_view name) const;
    // The column's values, NaN where a row lacks it. Throws ad::ValueError for an unknown name.
    std::vector<double> column(std::string_view name) const;
    // The value of `name` in row `row`, if the row has it. Throws ad::ValueError if row >= size().
    std::optional<double> value(std::size_t row, std::string_view name) const;

    // Header line plus one line per row, '\n'-terminated. Numbers use the shortest text that
    // reads back to the same double ("0.1", "3", "1e-07", "nan", "inf"); names with a comma,
    // quote or line break are quoted as in RFC 4180.
    std::string to_csv() const;
    void write_csv(const std::string& path) const;  // ad::IOError naming the path on failure

    // Loss curves (columns whose name contains "loss") on the left and accuracy curves (names
    // containing "acc") on the right, against the "epoch" column (or the row number). With only
    // one kind, a single panel; with neither, every other column in one panel. Columns whose
    // name contains "train" are dashed.
    std::string to_svg(const HistoryChartOptions& options = {}) const;
    void write_svg(const std::string& path, const HistoryChartOptions& options = {}) const;

private:
    std::size_t column_index(std::string_view name) const;  // columns_.size() when unknown

    std::vector<std::string> columns_;
    std::vector<std::vector<std::optional<double>>> rows_;  // rows_[r][c]; may be shorter
};

}  // namespace ad::nn
