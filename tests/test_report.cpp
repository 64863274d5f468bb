// Tests of nn/report: SVG writer and charts, progress bar, training history.
#include <nn/report/history.hpp>
#include <nn/report/progress.hpp>
#include <nn/report/svg.hpp>

#include <autodiff/error.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace ad::nn;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- A tiny XML well-formedness checker ------------------------------------------------------

struct Element {
    std::string name;
    std::map<std::string, std::string> attributes;  // raw (still escaped) values
    std::string text;                               // raw text directly inside
};

// Parses `xml`, returning every element in document order, or an error message. Checks: tags
// balance, one root element, attribute values quoted and unique, no raw '<' in values, every
// '&' starts an entity. (No comments, declarations or numeric references: the writer emits none.)
struct XmlResult {
    std::vector<Element> elements;
    std::string error;
};

// The writer only ever emits the five predefined entities.
bool valid_reference(std::string_view s, std::size_t at) {
    for (std::string_view entity : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
        if (s.substr(at, entity.size()) == entity) return true;
    return false;
}

bool valid_char_data(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '<') return false;
        if (s[i] == '&' && !valid_reference(s, i)) return false;
    }
    return true;
}

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '-' || c == '.'; }

XmlResult parse_xml(std::string_view xml) {
    XmlResult result;
    std::vector<std::size_t> open;  // indices into result.elements
    int roots = 0;
    std::size_t i = 0;
    const auto fail = [&](std::string message) {
        result.error = message + " at offset " + std::to_string(i);
        return result;
    };
    while (i < xml.size()) {
        if (xml[i] != '<') {
            const std::size_t end = std::min(xml.find('<', i), xml.size());
            const std::string_view text = xml.substr(i, end - i);
            if (!valid_char_data(text)) return fail("bad character data");
            if (open.empty() && text.find_first_not_of(" \t\r\n") != std::string_view::npos)
                return fail("text outside the root element");
            if (!open.empty()) result.elements[open.back()].text += text;
            i = end;
            continue;
        }
        const bool closing = i + 1 < xml.size() && xml[i + 1] == '/';
        std::size_t k = i + (closing ? 2 : 1);
        const std::size_t name_start = k;
        while (k < xml.size() && name_char(xml[k])) ++k;
        const std::string name(xml.substr(name_start, k - name_start));
        if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return fail("bad tag name");
        if (closing) {
            while (k < xml.size() && std::isspace(static_cast<unsigned char>(xml[k]))) ++k;
            if (k >= xml.size() || xml[k] != '>') return fail("bad closing tag");
            if (open.empty() || result.elements[open.back()].name != name) return fail("unbalanced </" + name + ">");
            open.pop_back();
            i = k + 1;
            continue;
        }
        Element element{name, {}, {}};
        bool self_closing = false;
        while (true) {
            const std::size_t before = k;
            while (k < xml.size() && std::isspace(static_cast<unsigned char>(xml[k]))) ++k;
            if (k >= xml.size()) return fail("unterminated tag");
            if (xml[k] == '>') break;
            if (xml.substr(k, 2) == "/>") {
                self_closing = true;
                ++k;
                break;
            }
            if (k == before) return fail("attributes must be separated by space");
            const std::size_t attr_start = k;
            while (k < xml.size() && name_char(xml[k])) ++k;
            const std::string attr(xml.substr(attr_start, k - attr_start));
            if (attr.empty() || k + 1 >= xml.size() || xml[k] != '=' || (xml[k + 1] != '"' && xml[k + 1] != '\''))
                return fail("bad attribute in <" + name + ">");
            const char quote = xml[k + 1];
            const std::size_t value_end = xml.find(quote, k + 2);
            if (value_end == std::string_view::npos) return fail("unterminated attribute value");
            const std::string_view value = xml.substr(k + 2, value_end - k - 2);
            if (!valid_char_data(value)) return fail("bad attribute value");
            if (!element.attributes.emplace(attr, std::string(value)).second) return fail("duplicate attribute " + attr);
            k = value_end + 1;
        }
        if (open.empty() && ++roots > 1) return fail("second root element");
        result.elements.push_back(element);
        if (!self_closing) open.push_back(result.elements.size() - 1);
        i = k + 1;
    }
    if (!open.empty()) return fail("unclosed <" + result.elements[open.back()].name + ">");
    if (roots != 1) return fail("no root element");
    return result;
}

// Parses and requires well-formedness with an <svg> root.
std::vector<Element> well_formed_svg(const std::string& svg) {
    XmlResult parsed = parse_xml(svg);
    INFO(parsed.error);
    REQUIRE(parsed.error.empty());
    REQUIRE(parsed.elements.front().name == "svg");
    CHECK(parsed.elements.front().attributes.count("xmlns") == 1);
    // No non-finite number ever reaches the document.
    for (const Element& e : parsed.elements)
        for (const auto& attribute : e.attributes) {
            INFO(e.name << " " << attribute.first << "=" << attribute.second);
            CHECK(attribute.second.find("nan") == std::string::npos);
            CHECK(attribute.second.find("inf") == std::string::npos);
        }
    return parsed.elements;
}

std::vector<const Element*> with_class(const std::vector<Element>& elements, const std::string& cls) {
    std::vector<const Element*> found;
    for (const Element& e : elements) {
        const auto it = e.attributes.find("class");
        if (it != e.attributes.end() && it->second == cls) found.push_back(&e);
    }
    return found;
}

std::size_t count_class(const std::vector<Element>& elements, const std::string& cls) {
    return with_class(elements, cls).size();
}

std::size_t count_char(const std::string& s, char c) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), c)); }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Series make_series(std::string name, std::vector<double> y) {
    Series s;
    s.name = std::move(name);
    for (std::size_t i = 0; i < y.size(); ++i) s.x.push_back(static_cast<double>(i + 1));
    s.y = std::move(y);
    return s;
}

}  // namespace

TEST_CASE("the test's XML checker rejects malformed documents") {
    CHECK(parse_xml("<svg><g></g></svg>").error.empty());
    CHECK_FALSE(parse_xml("<svg><g></svg>").error.empty());
    CHECK_FALSE(parse_xml("<svg><text>a < b</text></svg>").error.empty());
    CHECK_FALSE(parse_xml("<svg><text>a & b</text></svg>").error.empty());
    CHECK_FALSE(parse_xml("<svg a=\"1\" a=\"2\"/>").error.empty());
    CHECK_FALSE(parse_xml("<svg/><svg/>").error.empty());
    CHECK_FALSE(parse_xml("<svg x=1/>").error.empty());
}

TEST_CASE("xml_escape escapes markup, control characters and invalid UTF-8") {
    CHECK(xml_escape("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
    CHECK(xml_escape("tab\tok\x01\x7f") == "tab\tok??");
    CHECK(xml_escape("caf\xc3\xa9 \xe2\x86\x92") == "caf\xc3\xa9 \xe2\x86\x92");  // é and →
    CHECK(xml_escape("bad \xff end \xc3") == "bad ? end ?");
    CHECK(xml_escape("\xed\xa0\x80") == "???");  // a UTF-16 surrogate is not a character
}

TEST_CASE("svg_number writes short fixed-point numbers") {
    CHECK(svg_number(12.5) == "12.5");
    CHECK(svg_number(3.0) == "3");
    CHECK(svg_number(-0.001) == "0");
    CHECK(svg_number(0.126) == "0.13");
}

TEST_CASE("nice ticks follow 1-2-5 steps") {
    const Ticks t = nice_ticks(0, 0.93);
    CHECK(t.values == std::vector<double>{0.0, 0.2, 0.4, 0.6, 0.8, 1.0});  // exact decimals
    CHECK(t.step == 0.2);
    CHECK(t.decimals == 1);
    CHECK(t.lo == 0.0);
    CHECK(t.hi == 1.0);

    CHECK(nice_ticks(1, 10).values == std::vector<double>{0, 2, 4, 6, 8, 10});
    CHECK(nice_ticks(-3.7, 12.1).values == std::vector<double>{-5, 0, 5, 10, 15});
    CHECK(nice_ticks(0.0012, 0.0049).values == std::vector<double>{0.001, 0.002, 0.003, 0.004, 0.005});
    CHECK(nice_ticks(0.0012, 0.0049).decimals == 3);
    CHECK(nice_ticks(12.1, -3.7).values == nice_ticks(-3.7, 12.1).values);  // swapped bounds

    const Ticks constant = nice_ticks(5, 5);
    CHECK(constant.lo < 5);
    CHECK(constant.hi > 5);
    CHECK(nice_ticks(0, 0).values.front() == 0.0);
    CHECK(nice_ticks(0, 0).values.back() == 1.0);

    CHECK(nice_number(0.93, false) == 1.0);
    CHECK(nice_number(2.5, false) == 5.0);
    CHECK(nice_number(2.5, true) == 2.0);
    CHECK(nice_number(3.2, true) == 5.0);
    CHECK(nice_number(80, true) == 100.0);

    CHECK_THROWS_AS(nice_ticks(kNaN, 1), ad::ValueError);
    CHECK_THROWS_AS(nice_ticks(0, kInf), ad::ValueError);
    CHECK_THROWS_AS(nice_number(0, true), ad::ValueError);
}

TEST_CASE("log ticks and tick labels") {
    CHECK(log_ticks(0.3, 0.6).values == std::vector<double>{0.2, 0.5, 1.0});
    CHECK(log_ticks(0.01, 3).values == std::vector<double>{0.01, 0.1, 1, 10});
    CHECK(log_ticks(1, 1).values == std::vector<double>{1, 2});
    CHECK_THROWS_AS(log_ticks(0, 1), ad::ValueError);

    CHECK(format_tick(0.6000000000000001, 1) == "0.6");
    CHECK(format_tick(-0.0, 1) == "0.0");
    CHECK(format_tick(-0.0001, 1) == "0.0");
    CHECK(format_tick(15, 0) == "15");
    CHECK(format_tick(1e-5, -1) == "1e-05");
    CHECK(format_tick(0.001, -1) == "0.001");
    CHECK(format_tick(2e7, 0) == "2e+07");
}

TEST_CASE("colours") {
    CHECK(parse_hex_color("#1f77b4") == Rgb{31, 119, 180});
    CHECK(to_hex(Rgb{31, 119, 180}) == "#1f77b4");
    CHECK(to_hex(mix(Rgb{0, 0, 0}, Rgb{255, 255, 255}, 0.5)) == "#808080");
    CHECK(mix(Rgb{0, 0, 0}, Rgb{200, 0, 0}, 7.0) == Rgb{200, 0, 0});  // clamped
    CHECK_THROWS_AS(parse_hex_color("red"), ad::ValueError);
    CHECK(palette_color(0) == palette_color(10));
}

TEST_CASE("line_chart draws one path per series and a marker per point") {
    const LineChart chart{.title = "Loss & <accuracy>", .xlabel = "epoch", .ylabel = "loss",
                          .series = {make_series("train", {1.0, 0.7, 0.5, 0.4}),
                                     make_series("test \"held out\"", {1.1, 0.8, 0.6, 0.55})}};
    const std::string svg = line_chart(chart);
    const auto elements = well_formed_svg(svg);
    CHECK(count_class(elements, "series") == 2);
    CHECK(count_class(elements, "marker") == 8);
    CHECK(count_class(elements, "legend") == 2);
    CHECK(svg.find("Loss &amp; &lt;accuracy&gt;") != std::string::npos);
    CHECK(svg.find("test &quot;held out&quot;") != std::string::npos);
    // Whole-number x (epochs) get whole-number ticks only.
    std::size_t x_ticks = 0;
    for (const Element* tick : with_class(elements, "tick")) {
        if (tick->attributes.at("text-anchor") != "middle") continue;  // y ticks are right-aligned
        ++x_ticks;
        CHECK(tick->text.find('.') == std::string::npos);
    }
    CHECK(x_ticks == 4);
}

TEST_CASE("line_chart leaves gaps at non-finite values and skips non-positive values on a log axis") {
    LineChart chart{.series = {make_series("a", {1, 2, kNaN, 4, 5, kInf, 7, 8})}};
    auto elements = well_formed_svg(line_chart(chart));
    auto paths = with_class(elements, "series");
    REQUIRE(paths.size() == 1);
    const std::string& d = paths[0]->attributes.at("d");
    CHECK(count_char(d, 'M') == 3);  // runs {1,2}, {4,5}, {7,8}
    CHECK(count_char(d, 'L') == 3);
    CHECK(count_class(elements, "marker") == 6);

    chart.log_y = true;
    chart.series = {make_series("b", {1, 0.1, -1, 0.01, 0, 0.001})};
    elements = well_formed_svg(line_chart(chart));
    paths = with_class(elements, "series");
    REQUIRE(paths.size() == 1);
    CHECK(count_char(paths[0]->attributes.at("d"), 'M') == 1);  // only run {1, 0.1}
    CHECK(count_class(elements, "marker") == 4);                 // isolated 0.01, 0.001 as dots
}

TEST_CASE("line_chart without markers on long series still shows isolated points") {
    std::vector<double> y(200, 1.0);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = std::exp(-static_cast<double>(i) / 50);
    y[100] = kNaN;
    y[102] = kNaN;  // y[101] is isolated
    const LineChart chart{.series = {make_series("long", y)}};
    const auto elements = well_formed_svg(line_chart(chart));
    CHECK(count_class(elements, "marker") == 1);
    CHECK(count_class(elements, "series") == 1);
}

TEST_CASE("line_chart says 'no data' for empty or all-NaN input") {
    LineChart chart{.title = "empty"};
    auto elements = well_formed_svg(line_chart(chart));
    CHECK(count_class(elements, "no-data") == 1);
    CHECK(count_class(elements, "series") == 0);

    chart.series = {make_series("nan", {kNaN, kNaN}), make_series("none", {})};
    elements = well_formed_svg(line_chart(chart));
    CHECK(count_class(elements, "no-data") == 1);
    CHECK(count_class(elements, "legend") == 2);
}

TEST_CASE("line_chart rejects inconsistent input") {
    LineChart chart;
    Series s = make_series("short", {1, 2, 3});
    s.x.pop_back();
    chart.series = {s};
    CHECK_THROWS_WITH_AS(line_chart(chart), doctest::Contains("'short' has 2 x values but 3 y values"),
                         ad::ValueError);
    chart.series = {make_series("ok", {1, 2})};
    chart.y_min = 3;
    chart.y_max = 1;
    CHECK_THROWS_AS(line_chart(chart), ad::ValueError);
}

TEST_CASE("line_chart honours a fixed y range and survives huge values") {
    const LineChart chart{.series = {make_series("acc", {0.5, 0.9, 1.5, 1e308, -1e308})}, .y_min = 0, .y_max = 1};
    const auto elements = well_formed_svg(line_chart(chart));
    std::vector<std::string> labels;
    for (const Element* tick : with_class(elements, "tick"))
        if (tick->attributes.at("text-anchor") == "end") labels.push_back(tick->text);
    CHECK(labels == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
}

TEST_CASE("curves_chart puts two panels side by side") {
    const LineChart loss{.title = "Loss", .series = {make_series("train_loss", {2, 1, 0.5})}};
    const LineChart accuracy{.title = "Accuracy", .series = {make_series("test_acc", {0.5, 0.8, 0.9})}};
    const auto elements = well_formed_svg(curves_chart(loss, accuracy, "Run 1"));
    CHECK(count_class(elements, "frame") == 2);
    CHECK(count_class(elements, "series") == 2);
    CHECK(count_class(elements, "title") == 3);
    CHECK(elements.front().attributes.at("width") == svg_number(loss.width + accuracy.width));
}

TEST_CASE("decision_boundary_chart merges equal cells per row and draws the 0.5 boundary") {
    DecisionBoundaryChart chart{.nx = 4, .ny = 3, .x_min = -1, .x_max = 1, .y_min = 0, .y_max = 3,
                                .probability = std::vector<double>(12, 0.2)};
    auto elements = well_formed_svg(decision_boundary_chart(chart));
    CHECK(count_class(elements, "cell") == 3);  // one run per row
    CHECK(count_class(elements, "boundary") == 0);

    // Left half class 0, right half class 1: two runs per row and a vertical boundary.
    for (std::size_t iy = 0; iy < 3; ++iy)
        for (std::size_t ix = 0; ix < 4; ++ix) chart.probability[iy * 4 + ix] = ix < 2 ? 0.1 : 0.9;
    chart.probability[0] = kNaN;  // grey cell of its own
    chart.px = {-0.5, 0.5, 0.0, 7.0};
    chart.py = {1.0, 2.0, kNaN, 1.0};
    chart.labels = {0, 1, 1, 0};
    chart.class_names = {"blue <0>", "red & 1"};
    const std::string svg = decision_boundary_chart(chart);
    elements = well_formed_svg(svg);
    CHECK(count_class(elements, "cell") == 7);
    CHECK(count_class(elements, "point") == 3);  // the NaN point is dropped; 7.0 is clipped
    const auto boundary = with_class(elements, "boundary");
    REQUIRE(boundary.size() == 1);
    // Every segment of the boundary lies at x = 0 (pixel column of the middle).
    std::istringstream d(boundary[0]->attributes.at("d"));
    std::string token;
    std::vector<double> xs;
    while (d >> token) {
        xs.push_back(std::stod(token.substr(1)));
        d >> token;
    }
    REQUIRE(xs.size() >= 2);
    for (double x : xs) CHECK(x == doctest::Approx(xs.front()));
    CHECK(svg.find("#cccccc") != std::string::npos);
    CHECK(svg.find("blue &lt;0&gt;") != std::string::npos);
    CHECK(svg.find("P(red &amp; 1)") != std::string::npos);
}

TEST_CASE("decision_boundary_chart validates its input and handles no data") {
    DecisionBoundaryChart chart{.nx = 2, .ny = 2, .probability = {0.1, 0.2, 0.3}};
    CHECK_THROWS_WITH_AS(decision_boundary_chart(chart), doctest::Contains("2 x 2 but has 3"), ad::ValueError);
    chart.probability.push_back(0.4);
    chart.x_max = chart.x_min;
    CHECK_THROWS_AS(decision_boundary_chart(chart), ad::ValueError);
    chart.x_max = 1;
    chart.px = {0.5};
    chart.py = {0.5};
    chart.labels = {-1};
    CHECK_THROWS_AS(decision_boundary_chart(chart), ad::ValueError);
    chart.labels = {1, 0};
    CHECK_THROWS_AS(decision_boundary_chart(chart), ad::ValueError);

    DecisionBoundaryChart empty;
    CHECK(count_class(well_formed_svg(decision_boundary_chart(empty)), "no-data") == 1);
    const DecisionBoundaryChart points_only{.px = {0, 1, 2}, .py = {0, 1, 0}, .labels = {0, 1, 2}};
    const auto elements = well_formed_svg(decision_boundary_chart(points_only));
    CHECK(count_class(elements, "point") == 3);
    CHECK(count_class(elements, "cell") == 0);
}

TEST_CASE("confusion_matrix_chart shows counts, recall and accuracy") {
    const std::vector<std::vector<std::int64_t>> counts = {{5, 1, 0}, {2, 7, 1}, {0, 0, 0}};
    const std::string svg = confusion_matrix_chart(counts, {"cat", "dog", "<bird & co>"}, "Pets");
    const auto elements = well_formed_svg(svg);
    CHECK(count_class(elements, "cell") == 9);
    CHECK(count_class(elements, "recall") == 3);
    std::vector<std::string> numbers, recalls;
    for (const Element* e : with_class(elements, "count")) numbers.push_back(e->text);
    for (const Element* e : with_class(elements, "recall-value")) recalls.push_back(e->text);
    CHECK(numbers == std::vector<std::string>{"5", "1", "0", "2", "7", "1", "0", "0", "0"});
    CHECK(recalls == std::vector<std::string>{"83.3%", "70.0%", "n/a"});
    CHECK(svg.find("accuracy 75.0% of 16 samples") != std::string::npos);
    CHECK(svg.find("&lt;bird &amp; co&gt;") != std::string::npos);
    CHECK(count_class(elements, "row-label") == 3);
    CHECK(count_class(elements, "column-label") == 3);
}

TEST_CASE("confusion_matrix_chart validates its input") {
    CHECK_THROWS_AS(confusion_matrix_chart({{1, 2}, {3}}, {}, "x"), ad::ValueError);
    CHECK_THROWS_AS(confusion_matrix_chart({{1, -2}, {3, 4}}, {}, "x"), ad::ValueError);
    CHECK_THROWS_WITH_AS(confusion_matrix_chart({{1, 2}, {3, 4}}, {"a"}, "x"),
                         doctest::Contains("1 class names for 2 classes"), ad::ValueError);
    const auto elements = well_formed_svg(confusion_matrix_chart({}, {}, "nothing"));
    CHECK(count_class(elements, "no-data") == 1);
}

TEST_CASE("write_text_file writes the file and names the path on failure") {
    const std::string path = "/tmp/test_report_" + std::to_string(::getpid()) + ".svg";
    write_text_file(path, "<svg/>\n");
    CHECK(read_file(path) == "<svg/>\n");
    std::remove(path.c_str());
    CHECK_THROWS_WITH_AS(write_text_file("/nonexistent-dir/x.svg", "x"), doctest::Contains("/nonexistent-dir/x.svg"),
                         ad::IOError);
}

TEST_CASE("History keeps columns in first-seen order and writes exact CSV") {
    History h;
    h.add({{"epoch", 1}, {"train_loss", 0.5}, {"test_acc", 0.8}});
    h.add({{"epoch", 2}, {"train_loss", 0.25}, {"seconds", 12.5}});
    h.add({{"epoch", 3}, {"test_acc", kNaN}, {"train_loss", 1e-7}});
    CHECK(h.size() == 3);
    CHECK(h.columns() == std::vector<std::string>{"epoch", "train_loss", "test_acc", "seconds"});
    CHECK(h.to_csv() ==
          "epoch,train_loss,test_acc,seconds\n"
          "1,0.5,0.8,\n"
          "2,0.25,,12.5\n"
          "3,1e-07,nan,\n");
    const std::vector<double> acc = h.column("test_acc");
    CHECK(acc[0] == 0.8);
    CHECK(std::isnan(acc[1]));
    CHECK(h.value(1, "test_acc") == std::nullopt);
    CHECK(h.value(1, "seconds") == 12.5);
    CHECK_THROWS_AS(h.column("missing"), ad::ValueError);
    CHECK_THROWS_AS(h.value(3, "epoch"), ad::ValueError);

    CHECK_THROWS_AS(h.add({{"epoch", 4}, {"epoch", 5}}), ad::ValueError);
    CHECK_THROWS_AS(h.add({{"", 4}}), ad::ValueError);
    CHECK(h.size() == 3);

    History quoted;
    quoted.add(std::map<std::string, double>{{"b,c", 2}, {"a\"q", 1}});
    CHECK(quoted.to_csv() == "\"a\"\"q\",\"b,c\"\n1,2\n");
}

TEST_CASE("History files and curves") {
    History h;
    for (int e = 1; e <= 5; ++e) {
        const double x = e;
        h.add({{"epoch", x}, {"train_loss", 1 / x}, {"test_loss", 1.2 / x}, {"train_acc", 1 - 0.5 / x}, {"test_acc", 1 - 0.6 / x}});
    }
    auto elements = well_formed_svg(h.to_svg());
    CHECK(count_class(elements, "frame") == 2);
    CHECK(count_class(elements, "series") == 4);
    CHECK(count_class(elements, "marker") == 20);
    std::vector<bool> dashed;  // train_loss, test_loss, train_acc, test_acc
    for (const Element* path : with_class(elements, "series")) dashed.push_back(path->attributes.count("stroke-dasharray") == 1);
    CHECK(dashed == std::vector<bool>{true, false, true, false});

    const std::string base = "/tmp/test_report_history_" + std::to_string(::getpid());
    h.write_csv(base + ".csv");
    h.write_svg(base + ".svg");
    CHECK(read_file(base + ".csv") == h.to_csv());
    CHECK(read_file(base + ".svg") == h.to_svg());
    std::remove((base + ".csv").c_str());
    std::remove((base + ".svg").c_str());
    CHECK_THROWS_AS(h.write_csv("/nonexistent-dir/h.csv"), ad::IOError);

    History loss_only;
    loss_only.add({{"loss", 1.0}});
    loss_only.add({{"loss", 0.5}});
    elements = well_formed_svg(loss_only.to_svg());
    CHECK(count_class(elements, "frame") == 1);
    CHECK(count_class(elements, "series") == 1);
    CHECK(count_class(well_formed_svg(History{}.to_svg()), "no-data") == 1);
}

TEST_CASE("format_duration") {
    CHECK(format_duration(7.9) == "0:07");
    CHECK(format_duration(754) == "12:34");
    CHECK(format_duration(3723) == "1:02:03");
    CHECK(format_duration(kNaN) == "?");
    CHECK(format_duration(-1) == "?");
}

namespace {

// A progress bar writing to a string, with a clock the test moves by hand.
struct Harness {
    std::ostringstream out;
    double t = 0;
    ProgressOptions options(bool tty) {
        return {.stream = &out, .force_tty = tty, .bar_width = 10, .clock = [this] { return t; }};
    }
};

// The successive in-place redraws of a progress bar's output (the text after each '\r').
std::vector<std::string> redraws(const std::string& text) {
    std::vector<std::string> parts;
    std::size_t at = text.find('\r');
    while (at != std::string::npos) {
        const std::size_t next = text.find('\r', at + 1);
        parts.push_back(text.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1));
        at = next;
    }
    return parts;
}

}  // namespace

TEST_CASE("ProgressBar in a terminal redraws in place at most every 0.1 s") {
    Harness h;
    ProgressBar bar(10, h.options(true));
    CHECK(bar.interactive());
    bar.start_epoch(3, 4);
    h.t = 2.0;
    bar.step(32, 1.0);  // drawn: 2 s since the last draw
    bar.step(32, 0.5);  // not drawn: no time passed
    CHECK(bar.status_line() == "epoch 3/10 [=====>    ] 2/4  loss 0.7500  32 samples/s  0:02 elapsed  eta 0:02");
    CHECK(bar.running_loss() == 0.75);
    h.t = 2.05;
    bar.step(32, 0.5);  // not drawn
    h.t = 2.06;
    bar.step(32, 0.5);  // last batch: always drawn
    bar.end_epoch("test acc 0.900");
    const std::vector<std::string> lines = redraws(h.out.str());
    REQUIRE(lines.size() == 4);  // start, first step, last step, end
    CHECK(lines[0].rfind("epoch 3/10 [          ] 0/4  loss -  - samples/s  0:00 elapsed", 0) == 0);
    CHECK(lines[1].find("[==>       ] 1/4  loss 1.0000  16 samples/s  0:02 elapsed  eta 0:06") != std::string::npos);
    // The last batch's line has no eta, so it is padded to blank out the longer line before it.
    CHECK(lines[2].rfind("epoch 3/10 [==========] 4/4  loss 0.6250  62 samples/s  0:02 elapsed ", 0) == 0);
    CHECK(lines[2].size() == lines[1].size());
    CHECK(lines[3] == "epoch 3/10 [==========] 4/4  loss 0.6250  62 samples/s  0:02 elapsed | test acc 0.900\n");
}

TEST_CASE("ProgressBar pads a shorter line and closes an open line") {
    Harness h;
    {
        ProgressBar bar(0, h.options(true));
        bar.start_epoch(1, 0);  // unknown totals
        h.t = 1;
        bar.step(1000000, 12345.678);
        h.t = 1000;
        bar.step(1, 0.5);
    }  // destructor ends the line
    const std::vector<std::string> lines = redraws(h.out.str());
    REQUIRE(lines.size() == 3);
    CHECK(lines[1].rfind("epoch 1 batch 1  loss 1.235e+04  1000000 samples/s  0:01 elapsed", 0) == 0);
    CHECK(lines[2].rfind("epoch 1 batch 2  loss 1.235e+04  1000 samples/s  16:40 elapsed  \n", 0) == 0);
    CHECK(lines[2].size() == lines[1].size() + 1);  // padded to the previous length, plus '\n'
}

TEST_CASE("ProgressBar without a terminal prints one summary line per epoch") {
    Harness h;
    ProgressBar bar(2, h.options(false));
    CHECK_FALSE(bar.interactive());
    for (std::size_t epoch = 1; epoch <= 2; ++epoch) {
        bar.start_epoch(epoch, 2);
        h.t += 2.0;
        bar.step(32, 1.0);
        bar.step(32, 0.5);
        bar.end_epoch(epoch == 1 ? "acc 0.9" : "");
    }
    CHECK(h.out.str() ==
          "epoch 1/2: loss 0.7500, 2 batches, 64 samples in 2.0 s (32 samples/s) | acc 0.9\n"
          "epoch 2/2: loss 0.7500, 2 batches, 64 samples in 2.0 s (32 samples/s)\n");

    Harness silent;
    ProgressOptions options = silent.options(false);
    options.epoch_summaries = false;
    ProgressBar quiet(1, options);
    quiet.start_epoch(1, 1);
    quiet.step(1, 1.0);
    quiet.end_epoch("x");
    CHECK(silent.out.str().empty());
}

TEST_CASE("ProgressBar detects a terminal and honours CI") {
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
        MESSAGE("no pseudo-terminal available; terminal detection not tested");
        if (master >= 0) ::close(master);
        return;
    }
    std::FILE* terminal = std::fopen(::ptsname(master), "w");
    REQUIRE(terminal != nullptr);
    const char* saved = std::getenv("CI");
    const std::optional<std::string> saved_ci = saved ? std::optional<std::string>(saved) : std::nullopt;

    ::unsetenv("CI");
    ProgressOptions options;
    options.file = terminal;
    CHECK(ProgressBar(1, options).interactive());
    ::setenv("CI", "true", 1);
    CHECK_FALSE(ProgressBar(1, options).interactive());
    options.force_tty = true;
    CHECK(ProgressBar(1, options).interactive());
    options.force_tty = false;
    std::FILE* regular = std::tmpfile();
    REQUIRE(regular != nullptr);
    ::unsetenv("CI");
    options.file = regular;
    CHECK_FALSE(ProgressBar(1, options).interactive());

    if (saved_ci) ::setenv("CI", saved_ci->c_str(), 1);
    std::fclose(regular);
    std::fclose(terminal);
    ::close(master);
}
