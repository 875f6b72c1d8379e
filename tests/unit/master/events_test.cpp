// The event stream's parts: the buffer (order, limits, resets, what is too
// old), the topic filter and line format, the events the state store
// records as commands apply (and not for a transaction that rolls back),
// and the route that serves them as a feed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/index_waiters.h"
#include "common/router.h"
#include "master/events/event_buffer.h"
#include "master/events/event_filter.h"
#include "master/http/events_api.h"
#include "master/state/state_store.h"
#include "test_util.h"

namespace orch::master {
namespace {

using testing::RegisterJobCmd;
using testing::RegisterNodeCmd;
using testing::SampleJob;
using testing::SampleNode;

StateEvent Ev(const std::string& topic, const std::string& type, const std::string& key) {
  v1::Job job;
  job.set_id(key);
  return StateEvent{topic, type, key, topic == "Node" ? "" : key, job.SerializeAsString()};
}

std::vector<uint64_t> Indexes(const EventBuffer::Read& r) {
  std::vector<uint64_t> out;
  for (const auto& b : r.batches) out.push_back(b->index());
  return out;
}

TEST(EventBufferTest, ReadsWhatFollowsAnIndexInOrder) {
  EventBuffer buf;
  buf.Reset(10);
  buf.Publish(11, {Ev("Job", "JobRegistered", "a")});
  buf.Publish(12, {});  // only moves the index
  buf.Publish(13, {Ev("Job", "JobRegistered", "b"), Ev("Node", "NodeDown", "n1")});
  buf.Publish(12, {Ev("Job", "JobRegistered", "stale")});  // an index going back is ignored
  EXPECT_EQ(buf.last(), 13u);
  EXPECT_EQ(Indexes(buf.After(0, 100)), (std::vector<uint64_t>{11, 13}));
  EXPECT_EQ(Indexes(buf.After(11, 100)), (std::vector<uint64_t>{13}));
  auto r = buf.After(13, 100);
  EXPECT_TRUE(r.batches.empty());
  EXPECT_EQ(r.last, 13u);
  // Truncated: the cursor stops at the last batch handed out.
  r = buf.After(10, 1);
  EXPECT_EQ(Indexes(r), (std::vector<uint64_t>{11}));
  EXPECT_EQ(r.last, 11u);
  // Below the reset: not resumable.
  EXPECT_TRUE(buf.After(9, 100).too_old);
  EXPECT_FALSE(buf.ResumableAfter(9));
  EXPECT_TRUE(buf.ResumableAfter(10));
}

TEST(EventBufferTest, DropsTheOldestPastItsLimitsAndSaysSo) {
  EventBuffer buf(EventBufferLimits{3, 1 << 20});
  for (uint64_t i = 1; i <= 5; ++i)
    buf.Publish(i, {Ev("Job", "JobRegistered", "j" + std::to_string(i))});
  EXPECT_EQ(buf.floor(), 2u);
  EXPECT_EQ(Indexes(buf.After(0, 100)), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_TRUE(buf.After(1, 100).too_old);
  EXPECT_FALSE(buf.After(2, 100).too_old);

  EventBuffer small(EventBufferLimits{1000, 1});  // every batch is over the byte cap
  small.Publish(1, {Ev("Job", "JobRegistered", "a")});
  EXPECT_TRUE(small.After(0, 10).batches.empty());
  EXPECT_EQ(small.floor(), 1u);

  buf.Reset(9);  // a snapshot installed at 9
  EXPECT_TRUE(buf.After(0, 100).batches.empty());
  EXPECT_TRUE(buf.After(5, 100).too_old);
  EXPECT_EQ(buf.last(), 9u);
}

TEST(EventFilterTest, TopicsKeysAndTheLineFormat) {
  auto all = EventFilter::Parse({});
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Matches(Ev("Node", "NodeDown", "n1")));
  auto some = EventFilter::Parse({"Job:web", "Node"});
  ASSERT_TRUE(some.ok());
  EXPECT_TRUE(some->Matches(Ev("Job", "JobRegistered", "web")));
  EXPECT_FALSE(some->Matches(Ev("Job", "JobRegistered", "db")));
  EXPECT_TRUE(some->Matches(Ev("Node", "NodeDown", "n1")));
  EXPECT_FALSE(some->Matches(Ev("Allocation", "AllocationUpdated", "a1")));
  auto star = EventFilter::Parse({"*:web"});
  ASSERT_TRUE(star.ok());
  EXPECT_TRUE(star->Matches(Ev("Deployment", "DeploymentUpdated", "web")));
  EXPECT_FALSE(star->Matches(Ev("Deployment", "DeploymentUpdated", "db")));
  EXPECT_FALSE(EventFilter::Parse({"Jobs"}).ok());
  EXPECT_FALSE(EventFilter::Parse({"Job:"}).ok());

  EventBatch batch(7, {Ev("Job", "JobRegistered", "web"), Ev("Node", "NodeDown", "n1")});
  std::string out;
  auto everything = [](const StateEvent&) { return true; };
  ASSERT_TRUE(AppendEventLine(batch, *all, everything, &out));
  ASSERT_EQ(out.back(), '\n');
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["index"], 7);
  ASSERT_EQ(j["events"].size(), 2u);
  EXPECT_EQ(j["events"][0]["topic"], "Job");
  EXPECT_EQ(j["events"][0]["type"], "JobRegistered");
  EXPECT_EQ(j["events"][0]["key"], "web");
  EXPECT_EQ(j["events"][0]["payload"]["id"], "web");
  // The caller's ACL lets nothing through: no line at all.
  std::string none;
  EXPECT_FALSE(AppendEventLine(
      batch, *all, [](const StateEvent&) { return false; }, &none));
  EXPECT_TRUE(none.empty());
}

// The events of `store` after `after`, as "index topic type key" strings.
std::vector<std::string> Recorded(const StateStore& store, uint64_t after = 0) {
  std::vector<std::string> out;
  for (const auto& b : store.events()->After(after, 1000).batches) {
    for (const auto& e : b->events()) {
      out.push_back(std::to_string(b->index()) + " " + e.topic + " " + e.type + " " + e.key);
    }
  }
  return out;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(StateEventsTest, AppliesRecordWhatTheyWroteAtTheirIndex) {
  auto s = std::move(*StateStore::Open(testing::TempDir("ev") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(SampleJob("web", 1), "e1")).ok());
  auto ev = Recorded(*s);
  EXPECT_TRUE(Has(ev, "1 Node NodeRegistered n1")) << ::testing::PrintToString(ev);
  EXPECT_TRUE(Has(ev, "2 Job JobRegistered web")) << ::testing::PrintToString(ev);
  EXPECT_TRUE(Has(ev, "2 Evaluation EvaluationUpdated e1")) << ::testing::PrintToString(ev);

  v1::Command down;
  down.mutable_node_status()->set_node_id("n1");
  down.mutable_node_status()->set_status(v1::Node::DOWN);
  ASSERT_TRUE(s->Apply(3, down).ok());
  ev = Recorded(*s, 2);
  EXPECT_EQ(ev, (std::vector<std::string>{"3 Node NodeDown n1"}));
  v1::Command dereg;
  dereg.mutable_deregister_job()->set_job_id("web");
  dereg.mutable_deregister_job()->mutable_eval()->set_id("e2");
  ASSERT_TRUE(s->Apply(4, dereg).ok());
  ev = Recorded(*s, 3);
  EXPECT_TRUE(Has(ev, "4 Job JobDeregistered web")) << ::testing::PrintToString(ev);
  // Secrets stay out of payloads.
  auto n2 = SampleNode("n2");
  n2.set_secret_hash("5ecre7hash");
  ASSERT_TRUE(s->Apply(5, RegisterNodeCmd(n2)).ok());
  auto batches = s->events()->After(4, 100).batches;
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0]->PayloadJson().size(), 1u);
  EXPECT_EQ(batches[0]->PayloadJson()[0].find("5ecre7hash"), std::string::npos)
      << batches[0]->PayloadJson()[0];
  EXPECT_NE(batches[0]->PayloadJson()[0].find("n2"), std::string::npos);

  // The entries of one batch keep their own indexes; a failed batch
  // publishes nothing.
  v1::Command up;
  up.mutable_node_status()->set_node_id("n1");
  up.mutable_node_status()->set_status(v1::Node::READY);
  std::vector<Status> outcomes;
  ASSERT_TRUE(s->ApplyBatch({{6, &up}, {7, &down}}, &outcomes).ok());
  EXPECT_EQ(Recorded(*s, 5),
            (std::vector<std::string>{"6 Node NodeReady n1", "7 Node NodeDown n1"}));
}

TEST(StateEventsTest, ARestartOrASnapshotInstallForgetsThePast) {
  const std::string dir = testing::TempDir("ev2");
  {
    auto s = std::move(*StateStore::Open(dir + "/state.db"));
    ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
    ASSERT_TRUE(s->Apply(2, RegisterJobCmd(SampleJob("web", 1), "e1")).ok());
    auto image = s->SerializeImage();
    ASSERT_TRUE(image.ok());
    auto other = std::move(*StateStore::Open(testing::TempDir("ev3") + "/state.db"));
    ASSERT_TRUE(other->RestoreImage(*image).ok());
    EXPECT_TRUE(Recorded(*other).empty());
    EXPECT_FALSE(other->events()->ResumableAfter(1));
    EXPECT_TRUE(other->events()->ResumableAfter(2));
  }
  auto again = std::move(*StateStore::Open(dir + "/state.db"));
  EXPECT_TRUE(Recorded(*again).empty());
  EXPECT_FALSE(again->events()->ResumableAfter(1));
  ASSERT_TRUE(again->Apply(3, RegisterJobCmd(SampleJob("db", 1), "e3")).ok());
  EXPECT_TRUE(Has(Recorded(*again, 2), "3 Job JobRegistered db"));
}

TEST(EventRouteTest, AnswersAFeedOfLinesAndRefusesWhatIsGone) {
  auto s = std::move(*StateStore::Open(testing::TempDir("evr") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(SampleJob("web", 1), "e1")).ok());
  Router router;
  ApiDeps d;
  d.store = s.get();
  RegisterEventRoutes(&router, d);
  auto call = [&](const std::string& target) {
    HttpRequest req;
    req.method = "GET";
    req.target = target;
    EXPECT_TRUE(ParseTarget(target, &req.path, &req.query).ok());
    return AnswerWaiting([&](const HttpRequest& r) { return router.Handle(r); }, req);
  };
  auto resp = call("/v1/event/stream?topic=Job&follow=false");
  ASSERT_EQ(resp.status, 200) << resp.body;
  ASSERT_TRUE(resp.feed.has_value());
  EXPECT_EQ(resp.content_type, "application/x-ndjson");
  std::string out;
  uint64_t cursor = resp.feed->cursor;
  EXPECT_FALSE(resp.feed->next(&cursor, &out));  // not following: ends
  EXPECT_EQ(cursor, 2u);
  auto line = nlohmann::json::parse(out);
  EXPECT_EQ(line["index"], 2);
  ASSERT_EQ(line["events"].size(), 1u);  // the evaluation is another topic
  EXPECT_EQ(line["events"][0]["type"], "JobRegistered");

  // Following from index 2: nothing yet, then the next index's events.
  resp = call("/v1/event/stream?index=2");
  ASSERT_TRUE(resp.feed.has_value());
  cursor = resp.feed->cursor;
  out.clear();
  EXPECT_TRUE(resp.feed->next(&cursor, &out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(cursor, 2u);
  v1::Command down;
  down.mutable_node_status()->set_node_id("n1");
  down.mutable_node_status()->set_status(v1::Node::DOWN);
  ASSERT_TRUE(s->Apply(3, down).ok());
  EXPECT_TRUE(resp.feed->next(&cursor, &out));
  EXPECT_EQ(cursor, 3u);
  EXPECT_EQ(nlohmann::json::parse(out)["events"][0]["type"], "NodeDown");

  EXPECT_EQ(call("/v1/event/stream?topic=Nope").status, 400);
  EXPECT_EQ(call("/v1/event/stream?follow=maybe").status, 400);
  EXPECT_EQ(call("/v1/event/stream?index=x").status, 400);
  // A restart forgets: resuming from before it is 410.
  auto image = s->SerializeImage();
  ASSERT_TRUE(s->RestoreImage(*image).ok());
  auto gone = call("/v1/event/stream?index=1");
  EXPECT_EQ(gone.status, 410) << gone.body;
  EXPECT_FALSE(gone.feed.has_value());
}

}  // namespace
}  // namespace orch::master
