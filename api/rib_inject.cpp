// RibService.InjectRoutes: many locally originated routes, streamed in batches (e.g.
// `tandemctl mrt inject`). Each request is checked and converted on the gRPC thread,
// then originated on the event loop in slices of a bounded number of routes, so that a
// large injection never holds the loop for long.
#include <fmt/format.h>

#include "api/convert.hpp"
#include "api/services.hpp"
#include "api/validate.hpp"

namespace tandem::api {

namespace {

constexpr int kMaxRoutesPerRequest = 100000;
constexpr size_t kRoutesPerLoopVisit = 4000;

struct Group {
  wire::PathAttributes attrs;
  std::vector<wire::Prefix> prefixes;
};

// Converts a whole request, or says what is wrong with it (nothing is applied then).
std::string convert(const v1::InjectRoutesRequest& r, std::vector<Group>& out) {
  int total = 0;
  for (int g = 0; g < r.groups_size(); ++g) {
    const auto& in = r.groups(g);
    total += in.prefixes_size();
    if (total > kMaxRoutesPerRequest)
      return fmt::format("groups: more than {} prefixes in one request", kMaxRoutesPerRequest);
    if (in.prefixes_size() == 0) continue;
    Group group;
    group.prefixes.reserve(static_cast<size_t>(in.prefixes_size()));
    for (int i = 0; i < in.prefixes_size(); ++i) {
      const std::string& text = in.prefixes(i);
      auto p = wire::Prefix::parse(text);
      if (!p || text.find('/') == std::string::npos)
        return fmt::format("groups[{}].prefixes[{}]: '{}' is not a prefix (ADDRESS/LENGTH)", g, i, text);
      if (!group.prefixes.empty() && p->afi() != group.prefixes.front().afi())
        return fmt::format("groups[{}].prefixes[{}]: '{}' is not of the family of the group's first prefix", g, i,
                           text);
      group.prefixes.push_back(*p);
    }
    if (auto e = validate(in.attributes(), in.prefixes(0)); !e.empty()) return fmt::format("groups[{}].{}", g, e);
    group.attrs = from_proto(in.attributes());
    out.push_back(std::move(group));
  }
  return "";
}

}  // namespace

grpc::Status RibServiceImpl::InjectRoutes(grpc::ServerContext* sctx,
                                          grpc::ServerReader<v1::InjectRoutesRequest>* reader,
                                          v1::InjectRoutesResponse* resp) {
  v1::InjectRoutesRequest req;
  uint64_t routes = 0, requests = 0, loop_us = 0;
  while (reader->Read(&req)) {
    if (sctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client cancelled the injection");
    auto groups = std::make_shared<std::vector<Group>>();
    if (auto e = convert(req, *groups); !e.empty())
      return invalid(fmt::format("request {} (after {} routes injected): {}", requests + 1, routes, e));
    ++requests;
    // Slices of at most kRoutesPerLoopVisit routes: (group, first prefix) positions.
    size_t g = 0, i = 0;
    while (g < groups->size()) {
      auto r = run_on_loop(ctx_, [groups, g, i](session::Speaker& sp) {
        const auto t0 = std::chrono::steady_clock::now();
        size_t gi = g, pi = i, done = 0;
        while (gi < groups->size() && done < kRoutesPerLoopVisit) {
          const Group& grp = (*groups)[gi];
          const size_t n = std::min(kRoutesPerLoopVisit - done, grp.prefixes.size() - pi);
          sp.originate_api(std::span<const wire::Prefix>(grp.prefixes).subspan(pi, n), grp.attrs);
          done += n;
          pi += n;
          if (pi == grp.prefixes.size()) {
            ++gi;
            pi = 0;
          }
        }
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
        return std::tuple<size_t, size_t, size_t, uint64_t>(gi, pi, done, static_cast<uint64_t>(us.count()));
      });
      if (!r) return loop_timeout();
      std::tie(g, i, std::ignore, std::ignore) = *r;
      routes += std::get<2>(*r);
      loop_us += std::get<3>(*r);
    }
  }
  resp->set_routes(routes);
  resp->set_requests(requests);
  resp->set_loop_micros(loop_us);
  return grpc::Status::OK;
}

}  // namespace tandem::api
