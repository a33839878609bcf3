#include "replicator/advertised_table.hpp"

#include "bgpd/rib/digest.hpp"

namespace tandem::replicator {

bool AdvertisedTable::feed(std::span<const uint8_t> bytes, std::string& why) {
  if (broken_) return false;
  bool ok = framer_.feed(bytes, [&](std::span<const uint8_t> msg) {
    if (broken_ || msg[18] != static_cast<uint8_t>(wire::MessageType::Update)) return;
    std::string w;
    if (!apply_update(msg.subspan(19), w)) {
      broken_ = true;
      why = w;
    }
  });
  if (!ok && !broken_) {
    broken_ = true;
    why = "invalid BGP message header in the stream";
  }
  return !broken_;
}

bool AdvertisedTable::apply_update(std::span<const uint8_t> body, std::string& why) {
  auto u = wire::decode_update(body, codec_);
  if (!u) {
    why = "UPDATE does not decode: " + u.error().reason;
    return false;
  }
  for (const auto& set : u->withdrawn)
    for (const auto& p : set.prefixes) routes_.erase(p);
  // RFC 7606: the peer withdraws what such an UPDATE announces.
  if (u->treat_as_withdraw) {
    for (const auto& set : u->announced)
      for (const auto& p : set.prefixes) routes_.erase(p);
    ++version_;
    return true;
  }
  for (const auto& set : u->announced) {
    wire::PathAttributes attrs = u->attrs;
    // An UPDATE carrying both families has one next hop per family.
    if (set.family.afi == wire::Afi::Ipv6 && u->mp_next_hop) {
      attrs.next_hop = *u->mp_next_hop;
      attrs.next_hop_link_local = u->mp_next_hop_link_local;
    }
    for (const auto& p : set.prefixes) routes_[p] = rib::route_hash(p, attrs);
  }
  ++version_;
  return true;
}

template <class Fn>
void AdvertisedTable::for_each_difference(const AdvertisedTable& a, const AdvertisedTable& b, Fn&& fn) {
  auto ia = a.routes_.begin(), ib = b.routes_.begin();
  while (ia != a.routes_.end() || ib != b.routes_.end()) {
    if (ib == b.routes_.end() || (ia != a.routes_.end() && ia->first < ib->first)) {
      fn(ia->first, "only in the first");
      ++ia;
    } else if (ia == a.routes_.end() || ib->first < ia->first) {
      fn(ib->first, "only in the second");
      ++ib;
    } else {
      if (ia->second != ib->second) fn(ia->first, "path differs");
      ++ia;
      ++ib;
    }
  }
}

size_t AdvertisedTable::diff(const AdvertisedTable& a, const AdvertisedTable& b, std::vector<std::string>& examples,
                             size_t max_examples) {
  size_t n = 0;
  for_each_difference(a, b, [&](const wire::Prefix& p, const char* what) {
    ++n;
    if (examples.size() < max_examples) examples.push_back(p.to_string() + " " + what);
  });
  return n;
}

std::vector<wire::Prefix> AdvertisedTable::differing(const AdvertisedTable& a, const AdvertisedTable& b) {
  std::vector<wire::Prefix> out;
  for_each_difference(a, b, [&](const wire::Prefix& p, const char*) { out.push_back(p); });
  return out;
}

}  // namespace tandem::replicator
