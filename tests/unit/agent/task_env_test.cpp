#include "agent/task_env.h"

#include <gtest/gtest.h>

namespace orch::agent {
namespace {

TEST(ExpandVarsTest, ReplacesKnownVariables) {
  std::map<std::string, std::string> vars{{"PORT_http", "8080"}, {"A", "x"}};
  EXPECT_EQ(ExpandVars("-p ${PORT_http}", vars), "-p 8080");
  EXPECT_EQ(ExpandVars("${A}${A}-${A}", vars), "xx-x");
}

TEST(ExpandVarsTest, LeavesUnknownAndEscapedAlone) {
  std::map<std::string, std::string> vars{{"A", "x"}};
  EXPECT_EQ(ExpandVars("${HOME}/bin", vars), "${HOME}/bin");
  EXPECT_EQ(ExpandVars("$${A} ${A}", vars), "${A} x");
  EXPECT_EQ(ExpandVars("${A", vars), "${A");
  EXPECT_EQ(ExpandVars("$A", vars), "$A");
}

TEST(BuildTaskEnvTest, SecretsJoinTheEnvironmentAsGivenAndWin) {
  v1::Task task;
  task.set_name("server");
  (*task.mutable_env())["GREETING"] = "hello ${TOKEN}";
  (*task.mutable_secrets())["TOKEN"] = "p@ss${ORCH_JOB}";
  (*task.mutable_secrets())["ORCH_JOB"] = "overridden";
  TaskEnvInput in{"a-1", "web", "g", "/data/allocs/a-1", {}, "/usr/bin:/bin", {}, "", {}};
  auto env = BuildTaskEnv(in, task);
  EXPECT_EQ(env["TOKEN"], "p@ss${ORCH_JOB}") << "never expanded";
  EXPECT_EQ(env["GREETING"], "hello ${TOKEN}") << "nor expanded into env";
  EXPECT_EQ(env["ORCH_JOB"], "overridden");
}

TEST(BuildTaskEnvTest, MetaParentAndVolumes) {
  v1::Task task;
  task.set_name("t");
  (*task.mutable_env())["SIZE"] = "${ORCH_META_size}";
  TaskEnvInput in{"a-1", "resize/dispatch-1-x", "g", "/data/allocs/a-1", {}, "", {}, "", {}};
  in.meta = {{"size", "64"}};
  in.parent_job = "resize";
  in.volumes = {{"pg-data", "/var/lib/pg"}};
  auto env = BuildTaskEnv(in, task);
  EXPECT_EQ(env["ORCH_META_size"], "64");
  EXPECT_EQ(env["SIZE"], "64");
  EXPECT_EQ(env["ORCH_PARENT_JOB"], "resize");
  EXPECT_EQ(env["ORCH_VOLUME_pg_data"], "/var/lib/pg");
}

TEST(BuildTaskEnvTest, HasOrchAndPortVariablesAndExpandsTaskEnv) {
  v1::Task task;
  task.set_name("server");
  (*task.mutable_env())["LISTEN"] = "127.0.0.1:${PORT_http}";
  (*task.mutable_env())["PLAIN"] = "v";
  task.add_args("--port=${PORT_http}");
  task.add_args("${LISTEN}");
  v1::Port http;
  http.set_name("http");
  http.set_value(23456);
  TaskEnvInput in{"a-1", "web", "g", "/data/allocs/a-1", {http}, "/usr/bin:/bin", {}, "", {}};
  auto env = BuildTaskEnv(in, task);
  EXPECT_EQ(env["ORCH_ALLOC_ID"], "a-1");
  EXPECT_EQ(env["ORCH_JOB"], "web");
  EXPECT_EQ(env["ORCH_GROUP"], "g");
  EXPECT_EQ(env["ORCH_TASK"], "server");
  EXPECT_EQ(env["ORCH_ALLOC_DIR"], "/data/allocs/a-1/_shared");
  EXPECT_EQ(env["ORCH_TASK_DIR"], "/data/allocs/a-1/server");
  EXPECT_EQ(env["PORT_http"], "23456");
  EXPECT_EQ(env["PATH"], "/usr/bin:/bin");
  EXPECT_EQ(env["LISTEN"], "127.0.0.1:23456");
  EXPECT_EQ(env["PLAIN"], "v");
  auto args = ExpandArgs(task, env);
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0], "--port=23456");
  EXPECT_EQ(args[1], "127.0.0.1:23456");
}

TEST(AssignPortsTest, StaticKeepsItsNumberDynamicGetsDistinctFreePorts) {
  v1::Network net;
  auto* s = net.add_ports();
  s->set_name("admin");
  s->set_static_(9999);
  net.add_ports()->set_name("http");
  net.add_ports()->set_name("grpc");
  auto ports = AssignPorts(net, {});
  ASSERT_TRUE(ports.ok()) << ports.status().ToString();
  ASSERT_EQ(ports->size(), 3u);
  EXPECT_EQ((*ports)[0].value(), 9999);
  EXPECT_GT((*ports)[1].value(), 0);
  EXPECT_GT((*ports)[2].value(), 0);
  EXPECT_NE((*ports)[1].value(), (*ports)[2].value());
  EXPECT_EQ((*ports)[1].name(), "http");
}

}  // namespace
}  // namespace orch::agent
