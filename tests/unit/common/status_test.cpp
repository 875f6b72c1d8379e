#include "common/status.h"

#include "common/json.h"
#include "orch/v1/api.pb.h"

#include <gtest/gtest.h>

namespace orch {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  ORCH_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(StatusTest, OkByDefaultAndNamesItsCode) {
  EXPECT_TRUE(Status().ok());
  Status st = Status::NotFound("job \"web\" not found");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.ToString(), "not_found: job \"web\" not found");
  EXPECT_EQ(st.WithContext("describe").message(), "describe: job \"web\" not found");
}

TEST(StatusTest, ResultCarriesValueOrError) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "odd: 3");
}

TEST(StatusTest, ResultFromOkStatusIsAnError) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace orch

namespace orch {
namespace {

TEST(ErrorJsonTest, AMessageQuotingBytesThatAreNotUtf8StaysValidJson) {
  // Found by tests/fuzz/http_router_fuzz: a 404 quoting a path of raw
  // bytes made an answer protobuf could not serialize as JSON.
  std::string json = ErrorJson(Status::NotFound("job \"\xff\xfe\" not found"));
  v1::ErrorResponse back;
  ASSERT_TRUE(FromJson(json, &back, false).ok()) << json;
  EXPECT_EQ(back.error().message(), "job \"??\" not found");
  // Valid UTF-8 is kept as it is.
  v1::ErrorResponse kept;
  ASSERT_TRUE(FromJson(ErrorJson(Status::NotFound("caf\xc3\xa9")), &kept, false).ok());
  EXPECT_EQ(kept.error().message(), "caf\xc3\xa9");
}

}  // namespace
}  // namespace orch
