#include "agent/drivers/containerd/containerd_images.h"

#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>

#include "agent/drivers/pull_progress.h"
#include "common/ids.h"

namespace orch::agent {

namespace {

using nlohmann::json;

constexpr int64_t kMaxSmallBlob = 4 << 20;    // manifests and configs read back
constexpr std::size_t kWriteChunk = 1 << 20;  // per Content.Write message
constexpr char kGcContent[] = "containerd.io/gc.ref.content.";
constexpr char kGcSnapshot[] = "containerd.io/gc.ref.snapshot.";

std::vector<std::string> Strings(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

Result<bool> HaveContent(ContainerdClient& c, const std::string& digest) {
  ctrd::content::InfoRequest req;
  req.set_digest(digest);
  ctrd::content::InfoResponse resp;
  auto ctx = c.Context();
  Status st = c.FromGrpc(c.content().Info(ctx.get(), req, &resp), "content " + digest);
  if (st.code() == StatusCode::kNotFound) return false;
  if (!st.ok()) return st;
  return true;
}

Result<std::string> ReadContent(ContainerdClient& c, const std::string& digest) {
  ctrd::content::ReadContentRequest req;
  req.set_digest(digest);
  auto ctx = c.Context();
  auto reader = c.content().Read(ctx.get(), req);
  std::string out;
  ctrd::content::ReadContentResponse resp;
  while (reader->Read(&resp)) {
    if (static_cast<int64_t>(out.size() + resp.data().size()) > kMaxSmallBlob) {
      ctx->TryCancel();
      reader->Finish();
      return Status::ResourceExhausted("content " + digest + " is larger than " +
                                       std::to_string(kMaxSmallBlob) + " bytes");
    }
    out += resp.data();
  }
  ORCH_RETURN_IF_ERROR(c.FromGrpc(reader->Finish(), "read content " + digest));
  if (oci::Sha256Digest(out) != digest) {
    return Status::Internal("content " + digest + " in containerd does not match its digest");
  }
  return out;
}

// Writes one blob into the content store: `produce` calls the writer with
// each chunk. Content already there (AlreadyExists) is fine.
Status WriteContent(
    ContainerdClient& c, const std::string& lease, const oci::Descriptor& d,
    const std::map<std::string, std::string>& labels,
    const std::function<Status(const std::function<Status(std::string_view)>&)>& produce) {
  // A pull of a large layer takes as long as the registry needs: no deadline
  // on the stream; the registry client's own timeout bounds it.
  auto ctx = c.Context(std::chrono::milliseconds(0), lease);
  auto stream = c.content().Write(ctx.get());
  // A ref of this write's own: containerd locks a ref while it is written,
  // and two agents (or two tasks) pulling the same blob at once must not
  // fail on each other's lock; the second commit finds the blob there.
  const std::string ref = "orch-" + d.digest + "-" + NewUuid().substr(0, 8);
  int64_t offset = 0;
  bool exists = false;
  ctrd::content::WriteContentResponse resp;
  auto send = [&](ctrd::content::WriteContentRequest& req) -> Status {
    if (!stream->Write(req) || !stream->Read(&resp)) {
      grpc::Status s = stream->Finish();
      if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
        exists = true;
        return Status::AlreadyExists(d.digest);
      }
      return c.FromGrpc(s, "write content " + d.digest);
    }
    return Status::Ok();
  };
  auto write = [&](std::string_view chunk) -> Status {
    while (!chunk.empty()) {
      std::string_view part = chunk.substr(0, kWriteChunk);
      ctrd::content::WriteContentRequest req;
      req.set_action(ctrd::content::WRITE);
      req.set_ref(ref);
      req.set_total(d.size);
      req.set_expected(d.digest);
      req.set_offset(offset);
      req.set_data(part.data(), part.size());
      ORCH_RETURN_IF_ERROR(send(req));
      offset += static_cast<int64_t>(part.size());
      chunk.remove_prefix(part.size());
    }
    return Status::Ok();
  };
  // The first message opens the writer.
  ctrd::content::WriteContentRequest open;
  open.set_action(ctrd::content::STAT);
  open.set_ref(ref);
  open.set_total(d.size);
  open.set_expected(d.digest);
  Status st = send(open);
  if (st.ok()) st = produce(write);
  if (st.ok()) {
    ctrd::content::WriteContentRequest commit;
    commit.set_action(ctrd::content::COMMIT);
    commit.set_ref(ref);
    commit.set_total(d.size);
    commit.set_expected(d.digest);
    commit.set_offset(offset);
    for (const auto& [k, v] : labels) (*commit.mutable_labels())[k] = v;
    st = send(commit);
  }
  if (exists) return Status::Ok();
  if (!st.ok()) {
    ctx->TryCancel();
    return st;
  }
  stream->WritesDone();
  // containerd sends the last answer once more as it ends the stream: read
  // everything before Finish (which waits for unread messages otherwise).
  while (stream->Read(&resp)) {
  }
  grpc::Status s = stream->Finish();
  if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) return Status::Ok();
  return c.FromGrpc(s, "commit content " + d.digest);
}

// Sets labels on content already in the store (the garbage collector's
// references of a manifest written by an earlier pull).
Status LabelContent(ContainerdClient& c, const std::string& digest,
                    const std::map<std::string, std::string>& labels) {
  ctrd::content::UpdateRequest req;
  req.mutable_info()->set_digest(digest);
  for (const auto& [k, v] : labels) {
    (*req.mutable_info()->mutable_labels())[k] = v;
    req.mutable_update_mask()->add_paths("labels." + k);
  }
  ctrd::content::UpdateResponse resp;
  auto ctx = c.Context();
  return c.FromGrpc(c.content().Update(ctx.get(), req, &resp), "label content " + digest);
}

struct ParsedManifest {
  oci::Descriptor config;
  std::vector<oci::Descriptor> layers;
};

Result<ParsedManifest> ParseManifest(const std::string& bytes) {
  json j = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("config") || !j["config"].is_object()) {
    return Status::InvalidArgument("not an image manifest");
  }
  auto desc = [](const json& d) {
    oci::Descriptor out;
    out.media_type = d.value("mediaType", "");
    out.digest = d.value("digest", "");
    out.size = d.value("size", int64_t{0});
    return out;
  };
  ParsedManifest m;
  m.config = desc(j["config"]);
  if (j.contains("layers") && j["layers"].is_array()) {
    for (const auto& l : j["layers"]) m.layers.push_back(desc(l));
  }
  return m;
}

Result<std::vector<std::string>> DiffIds(const std::string& config_json) {
  json j = json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("the image config is not a JSON object");
  const json* rootfs = j.contains("rootfs") ? &j["rootfs"] : nullptr;
  if (rootfs == nullptr || !rootfs->is_object() || !rootfs->contains("diff_ids")) {
    return Status::InvalidArgument("the image config names no rootfs.diff_ids");
  }
  return Strings((*rootfs)["diff_ids"]);
}

Result<bool> HaveSnapshot(ContainerdClient& c, const std::string& snapshotter,
                          const std::string& key) {
  ctrd::snapshots::StatSnapshotRequest req;
  req.set_snapshotter(snapshotter);
  req.set_key(key);
  ctrd::snapshots::StatSnapshotResponse resp;
  auto ctx = c.Context();
  Status st = c.FromGrpc(c.snapshots().Stat(ctx.get(), req, &resp), "snapshot " + key);
  if (st.code() == StatusCode::kNotFound) return false;
  if (!st.ok()) return st;
  return true;
}

void RemoveSnapshot(ContainerdClient& c, const std::string& snapshotter, const std::string& key) {
  ctrd::snapshots::RemoveSnapshotRequest req;
  req.set_snapshotter(snapshotter);
  req.set_key(key);
  google::protobuf::Empty resp;
  auto ctx = c.Context();
  (void)c.snapshots().Remove(ctx.get(), req, &resp);
}

// Unpacks the layers into committed snapshots; returns the top chain id.
Result<std::string> Unpack(ContainerdClient& c, const std::string& lease,
                           const std::string& snapshotter, const ParsedManifest& m,
                           const std::vector<std::string>& diff_ids) {
  if (diff_ids.size() != m.layers.size()) {
    return Status::InvalidArgument("the image has " + std::to_string(m.layers.size()) +
                                   " layers but its config " + std::to_string(diff_ids.size()) +
                                   " diff ids");
  }
  const std::vector<std::string> chain = ChainIds(diff_ids);
  for (std::size_t i = 0; i < chain.size(); ++i) {
    ORCH_ASSIGN_OR_RETURN(bool have, HaveSnapshot(c, snapshotter, chain[i]));
    if (have) continue;
    const std::string key = "orch-extract-" + NewUuid().substr(0, 8) + " " + chain[i];
    ctrd::snapshots::PrepareSnapshotRequest prep;
    prep.set_snapshotter(snapshotter);
    prep.set_key(key);
    if (i > 0) prep.set_parent(chain[i - 1]);
    ctrd::snapshots::PrepareSnapshotResponse mounts;
    {
      auto ctx = c.Context(lease);
      ORCH_RETURN_IF_ERROR(c.FromGrpc(c.snapshots().Prepare(ctx.get(), prep, &mounts),
                                      "prepare snapshot " + chain[i]));
    }
    ctrd::diff::ApplyRequest apply;
    apply.mutable_diff()->set_media_type(m.layers[i].media_type);
    apply.mutable_diff()->set_digest(m.layers[i].digest);
    apply.mutable_diff()->set_size(m.layers[i].size);
    *apply.mutable_mounts() = mounts.mounts();
    ctrd::diff::ApplyResponse applied;
    Status st;
    {
      auto ctx = c.Context(std::chrono::minutes(10), lease);
      st = c.FromGrpc(c.diff().Apply(ctx.get(), apply, &applied),
                      "unpack layer " + m.layers[i].digest);
    }
    if (st.ok() && applied.applied().digest() != diff_ids[i]) {
      st = Status::InvalidArgument("layer " + m.layers[i].digest + " unpacks to " +
                                   applied.applied().digest() + ", the image config says " +
                                   diff_ids[i]);
    }
    if (st.ok()) {
      ctrd::snapshots::CommitSnapshotRequest commit;
      commit.set_snapshotter(snapshotter);
      commit.set_name(chain[i]);
      commit.set_key(key);
      google::protobuf::Empty empty;
      auto ctx = c.Context(lease);
      st = c.FromGrpc(c.snapshots().Commit(ctx.get(), commit, &empty),
                      "commit snapshot " + chain[i]);
      if (st.code() == StatusCode::kAlreadyExists) st = Status::Ok();  // a concurrent unpack won
    }
    if (!st.ok()) {
      RemoveSnapshot(c, snapshotter, key);
      return st;
    }
  }
  return chain.empty() ? std::string() : chain.back();
}

Status PutImageRecord(ContainerdClient& c, const std::string& name, const oci::Descriptor& target) {
  ctrd::images::Image img;
  img.set_name(name);
  img.mutable_target()->set_media_type(target.media_type);
  img.mutable_target()->set_digest(target.digest);
  img.mutable_target()->set_size(target.size);
  ctrd::images::CreateImageRequest req;
  *req.mutable_image() = img;
  ctrd::images::CreateImageResponse resp;
  Status st;
  {
    auto ctx = c.Context();
    st = c.FromGrpc(c.images().Create(ctx.get(), req, &resp), "create image " + name);
  }
  if (st.code() != StatusCode::kAlreadyExists) return st;
  ctrd::images::UpdateImageRequest up;
  *up.mutable_image() = img;
  up.mutable_update_mask()->add_paths("target");
  ctrd::images::UpdateImageResponse uresp;
  auto ctx = c.Context();
  return c.FromGrpc(c.images().Update(ctx.get(), up, &uresp), "update image " + name);
}

// Config, layers and manifest from the registry into the content store.
Status Fetch(ContainerdClient& c, const std::string& lease, oci::RegistryClient& reg,
             const oci::Manifest& m, const std::string& config_json,
             const std::string& snapshot_label_value, const std::string& snapshotter,
             PullProgress& progress) {
  for (const auto& l : m.layers) progress.Layer(l.digest, 0, l.size);
  for (const auto& l : m.layers) {
    ORCH_ASSIGN_OR_RETURN(bool have, HaveContent(c, l.digest));
    if (!have) {
      int64_t got = 0;
      ORCH_RETURN_IF_ERROR(WriteContent(c, lease, l, {}, [&](const auto& write) {
        return reg.FetchBlob(l, [&](std::string_view chunk) {
          got += static_cast<int64_t>(chunk.size());
          progress.Layer(l.digest, got, l.size);
          return write(chunk);
        });
      }));
    }
    progress.LayerDone(l.digest);
  }
  std::map<std::string, std::string> config_labels;
  if (!snapshot_label_value.empty())
    config_labels[kGcSnapshot + snapshotter] = snapshot_label_value;
  ORCH_RETURN_IF_ERROR(WriteContent(c, lease, m.config, config_labels,
                                    [&](const auto& write) { return write(config_json); }));
  std::map<std::string, std::string> refs;
  refs[std::string(kGcContent) + "config"] = m.config.digest;
  for (std::size_t i = 0; i < m.layers.size(); ++i)
    refs[std::string(kGcContent) + "l." + std::to_string(i)] = m.layers[i].digest;
  ORCH_RETURN_IF_ERROR(WriteContent(c, lease, m.descriptor, refs,
                                    [&](const auto& write) { return write(m.bytes); }));
  // Written by an earlier pull without them: the references matter, or the
  // collector takes the layers.
  ORCH_RETURN_IF_ERROR(LabelContent(c, m.descriptor.digest, refs));
  if (!config_labels.empty()) ORCH_RETURN_IF_ERROR(LabelContent(c, m.config.digest, config_labels));
  return Status::Ok();
}

}  // namespace

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& d : diff_ids) {
    out.push_back(out.empty() ? d : oci::Sha256Digest(out.back() + " " + d));
  }
  return out;
}

Result<ImageRunConfig> ParseImageRunConfig(const std::string& config_json) {
  json j = json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("the image config is not a JSON object");
  ImageRunConfig out;
  if (!j.contains("config") || !j["config"].is_object()) return out;  // nothing said
  const json& cfg = j["config"];
  if (cfg.contains("Entrypoint")) out.entrypoint = Strings(cfg["Entrypoint"]);
  if (cfg.contains("Cmd")) out.cmd = Strings(cfg["Cmd"]);
  if (cfg.contains("Env")) out.env = Strings(cfg["Env"]);
  if (cfg.contains("WorkingDir") && cfg["WorkingDir"].is_string())
    out.working_dir = cfg["WorkingDir"].get<std::string>();
  if (cfg.contains("User") && cfg["User"].is_string()) out.user = cfg["User"].get<std::string>();
  return out;
}

Result<LocalImage> EnsureImage(ContainerdClient& client, const std::string& image,
                               const ImagePullOptions& options) {
  ORCH_ASSIGN_OR_RETURN(oci::ImageRef ref, oci::ParseImageRef(image));
  LocalImage out;
  out.name = ref.ToString();

  // Already there: manifest and config from the content store.
  ctrd::images::GetImageRequest get;
  get.set_name(out.name);
  ctrd::images::GetImageResponse got;
  Status st;
  {
    auto ctx = client.Context();
    st = client.FromGrpc(client.images().Get(ctx.get(), get, &got), "image " + out.name);
  }
  if (st.ok()) {
    out.manifest = got.image().target().digest();
    auto manifest_bytes = ReadContent(client, out.manifest);
    Result<ParsedManifest> m = manifest_bytes.ok()
                                   ? ParseManifest(*manifest_bytes)
                                   : Result<ParsedManifest>(manifest_bytes.status());
    Result<std::string> config =
        m.ok() ? ReadContent(client, m->config.digest) : Result<std::string>(m.status());
    if (config.ok()) {
      ORCH_ASSIGN_OR_RETURN(out.config, ParseImageRunConfig(*config));
      ORCH_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids, DiffIds(*config));
      std::vector<std::string> chain = ChainIds(diff_ids);
      out.chain_id = chain.empty() ? "" : chain.back();
      bool unpacked = true;
      if (!out.chain_id.empty()) {
        ORCH_ASSIGN_OR_RETURN(unpacked, HaveSnapshot(client, options.snapshotter, out.chain_id));
      }
      if (unpacked) return out;
      // Snapshots gone (a snapshotter change, a cleanup): unpack again when
      // the layers are still there, else pull.
      bool layers = true;
      for (const auto& l : m->layers) {
        ORCH_ASSIGN_OR_RETURN(bool have, HaveContent(client, l.digest));
        layers = layers && have;
      }
      if (layers) {
        ContainerdLease lease(client);
        ORCH_RETURN_IF_ERROR(lease.Create("pull"));
        ORCH_ASSIGN_OR_RETURN(out.chain_id,
                              Unpack(client, lease.id(), options.snapshotter, *m, diff_ids));
        return out;
      }
    } else {
      spdlog::warn("containerd: image {} is incomplete ({}); pulling it again", out.name,
                   config.status().ToString());
    }
  } else if (st.code() != StatusCode::kNotFound) {
    return st;
  }

  // Pull.
  PullProgress progress(out.name, options.progress);
  progress.Begin(options.credentials.username.empty() ? "" : "as " + options.credentials.username);
  oci::RegistryClient reg(ref, options.credentials, options.registry);
  ORCH_ASSIGN_OR_RETURN(oci::Manifest manifest, reg.Resolve());
  ContainerdLease lease(client);
  ORCH_RETURN_IF_ERROR(lease.Create("pull"));
  // The config's label names the top snapshot, known from its diff ids:
  // fetch the config first.
  ORCH_ASSIGN_OR_RETURN(std::string config_json, reg.FetchBlobBytes(manifest.config));
  ORCH_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids, DiffIds(config_json));
  std::vector<std::string> chain = ChainIds(diff_ids);
  ORCH_RETURN_IF_ERROR(Fetch(client, lease.id(), reg, manifest, config_json,
                             chain.empty() ? "" : chain.back(), options.snapshotter, progress));
  progress.Phase("unpacking");
  ParsedManifest pm{manifest.config, manifest.layers};
  ORCH_ASSIGN_OR_RETURN(out.chain_id,
                        Unpack(client, lease.id(), options.snapshotter, pm, diff_ids));
  ORCH_RETURN_IF_ERROR(PutImageRecord(client, out.name, manifest.descriptor));
  ORCH_ASSIGN_OR_RETURN(out.config, ParseImageRunConfig(config_json));
  out.manifest = manifest.descriptor.digest;
  out.pulled = true;
  return out;
}

}  // namespace orch::agent
