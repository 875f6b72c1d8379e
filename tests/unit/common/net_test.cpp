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
}  // namespace orch
