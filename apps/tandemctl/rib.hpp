// `tandemctl rib ...`: list routes (streamed), summary, add and del local routes.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>

#include "apps/tandemctl/args.hpp"
#include "apps/tandemctl/command.hpp"
#include "apps/tandemctl/connection.hpp"
#include "apps/tandemctl/output.hpp"

namespace tandemctl {

// `args` holds the words after "rib".
Command parse_rib(Args& args);

// Attribute values of `rib add` (UsageError on a bad one).
std::uint32_t parse_community(std::string_view text, const std::string& topic);
tandem::v1::LargeCommunity parse_large_community(std::string_view text, const std::string& topic);
// "65001 65002 {65003 65004}": a sequence, braces for an AS_SET.
void parse_as_path(std::string_view text, const std::string& topic, tandem::v1::PathAttributes& attributes);

// Prints routes as batches arrive: an aligned table (widths only grow), or with
// `json` one JSON array with one route object per line.
class RoutePrinter {
 public:
  RoutePrinter(std::ostream& out, bool json) : out_(out), json_(json), table_(headers(), right()) {}
  void add(const tandem::v1::ListRoutesResponse& batch);
  void finish();
  std::size_t count() const { return count_; }

 private:
  static std::vector<std::string> headers();
  static std::vector<bool> right();
  std::ostream& out_;
  bool json_;
  Table table_;
  std::size_t count_ = 0;
};

void render_rib_summary(const tandem::v1::GetRibSummaryResponse& response, std::ostream& out);

int execute(Context& ctx, const tandem::v1::ListRoutesRequest& request);
int execute(Context& ctx, const tandem::v1::GetRibSummaryRequest& request);
int execute(Context& ctx, const tandem::v1::AddRouteRequest& request);
int execute(Context& ctx, const tandem::v1::DeleteRouteRequest& request);

}  // namespace tandemctl
