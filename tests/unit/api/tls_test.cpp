// The TCP listener only talks mutual TLS: certificates made at test time with the
// openssl CLI (a CA, a server and a client certificate signed by it, and a client
// certificate from another CA). The right client works; a client without a
// certificate and one whose certificate comes from the wrong CA are refused.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api_test_util.hpp"
#include "tandem/v1/global.grpc.pb.h"

namespace api_test {
namespace {

namespace v1 = tandem::v1;

bool have_openssl() { return std::system("openssl version >/dev/null 2>&1") == 0; }

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Run one shell command in `dir`; false when it fails.
bool sh(const std::filesystem::path& dir, const std::string& cmd) {
  std::string full = "cd '" + dir.string() + "' && " + cmd + " >/dev/null 2>&1";
  return std::system(full.c_str()) == 0;
}

bool make_ca(const std::filesystem::path& dir, const std::string& name) {
  return sh(dir, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
                     ".key -out " + name + ".pem -days 2 -subj /CN=" + name);
}

bool make_cert(const std::filesystem::path& dir, const std::string& name, const std::string& ca, bool server) {
  std::ofstream(dir / (name + ".ext"))
      << (server ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                 : "extendedKeyUsage=clientAuth\n");
  return sh(dir, "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
                     ".key -out " + name + ".csr -subj /CN=" + name) &&
         sh(dir, "openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca + ".key -CAcreateserial -out " +
                     name + ".pem -days 2 -extfile " + name + ".ext");
}

class ApiTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_openssl()) GTEST_SKIP() << "the openssl CLI is not installed (apt-get install openssl)";
    certs = make_temp_dir();
    ASSERT_TRUE(make_ca(certs, "ca"));
    ASSERT_TRUE(make_ca(certs, "otherca"));
    ASSERT_TRUE(make_cert(certs, "server", "ca", true));
    ASSERT_TRUE(make_cert(certs, "client", "ca", false));
    ASSERT_TRUE(make_cert(certs, "intruder", "otherca", false));
    config::ApiConfig a;
    a.socket = "";
    a.tcp_listen = "127.0.0.1:0";
    a.tls_cert = (certs / "server.pem").string();
    a.tls_key = (certs / "server.key").string();
    a.tls_client_ca = (certs / "ca.pem").string();
    d = std::make_unique<Daemon>(a);
    ASSERT_TRUE(d->started()) << d->error();
    ASSERT_GT(d->server().tcp_port(), 0);
  }
  void TearDown() override {
    d.reset();
    if (!certs.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(certs, ec);
    }
  }

  grpc::Status call(const std::string& client) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = slurp(certs / "ca.pem");
    if (!client.empty()) {
      o.pem_private_key = slurp(certs / (client + ".key"));
      o.pem_cert_chain = slurp(certs / (client + ".pem"));
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto ch = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(d->server().tcp_port()),
                                        grpc::SslCredentials(o), args);
    auto stub = v1::GlobalService::NewStub(ch);
    v1::GetGlobalResponse r;
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto s = stub->GetGlobal(&c, {}, &r);
    if (s.ok()) {
      EXPECT_EQ(r.global().local_as(), 65000u);
    }
    return s;
  }

  std::filesystem::path certs;
  std::unique_ptr<Daemon> d;
};

TEST_F(ApiTls, ClientWithACertificateFromTheConfiguredCaIsServed) {
  auto s = call("client");
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
}

TEST_F(ApiTls, ClientWithoutACertificateIsRefused) {
  auto s = call("");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ApiTls, ClientWithACertificateFromAnotherCaIsRefused) {
  auto s = call("intruder");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ApiTls, TheUnixSocketStillWorks) {
  auto stub = v1::GlobalService::NewStub(d->channel());
  v1::GetGlobalResponse r;
  EXPECT_TRUE(stub->GetGlobal(ctx().get(), {}, &r).ok());
}

}  // namespace
}  // namespace api_test
