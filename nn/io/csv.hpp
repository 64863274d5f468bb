#pragma once
// CSV files of numbers (one sample per row), e.g. tabular regression or classification data.
//
// Accepted input: fields separated by a one-character delimiter; LF or CRLF line ends; an
// optional UTF-8 byte-order mark; blank lines (anywhere, including trailing ones) are skipped;
// spaces and tabs around a field are ignored; a field may be wrapped in double quotes (with ""
// for a literal quote inside). Every data field must be a number as strtod reads it in full,
// including "nan", "inf", "-Infinity" and hex floats; values too large for a double are errors.
//
// Every error is an ad::IOError whose message names the function, the file, the line and the
// column (1-based field number): non-numeric or empty field, ragged row, unterminated quote,
// empty file, header without data.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ad::nn {

// How to read a CSV file.
struct CsvOptions {
    char delimiter = ',';
    // true: the first row is a header; false: it is data; nullopt (default): it is a header
    // exactly when none of its fields reads as a number.
    std::optional<bool> header = std::nullopt;
};

// A rectangular table of numbers.
struct CsvTable {
    std::vector<std::string> header;  // column names; empty when the file has no header
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::vector<double> values;  // row-major, size() == rows * cols

    // Value at (row, col). Throws ad::ValueError when out of range.
    double at(std::size_t row, std::size_t col) const;
    // Index of the column named `name`. Throws ad::ValueError when there is no such column.
    std::size_t column_index(std::string_view name) const;
};

// Reads a CSV file. Throws ad::IOError naming `path` on any problem.
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});

// Parses CSV text; `source_name` stands for the file in error messages.
CsvTable parse_csv(std::string_view text, std::string_view source_name,
                   const CsvOptions& options = {});

}  // namespace ad::nn
