// SPDX-License-Identifier: MIT
// read_csv / parse_csv: values, header detection, label position, gather, and each malformed-row error.
#include <doctest/doctest.h>

#include <fusenet/data/csv.hpp>
#include <string>
#include <vector>

#include "image_writer.hpp"
#include "io/throws.hpp"

namespace data = fusenet::data;

namespace {

using fusenet::test::file_error_of;  // the message, or "" when nothing was thrown

}  // namespace

TEST_CASE("features and the last-column label; a non-numeric first line is a header; CRLF and blanks are fine") {
  const auto t = data::parse_csv("x,y,z,label\r\n1.5, -2 ,3e2,1\r\n\r\n+0.25,4,5,0\n", "t.csv");
  REQUIRE(t.size() == 2);
  CHECK(t.features.shape() == std::array<std::size_t, 2>{2, 3});
  CHECK(t.features(0, 0) == 1.5f);
  CHECK(t.features(0, 1) == -2.0f);
  CHECK(t.features(0, 2) == 300.0f);
  CHECK(t.features(1, 0) == 0.25f);
  CHECK(t.labels(0) == 1);
  CHECK(t.labels(1) == 0);
}

TEST_CASE("options: label first, another delimiter, header forced present or absent") {
  const auto t = data::parse_csv("2;0.5;0.75\n0;1;2\n", "s.csv",
                                 {.delimiter = ';', .label = data::label_column::first, .header = data::header_row::absent});
  REQUIRE(t.size() == 2);
  CHECK(t.labels(0) == 2);
  CHECK(t.features(0, 1) == 0.75f);
  const auto skipped = data::parse_csv("9,9,9\n1,2,3\n", "h.csv", {.header = data::header_row::present});
  CHECK(skipped.size() == 1);
  CHECK(skipped.labels(0) == 3);
}

TEST_CASE("read_csv reads a file; gather copies the chosen rows") {
  fusenet::test::scratch_dir dir;
  fusenet::test::write_text(dir / "d.csv", "0,0,0\n1,10,1\n2,20,2\n");
  const auto t = data::read_csv((dir / "d.csv").string(), {.features = 2});
  xt::xtensor<float, 2> x;
  xt::xtensor<std::int64_t, 1> y;
  data::gather(t, std::vector<std::size_t>{2, 0}, x, y);
  CHECK(x.shape() == std::array<std::size_t, 2>{2, 2});
  CHECK(x(0, 1) == 20.0f);
  CHECK(x(1, 0) == 0.0f);
  CHECK(y(0) == 2);
  CHECK_THROWS_AS(data::gather(t, std::vector<std::size_t>{3}, x, y), std::out_of_range);
}

TEST_CASE("a row with the wrong field count is an error naming the file, the line and both counts") {
  const auto msg = file_error_of([] { data::parse_csv("a,b,label\n1,2,0\n3,4,5,1\n", "rows.csv"); });
  CHECK(msg.find("rows.csv:3") == 0);
  CHECK(msg.find("4 fields, expected 3 as on line 2") != std::string::npos);
  const auto fewer = file_error_of([] { data::parse_csv("1,2,0\n\n3,1\n", "f.csv"); });
  CHECK(fewer.find("f.csv:3") == 0);
}

TEST_CASE("non-numbers, non-finite values, bad labels, quotes, feature-count and empty files are errors") {
  CHECK(file_error_of([] { data::parse_csv("1,2,0\n1,abc,0\n", "n.csv"); }).find("n.csv:2, field 2: 'abc'") == 0);
  CHECK(file_error_of([] { data::parse_csv("1,nan,0\n", "nan.csv"); }).find("nan.csv:1, field 2") == 0);
  CHECK(file_error_of([] { data::parse_csv("1,1e40,0\n", "big.csv"); }).find("big.csv:1, field 2") == 0);
  CHECK(file_error_of([] { data::parse_csv("1,2,1.5\n", "l.csv"); }).find("l.csv:1, field 3: label") == 0);
  CHECK(file_error_of([] { data::parse_csv("1,2,-1\n", "l.csv"); }).find("label") != std::string::npos);
  CHECK(file_error_of([] { data::parse_csv("1,2,3\n", "c.csv", {.num_classes = 3}); }).find("[0, 3)") !=
        std::string::npos);
  CHECK(file_error_of([] { data::parse_csv("\"1\",2,0\n", "q.csv"); }).find("quoted") != std::string::npos);
  CHECK(file_error_of([] { data::parse_csv("1,2,0\n", "w.csv", {.features = 3}); }).find("takes 3 features") !=
        std::string::npos);
  CHECK(file_error_of([] { data::parse_csv("a,b\n\n", "e.csv"); }).find("no data row") != std::string::npos);
  CHECK(file_error_of([] { data::parse_csv("5\n", "one.csv", {.header = data::header_row::absent}); }).find("1 field") !=
        std::string::npos);
  CHECK(file_error_of([] { data::read_csv("/nonexistent/x.csv"); }).find("/nonexistent/x.csv") == 0);
}
