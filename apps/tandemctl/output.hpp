// Output helpers: aligned tables, protobuf JSON, and text forms of API values.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message.h>

#include "tandem/v1/common.pb.h"
#include "tandem/v1/peer.pb.h"
#include "tandem/v1/rib.pb.h"

namespace tandemctl {

// Columns separated by two spaces; the last column is not padded. Columns marked
// right-aligned (numbers) are padded on the left. Widths only grow, so a table
// printed in several parts (streamed batches) stays aligned as far as possible.
class Table {
 public:
  explicit Table(std::vector<std::string> headers, std::vector<bool> right_aligned = {});
  void add(std::vector<std::string> row);
  // Prints the header (first time only) and the rows added since the last print.
  void print(std::ostream& out);
  std::size_t rows_printed() const { return printed_; }

 private:
  void print_row(std::ostream& out, const std::vector<std::string>& row) const;
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::size_t> widths_;
  std::vector<std::vector<std::string>> rows_;
  bool header_printed_ = false;
  std::size_t printed_ = 0;
};

// Protobuf JSON (proto field names, zero values included). `pretty`: indented,
// otherwise one line.
std::string to_json(const google::protobuf::Message& message, bool pretty);

// Appends the one-line JSON of a route to `out`: byte-for-byte what
// to_json(route, false) gives (same keys and key order, same value encodings), but
// written directly, about 50x faster than protobuf's JSON printer. A route with a
// non-ASCII string falls back to to_json() (protobuf's rules for those: escaped code
// points, dropped invalid UTF-8).
void append_route_json(std::string& out, const tandem::v1::Route& route);
// False if the Route schema changed since the encoder was written (a field added,
// removed or renamed): then append_route_json uses to_json() for every route, and a
// unit test fails so that the encoder gets updated.
bool route_json_schema_known();

// "Key:" padded to `width`, then the value and a newline (the "show" forms of one object).
void key_value_line(std::ostream& out, std::string_view key, const std::string& value, std::size_t width = 22);

std::string family_name(tandem::v1::Family family);            // "ipv4-unicast"
std::string families_text(const google::protobuf::RepeatedField<int>& families);
std::string state_name(tandem::v1::SessionState state);        // "Established"
std::string origin_name(tandem::v1::Origin origin);            // "igp"
std::string duration_text(std::uint64_t seconds);              // "01:02:03", "3d04h05m"
std::string as_path_text(const tandem::v1::PathAttributes& attributes);  // "65001 {1 2}"
std::string community_text(std::uint32_t community);           // "65000:100", "no-export"
std::string communities_text(const tandem::v1::PathAttributes& attributes);  // std + large
std::string time_text(std::int64_t unix_nanos);                // "2026-11-21T14:32:11.123Z"
std::string yes_no(bool value);

}  // namespace tandemctl
