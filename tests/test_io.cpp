// Tests of nn/io: IDX, CSV, atomic writes and safetensors, including every error path and the
// inputs that fuzzing found (see fuzz/).
#include <nn/io/atomic_file.hpp>
#include <nn/io/csv.hpp>
#include <nn/io/idx.hpp>
#include <nn/io/safetensors.hpp>

#include <autodiff/error.hpp>

#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace ad::nn;
using Bytes = std::vector<std::uint8_t>;

namespace {

// Runs `f`, which must throw E; every one of `parts` must occur in the message.
template <class E, class F>
void check_error(F&& f, std::initializer_list<std::string_view> parts, int line) {
    INFO("check_error at line " << line);
    try {
        f();
        FAIL("no exception thrown");
    } catch (const E& e) {
        const std::string msg = e.what();
        for (std::string_view part : parts) {
            CHECK_MESSAGE(msg.find(part) != std::string::npos,
                          "'" << std::string(part) << "' not in: " << msg);
        }
    }
}
#define CHECK_ERROR(E, expr, ...) check_error<E>([&] { (void)(expr); }, {__VA_ARGS__}, __LINE__)

// A fresh directory under the system temp dir, removed with its content at scope end.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "ad_test_io_XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() { fs::remove_all(path); }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, std::span<const std::uint8_t> bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
}

Bytes read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes gzip(std::span<const std::uint8_t> raw) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    Bytes out(deflateBound(&zs, raw.size()) + 32);
    zs.next_in = const_cast<std::uint8_t*>(raw.data());
    zs.avail_in = static_cast<uInt>(raw.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

// An IDX file: header for `type` and `dims`, then `data` as given.
Bytes idx_bytes(std::uint8_t type, std::vector<std::uint32_t> dims, Bytes data) {
    Bytes out{0, 0, type, static_cast<std::uint8_t>(dims.size())};
    for (std::uint32_t d : dims) {
        for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(d >> s));
    }
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

}  // namespace

// ---------------------------------------------------------------- IDX

TEST_CASE("idx: ubyte array parses with shape, bytes and conversions") {
    const IdxArray a = parse_idx(idx_bytes(0x08, {2, 3}, {0, 1, 2, 253, 254, 255}), "mem");
    CHECK(a.shape == std::vector<std::size_t>{2, 3});
    CHECK(a.type == IdxType::u8);
    CHECK(a.count() == 6);
    CHECK(a.item_size() == 3);
    CHECK(a.bytes == Bytes{0, 1, 2, 253, 254, 255});
    CHECK(a.to_float(0.5f) == std::vector<float>{0, 0.5f, 1, 126.5f, 127, 127.5f});
    std::vector<float> batch(2);
    a.to_float(4, batch, 1.0f);
    CHECK(batch == std::vector<float>{254, 255});
    CHECK_ERROR(ad::ValueError, a.to_float(5, batch, 1.0f), "[5, 7)", "6");
    CHECK(a.to_int64() == std::vector<std::int64_t>{0, 1, 2, 253, 254, 255});
}

TEST_CASE("idx: wider types are decoded big-endian") {
    CHECK(parse_idx(idx_bytes(0x09, {2}, {0xFF, 0x7F}), "m").to_int64() ==
          std::vector<std::int64_t>{-1, 127});
    CHECK(parse_idx(idx_bytes(0x0B, {2}, {0x01, 0x02, 0xFF, 0xFE}), "m").to_int64() ==
          std::vector<std::int64_t>{258, -2});
    CHECK(parse_idx(idx_bytes(0x0C, {1}, {0xFF, 0xFF, 0xFF, 0xFD}), "m").value(0) == -3.0);
    CHECK(parse_idx(idx_bytes(0x0D, {1}, {0x3F, 0xC0, 0, 0}), "m").value(0) == 1.5);
    CHECK(parse_idx(idx_bytes(0x0E, {1}, {0xC0, 0x02, 0, 0, 0, 0, 0, 0}), "m").value(0) == -2.25);
    const IdxArray nan = parse_idx(idx_bytes(0x0D, {1}, {0x7F, 0xC0, 0, 0}), "m");
    CHECK(std::isnan(nan.value(0)));
    CHECK_ERROR(ad::ValueError, nan.to_int64(), "element 0", "not representable");
    CHECK_ERROR(ad::ValueError, nan.value(1), "index 1");
}

TEST_CASE("idx: every malformed header is an IOError naming the source and the problem") {
    CHECK_ERROR(ad::IOError, parse_idx(Bytes{0, 0, 8}, "f.idx"), "parse_idx: f.idx", "too short");
    CHECK_ERROR(ad::IOError, parse_idx(Bytes{1, 0, 8, 1, 0, 0, 0, 0}, "f"), "wrong magic", "01 00");
    CHECK_ERROR(ad::IOError, parse_idx(idx_bytes(0x0A, {1}, {0}), "f"), "unknown element type",
                "0x0a");
    CHECK_ERROR(ad::IOError, parse_idx(Bytes{0, 0, 8, 0}, "f"), "0 dimensions");
    CHECK_ERROR(ad::IOError, parse_idx(Bytes{0, 0, 8, 200, 0, 0, 0, 1}, "f"), "200 dimensions");
    CHECK_ERROR(ad::IOError, parse_idx(Bytes{0, 0, 8, 2, 0, 0, 0, 1, 0, 0}, "f"),
                "2 dimensions but is truncated after 6 of their 8 bytes");
    CHECK_ERROR(ad::IOError, parse_idx(idx_bytes(0x08, {2, 2}, {1, 2, 3}), "f"),
                "header says shape [2, 2] of ubyte (4 bytes) but only 3 bytes of data follow");
    CHECK_ERROR(ad::IOError, parse_idx(idx_bytes(0x0B, {2}, {1, 2, 3, 4, 5}), "f"),
                "shape [2] of int16 (4 bytes) but 5 bytes", "1 trailing");
    CHECK_ERROR(ad::IOError,
                parse_idx(idx_bytes(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}), "f"),
                "overflow", "[4294967295, 4294967295, 4294967295]");
    CHECK_ERROR(ad::IOError, parse_idx(idx_bytes(0x0E, {0x7FFFFFFF, 0x7FFFFFFF, 4}, {}), "f"),
                "overflow");
}

TEST_CASE("idx: lying headers fail fast without allocating what they announce") {
    // A successful allocation of these sizes is impossible; an attempt would throw
    // std::bad_alloc or std::length_error instead of the IOError checked here.
    const auto start = std::chrono::steady_clock::now();
    const Bytes liar = idx_bytes(0x08, {0xFFFFFFFF, 0xFFFFFFFF}, {1, 2, 3});
    CHECK_ERROR(ad::IOError, parse_idx(liar, "liar"), "but only 3 bytes");
    CHECK_ERROR(ad::IOError, decode_idx(gzip(liar), "liar.gz"), "but only 3 bytes",
                "after decompression");
    const Bytes big_claim = idx_bytes(0x08, {60000, 28, 28}, Bytes(1234, 7));
    CHECK_ERROR(ad::IOError, decode_idx(gzip(big_claim), "x.gz"),
                "decode_idx: x.gz: header says shape [60000, 28, 28] of ubyte (47040000 bytes) "
                "but only 1234 bytes");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("idx: gzip data decodes like the plain bytes, and bad gzip is reported") {
    Bytes pixels(3 * 5 * 7);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 37);
    const Bytes plain = idx_bytes(0x08, {3, 5, 7}, pixels);
    const Bytes packed = gzip(plain);
    const IdxArray a = decode_idx(packed, "a.gz");
    CHECK(a.shape == std::vector<std::size_t>{3, 5, 7});
    CHECK(a.bytes == pixels);
    CHECK(decode_idx(plain, "a").bytes == pixels);

    // Two gzip members (as `cat a.gz b.gz` makes) are one stream.
    const Bytes first(plain.begin(), plain.begin() + 50);
    const Bytes second(plain.begin() + 50, plain.end());
    Bytes members = gzip(first);
    const Bytes tail = gzip(second);
    members.insert(members.end(), tail.begin(), tail.end());
    CHECK(decode_idx(members, "m.gz").bytes == pixels);

    const Bytes truncated(packed.begin(), packed.end() - 12);
    CHECK_ERROR(ad::IOError, decode_idx(truncated, "t.gz"), "t.gz", "truncated");
    Bytes corrupt = packed;
    corrupt[3] = 0xFF;  // reserved gzip flag bits
    CHECK_ERROR(ad::IOError, decode_idx(corrupt, "c.gz"), "c.gz", "corrupt gzip data");
    Bytes garbage = packed;
    garbage.insert(garbage.end(), 16, 0x42);
    CHECK_ERROR(ad::IOError, decode_idx(garbage, "g.gz"), "g.gz", "corrupt gzip data");
    // More data than the first inflate buffer (1 MiB): the buffer grows to exactly the size.
    Bytes big(3 * 1000 * 1000);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i % 251);
    const IdxArray grown = decode_idx(gzip(idx_bytes(0x08, {3, 1000, 1000}, big)), "big.gz");
    CHECK(grown.bytes == big);
    CHECK(grown.bytes.capacity() == big.size());
    Bytes longer = idx_bytes(0x08, {3, 5, 7}, pixels);
    longer.push_back(9);
    CHECK_ERROR(ad::IOError, decode_idx(gzip(longer), "l.gz"), "more data follows",
                "after decompression");
}

TEST_CASE("idx: files are read plain or gzip by content, not by name") {
    TempDir dir;
    Bytes labels(100);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
    const Bytes images_raw = idx_bytes(0x08, {100, 2, 2}, Bytes(400, 3));
    write_bytes(dir / "images.idx", gzip(images_raw));  // gzip without .gz
    write_bytes(dir / "labels.gz", idx_bytes(0x08, {100}, labels));  // plain despite .gz
    const LabeledImages pair = read_idx_pair(dir / "images.idx", dir / "labels.gz");
    CHECK(pair.images.shape == std::vector<std::size_t>{100, 2, 2});
    CHECK(pair.labels.bytes == labels);
    CHECK(read_idx(dir / "images.idx").bytes == Bytes(400, 3));

    CHECK_ERROR(ad::IOError, read_idx(dir / "missing.idx"), "read_idx:", "missing.idx",
                "No such file or directory");
    write_bytes(dir / "few.idx", idx_bytes(0x08, {99}, Bytes(99, 1)));
    CHECK_ERROR(ad::IOError, read_idx_pair(dir / "images.idx", dir / "few.idx"), "100 images",
                "99 labels", "few.idx");
    write_bytes(dir / "wide.idx", idx_bytes(0x0C, {100}, Bytes(400, 0)));
    CHECK_ERROR(ad::IOError, read_idx_pair(dir / "images.idx", dir / "wide.idx"), "wide.idx",
                "1-d ubyte", "int32");
    CHECK_ERROR(ad::IOError, read_idx_pair(dir / "images.idx", dir / "images.idx"), "1-d ubyte",
                "[100, 2, 2]");
    write_bytes(dir / "short.idx", idx_bytes(0x08, {100, 2, 2}, Bytes(10, 3)));
    CHECK_ERROR(ad::IOError, read_idx(dir / "short.idx"), "read_idx: " + (dir / "short.idx"),
                "only 10 bytes");
}

namespace {
const std::string fmnist = "/usr/share/datasets/fashion-mnist/";
bool have_fmnist() { return fs::exists(fmnist + "train-labels-idx1-ubyte.gz"); }
}  // namespace

TEST_CASE("idx: the real Fashion-MNIST files" * doctest::skip(!have_fmnist())) {
    const LabeledImages train = read_idx_pair(fmnist + "train-images-idx3-ubyte.gz",
                                              fmnist + "train-labels-idx1-ubyte.gz");
    CHECK(train.images.shape == std::vector<std::size_t>{60000, 28, 28});
    CHECK(train.images.bytes.size() == 60000u * 784u);
    CHECK(train.images.bytes.capacity() == 60000u * 784u);  // one byte per pixel, no slack
    const LabeledImages test = read_idx_pair(fmnist + "t10k-images-idx3-ubyte.gz",
                                             fmnist + "t10k-labels-idx1-ubyte.gz");
    CHECK(test.images.shape == std::vector<std::size_t>{10000, 28, 28});
    // Fashion-MNIST is balanced: 6000 / 1000 of each of the 10 classes.
    for (const auto* set : {&train, &test}) {
        std::vector<std::size_t> per_class(256);
        for (std::uint8_t l : set->labels.bytes) ++per_class[l];
        for (std::size_t c = 0; c < 10; ++c) CHECK(per_class[c] == set->labels.count() / 10);
    }

    // The same data, decompressed to a plain file, reads identically.
    TempDir dir;
    gzFile gz = gzopen((fmnist + "t10k-images-idx3-ubyte.gz").c_str(), "rb");
    REQUIRE(gz != nullptr);
    Bytes plain(8 << 20);
    const int n = gzread(gz, plain.data(), static_cast<unsigned>(plain.size()));
    gzclose(gz);
    REQUIRE(n == 16 + 10000 * 784);
    plain.resize(static_cast<std::size_t>(n));
    write_bytes(dir / "t10k-images", plain);
    const IdxArray from_plain = read_idx(dir / "t10k-images");
    CHECK(from_plain.shape == test.images.shape);
    CHECK(from_plain.bytes == test.images.bytes);
}

// ---------------------------------------------------------------- CSV

TEST_CASE("csv: header detection, values, CRLF, blanks, quotes, BOM and number spellings") {
    const CsvTable t = parse_csv(
        "\xEF\xBB\xBFx, \"y\" ,label\r\n1,2.5,0\r\n -3 ,\"4e1\",1\r\n\r\n\n", "a.csv");
    CHECK(t.header == std::vector<std::string>{"x", "y", "label"});
    CHECK(t.rows == 2);
    CHECK(t.cols == 3);
    CHECK(t.values == std::vector<double>{1, 2.5, 0, -3, 40, 1});
    CHECK(t.at(1, 1) == 40);
    CHECK(t.column_index("label") == 2);
    CHECK_ERROR(ad::ValueError, t.column_index("z"), "no column named \"z\"", "x, y, label");
    CHECK_ERROR(ad::ValueError, t.at(2, 0), "(2, 0)");

    const CsvTable nums = parse_csv("nan;inf;-Infinity;0x1p3\n\n1;2;3;4", "b", {';', {}});
    CHECK(nums.header.empty());
    CHECK(nums.rows == 2);
    CHECK(std::isnan(nums.values[0]));
    CHECK(nums.values[1] == INFINITY);
    CHECK(nums.values[2] == -INFINITY);
    CHECK(nums.values[3] == 8);

    // Explicit header flags override detection.
    CHECK(parse_csv("1,2\n3,4\n", "c", {',', true}).header == std::vector<std::string>{"1", "2"});
    CHECK(parse_csv("\"a,b\",\"say \"\"hi\"\"\"\n1,2", "d").header ==
          std::vector<std::string>{"a,b", "say \"hi\""});
    const CsvTable tabs = parse_csv("1\t2\n3\t4", "e", {'\t', false});
    CHECK(tabs.values == std::vector<double>{1, 2, 3, 4});
}

TEST_CASE("csv: errors name the file, the line and the column") {
    CHECK_ERROR(ad::IOError, parse_csv("a,b\n1,2\n3,x7\n", "f.csv"), "parse_csv: f.csv",
                "line 3, column 2", "\"x7\" is not a number");
    CHECK_ERROR(ad::IOError, parse_csv("1,2\n3\n", "f.csv"),
                "line 2 has 1 fields but line 1 has 2");
    CHECK_ERROR(ad::IOError, parse_csv("\n\n1,2,3\n4,5\n", "f.csv"),
                "line 4 has 2 fields but line 3 has 3");
    CHECK_ERROR(ad::IOError, parse_csv("", "f.csv"), "f.csv", "empty");
    CHECK_ERROR(ad::IOError, parse_csv(" \r\n\n", "f.csv"), "empty");
    CHECK_ERROR(ad::IOError, parse_csv("a,b\n\n", "f.csv"), "header (line 1) but no data rows");
    CHECK_ERROR(ad::IOError, parse_csv("1,\"2\n", "f.csv"), "line 1, column 2: unterminated quote");
    CHECK_ERROR(ad::IOError, parse_csv("1,\"2\"3\n", "f.csv"), "line 1, column 2", "\"3\"");
    CHECK_ERROR(ad::IOError, parse_csv("1,1e999\n", "f.csv"), "column 2", "out of range");
    CHECK_ERROR(ad::IOError, parse_csv("x,y\n1,2\n,3\n", "f.csv"), "line 3, column 1: empty field");
    CHECK_ERROR(ad::IOError, parse_csv("1,2\n3\t,4\x01\n", "f.csv"), "\"4\\x01\"");
    CHECK_ERROR(ad::IOError, parse_csv("a,b\n1,2\n", "f.csv", {',', false}),
                "line 1, column 1", "\"a\"");
    CHECK_ERROR(ad::ValueError, parse_csv("1", "f.csv", {'"', {}}), "delimiter");
}

TEST_CASE("csv: files") {
    TempDir dir;
    const std::string text = "a,b\n0.25,-1\n";
    write_bytes(dir / "t.csv", Bytes(text.begin(), text.end()));
    const CsvTable t = read_csv(dir / "t.csv");
    CHECK(t.values == std::vector<double>{0.25, -1});
    CHECK_ERROR(ad::IOError, read_csv(dir / "nope.csv"), "read_csv: " + (dir / "nope.csv"),
                "No such file");
    CHECK_ERROR(ad::IOError, read_csv(dir.path.string()), "read_csv", "Is a directory");
}

// ---------------------------------------------------------------- atomic files

TEST_CASE("atomic_file: writes, replaces, keeps permissions, leaves no temporary file") {
    TempDir dir;
    const std::string path = dir / "out.bin";
    const std::vector<std::byte> one(10, std::byte{1});
    const std::vector<std::byte> two(3, std::byte{2});
    write_file_atomically(path, one);
    CHECK(read_bytes(path) == Bytes(10, 1));
    ::chmod(path.c_str(), 0640);
    write_file_atomically(path, two);
    CHECK(read_bytes(path) == Bytes(3, 2));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    write_file_atomically(path, {});
    CHECK(read_bytes(path).empty());
    CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);

    CHECK_ERROR(ad::IOError, write_file_atomically(dir / "no/such/dir/f", one), "no/such/dir/f",
                "No such file or directory");
    CHECK_ERROR(ad::IOError, write_file_atomically(dir.path.string(), one), "Is a directory");
    CHECK_ERROR(ad::IOError, write_file_atomically(dir.path.string() + "/", one),
                "does not name a file");
    CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);
}

// ---------------------------------------------------------------- safetensors

namespace {

std::vector<std::byte> as_bytes(std::string_view s) {
    std::vector<std::byte> out(s.size());
    std::transform(s.begin(), s.end(), out.begin(), [](char c) { return std::byte(c); });
    return out;
}

// A safetensors file with the given header text and `data_size` data bytes.
std::vector<std::byte> st_file(std::string_view header, std::size_t data_size) {
    std::vector<std::byte> out(8);
    const std::uint64_t n = header.size();
    std::memcpy(out.data(), &n, 8);
    const std::vector<std::byte> h = as_bytes(header);
    out.insert(out.end(), h.begin(), h.end());
    out.resize(out.size() + data_size, std::byte{0});
    return out;
}

TensorRecord raw_tensor(std::string name, std::string dtype, std::vector<std::int64_t> shape,
                        std::vector<std::uint8_t> bytes) {
    std::vector<std::byte> data(bytes.size());
    std::transform(bytes.begin(), bytes.end(), data.begin(), [](auto b) { return std::byte{b}; });
    return {std::move(name), std::move(dtype), std::move(shape), std::move(data)};
}

}  // namespace

TEST_CASE("safetensors: bytes match the reference library's layout") {
    SafetensorsFile f;
    const std::vector<float> values{1.0f, 2.0f};
    f.tensors.push_back(make_tensor_f32("a", {2}, values));
    const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  )";
    CHECK(header.size() % 8 == 0);
    std::vector<std::byte> expected = st_file(header, 0);
    const std::vector<std::byte> data{std::byte{0}, std::byte{0}, std::byte{0x80}, std::byte{0x3f},
                                      std::byte{0}, std::byte{0}, std::byte{0},    std::byte{0x40}};
    expected.insert(expected.end(), data.begin(), data.end());
    CHECK(serialize_safetensors(f) == expected);
}

TEST_CASE("safetensors: save and load round trip with mixed dtypes and metadata") {
    TempDir dir;
    SafetensorsFile f;
    f.metadata = {{"format", "pt"}, {"step", "12"}};
    const std::vector<float> w{1.5f, -2.0f, 3.25f, 0.0f, 5.0f, 6.0f};
    const std::vector<std::int64_t> steps{-7};
    f.tensors.push_back(raw_tensor("mask", "U8", {3}, {1, 0, 1}));
    f.tensors.push_back(make_tensor_f32("layer.weight", {2, 3}, w));
    f.tensors.push_back(make_tensor_i64("step", {}, steps));
    f.tensors.push_back(make_tensor_f32("empty", {0, 4}, {}));
    f.tensors.push_back(raw_tensor("half", "F16", {2}, {0x00, 0x3C, 0x00, 0xC0}));
    f.tensors.push_back(raw_tensor("bf", "BF16", {1}, {0x80, 0x3F}));
    const std::string path = dir / "model.safetensors";
    save_safetensors(path, f);

    const Bytes raw = read_bytes(path);
    std::uint64_t n = 0;
    std::memcpy(&n, raw.data(), 8);
    CHECK(n % 8 == 0);
    const SafetensorsFile g = load_safetensors(path);
    CHECK(g.metadata == f.metadata);
    REQUIRE(g.tensors.size() == f.tensors.size());
    for (const TensorRecord& t : f.tensors) {
        const TensorRecord* u = g.find(t.name);
        REQUIRE(u != nullptr);
        CHECK(u->dtype == t.dtype);
        CHECK(u->shape == t.shape);
        CHECK(u->data == t.data);
    }
    CHECK(g.find("nope") == nullptr);
    // Laid out widest dtype first, so every tensor is aligned to its element size.
    CHECK(g.tensors[0].name == "step");
    CHECK(g.tensors.back().name == "mask");
    CHECK(tensor_to_f32(*g.find("layer.weight")) == w);
    CHECK(tensor_to_i64(*g.find("step")) == steps);
    CHECK(tensor_to_f32(*g.find("half")) == std::vector<float>{1.0f, -2.0f});
    CHECK(tensor_to_f32(*g.find("bf")) == std::vector<float>{1.0f});
    CHECK(tensor_to_i64(*g.find("mask")) == std::vector<std::int64_t>{1, 0, 1});
    CHECK(g.find("step")->numel() == 1);
    CHECK_ERROR(ad::ValueError, tensor_to_i64(*g.find("half")), "'half'", "not an integer");
    CHECK(parse_safetensors(as_bytes(std::string_view(reinterpret_cast<const char*>(raw.data()),
                                                      raw.size())),
                            "mem")
              .tensors.size() == 6);
    CHECK_ERROR(ad::IOError, load_safetensors(dir / "missing.st"), "load_safetensors",
                "missing.st", "No such file");
}

TEST_CASE("safetensors: saving rejects inconsistent records") {
    const auto one = [](TensorRecord t) {
        SafetensorsFile f;
        f.tensors.push_back(std::move(t));
        return serialize_safetensors(f);
    };
    CHECK_ERROR(ad::ValueError, one(raw_tensor("t", "F31", {1}, {0, 0, 0, 0})), "'t'", "F31");
    CHECK_ERROR(ad::ValueError, one(raw_tensor("t", "F32", {2}, {0, 0, 0, 0})), "needs 8 bytes",
                "holds 4");
    CHECK_ERROR(ad::ValueError, one(raw_tensor("t", "U8", {-1}, {})), "negative");
    CHECK_ERROR(ad::ValueError, one(raw_tensor("__metadata__", "U8", {}, {0})), "reserved");
    CHECK_ERROR(ad::ValueError, one(raw_tensor("\xff", "U8", {}, {0})), "UTF-8");
    CHECK_ERROR(ad::ValueError, make_tensor_f32("w", {3}, std::vector<float>(2)), "'w'");
    SafetensorsFile twice;
    twice.tensors = {raw_tensor("t", "U8", {}, {0}), raw_tensor("t", "U8", {}, {1})};
    CHECK_ERROR(ad::ValueError, serialize_safetensors(twice), "two tensors are named 't'");
}

TEST_CASE("safetensors: loading rejects every kind of corrupt file") {
    const auto parse = [](std::string_view header, std::size_t data_size) {
        return parse_safetensors(st_file(header, data_size), "x.st");
    };
    CHECK(parse(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 2).tensors.size() == 1);
    CHECK(parse("{}  ", 0).tensors.empty());
    CHECK_ERROR(ad::IOError, parse_safetensors(as_bytes("1234567"), "x.st"), "x.st", "too short");
    std::vector<std::byte> huge = st_file("{}", 0);
    huge[5] = std::byte{1};  // header length 2^40 + 2
    CHECK_ERROR(ad::IOError, parse_safetensors(huge, "x.st"), "exceeds the limit");
    huge = st_file("{}", 0);
    huge[0] = std::byte{3};
    CHECK_ERROR(ad::IOError, parse_safetensors(huge, "x.st"),
                "header length 3 exceeds the 2 bytes");
    CHECK_ERROR(ad::IOError, parse("{\"a\":", 0), "parse_safetensors: x.st", "not valid JSON");
    CHECK_ERROR(ad::IOError, parse("[1]", 0), "header is a JSON array, not an object");
    CHECK_ERROR(ad::IOError, parse(R"({"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]},
        "a":{"dtype":"U8","shape":[],"data_offsets":[1,2]}})", 2), "key 'a' twice");
    CHECK_ERROR(ad::IOError, parse(R"({"w":{"dtype":"F33","shape":[],"data_offsets":[0,4]}})", 4),
                "tensor 'w'", "unknown dtype 'F33'");
    CHECK_ERROR(ad::IOError, parse(R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}})", 0),
                "tensor 'w'", "shape entry -1");
    CHECK_ERROR(ad::IOError, parse(R"({"w":{"dtype":"U8","shape":[2.0],"data_offsets":[0,2]}})", 2),
                "shape entry 2.0");
    CHECK_ERROR(ad::IOError, parse(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                "tensor 'w'", "needs 12 bytes but data_offsets [0, 8] span 8");
    CHECK_ERROR(ad::IOError, parse(R"({"w":{"dtype":"U8","shape":[9],"data_offsets":[0,9]}})", 8),
                "point past the end of the 8-byte data area");
    CHECK_ERROR(ad::IOError, parse(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}})", 2),
                "end before they begin");
    CHECK_ERROR(ad::IOError,
                parse(R"({"w":{"dtype":"U8","shape":[4611686018427387904, 8],)"
                      R"("data_offsets":[0,0]}})", 0),
                "overflows");
    CHECK_ERROR(ad::IOError, parse(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},
        "b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})", 3),
                "tensor 'b' (bytes [1, 3)) overlaps tensor 'a' (bytes [0, 2))");
    CHECK_ERROR(ad::IOError, parse(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})", 3),
                "bytes [0, 1) of the data area belong to no tensor");
    CHECK_ERROR(ad::IOError, parse(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 5),
                "5 bytes but the tensors cover only 2 (3 trailing bytes)");
    CHECK_ERROR(ad::IOError, parse(R"({"a":{"dtype":"U8","shape":[2]}})", 0),
                "tensor 'a'", "missing field 'data_offsets'");
    CHECK_ERROR(ad::IOError,
                parse(R"({"a":{"dtype":"U8","shape":[],"data_offsets":[0,1],"x":1}})", 1),
                "unknown field 'x'");
    CHECK_ERROR(ad::IOError, parse(R"({"a":{"dtype":"U8","shape":[],"data_offsets":[0]}})", 1),
                "data_offsets must be two non-negative integers");
    CHECK_ERROR(ad::IOError, parse(R"({"__metadata__":{"k":1}})", 0), "__metadata__", "'k'",
                "not a string");
    CHECK_ERROR(ad::IOError, parse(R"({"a":[[[1]]]})", 0), "deeper than 3");
    std::string long_array = "{\"a\":[";
    for (int i = 0; i < 1500; ++i) long_array += "0,";
    CHECK_ERROR(ad::IOError, parse(long_array + "0]}", 0),
                "more than 1024 elements");
}

TEST_CASE("io: pipes (no size known in advance) read like regular files") {
    TempDir dir;
    const std::string fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // A child process writes `bytes` into the pipe once; the parent reads it.
    const auto serve = [&](const std::vector<std::uint8_t>& bytes) {
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            std::FILE* f = std::fopen(fifo.c_str(), "wb");
            if (f != nullptr) std::fwrite(bytes.data(), 1, bytes.size(), f);
            ::_exit(f != nullptr && std::fclose(f) == 0 ? 0 : 1);
        }
        return child;
    };
    const auto reap = [](pid_t child) {
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        CHECK(status == 0);
    };
    const Bytes plain = idx_bytes(0x08, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    pid_t child = serve(plain);
    CHECK(read_idx(fifo).bytes == Bytes{1, 2, 3, 4, 5, 6, 7, 8});
    reap(child);
    child = serve(Bytes(plain.begin(), plain.end() - 1));
    CHECK_ERROR(ad::IOError, read_idx(fifo), "fifo", "only 7 bytes");
    reap(child);

    SafetensorsFile f;
    const std::vector<float> w{1, 2, 3};
    f.tensors.push_back(make_tensor_f32("w", {3}, w));
    const std::vector<std::byte> st = serialize_safetensors(f);
    child = serve(Bytes(reinterpret_cast<const std::uint8_t*>(st.data()),
                        reinterpret_cast<const std::uint8_t*>(st.data()) + st.size()));
    CHECK(tensor_to_f32(load_safetensors(fifo).tensors.at(0)) == w);
    reap(child);
}
