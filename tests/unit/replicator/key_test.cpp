// Key file loading: the errors an operator can hit, each saying what to fix.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "replicator/channel/key.hpp"

namespace tandem::replicator {
namespace {

namespace fs = std::filesystem;

class ReplKey : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tandem-key-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) {
    const auto p = (dir_ / name).string();
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }

  fs::path dir_;
};

const std::string kHex64 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST_F(ReplKey, LoadsHexTrimmingWhitespace) {
  auto r = load_key(write("k", "  " + kHex64 + "\n"));
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.key.size(), 32u);
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(r.key[i], i);
}

TEST_F(ReplKey, LongerAndUppercaseKeysAccepted) {
  auto r = load_key(write("k", "ABCDEF" + kHex64 + "\n"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.key.size(), 35u);
  EXPECT_EQ(r.key[0], 0xAB);
}

TEST_F(ReplKey, MissingFile) {
  auto r = load_key((dir_ / "absent").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("absent"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("No such file"), std::string::npos) << r.error;
}

TEST_F(ReplKey, TooShort) {
  auto r = load_key(write("k", kHex64.substr(0, 62) + "\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("62 hex digits, need at least 64"), std::string::npos) << r.error;
}

TEST_F(ReplKey, NotHex) {
  auto r = load_key(write("k", kHex64 + "zz\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("not a hex digit"), std::string::npos) << r.error;
  auto inner = load_key(write("k2", kHex64.substr(0, 32) + " " + kHex64.substr(32)));
  EXPECT_FALSE(inner.ok());
}

TEST_F(ReplKey, OddDigitCount) {
  auto r = load_key(write("k", kHex64 + "a"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("odd"), std::string::npos) << r.error;
}

TEST_F(ReplKey, GroupOrWorldReadableRefused) {
  const auto p = write("k", kHex64, 0644);
  auto r = load_key(p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("0644"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("chmod 600"), std::string::npos) << r.error;
  EXPECT_FALSE(load_key(write("k2", kHex64, 0640)).ok());
  EXPECT_TRUE(load_key(write("k3", kHex64, 0400)).ok());
}

TEST(ReplRandom, BytesHaveTheSizeAndDiffer) {
  const auto a = random_bytes(32), b = random_bytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(random_bytes(0).empty());
}

}  // namespace
}  // namespace tandem::replicator
