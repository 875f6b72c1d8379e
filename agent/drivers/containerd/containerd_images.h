// Images in containerd for the containerd driver: EnsureImage makes an image
// usable by a container, pulling it when containerd does not have it.
//
// A pull, as containerd's own client does it but with orch's registry client
// (registry_client.h): under a lease (so that the garbage collector leaves
// half-made content alone), resolve the reference to the manifest for this
// platform, write the config and each layer into the content store
// (Content.Write, skipped for blobs already there), the manifest last with
// the garbage collector's reference labels to them; unpack the layers in
// order into committed snapshots named by their chain ids (Snapshots.Prepare
// on the previous one, Diff.Apply, Snapshots.Commit; the applied digest must
// be the config's diff id); label the config with its top snapshot; create
// (or update) the image record, whose target is the platform's manifest.
// An image containerd has already is read from the content store (manifest,
// config) and only unpacked again when its snapshots are gone.
// Thread safety: one pull per image at a time (the caller serialises).
#pragma once

#include <string>
#include <vector>

#include "agent/drivers/containerd/containerd_client.h"
#include "agent/drivers/containerd/registry_client.h"

namespace orch::agent {

// What an image's config says about how to run it.
struct ImageRunConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "K=V"
  std::string working_dir;
  std::string user;
};

struct LocalImage {
  std::string name;      // canonical reference, the image record's name
  std::string manifest;  // digest
  std::string chain_id;  // the top snapshot's name ("" for an image without layers)
  ImageRunConfig config;
  bool pulled = false;  // pulled now (not there before)
};

struct ImagePullOptions {
  std::string snapshotter = "overlayfs";
  oci::Credentials credentials;
  oci::RegistryOptions registry;
  // The pull's progress in words (PullProgress), about once a second.
  std::function<void(const std::string&)> progress;
};

Result<LocalImage> EnsureImage(ContainerdClient& client, const std::string& image,
                               const ImagePullOptions& options);

// The image config's run settings (its "config" object), bounded input.
Result<ImageRunConfig> ParseImageRunConfig(const std::string& config_json);
// Chain ids of layers with these diff ids (OCI image spec: chain(0) =
// diff(0), chain(n) = sha256(chain(n-1) + " " + diff(n))).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

}  // namespace orch::agent
