#include "common/document.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "common/json.h"
#include "orch/v1/api.pb.h"
#include "orch/v1/types.pb.h"
#include "tests/support/web_job_yaml.h"

namespace orch {
namespace {

using orch::samples::kJobYaml;

TEST(DocumentTest, YamlJobFileMapsOntoTheProto) {
  v1::Job job;
  ASSERT_TRUE(ParseDocument(kJobYaml, &job).ok());
  EXPECT_EQ(job.id(), "web");
  EXPECT_EQ(job.type(), v1::Job::SERVICE);
  ASSERT_EQ(job.groups_size(), 1);
  const auto& g = job.groups(0);
  EXPECT_EQ(g.count(), 3);
  EXPECT_EQ(g.network().ports(0).name(), "http");
  const auto& t = g.tasks(0);
  EXPECT_EQ(t.args_size(), 5);
  EXPECT_EQ(t.args(3), "${PORT_http}");
  EXPECT_EQ(t.args(4), "8080");  // an unquoted number in a string list stays a string
  EXPECT_EQ(t.env().at("LEVEL"), "3");
  EXPECT_EQ(t.resources().cpu(), 100);
  EXPECT_EQ(t.service().strategy(), v1::Service::ROUND_ROBIN);
  EXPECT_EQ(t.check().type(), v1::HealthCheck::HTTP);
  EXPECT_EQ(t.check().interval().seconds(), 1);
  EXPECT_EQ(t.check().timeout().nanos(), 250'000'000);
}

TEST(DocumentTest, JsonBodyParsesTheSameWay) {
  v1::Job from_yaml, from_json;
  ASSERT_TRUE(ParseDocument(kJobYaml, &from_yaml).ok());
  // Our own JSON output (upper-case enums, int64 as strings) reads back.
  ASSERT_TRUE(ParseDocument(ToJson(from_yaml), &from_json).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(from_yaml, from_json))
      << from_yaml.DebugString() << "\n---\n" << from_json.DebugString();
}

struct BadCase {
  const char* doc;
  const char* expect;  // substring of the error message
};

class DocumentErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(DocumentErrorTest, NamesTheFieldAndCause) {
  v1::Job job;
  Status st = ParseDocument(GetParam().doc, &job);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(GetParam().expect), std::string::npos) << st.message();
}

INSTANTIATE_TEST_SUITE_P(
    Bad, DocumentErrorTest,
    ::testing::Values(
        BadCase{"id: [unclosed", "malformed document at line 1"},
        BadCase{"{\"id\": \"x\",", "malformed document"},
        BadCase{"id: x\ncolour: red\n", "colour: unknown field"},
        BadCase{"groups: [ { name: g, tasks: [ { name: t, bogus: 1 } ] } ]",
                "groups[0].tasks[0].bogus: unknown field"},
        BadCase{"groups: [ { name: g, count: many } ]", "groups[0].count: expected an integer"},
        BadCase{"groups: [ { name: g, count: 99999999999 } ]", "groups[0].count: \"99999999999\" is out of range"},
        BadCase{"type: sometimes", "type: unknown value \"sometimes\" (expected one of service, batch, system)"},
        BadCase{"groups: { name: g }", "groups: expected a list"},
        BadCase{"groups: [ { tasks: [ { kill_timeout: soon } ] } ]", "kill_timeout: invalid duration"},
        BadCase{"- a\n- b\n", "document: expected a mapping"},
        BadCase{"", "empty document"},
        BadCase{"id: \"caf\xc3\"\n", "id: is not valid UTF-8 text"},
        BadCase{"groups: [ { name: \"\xed\xa0\x80\" } ]", "groups[0].name: is not valid UTF-8"},
        BadCase{"groups: [ { tasks: [ { env: { K: \"\xc0\xaf\" } } ] } ]", "is not valid UTF-8"}));

TEST(DocumentTest, BytesAreBase64AsInProtobufsJsonMapping) {
  v1::DispatchJobRequest req;
  ASSERT_TRUE(ParseDocument(R"({"payload": "eyJ3IjogNjR9"})", &req).ok());
  EXPECT_EQ(req.payload(), R"({"w": 64})");
  ASSERT_TRUE(ParseDocument("payload: aGk", &req).ok()) << "unpadded";
  EXPECT_EQ(req.payload(), "hi");
  ASSERT_TRUE(ParseDocument("payload: _-8=", &req).ok()) << "URL-safe";
  EXPECT_EQ(req.payload(), "\xff\xef");
  // What ToJson writes reads back the same.
  req.set_payload(std::string("\0\x01binary\xfe", 9));
  v1::DispatchJobRequest back;
  ASSERT_TRUE(ParseDocument(ToJson(req), &back).ok());
  EXPECT_EQ(back.payload(), req.payload());
  for (const char* bad : {"payload: 'not base64!'", "payload: a", "payload: ab==="}) {
    Status st = ParseDocument(bad, &req);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("payload: expected base64"), std::string::npos) << st.message();
  }
}

TEST(DocumentTest, Utf8TextIsKept) {
  v1::Job job;
  ASSERT_TRUE(ParseDocument("id: \"caf\xc3\xa9-\xf0\x9f\x9a\x80\"\n", &job).ok());
  EXPECT_EQ(job.id(), "caf\xc3\xa9-\xf0\x9f\x9a\x80");
}

// "Billion laughs": each level's list holds the previous level nine times
// over; the text is ~1 KB, the expanded args 9^8 (43 million) strings. It
// used to be expanded into the message (a 52 KB body took 554 MiB).
std::string AliasBomb(int levels) {
  std::string doc = "x0: &a0 [" + std::string("\"lol\"") + ", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n";
  for (int i = 1; i < levels; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    doc += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) doc += (k ? ", " : "") + prev;
    doc += "]\n";
  }
  return doc;
}

long PeakRssKb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

TEST(DocumentLimitsTest, AliasExpansionIsBoundedNotExpanded) {
  // One ~1 KB group, then 20,000 aliases of it: a 120 KB body standing for
  // a 20 MB job (the review's 79 KB body made a 19 MiB job that passed).
  std::string big = "id: bomb\ngroups:\n";
  big += "  - &g0 {name: g, count: 1, tasks: [{name: t, driver: exec, command: /bin/true, resources: {cpu: 1, "
         "memory: 1}, args: [\"" + std::string(900, 'x') + "\"]}]}\n";
  for (int i = 0; i < 20000; ++i) big += "  - *g0\n";
  ASSERT_LT(big.size(), 200000u);
  v1::Job job;
  long before = PeakRssKb();
  Status st = ParseDocument(big, &job);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("expands (through YAML aliases) to more than 1048576 bytes"), std::string::npos)
      << st.message();
  EXPECT_LT(PeakRssKb() - before, 200 * 1024) << "the expansion was built";
}

TEST(DocumentLimitsTest, NestedAliasListsAreRefused) {
  v1::Job job;
  long before = PeakRssKb();
  std::string doc = AliasBomb(9) + "id: x\n";
  Status st = ParseDocument(doc, &job);
  // x0.. are not fields of a job: refused at the first key, whatever it holds.
  ASSERT_FALSE(st.ok());
  EXPECT_LT(PeakRssKb() - before, 200 * 1024);
}

TEST(DocumentLimitsTest, AliasesWithinTheBudgetStillWork) {
  v1::Job job;
  Status st = ParseDocument(
      "id: a\ngroups:\n  - name: g1\n    count: 1\n    tasks:\n      - &t {name: t, driver: exec, command: /bin/true, "
      "resources: {cpu: 1, memory: 1}}\n  - name: g2\n    count: 1\n    tasks: [*t]\n",
      &job);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(job.groups_size(), 2);
  EXPECT_EQ(job.groups(1).tasks(0).command(), "/bin/true");
}

TEST(DocumentLimitsTest, TheBudgetIsTheCallers) {
  v1::Job job;
  DocumentLimits small;
  small.max_expanded_bytes = 64;
  Status st = ParseDocument("id: " + std::string(100, 'a') + "\n", &job, small);
  EXPECT_FALSE(st.ok());
  st = ParseDocument("id: abc\n", &job, small);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(DocumentLimitsTest, DeepNestingIsAClearError) {
  v1::Job job;
  std::string deep(5000, '[');
  deep += std::string(5000, ']');
  Status st = ParseDocument("id: " + deep + "\n", &job);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

TEST(DurationTest, ParsesGoStyleDurations) {
  EXPECT_EQ(ParseDuration("1s")->count(), 1'000'000'000);
  EXPECT_EQ(ParseDuration("250ms")->count(), 250'000'000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5'400'000'000'000);
  EXPECT_EQ(ParseDuration("1.5s")->count(), 1'500'000'000);
  EXPECT_EQ(ParseDuration("0")->count(), 0);
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("10").ok());
  EXPECT_FALSE(ParseDuration("5 parsecs").ok());
}

}  // namespace
}  // namespace orch
