#include <nn/report/svg_writer.hpp>

#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace ad::nn {

namespace {

// Length of the valid UTF-8 sequence starting at s[i] that XML allows, or 0 if it is invalid.
std::size_t valid_utf8_length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    unsigned char second_lo = 0x80, second_hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) second_lo = 0xA0;
        if (lead == 0xED) second_hi = 0x9F;  // no UTF-16 surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) second_lo = 0x90;
        if (lead == 0xF4) second_hi = 0x8F;
    } else {
        return 0;
    }
    if (i + length > s.size()) return 0;
    if (byte(i + 1) < second_lo || byte(i + 1) > second_hi) return 0;
    for (std::size_t k = 2; k < length; ++k)
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    // U+FFFE and U+FFFF are not XML characters.
    if (length == 3 && lead == 0xEF && byte(i + 1) == 0xBF && byte(i + 2) >= 0xBE) return 0;
    return length;
}

// m * 10^e as the double nearest that decimal value (exact powers of ten up to 1e22).
double decimal(double m, int e) {
    if (e >= 0 && e <= 22) return m * std::pow(10.0, e);
    if (e < 0 && e >= -22) return m / std::pow(10.0, -e);
    return m * std::pow(10.0, e);
}

// Splits a nice number into mantissa (1, 2, 5) and exponent.
void nice_parts(double x, bool round, double& mantissa, int& exponent) {
    exponent = static_cast<int>(std::floor(std::log10(x)));
    const double fraction = x / decimal(1, exponent);
    if (round) {
        mantissa = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
    } else {
        mantissa = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
    }
    if (mantissa == 10) {
        mantissa = 1;
        ++exponent;
    }
}

}  // namespace

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
                case '&': out += "&amp;"; break;
                case '<': out += "&lt;"; break;
                case '>': out += "&gt;"; break;
                case '"': out += "&quot;"; break;
                case '\'': out += "&apos;"; break;
                default:
                    const bool allowed = c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
                    out += (allowed && c != 0x7F) ? static_cast<char>(c) : '?';
            }
            ++i;
            continue;
        }
        const std::size_t length = valid_utf8_length(text, i);
        if (length == 0) {
            out += '?';
            ++i;
        } else {
            out.append(text.substr(i, length));
            i += length;
        }
    }
    return out;
}

std::string svg_number(double value) {
    std::string s = fmt::format("{:.2f}", value);
    if (s.find('.') != std::string::npos) {
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
    }
    if (s == "-0") s = "0";
    return s;
}

Rgb parse_hex_color(std::string_view hex) {
    const auto digit = [&](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
        throw ValueError(fmt::format("parse_hex_color: '{}' is not a #rrggbb colour", hex));
    };
    if (hex.size() != 7 || hex[0] != '#')
        throw ValueError(fmt::format("parse_hex_color: '{}' is not a #rrggbb colour", hex));
    const auto channel = [&](std::size_t at) {
        return static_cast<std::uint8_t>(digit(hex[at]) * 16 + digit(hex[at + 1]));
    };
    return {channel(1), channel(3), channel(5)};
}

std::string to_hex(Rgb color) { return fmt::format("#{:02x}{:02x}{:02x}", color.r, color.g, color.b); }

Rgb mix(Rgb from, Rgb to, double t) {
    t = std::isnan(t) ? 0.0 : std::clamp(t, 0.0, 1.0);
    const auto blend = [t](std::uint8_t a, std::uint8_t b) {
        return static_cast<std::uint8_t>(std::lround(a + (b - a) * t));
    };
    return {blend(from.r, to.r), blend(from.g, to.g), blend(from.b, to.b)};
}

double luminance(Rgb color) { return (0.299 * color.r + 0.587 * color.g + 0.114 * color.b) / 255.0; }

std::string palette_color(std::size_t index) {
    static constexpr std::array<const char*, 10> colors = {
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    return colors[index % colors.size()];
}

double nice_number(double x, bool round) {
    if (!(x > 0) || !std::isfinite(x))
        throw ValueError(fmt::format("nice_number: {} is not a positive finite number", x));
    double mantissa = 1;
    int exponent = 0;
    nice_parts(x, round, mantissa, exponent);
    return decimal(mantissa, exponent);
}

Ticks nice_ticks(double min, double max, int target) {
    if (!std::isfinite(min) || !std::isfinite(max))
        throw ValueError(fmt::format("nice_ticks: range [{}, {}] is not finite", min, max));
    if (target < 2) throw ValueError(fmt::format("nice_ticks: target {} is below 2", target));
    if (min > max) std::swap(min, max);
    if (min == max) {
        const double delta = min == 0 ? 1.0 : std::abs(min) * 0.1;
        if (min != 0) min -= delta;
        max += delta;
    }
    if (!std::isfinite(max - min))
        throw ValueError(fmt::format("nice_ticks: range [{}, {}] is too wide", min, max));

    const double range = nice_number(max - min, false);
    double mantissa = 1;
    int exponent = 0;
    nice_parts(range / (target - 1), true, mantissa, exponent);
    const double step = decimal(mantissa, exponent);

    // Small tolerance so that 0.6 / 0.2 = 2.9999999999999996 still counts as a multiple.
    const double k_lo = std::floor(min / step + 1e-9);
    const double k_hi = std::ceil(max / step - 1e-9);
    Ticks ticks;
    ticks.step = step;
    ticks.decimals = std::max(0, -exponent);
    for (double k = k_lo; k <= k_hi && ticks.values.size() < 1000; k += 1)
        ticks.values.push_back(decimal(k * mantissa, exponent));
    ticks.lo = ticks.values.front();
    ticks.hi = ticks.values.back();
    return ticks;
}

Ticks log_ticks(double min, double max) {
    if (!(min > 0) || !(max >= min) || !std::isfinite(max))
        throw ValueError(fmt::format("log_ticks: range [{}, {}] is not positive and finite", min, max));
    int e_lo = static_cast<int>(std::floor(std::log10(min)));
    int e_hi = static_cast<int>(std::ceil(std::log10(max)));
    if (e_hi <= e_lo) e_hi = e_lo + 1;
    const int decades = e_hi - e_lo;
    std::vector<double> candidates;
    if (decades <= 2) {
        for (int e = e_lo; e < e_hi; ++e)
            for (double m : {1.0, 2.0, 5.0}) candidates.push_back(decimal(m, e));
        candidates.push_back(decimal(1, e_hi));
    } else {
        const int stride = (decades + 7) / 8;
        for (int e = e_lo;; e += stride) {
            candidates.push_back(decimal(1, e));
            if (e >= e_hi) break;
        }
    }
    // Keep the candidates within [largest <= min, smallest >= max].
    std::size_t first = 0, last = candidates.size() - 1;
    while (first + 1 < candidates.size() && candidates[first + 1] <= min) ++first;
    while (last > first + 1 && candidates[last - 1] >= max) --last;
    Ticks ticks;
    ticks.values.assign(candidates.begin() + static_cast<std::ptrdiff_t>(first),
                        candidates.begin() + static_cast<std::ptrdiff_t>(last) + 1);
    ticks.lo = ticks.values.front();
    ticks.hi = ticks.values.back();
    ticks.step = 0;
    ticks.decimals = -1;
    return ticks;
}

std::string format_tick(double value, int decimals) {
    value += 0.0;  // turns -0 into +0
    const double magnitude = std::abs(value);
    if (decimals < 0 || decimals > 5 || magnitude >= 1e6) {
        if (value != 0 && (magnitude < 1e-4 || magnitude >= 1e6)) return fmt::format("{:.3g}", value);
        return fmt::format("{:g}", value);
    }
    std::string s = fmt::format("{:.{}f}", value, decimals);
    if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);
    return s;
}

double text_width(std::string_view text, double font_size) {
    double em = 0;
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
        if (std::strchr("iljtf.,:;'|!()[] ", ch) != nullptr && c != 0) {
            em += 0.34;
        } else if ((c >= 'A' && c <= 'Z') || c == 'm' || c == 'w' || c == '%' || c >= 0x80) {
            em += 0.72;
        } else {
            em += 0.6;
        }
    }
    return em * font_size;
}

void PathData::add(char command, double x, double y) {
    if (!std::isfinite(x) || !std::isfinite(y)) return;
    if (!d_.empty()) d_ += ' ';
    d_ += command;
    d_ += svg_number(x);
    d_ += ' ';
    d_ += svg_number(y);
}

void PathData::move_to(double x, double y) { add('M', x, y); }

void PathData::line_to(double x, double y) {
    if (d_.empty()) {
        move_to(x, y);
    } else {
        add('L', x, y);
    }
}

SvgWriter::SvgWriter(double width, double height) : width_(width), height_(height) {
    const std::string w = svg_number(width), h = svg_number(height);
    out_ = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n",
        w, h);
}

void SvgWriter::stroke_attributes(const Stroke& stroke) {
    if (stroke.color.empty()) return;
    out_ += fmt::format(" stroke=\"{}\" stroke-width=\"{}\"", xml_escape(stroke.color),
                        svg_number(stroke.width));
    if (!stroke.dash.empty()) out_ += fmt::format(" stroke-dasharray=\"{}\"", xml_escape(stroke.dash));
}

void SvgWriter::class_attribute(std::string_view cls) {
    if (!cls.empty()) out_ += fmt::format(" class=\"{}\"", xml_escape(cls));
}

void SvgWriter::rect(double x, double y, double w, double h, std::string_view fill,
                     const Stroke& stroke, std::string_view cls) {
    if (!std::isfinite(x) || !std::isfinite(y) || !std::isfinite(w) || !std::isfinite(h)) return;
    if (w < 0 || h < 0) return;
    out_ += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"",
                        svg_number(x), svg_number(y), svg_number(w), svg_number(h),
                        xml_escape(fill));
    stroke_attributes(stroke);
    class_attribute(cls);
    out_ += "/>\n";
}

void SvgWriter::line(double x1, double y1, double x2, double y2, const Stroke& stroke,
                     std::string_view cls) {
    if (!std::isfinite(x1) || !std::isfinite(y1) || !std::isfinite(x2) || !std::isfinite(y2)) return;
    out_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"", svg_number(x1),
                        svg_number(y1), svg_number(x2), svg_number(y2));
    stroke_attributes(stroke);
    class_attribute(cls);
    out_ += "/>\n";
}

void SvgWriter::path(const PathData& d, std::string_view fill, const Stroke& stroke,
                     std::string_view cls) {
    if (d.empty()) return;
    out_ += fmt::format("<path d=\"{}\" fill=\"{}\"", d.str(), xml_escape(fill));
    stroke_attributes(stroke);
    if (!stroke.color.empty()) out_ += " stroke-linejoin=\"round\" stroke-linecap=\"round\"";
    class_attribute(cls);
    out_ += "/>\n";
}

void SvgWriter::circle(double cx, double cy, double r, std::string_view fill, const Stroke& stroke,
                       std::string_view cls) {
    if (!std::isfinite(cx) || !std::isfinite(cy) || !std::isfinite(r) || r <= 0) return;
    out_ += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"", svg_number(cx),
                        svg_number(cy), svg_number(r), xml_escape(fill));
    stroke_attributes(stroke);
    class_attribute(cls);
    out_ += "/>\n";
}

void SvgWriter::text(double x, double y, std::string_view content, const TextStyle& style,
                     std::string_view cls) {
    if (!std::isfinite(x) || !std::isfinite(y) || !std::isfinite(style.size)) return;
    const char* anchor = style.anchor == Anchor::start    ? "start"
                         : style.anchor == Anchor::middle ? "middle"
                                                          : "end";
    // Shift the baseline so that y is the visual centre of lowercase and digit glyphs.
    out_ += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\" text-anchor=\"{}\"",
                        svg_number(x), svg_number(y + 0.35 * style.size), svg_number(style.size),
                        xml_escape(style.color), anchor);
    if (style.bold) out_ += " font-weight=\"bold\"";
    if (style.rotate != 0 && std::isfinite(style.rotate))
        out_ += fmt::format(" transform=\"rotate({} {} {})\"", svg_number(style.rotate),
                            svg_number(x), svg_number(y));
    class_attribute(cls);
    out_ += '>';
    out_ += xml_escape(content);
    out_ += "</text>\n";
}

std::string SvgWriter::clip_rect(double x, double y, double w, double h) {
    std::string id = fmt::format("clip{}", next_id_++);
    out_ += fmt::format(
        "<defs><clipPath id=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>"
        "</clipPath></defs>\n",
        id, svg_number(x), svg_number(y), svg_number(std::max(w, 0.0)), svg_number(std::max(h, 0.0)));
    return id;
}

void SvgWriter::begin_group(std::string_view clip_id, std::string_view raw_attributes) {
    out_ += "<g";
    if (!clip_id.empty()) out_ += fmt::format(" clip-path=\"url(#{})\"", xml_escape(clip_id));
    if (!raw_attributes.empty()) {
        out_ += ' ';
        out_ += raw_attributes;
    }
    out_ += ">\n";
    ++open_groups_;
}

void SvgWriter::end_group() {
    if (open_groups_ == 0) return;
    out_ += "</g>\n";
    --open_groups_;
}

std::string SvgWriter::finish() {
    while (open_groups_ > 0) end_group();
    out_ += "</svg>\n";
    return std::move(out_);
}

void write_text_file(const std::string& path, std::string_view content) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr)
        throw IOError(fmt::format("write_text_file: {}: cannot open for writing: {}", path,
                                  std::strerror(errno)));
    const std::size_t written = std::fwrite(content.data(), 1, content.size(), file);
    const int write_errno = errno;
    const bool closed = std::fclose(file) == 0;
    if (written != content.size())
        throw IOError(fmt::format("write_text_file: {}: wrote {} of {} bytes: {}", path, written,
                                  content.size(), std::strerror(write_errno)));
    if (!closed)
        throw IOError(fmt::format("write_text_file: {}: cannot finish writing: {}", path,
                                  std::strerror(errno)));
}

}  // namespace ad::nn
