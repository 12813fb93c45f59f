// HTTPS against node's `https` module with a throwaway PKI made by the openssl CLI: chain and
// host-name verification, SNI, extra CA file, client certificates.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/http/client.h"
#include "common/json/json.h"
#include "tests/unit/http/test_support.h"

using ff::http::Client;
using ff::http::Request;
using ff::http::TlsOptions;
using ff::testing::PortProcess;
using ff::testing::TempDir;
using namespace std::chrono_literals;

namespace {

const std::string kScript = std::string(FF_SOURCE_DIR) + "/tests/unit/http/tls_server.mjs";

class HttpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pki_ = new ff::testing::Pki();
    pki_ok_ = ff::testing::make_pki(*dir_, *pki_);
    if (!pki_ok_) return;
    plain_ = new PortProcess();
    plain_port_ = plain_->start({ff::testing::node_binary(), kScript, "--cert", pki_->server_cert,
                                 "--key", pki_->server_key});
    wrong_ = new PortProcess();
    wrong_port_ = wrong_->start({ff::testing::node_binary(), kScript, "--cert", pki_->wrong_cert,
                                 "--key", pki_->wrong_key});
    mtls_ = new PortProcess();
    mtls_port_ =
        mtls_->start({ff::testing::node_binary(), kScript, "--cert", pki_->server_cert, "--key",
                      pki_->server_key, "--ca", pki_->ca, "--require-client-cert"});
  }
  static void TearDownTestSuite() {
    delete plain_;
    delete wrong_;
    delete mtls_;
    delete pki_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(pki_ok_) << "openssl CLI failed; see " << dir_->file("openssl.log");
    ASSERT_NE(plain_port_, 0);
    ASSERT_NE(wrong_port_, 0);
    ASSERT_NE(mtls_port_, 0);
  }

  static Request get(const std::string& host, int port) {
    Request r;
    r.url = "https://" + host + ":" + std::to_string(port) + "/";
    r.timeout = 10000ms;
    return r;
  }

  static inline TempDir* dir_ = nullptr;
  static inline ff::testing::Pki* pki_ = nullptr;
  static inline bool pki_ok_ = false;
  static inline PortProcess* plain_ = nullptr;
  static inline PortProcess* wrong_ = nullptr;
  static inline PortProcess* mtls_ = nullptr;
  static inline int plain_port_ = 0;
  static inline int wrong_port_ = 0;
  static inline int mtls_port_ = 0;
};

}  // namespace

TEST_F(HttpsTest, VerifiesAgainstTheExtraCaByIpAddress) {
  Client client(TlsOptions{pki_->ca, "", "", true});
  auto r = client.request(get("127.0.0.1", plain_port_));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  auto body = ff::json::parse(r->body);
  ASSERT_TRUE(body.ok());
  // No SNI for IP literals (RFC 6066).
  EXPECT_TRUE((*body)["servername"].is_null()) << r->body;
}

TEST_F(HttpsTest, VerifiesAgainstTheExtraCaByNameAndSendsSni) {
  Client client(TlsOptions{pki_->ca, "", "", true});
  auto r = client.request(get("localhost", plain_port_));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  auto body = ff::json::parse(r->body);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)["servername"], "localhost");
}

TEST_F(HttpsTest, UnknownCaFailsVerification) {
  Client client;  // system store only: the throwaway CA is unknown
  auto r = client.request(get("127.0.0.1", plain_port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "tls");
  EXPECT_NE(r.error().message.find("certificate"), std::string::npos) << r.error().message;

  Client other(TlsOptions{pki_->other_ca, "", "", true});
  r = other.request(get("127.0.0.1", plain_port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "tls");
}

TEST_F(HttpsTest, HostNameMismatchFailsVerification) {
  Client client(TlsOptions{pki_->ca, "", "", true});
  auto r = client.request(get("127.0.0.1", wrong_port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "tls");
  r = client.request(get("localhost", wrong_port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "tls");
  EXPECT_NE(r.error().message.find("hostname mismatch"), std::string::npos) << r.error().message;
}

TEST_F(HttpsTest, VerifyOffAcceptsAnyCertificate) {
  Client client(TlsOptions{"", "", "", false});
  auto r = client.request(get("127.0.0.1", wrong_port_));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpsTest, ClientCertificateIsPresented) {
  Client client(TlsOptions{pki_->ca, pki_->client_cert, pki_->client_key, true});
  auto r = client.request(get("localhost", mtls_port_));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  auto body = ff::json::parse(r->body);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)["authorized"], true);
  EXPECT_EQ((*body)["cn"], "ff-client");
}

TEST_F(HttpsTest, MissingClientCertificateIsRefused) {
  Client client(TlsOptions{pki_->ca, "", "", true});
  auto r = client.request(get("localhost", mtls_port_));
  // TLS 1.3 reports the server's refusal after the client's handshake finished: "tls" or "io".
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().code == "tls" || r.error().code == "io") << r.error().to_string();
}

TEST_F(HttpsTest, UnreadableTlsFilesAreTlsErrorsNamingThePath) {
  const std::string missing = dir_->file("missing.pem");
  Client bad_ca(TlsOptions{missing, "", "", true});
  auto r = bad_ca.request(get("localhost", plain_port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "tls");
  EXPECT_NE(r.error().message.find(missing), std::string::npos) << r.error().message;

  Client bad_cert(TlsOptions{pki_->ca, missing, pki_->client_key, true});
  r = bad_cert.request(get("localhost", plain_port_));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(missing), std::string::npos) << r.error().message;

  Client half(TlsOptions{pki_->ca, pki_->client_cert, "", true});
  r = half.request(get("localhost", plain_port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "tls");

  Client mismatched(TlsOptions{pki_->ca, pki_->client_cert, pki_->server_key, true});
  r = mismatched.request(get("localhost", plain_port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "tls");
}

TEST_F(HttpsTest, TlsStreamWorks) {
  Client client(TlsOptions{pki_->ca, "", "", true});
  std::atomic<bool> cancel{false};
  std::string got;
  auto r = client.stream(
      get("localhost", plain_port_),
      [&](std::string_view d) {
        got += d;
        return true;
      },
      cancel, 5000ms);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(*r, 200);
  EXPECT_NE(got.find("servername"), std::string::npos);
}
