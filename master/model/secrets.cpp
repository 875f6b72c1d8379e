#include "master/model/secrets.h"

#include <openssl/hmac.h>
#include <string.h>

#include <map>
#include <random>
#include <set>

#include "common/json.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

namespace pb = google::protobuf;

namespace {

bool Reaches(const pb::Descriptor* d, std::set<const pb::Descriptor*>* seen) {
  if (d == v1::Task::descriptor()) return true;
  if (!seen->insert(d).second) return false;
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && Reaches(f->message_type(), seen)) {
      return true;
    }
  }
  return false;
}

// Whether a message of this type can hold a v1::Task, computed once per type.
bool CanHoldTask(const pb::Descriptor* d) {
  thread_local std::map<const pb::Descriptor*, bool> cache;  // no lock on the REST path
  auto it = cache.find(d);
  if (it != cache.end()) return it->second;
  std::set<const pb::Descriptor*> seen;
  bool r = Reaches(d, &seen);
  cache.emplace(d, r);
  return r;
}

void Walk(pb::Message* m, const std::function<std::string(const std::string&)>& mask) {
  const pb::Descriptor* d = m->GetDescriptor();
  if (d == v1::Task::descriptor()) {
    auto* task = static_cast<v1::Task*>(m);
    for (auto& [k, v] : *task->mutable_secrets()) v = mask(v);
    // A private registry's password.
    if (task->has_docker() && task->docker().has_auth() &&
        !task->docker().auth().password().empty()) {
      auto* auth = task->mutable_docker()->mutable_auth();
      auth->set_password(mask(auth->password()));
    }
    return;
  }
  if (!CanHoldTask(d)) return;
  const pb::Reflection* r = m->GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || !CanHoldTask(f->message_type()))
      continue;
    if (f->is_repeated()) {
      for (int j = 0; j < r->FieldSize(*m, f); ++j) Walk(r->MutableRepeatedMessage(m, f, j), mask);
    } else if (r->HasField(*m, f)) {
      Walk(r->MutableMessage(m, f), mask);
    }
  }
}

}  // namespace

void RedactSecrets(pb::Message* m, const std::function<std::string(const std::string&)>& mask) {
  Walk(m, mask);
}

std::string RedactedJson(const pb::Message& m) {
  std::string json = ToJson(m);
  // A task with secrets prints `"secrets":{`; the same bytes inside a string
  // value would be escaped (\"secrets\"). Most answers hold no secret: one
  // scan of the output, no copy.
  static constexpr char kKey[] = "\"secrets\":";
  static constexpr char kPassword[] = "\"password\":";
  if ((memmem(json.data(), json.size(), kKey, sizeof kKey - 1) == nullptr &&
       memmem(json.data(), json.size(), kPassword, sizeof kPassword - 1) == nullptr) ||
      !CanHoldTask(m.GetDescriptor())) {
    return json;
  }
  std::unique_ptr<pb::Message> copy(m.New());
  copy->CopyFrom(m);
  RedactSecrets(copy.get(), [](const std::string&) { return std::string(kRedacted); });
  return ToJson(*copy);
}

std::string SecretTag(const std::string& value) {
  // Random per process: tags compare values within one answer, and cannot
  // be matched against guesses by anyone without the key.
  static const std::string key = [] {
    std::random_device rd;  // /dev/urandom
    std::string k;
    for (int i = 0; i < 8; ++i) {
      uint32_t w = rd();
      k.append(reinterpret_cast<const char*>(&w), sizeof w);
    }
    return k;
  }();
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out = "(secret ";
  for (unsigned int i = 0; i < 4 && i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out + ")";
}

}  // namespace orch::master
