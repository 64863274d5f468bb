#include <nn/report/history.hpp>

#include <nn/report/svg.hpp>

#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace ad::nn {

namespace {

std::string csv_field(std::string_view text) {
    if (text.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(text);
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

bool contains(std::string_view name, std::string_view part) {
    return name.find(part) != std::string_view::npos;
}

}  // namespace

std::size_t History::column_index(std::string_view name) const {
    return static_cast<std::size_t>(std::find(columns_.begin(), columns_.end(), name) - columns_.begin());
}

bool History::has_column(std::string_view name) const { return column_index(name) < columns_.size(); }

void History::add(std::initializer_list<std::pair<std::string, double>> row) {
    add(Row(row.begin(), row.end()));
}

void History::add(const std::map<std::string, double>& row) { add(Row(row.begin(), row.end())); }

void History::add(const Row& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
        if (row[i].first.empty())
            throw ValueError(fmt::format("History::add: row {} has an empty column name", rows_.size()));
        for (std::size_t j = 0; j < i; ++j)
            if (row[j].first == row[i].first)
                throw ValueError(fmt::format("History::add: row {} names column '{}' twice",
                                             rows_.size(), row[i].first));
    }
    std::vector<std::optional<double>> values(columns_.size());
    for (const auto& [name, value] : row) {
        std::size_t c = column_index(name);
        if (c == columns_.size()) {
            columns_.push_back(name);
            values.emplace_back();
        }
        values[c] = value;
    }
    rows_.push_back(std::move(values));
}

std::vector<double> History::column(std::string_view name) const {
    const std::size_t c = column_index(name);
    if (c == columns_.size())
        throw ValueError(fmt::format("History::column: no column named '{}'", name));
    std::vector<double> values;
    values.reserve(rows_.size());
    for (const auto& row : rows_)
        values.push_back(c < row.size() && row[c] ? *row[c] : std::numeric_limits<double>::quiet_NaN());
    return values;
}

std::optional<double> History::value(std::size_t row, std::string_view name) const {
    if (row >= rows_.size())
        throw ValueError(fmt::format("History::value: row {} of {} rows", row, rows_.size()));
    const std::size_t c = column_index(name);
    if (c >= rows_[row].size()) return std::nullopt;
    return rows_[row][c];
}

std::string History::to_csv() const {
    std::string out;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
        if (c > 0) out += ',';
        out += csv_field(columns_[c]);
    }
    out += '\n';
    for (const auto& row : rows_) {
        for (std::size_t c = 0; c < columns_.size(); ++c) {
            if (c > 0) out += ',';
            if (c < row.size() && row[c]) out += fmt::format("{}", *row[c]);
        }
        out += '\n';
    }
    return out;
}

void History::write_csv(const std::string& path) const { write_text_file(path, to_csv()); }

std::string History::to_svg(const HistoryChartOptions& options) const {
    const bool by_epoch = has_column("epoch");
    std::vector<double> x;
    if (by_epoch) {
        x = column("epoch");
    } else {
        for (std::size_t r = 0; r < rows_.size(); ++r) x.push_back(static_cast<double>(r + 1));
    }
    const std::string xlabel = by_epoch ? "epoch" : "row";

    LineChart loss{"Loss", xlabel, "loss", {}, options.log_loss, {}, {}, options.panel_width, options.height};
    LineChart accuracy{"Accuracy", xlabel, "accuracy", {}, false, {}, {}, options.panel_width, options.height};
    LineChart other{options.title, xlabel, "", {}, false, {}, {}, options.panel_width, options.height};
    for (const std::string& name : columns_) {
        if (by_epoch && name == "epoch") continue;
        Series s{name, x, column(name), {}, contains(name, "train")};
        if (contains(name, "loss")) {
            s.color = palette_color(loss.series.size());
            loss.series.push_back(std::move(s));
        } else if (contains(name, "acc")) {
            s.color = palette_color(accuracy.series.size());
            accuracy.series.push_back(std::move(s));
        } else {
            s.color = palette_color(other.series.size());
            other.series.push_back(std::move(s));
        }
    }
    if (!loss.series.empty() && !accuracy.series.empty()) return curves_chart(loss, accuracy, options.title);
    if (loss.series.empty() && accuracy.series.empty()) return line_chart(other);
    LineChart& only = loss.series.empty() ? accuracy : loss;
    only.title = options.title;
    return line_chart(only);
}

void History::write_svg(const std::string& path, const HistoryChartOptions& options) const {
    write_text_file(path, to_svg(options));
}

}  // namespace ad::nn
