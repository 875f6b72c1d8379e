// The docker driver's pure parts: the multiplexed log stream decoder,
// image references and the engine's timestamps. No engine needed.
#include <gtest/gtest.h>

#include <string>

#include "agent/drivers/docker/docker_client.h"
#include "agent/drivers/docker/log_demux.h"
#include "common/base64.h"

namespace orch::agent {
namespace {

std::string Frame(int stream, const std::string& payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  return f + payload;
}

struct Collected {
  std::string out, err;
  LogSink Sink() {
    return [this](LogStream s, std::string_view d) {
      (s == LogStream::kStderr ? err : out).append(d);
      return true;
    };
  }
};

TEST(LogDemuxer, SeparatesStdoutAndStderrFrames) {
  std::string wire = Frame(1, "hello\n") + Frame(2, "oops\n") + Frame(1, "bye\n");
  Collected c;
  LogDemuxer d;
  ASSERT_TRUE(d.Feed(wire, c.Sink()));
  EXPECT_EQ(c.out, "hello\nbye\n");
  EXPECT_EQ(c.err, "oops\n");
  EXPECT_TRUE(d.at_frame_boundary());
}

TEST(LogDemuxer, DecodesAStreamSplitAtEveryByte) {
  std::string big(70000, 'x');  // a size that needs the header's upper bytes
  std::string wire = Frame(2, "e1") + Frame(1, big) + Frame(1, "") + Frame(2, "e2\n");
  Collected c;
  LogDemuxer d;
  for (char ch : wire) ASSERT_TRUE(d.Feed(std::string_view(&ch, 1), c.Sink()));
  EXPECT_EQ(c.out, big);
  EXPECT_EQ(c.err, "e1e2\n");
}

TEST(LogDemuxer, StopsWhenTheSinkSaysSo) {
  std::string wire = Frame(1, "a") + Frame(1, "b");
  int calls = 0;
  LogDemuxer d;
  EXPECT_FALSE(d.Feed(wire, [&](LogStream, std::string_view) { return ++calls < 1; }));
  EXPECT_EQ(calls, 1);
}

TEST(DockerParse, RegistryCredentialsFromAConfigJsonAndTheAuthHeader) {
  EXPECT_EQ(RegistryOf("busybox"), "docker.io");
  EXPECT_EQ(RegistryOf("library/busybox:1"), "docker.io");
  EXPECT_EQ(RegistryOf("127.0.0.1:5056/orch-test/busybox:1"), "127.0.0.1:5056");
  EXPECT_EQ(RegistryOf("registry.example.com/a/b@sha256:00"), "registry.example.com");
  EXPECT_EQ(RegistryOf("localhost/x"), "localhost");
  const std::string config = R"({"auths": {
      "https://index.docker.io/v1/": {"auth": "aHViOmh1Yi1wdw=="},
      "127.0.0.1:5056": {"auth": "b3JjaC10ZXN0Om9yY2gtdGVzdC1zZWNyZXQ="},
      "registry.example.com": {"username": "u", "password": "p:w"},
      "broken.example.com": {"auth": "not base64!"}}})";
  auto local = CredentialsFromDockerConfig(config, "127.0.0.1:5056/orch-test/busybox:1");
  ASSERT_TRUE(local.has_value());
  EXPECT_EQ(local->username, "orch-test");
  EXPECT_EQ(local->password, "orch-test-secret");
  auto hub = CredentialsFromDockerConfig(config, "busybox:1");
  ASSERT_TRUE(hub.has_value());
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "hub-pw");
  auto plain = CredentialsFromDockerConfig(config, "registry.example.com/app:2");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->password, "p:w");
  EXPECT_FALSE(CredentialsFromDockerConfig(config, "broken.example.com/x").has_value());
  EXPECT_FALSE(CredentialsFromDockerConfig(config, "other.example.com/x").has_value());
  EXPECT_FALSE(CredentialsFromDockerConfig("not json", "busybox").has_value());
  // base64url of {"password":...,"serveraddress":...,"username":...}.
  std::string header = RegistryAuthHeader("u", "p", "127.0.0.1:5056");
  auto decoded = DecodeBase64(header);
  ASSERT_TRUE(decoded.has_value()) << header;
  EXPECT_EQ(*decoded, R"({"password":"p","serveraddress":"127.0.0.1:5056","username":"u"})");
  EXPECT_EQ(header.find_first_of("+/"), std::string::npos) << "URL-safe";
  EXPECT_EQ(RegistryAuthHeader("", "", "x"), "");
}

TEST(Base64Test, RoundTripsAndRefusesGarbage) {
  for (std::string s : {std::string(""), std::string("f"), std::string("fo"), std::string("foo"),
                        std::string("\0\xff\xfe binary", 10)}) {
    EXPECT_EQ(DecodeBase64(EncodeBase64(s)).value_or("?"), s);
    EXPECT_EQ(DecodeBase64(EncodeBase64(s, true)).value_or("?"), s);
  }
  EXPECT_EQ(EncodeBase64("foob"), "Zm9vYg==");
  EXPECT_FALSE(DecodeBase64("Zm9v!").has_value());
  EXPECT_FALSE(DecodeBase64("Z").has_value());
}

TEST(DockerParse, SplitsImageReferences) {
  EXPECT_EQ(SplitImageRef("busybox"), std::make_pair(std::string("busybox"), std::string("latest")));
  EXPECT_EQ(SplitImageRef("127.0.0.1:5055/orch-test/busybox:1"),
            std::make_pair(std::string("127.0.0.1:5055/orch-test/busybox"), std::string("1")));
  EXPECT_EQ(SplitImageRef("127.0.0.1:5055/orch-test/busybox"),
            std::make_pair(std::string("127.0.0.1:5055/orch-test/busybox"), std::string("latest")));
  EXPECT_EQ(SplitImageRef("a/b@sha256:abc").second, "");
}

TEST(DockerParse, ReadsEngineTimestamps) {
  EXPECT_EQ(ParseDockerTime("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(ParseDockerTime("2024-05-01T10:00:00.123456789Z"), 1714557600123);
  EXPECT_EQ(ParseDockerTime("0001-01-01T00:00:00Z"), 0);
  // Found by tests/fuzz/docker_parsers_fuzz: a huge year overflowed the
  // milliseconds (UBSan); out-of-range fields are no time at all.
  EXPECT_EQ(ParseDockerTime("12266036651725148-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseDockerTime("2024-13-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseDockerTime("2024-05-01T25:00:00Z"), 0);
  EXPECT_EQ(ParseDockerTime("garbage"), 0);
}

}  // namespace
}  // namespace orch::agent
