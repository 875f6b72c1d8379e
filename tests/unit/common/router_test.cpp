#include "common/router.h"

#include <gtest/gtest.h>

namespace orch {
namespace {

HttpRequest Req(std::string method, std::string target) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = target;
  EXPECT_TRUE(ParseTarget(target, &r.path, &r.query).ok());
  return r;
}

Router MakeRouter() {
  Router r;
  r.Add("GET", "/v1/jobs", [](const HttpRequest&, const PathParams&) { return HttpResponse::Json(200, "list"); });
  r.Add("POST", "/v1/jobs", [](const HttpRequest&, const PathParams&) { return HttpResponse::Json(200, "submit"); });
  r.Add("GET", "/v1/jobs/{id}",
        [](const HttpRequest&, const PathParams& p) { return HttpResponse::Json(200, "job " + p.at("id")); });
  r.Add("POST", "/v1/jobs/plan", [](const HttpRequest&, const PathParams&) { return HttpResponse::Json(200, "plan"); });
  r.Add("GET", "/v1/boom", [](const HttpRequest&, const PathParams&) -> HttpResponse {
    throw std::runtime_error("kaput");
  });
  return r;
}

TEST(RouterTest, DispatchesByMethodAndPathWithParams) {
  Router r = MakeRouter();
  EXPECT_EQ(r.Handle(Req("GET", "/v1/jobs")).body, "list");
  EXPECT_EQ(r.Handle(Req("POST", "/v1/jobs/")).body, "submit");
  EXPECT_EQ(r.Handle(Req("GET", "/v1/jobs/web%20app?x=1")).body, "job web app");
  EXPECT_EQ(r.Handle(Req("POST", "/v1/jobs/plan")).body, "plan");
}

TEST(RouterTest, UnknownPathIs404WithJsonError) {
  HttpResponse resp = MakeRouter().Handle(Req("GET", "/v2/nothing"));
  EXPECT_EQ(resp.status, 404);
  EXPECT_NE(resp.body.find("\"code\":\"not_found\""), std::string::npos) << resp.body;
}

TEST(RouterTest, WrongMethodIs405WithAllow) {
  HttpResponse resp = MakeRouter().Handle(Req("DELETE", "/v1/jobs"));
  EXPECT_EQ(resp.status, 405);
  EXPECT_EQ(resp.Header("allow"), "GET, POST");
}

TEST(RouterTest, HandlerExceptionBecomes500NotACrash) {
  HttpResponse resp = MakeRouter().Handle(Req("GET", "/v1/boom"));
  EXPECT_EQ(resp.status, 500);
  EXPECT_NE(resp.body.find("kaput"), std::string::npos);
}

TEST(RouterTest, NeverWaitsIsTheRoutesOwnDeclaration) {
  Router r;
  r.Add(
      "POST", "/v1/jobs",
      [](const HttpRequest&, const PathParams&) { return HttpResponse::Json(200, "{}"); },
      Router::Waits::kNever);
  r.Add("GET", "/v1/jobs/{id}",
        [](const HttpRequest&, const PathParams&) { return HttpResponse::Json(200, "{}"); });
  EXPECT_TRUE(r.NeverWaits(Req("POST", "/v1/jobs")));
  EXPECT_FALSE(r.NeverWaits(Req("GET", "/v1/jobs/a")));  // added without: may wait
  EXPECT_FALSE(r.NeverWaits(Req("GET", "/v1/jobs")));    // 405
  EXPECT_FALSE(r.NeverWaits(Req("POST", "/v1/nope")));   // 404
}

TEST(TargetTest, DecodesQueryAndRejectsBadEscapes) {
  std::string path;
  std::map<std::string, std::string> q;
  ASSERT_TRUE(ParseTarget("/v1/allocations?job=a+b&index=7&flag", &path, &q).ok());
  EXPECT_EQ(path, "/v1/allocations");
  EXPECT_EQ(q["job"], "a b");
  EXPECT_EQ(q["index"], "7");
  EXPECT_TRUE(q.count("flag"));
  EXPECT_FALSE(ParseTarget("/v1/%zz", &path, &q).ok());
  EXPECT_FALSE(ParseTarget("/v1/%4", &path, &q).ok());
}

}  // namespace
}  // namespace orch
