#pragma once
// Low-level building blocks of the SVG charts in <nn/report/svg.hpp>.
//
// SvgWriter appends well-formed SVG elements to a string: every text and attribute value goes
// through xml_escape, every number is written with a fixed small precision, and an element
// whose coordinates are not finite is dropped instead of being written (so a NaN that slips
// through a chart never makes the document invalid). The helpers next to it compute "nice"
// axis ticks (1-2-5 steps), format tick labels, mix colours and estimate text widths for layout.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ad::nn {

// Escapes text for XML content and attribute values: & < > " ' become entities, control
// characters other than tab/newline/carriage return become '?', and bytes that are not valid
// UTF-8 become '?' too. The result is always legal XML 1.0 character data.
std::string xml_escape(std::string_view text);

// Formats a coordinate or length: at most two decimals, no trailing zeros ("12.5", "3", "-0.25").
std::string svg_number(double value);

// An sRGB colour.
struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
    friend bool operator==(const Rgb&, const Rgb&) = default;
};
Rgb parse_hex_color(std::string_view hex);        // "#1f77b4" -> {31, 119, 180}; ValueError otherwise
std::string to_hex(Rgb color);                    // {31, 119, 180} -> "#1f77b4"
Rgb mix(Rgb from, Rgb to, double t);              // linear blend, t clamped to [0, 1]
double luminance(Rgb color);                      // relative brightness in [0, 1]
// The i-th colour (modulo 10) of a qualitative palette that stays distinguishable on white.
std::string palette_color(std::size_t index);

// Axis ticks chosen by the "nice numbers" algorithm (Heckbert): the step is 1, 2 or 5 times a
// power of ten, lo and hi are multiples of the step with lo <= data min and hi >= data max, and
// values are lo, lo + step, ..., hi (each the double nearest the decimal value, so 0.6 not
// 0.6000000000000001). decimals is how many digits after the point the labels need.
struct Ticks {
    double lo = 0, hi = 1, step = 0.2;
    int decimals = 1;
    std::vector<double> values;
};
// Ticks covering [min, max] with about `target` values. min > max is swapped; min == max is
// widened to a non-empty range. Throws ad::ValueError on a non-finite bound or target < 2.
Ticks nice_ticks(double min, double max, int target = 6);
// Ticks for a log10 axis covering [min, max] (both > 0): powers of ten, plus 2x and 5x when
// the range spans at most two decades. Throws ad::ValueError unless 0 < min <= max < inf.
Ticks log_ticks(double min, double max);
// The nice number near x > 0 (1, 2, 5 or 10 times a power of ten): rounded to the nearest when
// `round`, else the smallest one >= x.
double nice_number(double x, bool round);
// A tick label with `decimals` digits after the point ("0.2", "1.0", "15"); switches to
// scientific notation ("1e-05", "2.5e+07") for very small or very large magnitudes.
std::string format_tick(double value, int decimals);

// Rough width in pixels of `text` in a sans-serif font of `font_size` px (for layout only).
double text_width(std::string_view text, double font_size);

// How a line is drawn. An empty color means "no stroke".
struct Stroke {
    std::string color{};
    double width = 1;
    std::string dash{};  // SVG stroke-dasharray, e.g. "6 4"; empty = solid
};

enum class Anchor { start, middle, end };

// How a text is drawn. y passed to SvgWriter::text is the vertical centre of the text.
struct TextStyle {
    double size = 12;
    std::string color = "#333333";
    Anchor anchor = Anchor::start;
    bool bold = false;
    double rotate = 0;  // degrees, around the anchor point
};

// The "d" attribute of a <path>, built from move/line commands. Points with a non-finite
// coordinate are ignored.
class PathData {
public:
    void move_to(double x, double y);
    void line_to(double x, double y);
    bool empty() const { return d_.empty(); }
    const std::string& str() const { return d_; }

private:
    void add(char command, double x, double y);
    std::string d_;
};

// Builds one SVG document. Construct with the canvas size (a white background is drawn),
// add elements, then call finish() once to get the text.
class SvgWriter {
public:
    SvgWriter(double width, double height);

    // `cls` (optional) becomes the class attribute, which tests and stylesheets can select on.
    void rect(double x, double y, double w, double h, std::string_view fill,
              const Stroke& stroke = {}, std::string_view cls = {});
    void line(double x1, double y1, double x2, double y2, const Stroke& stroke,
              std::string_view cls = {});
    void path(const PathData& d, std::string_view fill, const Stroke& stroke,
              std::string_view cls = {});
    void circle(double cx, double cy, double r, std::string_view fill, const Stroke& stroke = {},
                std::string_view cls = {});
    void text(double x, double y, std::string_view content, const TextStyle& style = {},
              std::string_view cls = {});

    // Defines a rectangular clip region and returns its id (unique in this document).
    std::string clip_rect(double x, double y, double w, double h);
    // Opens a <g>, optionally clipped by an id from clip_rect and with extra presentation
    // attributes given as raw, already valid SVG (e.g. R"(shape-rendering="crispEdges")").
    void begin_group(std::string_view clip_id = {}, std::string_view raw_attributes = {});
    void end_group();

    double width() const { return width_; }
    double height() const { return height_; }

    // Closes any open group and the document; returns the SVG text. Call once.
    std::string finish();

private:
    void stroke_attributes(const Stroke& stroke);
    void class_attribute(std::string_view cls);

    double width_, height_;
    std::string out_;
    int open_groups_ = 0;
    int next_id_ = 0;
};

// Writes `content` to `path` (replacing it). Throws ad::IOError naming the path and the
// system's reason if the file cannot be opened, written or closed.
void write_text_file(const std::string& path, std::string_view content);

}  // namespace ad::nn
