// The containerd driver's pure parts: the OCI runtime spec it writes, users
// resolved against an image's /etc/passwd, the process's argv, chain ids
// (checked against an image whose chain ids containerd computed), the image
// config's run settings, and the FIFO copier (copy, rotation, drain on
// close, pick-up of what a FIFO held while nobody read).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "agent/drivers/containerd/containerd_images.h"
#include "agent/drivers/containerd/fifo_logs.h"
#include "agent/drivers/containerd/oci_spec.h"

namespace orch::agent {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TaskSpec Task() {
  TaskSpec s;
  s.alloc_id = "a1";
  s.task = "web";
  s.image = "127.0.0.1:5055/x:1";
  s.env = {{"PATH", "/host/bin"}, {"GREETING", "hi"}, {"HOME", "/task"}};
  s.memory_mib = 64;
  s.cpu_millicores = 1500;
  s.pids_limit = 100;
  s.mounts.push_back({"/srv/data", "/data", false});
  s.mounts.push_back({"/srv/conf", "/conf", true});
  return s;
}

TEST(OciSpecTest, LimitsEnvMountsAndNamespaces) {
  ImageRunConfig img;
  img.entrypoint = {"/bin/server"};
  img.cmd = {"--port", "80"};
  img.env = {"PATH=/image/bin", "HOME=/root", "LANG=C"};
  img.working_dir = "/srv";
  OciUser user{1000, 1001, {7}};
  OciSpecOptions o;
  o.cgroups_path = "/orch-containerd/a1/web";
  auto text = BuildOciSpec(Task(), img, user, o);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  json j = json::parse(*text);
  EXPECT_EQ(j["process"]["args"], json({"/bin/server", "--port", "80"}));
  EXPECT_EQ(j["process"]["cwd"], "/srv");
  EXPECT_EQ(j["process"]["user"]["uid"], 1000);
  EXPECT_EQ(j["process"]["user"]["gid"], 1001);
  EXPECT_EQ(j["process"]["user"]["additionalGids"], json({7}));
  // The image's PATH, the task's values over the image's, order kept.
  EXPECT_EQ(j["process"]["env"], json({"PATH=/image/bin", "HOME=/task", "LANG=C", "GREETING=hi"}));
  EXPECT_TRUE(j["process"]["noNewPrivileges"].get<bool>());
  const json& r = j["linux"]["resources"];
  EXPECT_EQ(r["memory"]["limit"], 64 * 1024 * 1024);
  EXPECT_EQ(r["memory"]["swap"], 64 * 1024 * 1024);
  EXPECT_EQ(r["cpu"]["quota"], 150000);
  EXPECT_EQ(r["cpu"]["period"], 100000);
  EXPECT_EQ(r["cpu"]["shares"], 1536);
  EXPECT_EQ(r["pids"]["limit"], 100);
  EXPECT_EQ(j["linux"]["cgroupsPath"], "/orch-containerd/a1/web");
  std::set<std::string> ns;
  for (const auto& n : j["linux"]["namespaces"]) ns.insert(n["type"]);
  EXPECT_EQ(ns, (std::set<std::string>{"pid", "ipc", "mount"})) << "the host's network and names";
  std::map<std::string, json> mounts;
  for (const auto& m : j["mounts"]) mounts[m["destination"]] = m;
  EXPECT_EQ(mounts["/data"]["source"], "/srv/data");
  EXPECT_EQ(mounts["/data"]["options"], json({"rbind", "rw"}));
  EXPECT_EQ(mounts["/conf"]["options"], json({"rbind", "ro"}));
  EXPECT_EQ(mounts["/proc"]["type"], "proc");
  EXPECT_EQ(mounts["/etc/resolv.conf"]["source"], "/etc/resolv.conf");
  EXPECT_EQ(j["root"]["path"], "rootfs");

  o.host_network = false;
  o.hostname = "web-1";
  j = json::parse(*BuildOciSpec(Task(), img, user, o));
  ns.clear();
  for (const auto& n : j["linux"]["namespaces"]) ns.insert(n["type"]);
  EXPECT_TRUE(ns.count("network") && ns.count("uts"));
  EXPECT_EQ(j["hostname"], "web-1");
}

TEST(OciSpecTest, NoLimitsMeansNoResourceEntries) {
  TaskSpec s = Task();
  s.memory_mib = 0;
  s.cpu_millicores = 0;
  s.pids_limit = 0;
  s.command = "/bin/true";
  json j = json::parse(*BuildOciSpec(s, {}, {}, {}));
  EXPECT_FALSE(j["linux"]["resources"].contains("memory"));
  EXPECT_FALSE(j["linux"]["resources"].contains("cpu"));
  EXPECT_EQ(j["process"]["cwd"], "/");
  // No PATH in the image: the usual default.
  EXPECT_EQ(j["process"]["env"][0],
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

TEST(OciSpecTest, ArgsFollowTheDockerRules) {
  ImageRunConfig img;
  img.entrypoint = {"/entry"};
  img.cmd = {"default"};
  TaskSpec s;
  s.task = "t";
  s.image = "i";
  EXPECT_EQ(*ProcessArgs(s, img), (std::vector<std::string>{"/entry", "default"}));
  s.args = {"a", "b"};
  EXPECT_EQ(*ProcessArgs(s, img), (std::vector<std::string>{"/entry", "a", "b"}));
  s.command = "/bin/sh";
  EXPECT_EQ(*ProcessArgs(s, img), (std::vector<std::string>{"/bin/sh", "a", "b"}));
  TaskSpec none;
  none.task = "t";
  none.image = "scratch-thing";
  auto r = ProcessArgs(none, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no entrypoint or cmd"), std::string::npos);
}

TEST(OciUserTest, NumbersNamesAndGroups) {
  const std::string passwd =
      "root:x:0:0:root:/root:/bin/sh\n# comment\nweb:x:1000:1000::/home/web:/bin/sh\n"
      "daemon:x:2:3::/:/sbin/nologin\n";
  const std::string group = "root:x:0:\nweb:x:1000:\nstaff:x:50:web,other\nadm:x:4:daemon\n";
  auto u = ResolveOciUser("", passwd, group);
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->gid, 0u);
  u = ResolveOciUser("web", passwd, group);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{50}));
  u = ResolveOciUser("2", passwd, group);  // a uid takes its passwd entry's group
  EXPECT_EQ(u->uid, 2u);
  EXPECT_EQ(u->gid, 3u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{4}));
  u = ResolveOciUser("4242", passwd, group);  // unknown uid: group 0, as Docker
  EXPECT_EQ(u->uid, 4242u);
  EXPECT_EQ(u->gid, 0u);
  u = ResolveOciUser("web:staff", passwd, group);
  EXPECT_EQ(u->gid, 50u);
  u = ResolveOciUser("1:2", "", "");
  EXPECT_EQ(u->uid, 1u);
  EXPECT_EQ(u->gid, 2u);
  EXPECT_EQ(ResolveOciUser("ghost", passwd, group).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ResolveOciUser("web:ghosts", passwd, group).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(ResolveOciUser("99999999999", passwd, group).ok()) << "past uint32";
}

TEST(ContainerdImagesTest, ChainIdsAsContainerdComputesThem) {
  // Two diff ids and the chain id containerd's identity.ChainID gives
  // (sha256 of "<chain 0> <diff 1>", computed apart with sha256sum).
  std::vector<std::string> diff = {
      "sha256:1111111111111111111111111111111111111111111111111111111111111111",
      "sha256:2222222222222222222222222222222222222222222222222222222222222222"};
  auto chain = ChainIds(diff);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], diff[0]);
  EXPECT_EQ(chain[1], "sha256:9932074217c35353d2e03a3f5a86549f7c67bfeb0ba53e23d69f4d4c8f7958f5");
  EXPECT_TRUE(ChainIds({}).empty());
}

TEST(ContainerdImagesTest, RunConfigOfAnImageConfig) {
  auto c = ParseImageRunConfig(
      R"({"architecture":"amd64","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],)"
      R"("Entrypoint":null,"WorkingDir":"/w","User":"web"},"rootfs":{"type":"layers","diff_ids":[]}})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->cmd, (std::vector<std::string>{"/bin/sh"}));
  EXPECT_TRUE(c->entrypoint.empty());
  EXPECT_EQ(c->env, (std::vector<std::string>{"PATH=/bin"}));
  EXPECT_EQ(c->working_dir, "/w");
  EXPECT_EQ(c->user, "web");
  EXPECT_FALSE(ParseImageRunConfig("[1,2").ok());
  EXPECT_TRUE(ParseImageRunConfig("{}").ok()) << "a config that says nothing";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitFor(const std::function<bool()>& pred) {
  for (int i = 0; i < 200 && !pred(); ++i) std::this_thread::sleep_for(10ms);
  return pred();
}

class FifoLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/orch-fifo-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FifoLogsTest, CopiesRotatesAndDrainsOnClose) {
  FifoLogOptions o;
  o.max_file_bytes = 10;
  o.max_files = 2;
  auto logs = FifoLogs::Start(o);
  ASSERT_TRUE(logs.ok());
  const std::string fifo = dir_ + "/t.stdout", file = dir_ + "/t.log";
  ASSERT_TRUE((*logs)->Add(fifo, file).ok());
  ASSERT_TRUE((*logs)->Add(fifo, file).ok()) << "idempotent";
  EXPECT_EQ((*logs)->size(), 1u);
  int w = open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(w, 0);
  ASSERT_EQ(write(w, "0123456789abcdefghij", 20), 20);
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(file + ".1"); }));
  ASSERT_EQ(write(w, "XYZ", 3), 3);
  close(w);  // the copier keeps the FIFO open: no end of file
  (*logs)->Close(fifo);
  EXPECT_EQ(Slurp(file + ".2"), "0123456789");
  EXPECT_EQ(Slurp(file + ".1"), "abcdefghij");
  EXPECT_EQ(Slurp(file), "XYZ");
  EXPECT_FALSE(std::filesystem::exists(fifo)) << "Close removes the FIFO";
  EXPECT_EQ((*logs)->size(), 0u);
}

TEST_F(FifoLogsTest, ANewCopierPicksUpWhatTheFifoHeldMeanwhile) {
  const std::string fifo = dir_ + "/t.stdout", file = dir_ + "/t.log";
  int w = -1;
  {
    auto logs = FifoLogs::Start();
    ASSERT_TRUE((*logs)->Add(fifo, file).ok());
    // The writer (containerd's shim) holds its end, and a read end, across
    // the copier's restart.
    w = open(fifo.c_str(), O_RDWR);
    ASSERT_GE(w, 0);
    ASSERT_EQ(write(w, "one\n", 4), 4);
    ASSERT_TRUE(WaitFor([&] { return Slurp(file) == "one\n"; }));
  }  // the copier goes; the FIFO stays
  ASSERT_EQ(write(w, "two\n", 4), 4);
  auto logs = FifoLogs::Start();
  ASSERT_TRUE((*logs)->Add(fifo, file).ok());
  EXPECT_TRUE(WaitFor([&] { return Slurp(file) == "one\ntwo\n"; })) << Slurp(file);
  close(w);
}

TEST_F(FifoLogsTest, APathThatIsNotAFifoIsRefused) {
  auto logs = FifoLogs::Start();
  const std::string plain = dir_ + "/plain";
  std::ofstream(plain) << "x";
  auto st = (*logs)->Add(plain, dir_ + "/out");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a FIFO"), std::string::npos);
}

}  // namespace
}  // namespace orch::agent
