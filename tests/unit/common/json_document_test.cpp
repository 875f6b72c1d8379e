// JSON text is read without yaml-cpp (common/json_tree.h) by the same
// walker; these tests hold that it means exactly what yaml-cpp's reading of
// the same text means. "--- " in front of a JSON document sends it down the
// yaml-cpp path (it no longer starts with '{') without changing what YAML
// reads in it, so each document is read both ways and compared.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/document.h"
#include "common/json.h"
#include "common/json_tree.h"
#include "orch/v1/api.pb.h"
#include "orch/v1/types.pb.h"

namespace orch {
namespace {

using google::protobuf::util::MessageDifferencer;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Both readings of `json`: their statuses (message included) and results
// must be the same.
template <typename Message>
void ExpectBothReadingsAgree(const std::string& json) {
  Message from_json, from_yaml;
  Status a = ParseDocument(json, &from_json);
  Status b = ParseDocument("--- " + json, &from_yaml);
  EXPECT_EQ(a.ok(), b.ok()) << json << "\njson: " << a.ToString() << "\nyaml: " << b.ToString();
  EXPECT_EQ(a.message(), b.message()) << json;
  if (a.ok() && b.ok()) {
    EXPECT_TRUE(MessageDifferencer::Equals(from_json, from_yaml))
        << json << "\njson: " << from_json.DebugString() << "\nyaml: " << from_yaml.DebugString();
  }
}

TEST(JsonDocumentTest, EveryExampleJobReadsTheSameAsJsonText) {
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ORCH_SOURCE_DIR "/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    v1::Job job;
    ASSERT_TRUE(ParseDocument(ReadFile(entry.path()), &job).ok()) << entry.path();
    for (bool pretty : {false, true}) {
      const std::string json = ToJson(job, pretty);
      v1::Job back;
      Status st = ParseDocument(json, &back);
      ASSERT_TRUE(st.ok()) << entry.path() << ": " << st.ToString();
      EXPECT_TRUE(MessageDifferencer::Equals(job, back)) << entry.path();
      ExpectBothReadingsAgree<v1::Job>(json);
    }
    ++seen;
  }
  EXPECT_GE(seen, 5);
}

TEST(JsonDocumentTest, HandWrittenBodiesMeanWhatYamlReadsInThem) {
  for (const char* doc : {
           // lower-case enums with dashes, Go durations, nulls, numbers and
           // booleans where strings go, nested maps, escapes
           R"({"id": "web", "type": "service", "groups": [{"name": "g", "count": 2,
               "tasks": [{"name": "t", "driver": "exec", "command": "/bin/sh",
                          "args": ["-c", 1, 2.50, true, "a\"b\\c\nd\u00e9"],
                          "env": {"A": 1, "B": "x", "C": null},
                          "resources": {"cpu": "100", "memory": 64},
                          "kill_timeout": "1m30s",
                          "service": {"name": "web", "port": "http", "strategy": "round-robin"},
                          "check": {"type": "http", "path": "/", "interval": "1s", "timeout": "250ms"}}]}]})",
           R"({"id": null, "groups": null})",
           R"({"id": "a", "id": "b"})",
           R"({})",
           R"(  {"id": "x"}  )",
           // what must be refused, with the same message both ways
           R"({"id": "x", "colour": "red"})",
           R"({"groups": [{"name": "g", "count": "many"}]})",
           R"({"groups": [{"name": "g", "count": 99999999999}]})",
           R"({"groups": [{"name": "g", "count": 1.5}]})",
           R"({"groups": [{"name": "g", "count": 1e3}]})",
           R"({"groups": [{"name": "g", "count": -1}]})",
           R"({"groups": [{"name": "g", "count": 123456789012345678901234567890}]})",
           R"({"type": "sometimes"})",
           R"({"groups": {"name": "g"}})",
           R"({"groups": [{"tasks": [{"kill_timeout": "soon"}]}]})",
           R"({"groups": [{"tasks": [{"args": ["a", null]}]}]})",
           R"({"groups": [{"tasks": [{"args": [["nested"]]}]}]})",
           R"({"groups": [{"tasks": [{"env": ["K"]}]}]})",
           R"({"id": {"deep": {"er": 1}}})",
           R"({"groups": [{"name": "g", "count": true}]})",
       }) {
    ExpectBothReadingsAgree<v1::Job>(doc);
  }
  ExpectBothReadingsAgree<v1::HeartbeatRequest>(R"({"load": {"cpu": 812.5, "memory": 1024}})");
  ExpectBothReadingsAgree<v1::HeartbeatRequest>(R"({"load": {"cpu": "NaN"}})");
  ExpectBothReadingsAgree<v1::DispatchJobRequest>(R"({"payload": "eyJ3IjogNjR9"})");
  ExpectBothReadingsAgree<v1::DispatchJobRequest>(R"({"payload": "not base64!"})");
}

TEST(JsonDocumentTest, TextThatIsNotPlainJsonStillReadsAsYaml) {
  v1::Job job;
  // YAML flow style, a trailing document, a comment: not JSON text.
  ASSERT_TRUE(ParseDocument("{id: web, type: batch}", &job).ok());
  EXPECT_EQ(job.id(), "web");
  EXPECT_EQ(job.type(), v1::Job::BATCH);
  ASSERT_TRUE(ParseDocument("{\"id\": \"web\"} # a comment\n", &job).ok());
  EXPECT_EQ(job.id(), "web");
  // Malformed JSON gets yaml-cpp's message, with its line and column.
  Status st = ParseDocument("{\"id\": \"x\",", &job);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("malformed document"), std::string::npos) << st.message();
  // Nested past anything of ours: refused, not walked.
  std::string deep = "{\"id\": " + std::string(5000, '[') + std::string(5000, ']') + "}";
  st = ParseDocument(deep, &job);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

TEST(JsonDocumentTest, SurrogatePairsAreOneCharacter) {
  v1::Job job;
  Status st = ParseDocument(R"({"id": "rocket-\ud83d\ude80"})", &job);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(job.id(), "rocket-\xf0\x9f\x9a\x80");
  // yaml-cpp's reading of the same text is two halves that are not UTF-8:
  // the reading above is not yaml-cpp's.
  EXPECT_FALSE(ParseDocument(R"(--- {"id": "rocket-\ud83d\ude80"})", &job).ok());
  // A lone surrogate is no character: refused.
  EXPECT_FALSE(ParseDocument(R"({"id": "\ud83d"})", &job).ok());
}

TEST(JsonTreeTest, KeepsOrderDuplicatesAndNumberText) {
  auto tree = ParseJsonTree(
      R"({"b": 1, "a": [2.50, -7, 18446744073709551615, 1e5], "b": null, "c": false})", 8);
  ASSERT_TRUE(tree.has_value());
  ASSERT_TRUE(tree->IsMap());
  std::vector<std::string> keys;
  for (const auto& m : *tree) keys.push_back(m.first.Scalar());
  EXPECT_EQ(keys, (std::vector<std::string>{"b", "a", "b", "c"}));
  const JsonTree& a = tree->begin()[1].second;
  ASSERT_TRUE(a.IsSequence());
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].Scalar(), "2.50");
  EXPECT_EQ(a[1].Scalar(), "-7");
  EXPECT_EQ(a[2].Scalar(), "18446744073709551615");
  EXPECT_EQ(a[3].Scalar(), "1e5");
  EXPECT_TRUE(tree->begin()[2].second.IsNull());
  EXPECT_EQ(tree->begin()[3].second.Scalar(), "false");
}

TEST(JsonTreeTest, RefusesWhatIsNotOneJsonValueOrTooDeep) {
  for (const char* bad :
       {"", "{", "{\"a\": 1} {}", "{a: 1}", "{\"a\": 1,}", "[1, 2", "{\"a\": \"\xc3\"}",
        "{\"a\": \"tab\there\"}", "{\"a\": 01}", "{\"a\": NaN}", "{\"a\": 1e400}", "// c\n{}"}) {
    EXPECT_FALSE(ParseJsonTree(bad, 8).has_value()) << bad;
  }
  EXPECT_TRUE(ParseJsonTree("[[[1]]]", 3).has_value());
  EXPECT_FALSE(ParseJsonTree("[[[[1]]]]", 3).has_value());
  EXPECT_FALSE(ParseJsonTree(std::string(100000, '[') + std::string(100000, ']'), 64).has_value());
}

}  // namespace
}  // namespace orch
