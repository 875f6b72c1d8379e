#include "api/orchctl/output.h"

#include <gtest/gtest.h>

#include <sstream>

#include "common/json.h"
#include "orch/v1/api.pb.h"

namespace orch::ctl {
namespace {

TEST(PrettyJsonTest, IndentsByTwoAndKeepsEmptyContainersOnOneLine) {
  EXPECT_EQ(PrettyJson(R"({"a":[1,{"b":"x"}],"c":{},"d":[]})"),
            "{\n"
            "  \"a\": [\n"
            "    1,\n"
            "    {\n"
            "      \"b\": \"x\"\n"
            "    }\n"
            "  ],\n"
            "  \"c\": {},\n"
            "  \"d\": []\n"
            "}\n");
}

TEST(PrettyJsonTest, LeavesStringsAlone) {
  EXPECT_EQ(PrettyJson(R"({"m":"a, b: {c} [d] \"e\" \\"})"),
            "{\n  \"m\": \"a, b: {c} [d] \\\"e\\\" \\\\\"\n}\n");
}

TEST(PrintMessageTest, JsonOutputParsesBackToTheSameMessage) {
  v1::SubmitJobResponse resp;
  resp.set_job_id("web");
  resp.set_eval_id("e1");
  resp.set_index(12);
  resp.add_warnings("a, b: {c}");
  std::ostringstream out;
  ASSERT_TRUE(PrintMessage(out, OutputFormat::kJson, resp, [] { return std::string(); }).ok());
  v1::SubmitJobResponse back;
  ASSERT_TRUE(FromJson(out.str(), &back, /*lenient=*/false).ok()) << out.str();
  EXPECT_EQ(back.SerializeAsString(), resp.SerializeAsString());
}

TEST(ParseOutputFormatTest, KnowsTheThreeFormats) {
  EXPECT_EQ(ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(ParseOutputFormat("yaml"), OutputFormat::kYaml);
  EXPECT_EQ(ParseOutputFormat("xml"), std::nullopt);
}

}  // namespace
}  // namespace orch::ctl
