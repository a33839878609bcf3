#include "replicator/api_routes.hpp"

#include "proto/convert/path_attributes.hpp"

namespace tandem::replicator {

repl::ApiRoutes api_routes_chunk(const std::map<wire::Prefix, wire::PathAttributes>& routes,
                                 std::optional<wire::Prefix>& after, size_t max, bool& done) {
  repl::ApiRoutes m;
  m.set_sync_begin(!after.has_value());
  auto it = after ? routes.upper_bound(*after) : routes.begin();
  const wire::PathAttributes* last = nullptr;  // attributes of the message's last set
  for (size_t n = 0; it != routes.end() && n < max; ++it, ++n) {
    // Bulk injections share one attribute set: consecutive equal sets become one.
    if (last == nullptr || !(*last == it->second)) {
      proto_convert::path_attributes_to_proto(it->second, *m.add_announce()->mutable_attributes());
      last = &it->second;
    }
    m.mutable_announce(m.announce_size() - 1)->add_prefixes(it->first.to_string());
    after = it->first;
  }
  done = it == routes.end();
  m.set_sync_end(done);
  return m;
}

repl::ApiRoutes api_routes_change(std::span<const wire::Prefix> prefixes, const wire::PathAttributes* attrs) {
  repl::ApiRoutes m;
  if (attrs != nullptr) {
    auto* set = m.add_announce();
    proto_convert::path_attributes_to_proto(*attrs, *set->mutable_attributes());
    for (const auto& p : prefixes) set->add_prefixes(p.to_string());
  } else {
    for (const auto& p : prefixes) m.add_withdraw(p.to_string());
  }
  return m;
}

bool ApiRouteMirror::apply(const repl::ApiRoutes& m, std::string& why) {
  if (m.sync_begin()) {
    not_yet_seen_.clear();
    for (const auto& [p, attrs] : speaker_.api_routes()) not_yet_seen_.insert(p);
    syncing_ = true;
  }
  std::vector<std::string> bad;
  std::vector<wire::Prefix> prefixes;
  for (const auto& set : m.announce()) {
    prefixes.clear();
    for (const auto& text : set.prefixes()) {
      if (auto p = wire::Prefix::parse(text)) {
        prefixes.push_back(*p);
        not_yet_seen_.erase(*p);
      } else {
        bad.push_back(text);
      }
    }
    speaker_.originate_api(prefixes, proto_convert::path_attributes_from_proto(set.attributes()));
  }
  for (const auto& text : m.withdraw()) {
    if (auto p = wire::Prefix::parse(text)) {
      speaker_.withdraw_api(*p);
      not_yet_seen_.erase(*p);
    } else {
      bad.push_back(text);
    }
  }
  if (m.sync_end() && syncing_) {
    // Withdrawn on the primary while the channel was down.
    for (const auto& p : not_yet_seen_) speaker_.withdraw_api(p);
    not_yet_seen_.clear();
    syncing_ = false;
  }
  if (bad.empty()) return true;
  why = std::to_string(bad.size()) + " prefixes do not parse (first: '" + bad.front() + "')";
  return false;
}

}  // namespace tandem::replicator
