#include "api/orchctl/yaml_output.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "common/json.h"
#include "orch/v1/api.pb.h"

namespace orch::ctl {
namespace {

// Same shape and the same scalar text; a JSON string stays a string (a
// quoted scalar, tag "!") and a JSON number or bool stays plain.
void ExpectSameData(const YAML::Node& json, const YAML::Node& yaml, const std::string& path) {
  ASSERT_EQ(json.Type(), yaml.Type()) << path;
  switch (json.Type()) {
    case YAML::NodeType::Map: {
      ASSERT_EQ(json.size(), yaml.size()) << path;
      auto it = yaml.begin();
      for (const auto& kv : json) {
        const std::string key = kv.first.Scalar();
        EXPECT_EQ(it->first.Scalar(), key) << path << ": keys keep the server's order";
        ExpectSameData(kv.second, it->second, path + "." + key);
        ++it;
      }
      break;
    }
    case YAML::NodeType::Sequence:
      ASSERT_EQ(json.size(), yaml.size()) << path;
      for (std::size_t i = 0; i < json.size(); ++i) {
        ExpectSameData(json[i], yaml[i], path + "[" + std::to_string(i) + "]");
      }
      break;
    case YAML::NodeType::Scalar: {
      EXPECT_EQ(json.Scalar(), yaml.Scalar()) << path;
      bool json_string = json.Tag() == "!";
      bool yaml_plain = yaml.Tag() == "?";
      if (!json_string) {
        EXPECT_TRUE(yaml_plain) << path << " should stay a plain scalar";
      }
      if (json_string && yaml_plain) {
        // A plain scalar is fine only if it cannot read as anything else.
        for (const char* word : {"true", "false", "null", "~", "yes", "no"}) {
          EXPECT_NE(yaml.Scalar(), word) << path;
        }
        EXPECT_THROW(yaml.as<double>(), YAML::Exception) << path << " reads as a number";
      }
      break;
    }
    default:
      break;
  }
}

void ExpectRoundTrip(const std::string& json) {
  auto yaml = JsonToYaml(json);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  ExpectSameData(YAML::Load(json), YAML::Load(*yaml), "$");
}

TEST(JsonToYamlTest, ApiMessageRoundTrips) {
  v1::JobDetail d;
  d.mutable_job()->set_id("web");
  d.mutable_job()->set_type(v1::Job::SERVICE);
  d.mutable_job()->set_version(12);  // uint64: a JSON string "12"
  auto* g = d.mutable_job()->add_groups();
  g->set_name("web");
  g->set_count(3);
  auto* t = g->add_tasks();
  t->set_name("server");
  t->add_args("httpd");
  t->add_args("-p");
  t->add_args("${PORT_http}");
  (*t->mutable_env())["GREETING"] = "hello: world # not a comment";
  t->mutable_check()->mutable_interval()->set_seconds(1);
  auto* a = d.add_allocations();
  a->set_id("1a2b3c4d");
  a->set_healthy(true);
  (*d.mutable_summary())["RUNNING"] = 3;
  ExpectRoundTrip(ToJson(d));
  ExpectRoundTrip(ToJson(d, /*pretty=*/true));
}

TEST(JsonToYamlTest, StringsThatLookLikeOtherTypesStayStrings) {
  ExpectRoundTrip(R"({"a":"12","b":"true","c":"null","d":"","e":"1.5e3","f":"~","g":"yes",
                      "h":"0x1F","i":"-","j":"[x]","k":"line1\nline2","l":" lead","m":"ünï",
                      "n":12,"o":true,"p":null,"q":1.25,"r":[],"s":{},"t":"@x","u":"a: b"})");
  auto yaml = JsonToYaml(R"({"version":"12","count":3})");
  ASSERT_TRUE(yaml.ok());
  EXPECT_EQ(*yaml, "version: \"12\"\ncount: 3\n");
}

TEST(JsonToYamlTest, UsesBlockStyle) {
  auto yaml = JsonToYaml(R"({"jobs":[{"id":"web","groups":[{"name":"g","count":1}]}]})");
  ASSERT_TRUE(yaml.ok());
  EXPECT_EQ(*yaml,
            "jobs:\n"
            "  - id: web\n"
            "    groups:\n"
            "      - name: g\n"
            "        count: 1\n");
}

TEST(JsonToYamlTest, RejectsBrokenJson) {
  auto yaml = JsonToYaml(R"({"a": [1, 2)");
  EXPECT_FALSE(yaml.ok());
  EXPECT_EQ(yaml.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace orch::ctl
