#include <nn/io/csv.hpp>

#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ad::nn {

namespace {

// One field of a line, with its 1-based column number.
struct Field {
    std::string text;
    std::size_t column = 0;
};

// A field shown in a message: printable ASCII kept, other bytes as \xHH, long text cut.
std::string shown(std::string_view s) {
    constexpr std::size_t max_shown = 40;
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size() && i < max_shown; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("\\x{:02x}", c);
        }
    }
    if (s.size() > max_shown) out += "...";
    return out + "\"";
}

class CsvParser {
public:
    CsvParser(std::string_view text, std::string where, const CsvOptions& options)
        : text_(text), where_(std::move(where)), options_(options) {
        const char d = options_.delimiter;
        if (d == '"' || d == '\n' || d == '\r' || d == '\0') {
            throw ValueError(fmt::format("{}: the delimiter cannot be {}", where_,
                                         shown(std::string_view(&d, 1))));
        }
    }

    CsvTable parse() {
        // An UTF-8 byte-order mark is not part of the first field.
        if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
        CsvTable table;
        std::vector<Field> fields;
        std::size_t first_line = 0;  // line number of the first non-blank line
        std::size_t pos = 0;
        std::size_t line_no = 0;
        while (pos < text_.size()) {
            std::size_t end = text_.find('\n', pos);
            if (end == std::string_view::npos) end = text_.size();
            std::string_view line = text_.substr(pos, end - pos);
            pos = end + 1;
            ++line_no;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (is_blank(line)) continue;
            split(line, line_no, fields);
            if (first_line == 0) {
                first_line = line_no;
                table.cols = fields.size();
                const bool header = options_.header ? *options_.header : !any_number(fields);
                // A bound from the real data: rows can not outnumber the lines left, and
                // every value takes at least two bytes (a digit and a separator).
                const std::size_t left = pos < text_.size() ? text_.size() - pos : 0;
                const std::size_t by_bytes = table.cols + left / 2;
                const std::size_t lines = 1 + count_newlines(pos);
                table.values.reserve(lines > by_bytes / table.cols ? by_bytes
                                                                   : lines * table.cols);
                if (header) {
                    for (Field& f : fields) table.header.push_back(std::move(f.text));
                    continue;
                }
            } else if (fields.size() != table.cols) {
                throw IOError(fmt::format("{}: line {} has {} fields but line {} has {}", where_,
                                          line_no, fields.size(), first_line, table.cols));
            }
            for (const Field& f : fields) table.values.push_back(number(f, line_no));
            ++table.rows;
        }
        if (first_line == 0) {
            throw IOError(fmt::format("{}: file is empty (no rows)", where_));
        }
        if (table.rows == 0) {
            throw IOError(
                fmt::format("{}: has a header (line {}) but no data rows", where_, first_line));
        }
        return table;
    }

private:
    bool is_trim(char c) const { return (c == ' ' || c == '\t') && c != options_.delimiter; }

    bool is_blank(std::string_view line) const {
        for (char c : line) {
            if (!is_trim(c)) return false;
        }
        return true;
    }

    std::size_t count_newlines(std::size_t from) const {
        std::size_t n = 0;
        for (std::size_t i = from; i < text_.size(); ++i) n += text_[i] == '\n';
        return n;
    }

    std::string_view trimmed(std::string_view s) const {
        while (!s.empty() && is_trim(s.front())) s.remove_prefix(1);
        while (!s.empty() && is_trim(s.back())) s.remove_suffix(1);
        return s;
    }

    // Splits one non-blank line into fields (quotes removed, surrounding blanks trimmed).
    void split(std::string_view line, std::size_t line_no, std::vector<Field>& out) const {
        out.clear();
        const char delim = options_.delimiter;
        std::size_t i = 0;
        for (std::size_t column = 1;; ++column) {
            Field field;
            field.column = column;
            while (i < line.size() && is_trim(line[i])) ++i;
            if (i < line.size() && line[i] == '"') {
                ++i;
                bool closed = false;
                while (i < line.size()) {
                    if (line[i] == '"') {
                        if (i + 1 < line.size() && line[i + 1] == '"') {
                            field.text += '"';
                            i += 2;
                            continue;
                        }
                        ++i;
                        closed = true;
                        break;
                    }
                    field.text += line[i++];
                }
                if (!closed) {
                    throw IOError(fmt::format("{}: line {}, column {}: unterminated quote", where_,
                                              line_no, column));
                }
                while (i < line.size() && is_trim(line[i])) ++i;
                if (i < line.size() && line[i] != delim) {
                    throw IOError(fmt::format(
                        "{}: line {}, column {}: unexpected {} after a closing quote", where_,
                        line_no, column, shown(line.substr(i, 1))));
                }
                field.text = std::string(trimmed(field.text));
            } else {
                const std::size_t start = i;
                while (i < line.size() && line[i] != delim) ++i;
                field.text = std::string(trimmed(line.substr(start, i - start)));
            }
            out.push_back(std::move(field));
            if (i >= line.size()) break;
            ++i;  // the delimiter
        }
    }

    static bool parses(const std::string& s, double& value, bool& overflow) {
        if (s.empty()) return false;
        errno = 0;
        char* end = nullptr;
        value = std::strtod(s.c_str(), &end);
        overflow = errno == ERANGE && std::isinf(value);
        return end == s.c_str() + s.size();
    }

    static bool any_number(const std::vector<Field>& fields) {
        double v = 0;
        bool overflow = false;
        for (const Field& f : fields) {
            if (parses(f.text, v, overflow)) return true;
        }
        return false;
    }

    double number(const Field& f, std::size_t line_no) const {
        double v = 0;
        bool overflow = false;
        if (f.text.empty()) {
            throw IOError(fmt::format("{}: line {}, column {}: empty field", where_, line_no,
                                      f.column));
        }
        if (!parses(f.text, v, overflow)) {
            throw IOError(fmt::format("{}: line {}, column {}: field {} is not a number", where_,
                                      line_no, f.column, shown(f.text)));
        }
        if (overflow) {
            throw IOError(fmt::format("{}: line {}, column {}: {} is out of range for a double",
                                      where_, line_no, f.column, shown(f.text)));
        }
        return v;
    }

    std::string_view text_;
    std::string where_;
    CsvOptions options_;
};

std::string read_whole_file(const std::string& path, const std::string& where) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        throw IOError(fmt::format("{}: cannot open: {}", where, std::strerror(errno)));
    }
    std::string text;
    char buf[1 << 16];
    for (;;) {
        const std::size_t got = std::fread(buf, 1, sizeof buf, f);
        text.append(buf, got);
        if (got < sizeof buf) break;
    }
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) throw IOError(fmt::format("{}: read error: {}", where, std::strerror(err)));
    return text;
}

}  // namespace

double CsvTable::at(std::size_t row, std::size_t col) const {
    if (row >= rows || col >= cols) {
        throw ValueError(fmt::format("CsvTable::at: ({}, {}) out of range for a {}x{} table", row,
                                     col, rows, cols));
    }
    return values[row * cols + col];
}

std::size_t CsvTable::column_index(std::string_view name) const {
    for (std::size_t i = 0; i < header.size(); ++i) {
        if (header[i] == name) return i;
    }
    throw ValueError(fmt::format("CsvTable::column_index: no column named {} (columns: {})",
                                 shown(name), fmt::join(header, ", ")));
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
    const std::string where = fmt::format("read_csv: {}", path);
    const std::string text = read_whole_file(path, where);
    return CsvParser(text, where, options).parse();
}

CsvTable parse_csv(std::string_view text, std::string_view source_name,
                   const CsvOptions& options) {
    return CsvParser(text, fmt::format("parse_csv: {}", source_name), options).parse();
}

}  // namespace ad::nn
