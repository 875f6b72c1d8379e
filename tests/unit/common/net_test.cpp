#include "common/net.h"

#include <gtest/gtest.h>

namespace orch {
namespace {

TEST(NetTest, HostPort) {
  auto hp = ParseHostPort("127.0.0.1:4646");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 4646);
  EXPECT_EQ(ParseHostPort("[::1]:80")->host, "::1");
  EXPECT_FALSE(ParseHostPort("4646").ok());
  EXPECT_FALSE(ParseHostPort("host:99999").ok());
  EXPECT_FALSE(ParseHostPort("host:").ok());
}

TEST(NetTest, PeersKeepOrderAndRejectDuplicates) {
  auto peers = ParsePeers("m1=127.0.0.1:4647,m2=127.0.0.1:5647");
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_EQ((*peers)[1].first, "m2");
  EXPECT_EQ((*peers)[1].second.port, 5647);
  EXPECT_FALSE(ParsePeers("m1=a:1,m1=b:2").ok());
  EXPECT_FALSE(ParsePeers("m1").ok());
  EXPECT_FALSE(ParsePeers("").ok());
}

TEST(NetTest, UrlList) {
  auto urls = ParseUrlList("http://127.0.0.1:4646/, http://127.0.0.1:5646");
  ASSERT_TRUE(urls.ok());
  EXPECT_EQ((*urls)[0], "http://127.0.0.1:4646");
  EXPECT_FALSE(ParseUrlList("127.0.0.1:4646").ok());
}

}  // namespace
TEST(NetTest, OnlyPlainHttpBaseUrlsAreNodeAddresses) {
  for (const char* ok : {"http://127.0.0.1:4646", "https://node-1.example:443", "http://[::1]:8080", "http://h:1/"}) {
    EXPECT_TRUE(ValidateHttpBaseUrl(ok).ok()) << ok;
  }
  // The review's exfiltration (file:///etc/shadow# read back through the
  // logs endpoint) and its cousins.
  for (const char* bad : {"file:///etc/shadow#", "gopher://127.0.0.1:70", "ftp://h:21", "http://h", "http://:80",
                          "http://h:0", "http://h:99999", "http://user@h:80", "http://h:80/x", "http://h:80?q",
                          "http://h:80#f", "http://h 1:80", "", "h:80", "dict://h:11211"}) {
    EXPECT_FALSE(ValidateHttpBaseUrl(bad).ok()) << bad;
  }
}

}  // namespace orch
