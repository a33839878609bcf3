// The API's routes on the standby (repl::ApiRoutes): the primary sends all of them in
// its bulk sync and each change afterwards; the standby originates them too, so that
// its RIB and its shadows' output equal the primary's and a takeover keeps them.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "bgpd/session/speaker.hpp"
#include "tandem/v1/replication.pb.h"

namespace tandem::replicator {

namespace repl = tandem::v1::repl;

// One message of a bulk sync, taken in steps while the routes may change (each change
// is sent as well): at most `max` routes after `after` (from the first when unset);
// `after` moves to the last one taken. The first message says sync_begin; the one that
// reaches the end says sync_end and sets `done`.
repl::ApiRoutes api_routes_chunk(const std::map<wire::Prefix, wire::PathAttributes>& routes,
                                 std::optional<wire::Prefix>& after, size_t max, bool& done);
// One change (Speaker::ApiRouteListener): announced with `attrs`, or withdrawn (null).
repl::ApiRoutes api_routes_change(std::span<const wire::Prefix> prefixes, const wire::PathAttributes* attrs);

// The standby's side: applies the messages to its speaker's API routes.
class ApiRouteMirror {
 public:
  explicit ApiRouteMirror(session::Speaker& speaker) : speaker_(speaker) {}
  // False + why for a prefix that does not parse (the rest is applied).
  bool apply(const repl::ApiRoutes& m, std::string& why);

 private:
  session::Speaker& speaker_;
  std::set<wire::Prefix> not_yet_seen_;  // during a bulk sync: ours, not (yet) in it
  bool syncing_ = false;
};

}  // namespace tandem::replicator
