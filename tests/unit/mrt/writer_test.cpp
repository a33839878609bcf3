// The streaming writer: plain and compressed output, rotation by period, bounded
// queue with counted drops, errors reported in the counters.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "bgpd/mrt/encode.hpp"
#include "bgpd/mrt/writer.hpp"
#include "mrt_test_util.hpp"

namespace tandem::mrt {
namespace {
using namespace test;
using std::chrono::seconds;

Clock::time_point at(int64_t s) { return Clock::time_point{seconds{s}}; }

Bytes record(uint32_t t) {
  return encode_bgp4mp_state_change(Timestamp{t, 0}, Bgp4mpPeer{1, 2, 0, ip("10.0.0.1"), ip("10.0.0.2")},
                                    FsmState::Idle, FsmState::Connect);
}

Bytes head(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  Bytes b(n);
  in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(n));
  b.resize(static_cast<size_t>(in.gcount()));
  return b;
}

TEST(MrtWriter, PlainWriteAndStats) {
  TempDir dir;
  WriterOptions o;
  o.path_pattern = dir.file("plain.mrt");
  Writer w(o);
  w.start();
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(w.submit(record(i), at(i)));
  w.flush();
  auto s = w.stats();
  EXPECT_EQ(s.records_written, 100u);
  EXPECT_EQ(s.bytes_written, 100u * record(0).size());
  EXPECT_EQ(s.records_dropped, 0u);
  EXPECT_EQ(s.files_opened, 1u);
  EXPECT_EQ(s.current_file, dir.file("plain.mrt"));
  EXPECT_TRUE(s.last_error.empty());
  w.close();
  auto r = read_all(dir.file("plain.mrt"));
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.records.size(), 100u);
  EXPECT_EQ(r.records[99].time.seconds, 99u);
}

TEST(MrtWriter, RotatesByRecordTime) {
  TempDir dir;
  WriterOptions o;
  o.path_pattern = dir.file("updates.%Y%m%d.%H%M.mrt");
  o.rotate_interval = seconds(300);
  o.clock = [] { return at(1600000599); };  // "now" is in the last period
  Writer w(o);
  // 1600000000 is 2020-09-13 12:26:40 UTC: the records fall in 12:25 (12:26:40, 12:28:20),
  // 12:30 (12:31:40, 12:33:20) and 12:35 (12:36:39).
  for (int64_t t : {1600000000, 1600000100, 1600000300, 1600000400, 1600000599})
    ASSERT_TRUE(w.submit(record(static_cast<uint32_t>(t)), at(t)));
  w.start();
  w.close();
  auto s = w.stats();
  EXPECT_EQ(s.files_opened, 3u);
  EXPECT_EQ(s.files_rotated, 2u);
  EXPECT_EQ(read_all(dir.file("updates.20200913.1225.mrt")).records.size(), 2u);
  EXPECT_EQ(read_all(dir.file("updates.20200913.1230.mrt")).records.size(), 2u);
  EXPECT_EQ(read_all(dir.file("updates.20200913.1235.mrt")).records.size(), 1u);
}

TEST(MrtWriter, LateRecordGoesToCurrentFile) {
  TempDir dir;
  WriterOptions o;
  o.path_pattern = dir.file("l.%H%M.mrt");
  o.rotate_interval = seconds(60);
  o.clock = [] { return at(120); };
  Writer w(o);  // queued before start(): handled in one go, whatever the scheduling
  for (int64_t t : {60, 120, 60}) ASSERT_TRUE(w.submit(record(static_cast<uint32_t>(t)), at(t)));
  w.start();
  w.close();
  EXPECT_EQ(read_all(dir.file("l.0001.mrt")).records.size(), 1u);
  EXPECT_EQ(read_all(dir.file("l.0002.mrt")).records.size(), 2u);
  EXPECT_EQ(w.stats().files_opened, 2u);
}

TEST(MrtWriter, ExpandPattern) {
  EXPECT_EQ(expand_pattern("/x/rib.%Y%m%d.%H%M.mrt", at(1600000000), true), "/x/rib.20200913.1226.mrt");
  EXPECT_EQ(expand_pattern("", at(0), true), "");
}

class MrtWriterCompression : public ::testing::TestWithParam<Compression> {};

TEST_P(MrtWriterCompression, WritesReadableFiles) {
  TempDir dir;
  WriterOptions o;
  o.path_pattern = dir.file("c.%H%M.mrt");
  o.rotate_interval = seconds(60);
  o.compression = GetParam();
  o.clock = [] { return at(60); };
  Writer w(o);
  for (uint32_t i = 0; i < 1000; ++i) ASSERT_TRUE(w.submit(record(i), at(i / 500 * 60)));
  w.start();
  w.close();
  EXPECT_EQ(w.stats().records_written, 1000u);
  EXPECT_EQ(w.stats().files_rotated, 1u);
  for (const char* name : {"c.0000.mrt", "c.0001.mrt"}) {
    const Bytes magic = head(dir.file(name), 3);
    ASSERT_EQ(magic.size(), 3u);
    if (GetParam() == Compression::Gzip) {
      EXPECT_EQ(Bytes(magic.begin(), magic.begin() + 2), (Bytes{0x1f, 0x8b}));
    } else if (GetParam() == Compression::Bzip2) {
      EXPECT_EQ(magic, (Bytes{'B', 'Z', 'h'}));
    }
    auto r = read_all(dir.file(name));
    EXPECT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    EXPECT_EQ(r.records.size(), 500u);
    auto fr = FileReader::open(dir.file(name));
    ASSERT_TRUE(fr.ok());
    EXPECT_EQ(fr->compression(), GetParam());
  }
  // Appending to an existing file (a restart within the period) keeps both parts.
  Writer again(o);
  again.start();
  ASSERT_TRUE(again.submit(record(7), at(0)));
  again.close();
  EXPECT_EQ(read_all(dir.file("c.0000.mrt")).records.size(), 501u);
}

INSTANTIATE_TEST_SUITE_P(All, MrtWriterCompression,
                         ::testing::Values(Compression::None, Compression::Gzip, Compression::Bzip2),
                         [](const auto& p) { return std::string(to_string(p.param)); });

TEST(MrtWriter, QueueFullDropsAreCounted) {
  TempDir dir;
  WriterOptions o;
  o.path_pattern = dir.file("q.mrt");
  o.queue_max_records = 4;
  Writer w(o);  // not started: nothing drains the queue
  int accepted = 0;
  for (uint32_t i = 0; i < 10; ++i) accepted += w.submit(record(i), at(i)) ? 1 : 0;
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(w.stats().records_dropped, 6u);
  EXPECT_EQ(w.stats().queue_records, 4u);
  w.start();
  w.close();
  EXPECT_EQ(w.stats().records_written, 4u);
  EXPECT_EQ(read_all(dir.file("q.mrt")).records.size(), 4u);
  // After close every submit is a counted drop.
  EXPECT_FALSE(w.submit(record(1), at(1)));
  EXPECT_EQ(w.stats().records_dropped, 7u);
}

TEST(MrtWriter, QueueByteBound) {
  TempDir dir;
  WriterOptions o;
  o.path_pattern = dir.file("b.mrt");
  o.queue_max_bytes = record(0).size() * 3;
  Writer w(o);
  for (uint32_t i = 0; i < 5; ++i) (void)w.submit(record(i), at(i));
  EXPECT_EQ(w.stats().records_dropped, 2u);
  EXPECT_EQ(w.stats().queue_bytes, record(0).size() * 3);
}

TEST(MrtWriter, IdleFileClosedWhenPeriodEnds) {
  TempDir dir;
  std::atomic<int64_t> now{600};
  WriterOptions o;
  o.path_pattern = dir.file("idle.%H%M.mrt.gz");
  o.rotate_interval = seconds(60);
  o.compression = Compression::Gzip;
  o.clock = [&] { return at(now.load()); };
  Writer w(o);
  w.start();
  ASSERT_TRUE(w.submit(record(600)));
  w.flush();
  EXPECT_EQ(w.stats().current_file, dir.file("idle.0010.mrt.gz"));
  now = 660;  // no record arrives; the writer still closes the finished period's file
  for (int i = 0; i < 50 && w.stats().files_rotated == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(w.stats().files_rotated, 1u);
  EXPECT_TRUE(w.stats().current_file.empty());
  auto r = read_all(dir.file("idle.0010.mrt.gz"));
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.records.size(), 1u);
}

TEST(MrtWriter, OpenErrorIsReported) {
  TempDir dir;
  WriterOptions o;
  o.path_pattern = dir.file("no/such/dir/x.mrt");
  Writer w(o);
  w.start();
  EXPECT_TRUE(w.submit(record(1)));
  w.flush();
  auto s = w.stats();
  EXPECT_EQ(s.records_written, 0u);
  EXPECT_EQ(s.records_dropped, 1u);
  EXPECT_GE(s.write_errors, 1u);
  EXPECT_NE(s.last_error.find("No such file"), std::string::npos) << s.last_error;
}

}  // namespace
}  // namespace tandem::mrt
