#include "master/validation.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/document.h"
#include "test_util.h"

namespace orch::master {
namespace {

struct Case {
  const char* name;
  void (*mutate)(v1::Job*);
  const char* expect;
};

class ValidationTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidationTest, RejectsWithFieldPath) {
  v1::Job job = testing::SampleJob("web", 1);
  GetParam().mutate(&job);
  Status st = ValidateJob(&job);
  ASSERT_FALSE(st.ok()) << GetParam().name;
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(GetParam().expect), std::string::npos) << st.message();
}

INSTANTIATE_TEST_SUITE_P(
    BadJobs, ValidationTest,
    ::testing::Values(
        Case{"missing id", [](v1::Job* j) { j->clear_id(); }, "id: is required"},
        Case{"bad id", [](v1::Job* j) { j->set_id("no spaces please"); }, "id: \"no spaces please\""},
        Case{"no groups", [](v1::Job* j) { j->clear_groups(); }, "groups: at least one group"},
        Case{"negative count", [](v1::Job* j) { j->mutable_groups(0)->set_count(-1); },
             "groups[0].count: must not be negative"},
        Case{"no tasks", [](v1::Job* j) { j->mutable_groups(0)->clear_tasks(); }, "groups[0].tasks: at least one"},
        Case{"unknown driver", [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->set_driver("lxc"); },
             "groups[0].tasks[0].driver: unknown driver \"lxc\""},
        Case{"no command", [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->clear_command(); },
             "groups[0].tasks[0].command: is required"},
        Case{"docker without image",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->set_driver("docker"); },
             "groups[0].tasks[0].image: is required"},
        Case{"zero cpu",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->mutable_resources()->set_cpu(0); },
             "groups[0].tasks[0].resources.cpu: must be positive"},
        Case{"zero memory",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->mutable_resources()->set_memory(0); },
             "groups[0].tasks[0].resources.memory: must be positive"},
        Case{"no resources", [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->clear_resources(); },
             "groups[0].tasks[0].resources: is required"},
        Case{"duplicate task",
             [](v1::Job* j) { *j->mutable_groups(0)->add_tasks() = j->groups(0).tasks(0); },
             "groups[0].tasks[1].name: \"t\" appears twice"},
        Case{"service port not in network",
             [](v1::Job* j) {
               auto* s = j->mutable_groups(0)->mutable_tasks(0)->mutable_service();
               s->set_name("web");
               s->set_port("http");
             },
             "service.port: \"http\" is not a port"},
        // Limits (master/model/job_limits.h): each would have taken a master down.
        Case{"count 2^31-1", [](v1::Job* j) { j->mutable_groups(0)->set_count(2147483647); },
             "groups[0].count: 2147483647 is more than the limit of 10000"},
        Case{"counts add up past the job limit",
             [](v1::Job* j) {
               j->mutable_groups(0)->set_count(6000);
               auto* g = j->add_groups();
               *g = j->groups(0);
               g->set_name("g2");
             },
             "groups: the counts add up to 12000"},
        Case{"cpu 2^62",
             [](v1::Job* j) {
               j->mutable_groups(0)->mutable_tasks(0)->mutable_resources()->set_cpu(int64_t{1} << 62);
             },
             "groups[0].tasks[0].resources.cpu: 4611686018427387904 millicores is more than the limit"},
        Case{"memory 2^50 MiB",
             [](v1::Job* j) {
               j->mutable_groups(0)->mutable_tasks(0)->mutable_resources()->set_memory(int64_t{1} << 50);
             },
             "groups[0].tasks[0].resources.memory:"},
        Case{"too many groups",
             [](v1::Job* j) {
               for (int i = 0; i < 64; ++i) {
                 auto* g = j->add_groups();
                 *g = j->groups(0);
                 g->set_name("g" + std::to_string(i));
                 g->set_count(0);
               }
             },
             "groups: 65 groups, more than the limit of 64"},
        Case{"too many tasks",
             [](v1::Job* j) {
               for (int i = 0; i < 64; ++i) {
                 auto* t = j->mutable_groups(0)->add_tasks();
                 *t = j->groups(0).tasks(0);
                 t->set_name("t" + std::to_string(i));
               }
             },
             "groups[0].tasks: 65 tasks"},
        Case{"too many ports",
             [](v1::Job* j) {
               for (int i = 0; i < 65; ++i) {
                 j->mutable_groups(0)->mutable_network()->add_ports()->set_name("p" + std::to_string(i));
               }
             },
             "groups[0].network.ports: 65 ports"},
        Case{"huge env value",
             [](v1::Job* j) {
               (*j->mutable_groups(0)->mutable_tasks(0)->mutable_env())["BIG"] = std::string(40000, 'x');
             },
             "groups[0].tasks[0].env[\"BIG\"]: is 40000 bytes"},
        Case{"too many env vars",
             [](v1::Job* j) {
               for (int i = 0; i < 257; ++i) {
                 (*j->mutable_groups(0)->mutable_tasks(0)->mutable_env())["V" + std::to_string(i)] = "x";
               }
             },
             "groups[0].tasks[0].env: 257 variables"},
        Case{"env name with =",
             [](v1::Job* j) { (*j->mutable_groups(0)->mutable_tasks(0)->mutable_env())["A=B"] = "x"; },
             "must not contain '='"},
        Case{"too many args",
             [](v1::Job* j) {
               for (int i = 0; i < 257; ++i) j->mutable_groups(0)->mutable_tasks(0)->add_args("a");
             },
             "more than the limit of 256"},
        Case{"huge arg",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->add_args(std::string(40000, 'a')); },
             "groups[0].tasks[0].args[1]: is 40000 bytes"},
        Case{"long regexp",
             [](v1::Job* j) {
               auto* c = j->add_constraints();
               c->set_attribute("os");
               c->set_operator_("regexp");
               c->set_value(std::string(2000, 'a'));
             },
             "constraints[0].value: longer than 1024 bytes"},
        Case{"bad regexp",
             [](v1::Job* j) {
               auto* c = j->add_constraints();
               c->set_attribute("os");
               c->set_operator_("regexp");
               c->set_value("(unclosed");
             },
             "constraints[0].value: not a valid regexp"},
        Case{"serialized job over 1 MiB",
             [](v1::Job* j) {
               for (int t = 0; t < 40; ++t) {
                 auto* task = j->mutable_groups(0)->add_tasks();
                 *task = j->groups(0).tasks(0);
                 task->set_name("big" + std::to_string(t));
                 for (int i = 0; i < 32; ++i) {
                   (*task->mutable_env())["V" + std::to_string(i)] = std::string(30000, 'x');
                 }
               }
             },
             "more than the limit of 1048576"},
        Case{"bad user", [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->set_user("Root; rm"); },
             "groups[0].tasks[0].user: \"Root; rm\" is neither a user name"},
        Case{"uid out of range",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->set_user("4294967295"); },
             "groups[0].tasks[0].user: uid 4294967295 is out of range"},
        Case{"unknown capability",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->add_cap_add("CAP_FLY"); },
             "groups[0].tasks[0].cap_add: \"CAP_FLY\" is not a Linux capability"},
        Case{"secret also in env",
             [](v1::Job* j) {
               auto* t = j->mutable_groups(0)->mutable_tasks(0);
               (*t->mutable_env())["TOKEN"] = "a";
               (*t->mutable_secrets())["TOKEN"] = "b";
             },
             "groups[0].tasks[0].secrets[\"TOKEN\"]: also in env"},
        Case{"secret with a bad name",
             [](v1::Job* j) { (*j->mutable_groups(0)->mutable_tasks(0)->mutable_secrets())["A=B"] = "x"; },
             "groups[0].tasks[0].secrets[\"A=B\"]: a variable name must not contain"},
        Case{"negative pids limit",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->set_pids_limit(-1); },
             "groups[0].tasks[0].pids_limit: must be 0"},
        Case{"periodic service job",
             [](v1::Job* j) { j->mutable_periodic()->set_cron("* * * * *"); },
             "periodic: only batch jobs may be periodic"},
        Case{"bad cron",
             [](v1::Job* j) {
               j->set_type(v1::Job::BATCH);
               j->mutable_periodic()->set_cron("61 * * * *");
             },
             "periodic.cron: cron minute: 61 is outside 0-59"},
        Case{"unknown time zone",
             [](v1::Job* j) {
               j->set_type(v1::Job::BATCH);
               j->mutable_periodic()->set_cron("@daily");
               j->mutable_periodic()->set_time_zone("Mars/Olympus");
             },
             "periodic.time_zone: unknown time zone \"Mars/Olympus\""},
        Case{"periodic and parameterized",
             [](v1::Job* j) {
               j->set_type(v1::Job::BATCH);
               j->mutable_periodic()->set_cron("@daily");
               j->mutable_parameterized()->set_payload("optional");
             },
             "not both"},
        Case{"bad payload rule",
             [](v1::Job* j) {
               j->set_type(v1::Job::BATCH);
               j->mutable_parameterized()->set_payload("sometimes");
             },
             "parameterized.payload: \"sometimes\""},
        Case{"bad meta key", [](v1::Job* j) { (*j->mutable_meta())["a-b"] = "x"; }, "meta[\"a-b\"]"},
        Case{"mount of an unknown volume",
             [](v1::Job* j) {
               auto* m = j->mutable_groups(0)->mutable_tasks(0)->add_volume_mounts();
               m->set_volume("data");
               m->set_destination("/data");
             },
             "groups[0].tasks[0].volume_mounts[0].volume: \"data\" is not one of the group's volumes"},
        Case{"relative mount destination",
             [](v1::Job* j) {
               auto& v = (*j->mutable_groups(0)->mutable_volumes())["data"];
               v.set_type("host");
               v.set_source("data");
               auto* m = j->mutable_groups(0)->mutable_tasks(0)->add_volume_mounts();
               m->set_volume("data");
               m->set_destination("data/../x");
             },
             "volume_mounts[0].destination: must be an absolute path"},
        Case{"volume of an unknown type",
             [](v1::Job* j) {
               auto& v = (*j->mutable_groups(0)->mutable_volumes())["data"];
               v.set_type("csi");
               v.set_source("data");
             },
             "groups[0].volumes[\"data\"].type: \"csi\" is not a volume type"},
        Case{"unknown access mode",
             [](v1::Job* j) {
               auto& v = (*j->mutable_groups(0)->mutable_volumes())["data"];
               v.set_type("host");
               v.set_source("data");
               v.set_access_mode("multi-node-multi-writer");
             },
             "access_mode"},
        Case{"docker settings on an exec task",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->mutable_docker()->set_network_mode("host"); },
             "groups[0].tasks[0].docker: only for the docker driver"},
        Case{"unknown network mode",
             [](v1::Job* j) {
               auto* t = j->mutable_groups(0)->mutable_tasks(0);
               t->set_driver("docker");
               t->set_image("busybox");
               t->mutable_docker()->set_network_mode("overlay");
             },
             "docker.network_mode: \"overlay\" is not bridge, host or none"},
        Case{"bad extra host",
             [](v1::Job* j) {
               auto* t = j->mutable_groups(0)->mutable_tasks(0);
               t->set_driver("docker");
               t->set_image("busybox");
               t->mutable_docker()->add_extra_hosts("nocolon");
             },
             "docker.extra_hosts: \"nocolon\" is not NAME:IP"},
        Case{"ulimit soft above hard",
             [](v1::Job* j) {
               auto* t = j->mutable_groups(0)->mutable_tasks(0);
               t->set_driver("docker");
               t->set_image("busybox");
               auto* u = t->mutable_docker()->add_ulimits();
               u->set_name("nofile");
               u->set_soft(10);
               u->set_hard(5);
             },
             "docker.ulimits.nofile: soft must be at most hard"},
        Case{"orch label",
             [](v1::Job* j) {
               auto* t = j->mutable_groups(0)->mutable_tasks(0);
               t->set_driver("docker");
               t->set_image("busybox");
               (*t->mutable_docker()->mutable_labels())["orch.job"] = "x";
             },
             "docker.labels: \"orch.job\""},
        Case{"udp service port",
             [](v1::Job* j) {
               auto* g = j->mutable_groups(0);
               auto* p = g->mutable_network()->add_ports();
               p->set_name("dns");
               p->set_protocol("udp");
               g->mutable_tasks(0)->mutable_service()->set_name("dns");
               g->mutable_tasks(0)->mutable_service()->set_port("dns");
             },
             "is a UDP port; the balancers serve TCP"},
        Case{"unknown protocol",
             [](v1::Job* j) {
               auto* p = j->mutable_groups(0)->mutable_network()->add_ports();
               p->set_name("x");
               p->set_protocol("sctp");
             },
             "network.ports[0].protocol: \"sctp\" is not tcp or udp"},
        Case{"ephemeral disk size negative",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_ephemeral_disk()->set_size(-1); },
             "ephemeral_disk.size: must be 0 to 2^30 MiB"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string n = info.param.name;
      for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return n;
    });

TEST(ValidationTaskIdentityTest, UsersUidsAndCapabilitiesThatExistPass) {
  v1::Job job = testing::SampleJob("web", 1);
  auto* t = job.mutable_groups(0)->mutable_tasks(0);
  for (const char* u : {"nobody", "www-data", "_apt", "1000", "0"}) {
    t->set_user(u);
    EXPECT_TRUE(ValidateJob(&job).ok()) << u << ": " << ValidateJob(&job).ToString();
  }
  t->add_cap_add("NET_BIND_SERVICE");
  t->add_cap_add("cap_chown");
  t->set_pids_limit(100);
  EXPECT_TRUE(ValidateJob(&job).ok()) << ValidateJob(&job).ToString();
}

TEST(ValidationDefaultsTest, ACheckWithoutAPortUsesTheServicePort) {
  v1::Job job = testing::SampleJob("web", 1);
  auto* g = job.mutable_groups(0);
  g->mutable_network()->add_ports()->set_name("http");
  auto* t = g->mutable_tasks(0);
  t->mutable_service()->set_name("web");
  t->mutable_service()->set_port("http");
  t->mutable_check()->set_type(v1::HealthCheck::HTTP);
  t->mutable_check()->set_path("/");
  Status st = ValidateJob(&job);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(job.groups(0).tasks(0).check().port(), "http");
  // Without a service there is no port to take: a clear error.
  v1::Job bare = testing::SampleJob("web", 1);
  bare.mutable_groups(0)->mutable_tasks(0)->mutable_check()->set_type(v1::HealthCheck::TCP);
  st = ValidateJob(&bare);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("check.port: required"), std::string::npos) << st.message();
}

TEST(ValidationDefaultsTest, FillsTypeAndPriorityAndClearsServerFields) {
  v1::Job job = testing::SampleJob("web", 1);
  job.clear_type();
  job.clear_priority();
  job.set_version(7);
  job.set_modify_index(99);
  ASSERT_TRUE(ValidateJob(&job).ok());
  EXPECT_EQ(job.type(), v1::Job::SERVICE);
  EXPECT_EQ(job.priority(), 50);
  EXPECT_EQ(job.version(), 0u);
  EXPECT_EQ(job.modify_index(), 0u);
}

}  // namespace
}  // namespace orch::master

namespace orch::master {
namespace {

TEST(NodeValidationTest, BoundsWhatAnAgentRegisters) {
  v1::Node n = testing::SampleNode("n1");
  EXPECT_TRUE(ValidateNodeFields(n).ok());
  v1::Node big_label = n;
  (*big_label.mutable_attributes()->mutable_labels())["zone"] = std::string(50000, 'a');
  Status st = ValidateNodeFields(big_label);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("node.attributes.labels[\"zone\"]: is 50000 bytes"), std::string::npos) << st.message();
  v1::Node many = n;
  for (int i = 0; i < 65; ++i) (*many.mutable_attributes()->mutable_labels())["k" + std::to_string(i)] = "v";
  EXPECT_FALSE(ValidateNodeFields(many).ok());
  v1::Node huge = n;
  huge.mutable_capacity()->set_cpu(int64_t{1} << 62);
  EXPECT_FALSE(ValidateNodeFields(huge).ok());
  v1::Node disks = n;
  disks.mutable_capacity()->set_disk(-1);
  EXPECT_FALSE(ValidateNodeFields(disks).ok());
  disks.mutable_capacity()->set_disk(int64_t{1} << 62);
  EXPECT_FALSE(ValidateNodeFields(disks).ok());
  disks.mutable_capacity()->set_disk(500000);
  EXPECT_TRUE(ValidateNodeFields(disks).ok());
  v1::Node unnamed = n;
  unnamed.clear_name();
  EXPECT_FALSE(ValidateNodeFields(unnamed).ok());
}

}  // namespace
}  // namespace orch::master

namespace orch::master {
namespace {

// Every job file in examples/ is one the masters accept as it is.
TEST(ExamplesTest, EveryExampleJobFileValidates) {
  int seen = 0;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(std::string(ORCH_SOURCE_DIR) + "/examples")) {
    if (e.path().extension() != ".yaml") continue;
    std::ifstream in(e.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    v1::Job job;
    Status st = ParseDocument(text, &job);
    if (st.ok()) st = ValidateJob(&job);
    EXPECT_TRUE(st.ok()) << e.path() << ": " << st.ToString();
    ++seen;
  }
  EXPECT_GE(seen, 3);
}

}  // namespace
}  // namespace orch::master
