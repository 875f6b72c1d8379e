// OrchClient against a canned server: typed calls, errors carrying the
// server's message, blocking-query parameters, failover between masters.
#include "api/client/client.h"

#include <gtest/gtest.h>

#include "common/http_server.h"
#include "common/json.h"
#include "common/router.h"
#include "tests/support/ports.h"

namespace orch {
namespace {

int DeadPort() { return testing::FreeLoopbackPort(); }

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/v1/jobs", [this](const HttpRequest& req, const PathParams&) {
      last_query_ = req.query;
      v1::JobList list;
      list.add_jobs()->set_id("web");
      HttpResponse resp = HttpResponse::Json(200, ToJson(list));
      resp.headers.emplace_back("X-Orch-Index", "42");
      resp.headers.emplace_back("X-Orch-Known-Leader", "false");
      return resp;
    });
    router_.Add("GET", "/v1/jobs/{id}", [](const HttpRequest&, const PathParams& p) {
      return HttpResponse::Error(Status::NotFound("job \"" + p.at("id") + "\" not found"));
    });
    router_.Add("POST", "/v1/jobs", [this](const HttpRequest& req, const PathParams&) {
      last_body_ = req.body;
      v1::SubmitJobResponse resp;
      resp.set_job_id("web");
      resp.set_eval_id("e1");
      resp.set_index(7);
      return HttpResponse::Json(200, ToJson(resp));
    });
    auto s = HttpServer::Start({}, [this](const HttpRequest& r) { return router_.Handle(r); });
    ASSERT_TRUE(s.ok());
    server_ = std::move(*s);
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override { server_->Shutdown(); }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::string url_;
  std::map<std::string, std::string> last_query_;
  std::string last_body_;
};

TEST_F(ClientTest, TypedReadCarriesTheIndexAndQueryOptions) {
  OrchClient client({url_});
  QueryOptions q;
  q.index = 41;
  q.wait = std::chrono::milliseconds(1500);
  q.stale = true;
  auto jobs = client.ListJobs(q);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  EXPECT_EQ(jobs->index, 42u);
  EXPECT_FALSE(jobs->known_leader);
  ASSERT_EQ(jobs->value.jobs_size(), 1);
  EXPECT_EQ(jobs->value.jobs(0).id(), "web");
  EXPECT_EQ(last_query_["index"], "41");
  EXPECT_EQ(last_query_["wait"], "1500ms");
  EXPECT_EQ(last_query_["stale"], "true");
}

TEST_F(ClientTest, ServerErrorsComeBackWithTheirMessage) {
  OrchClient client({url_});
  auto job = client.GetJob("nope");
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(job.status().message(), "job \"nope\" not found");
}

TEST_F(ClientTest, DocumentIsSentAsIs) {
  OrchClient client({url_});
  auto resp = client.SubmitJobDocument("id: web\n");
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->eval_id(), "e1");
  EXPECT_EQ(last_body_, "id: web\n");
}

TEST_F(ClientTest, UnreachableMasterIsSkipped) {
  OrchClient client({"http://127.0.0.1:" + std::to_string(DeadPort()), url_});
  auto jobs = client.ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  OrchClient dead({"http://127.0.0.1:" + std::to_string(DeadPort())});
  auto err = dead.ListJobs();
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(err.status().message().find("127.0.0.1"), std::string::npos) << err.status().message();
}

TEST_F(ClientTest, MasterWithoutLeaderIsSkippedForOneThatHasOne) {
  Router lost;
  lost.Add("GET", "/v1/jobs", [](const HttpRequest&, const PathParams&) {
    return HttpResponse::Error(Status::Unavailable("no leader: the masters are electing one"));
  });
  auto s = HttpServer::Start({}, [&lost](const HttpRequest& r) { return lost.Handle(r); });
  ASSERT_TRUE(s.ok());
  std::string lost_url = "http://127.0.0.1:" + std::to_string((*s)->port());
  OrchClient client({lost_url, url_});
  auto jobs = client.ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  EXPECT_EQ(jobs->value.jobs(0).id(), "web");
  // With no other master to ask, the 503 and its message come back.
  OrchClient only_lost({lost_url});
  auto err = only_lost.ListJobs();
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(err.status().message().find("no leader"), std::string::npos);
  (*s)->Shutdown();
}

}  // namespace
}  // namespace orch
