// --log-format json (common/log_json.h): every line one JSON object that a
// JSON parser reads back, with the ids the line is about as fields and no
// field invented from words that are not ids.
#include "common/log_json.h"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

#include <nlohmann/json.hpp>

namespace orch {
namespace {

using Ids = std::vector<std::pair<std::string, std::string>>;

TEST(LogJsonTest, TheSubjectsIdsBecomeFields) {
  EXPECT_EQ(LogSubjectIds("alloc 1a2b3c4d task web: restarting (restart 1)"),
            (Ids{{"alloc", "1a2b3c4d"}, {"task", "web"}}));
  EXPECT_EQ(LogSubjectIds("eval 12ab34cd job web: placed 2, stopped 0 (index 40)"),
            (Ids{{"eval", "12ab34cd"}, {"job", "web"}}));
  EXPECT_EQ(LogSubjectIds("job web: not registered: service name taken"), (Ids{{"job", "web"}}));
  EXPECT_EQ(LogSubjectIds("state: index 5: node n-3: heartbeat missed"), (Ids{{"node", "n-3"}}));
  // Not ids: components' names, prose, a body after the last ": ".
  EXPECT_EQ(LogSubjectIds("eval worker: pass failed: boom"), Ids{});
  EXPECT_EQ(LogSubjectIds("job watch: cannot read"), Ids{});
  EXPECT_EQ(LogSubjectIds("raft: leader is now m2 (term 3)"), Ids{});
  EXPECT_EQ(LogSubjectIds("the job was stopped: node n1 gone"), Ids{});
  EXPECT_EQ(LogSubjectIds("no colon here, job web"), Ids{});
  // A kind named twice keeps its first id.
  EXPECT_EQ(LogSubjectIds("job a: job b: x"), (Ids{{"job", "a"}}));
}

TEST(LogJsonTest, QuotesAnyTextIntoValidJson) {
  const std::string nasty = std::string("a\"b\\c\nd\te\x01") + "\xff" + "é";
  const std::string quoted = JsonQuote(nasty);
  auto back = nlohmann::json::parse(quoted);
  EXPECT_EQ(back.get<std::string>(), std::string("a\"b\\c\nd\te\x01") + "\xef\xbf\xbd" + "é");
}

TEST(LogJsonTest, FormatsOneObjectPerLine) {
  JsonLogFormatter f("m1");
  const std::string text = "alloc 1a2b3c4d task web: exited with code \"3\"";
  spdlog::details::log_msg msg(spdlog::source_loc{}, "m1", spdlog::level::warn, text);
  spdlog::memory_buf_t buf;
  f.format(msg, buf);
  const std::string line(buf.data(), buf.size());
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warning");
  EXPECT_EQ(j["process"], "m1");
  EXPECT_EQ(j["msg"], text);
  EXPECT_EQ(j["alloc"], "1a2b3c4d");
  EXPECT_EQ(j["task"], "web");
  const std::string time = j["time"];
  EXPECT_EQ(time.size(), 24u) << time;  // 2026-12-04T14:36:27.123Z
  EXPECT_EQ(time.back(), 'Z');
}

}  // namespace
}  // namespace orch
