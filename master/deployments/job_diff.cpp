#include "master/deployments/job_diff.h"

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include <map>
#include <set>

#include "master/deployments/update_strategy.h"
#include "master/model/secrets.h"

namespace orch::master {
namespace {

namespace pb = google::protobuf;

constexpr std::size_t kMaxShown = 200;  // characters of a value shown
constexpr int kMaxFields = 500;         // differences listed

std::string Clip(std::string s) {
  if (s.size() > kMaxShown) s = s.substr(0, kMaxShown) + "...";
  return s;
}

std::string DurationText(const pb::Message& m) {
  const auto* d = pb::DynamicCastToGenerated<pb::Duration>(&m);
  if (d == nullptr) return "";
  int64_t ms = d->seconds() * 1000 + d->nanos() / 1'000'000;
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string Scalar(const pb::Message& m, const pb::FieldDescriptor* f, int index) {
  std::string out;
  pb::TextFormat::PrintFieldValueToString(m, f, index, &out);
  return Clip(out);
}

std::string Whole(const pb::Message& m) {
  if (m.GetDescriptor()->full_name() == "google.protobuf.Duration") return DurationText(m);
  return Clip(m.ShortDebugString());
}

class Differ {
 public:
  explicit Differ(v1::JobDiff* out) : out_(out) {}

  void Add(v1::FieldDiff::Type type, const std::string& path, std::string before, std::string after) {
    if (out_->fields_size() >= kMaxFields) return;
    auto* f = out_->add_fields();
    f->set_type(type);
    f->set_path(path);
    f->set_before(std::move(before));
    f->set_after(std::move(after));
  }

  // `a` and `b` are of one type.
  void Message(const pb::Message& a, const pb::Message& b, const std::string& path) {
    if (a.GetDescriptor()->full_name() == "google.protobuf.Duration") {
      std::string x = DurationText(a), y = DurationText(b);
      if (x != y) Add(v1::FieldDiff::EDITED, path, x, y);
      return;
    }
    const pb::Descriptor* d = a.GetDescriptor();
    const pb::Reflection* ra = a.GetReflection();
    const pb::Reflection* rb = b.GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      const std::string p = path.empty() ? f->name() : path + "." + f->name();
      if (Skipped(d, f, b)) continue;
      if (f->is_map()) {
        Map(a, b, f, p);
      } else if (f->is_repeated()) {
        Repeated(a, b, f, p);
      } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        const bool ha = ra->HasField(a, f), hb = rb->HasField(b, f);
        if (!ha && !hb) continue;
        if (ha && !hb) {
          Add(v1::FieldDiff::DELETED, p, Whole(ra->GetMessage(a, f)), "");
        } else if (!ha && hb) {
          Add(v1::FieldDiff::ADDED, p, "", Whole(rb->GetMessage(b, f)));
        } else {
          Message(ra->GetMessage(a, f), rb->GetMessage(b, f), p);
        }
      } else {
        const bool ha = f->has_presence() ? ra->HasField(a, f) : true;
        const bool hb = f->has_presence() ? rb->HasField(b, f) : true;
        std::string x = ha ? Scalar(a, f, -1) : "", y = hb ? Scalar(b, f, -1) : "";
        if (x == y) continue;
        Add(!ha || x == Default(a, f) ? v1::FieldDiff::ADDED
            : !hb || y == Default(b, f) ? v1::FieldDiff::DELETED
                                        : v1::FieldDiff::EDITED,
            p, x, y);
      }
    }
  }

 private:
  static std::string Default(const pb::Message& m, const pb::FieldDescriptor* f) {
    std::unique_ptr<pb::Message> empty(m.New());
    return Scalar(*empty, f, -1);
  }

  // Fields the masters set, not the user.
  static bool Skipped(const pb::Descriptor* d, const pb::FieldDescriptor* f, const pb::Message& after) {
    if (d == v1::Job::descriptor()) {
      static const std::set<std::string> owned = {"version",      "status",         "stop", "create_index",
                                                  "modify_index", "submit_time_ms", "stable"};
      return owned.count(f->name()) > 0;
    }
    if (d == v1::Service::descriptor() && f->name() == "listen") {
      return static_cast<const v1::Service&>(after).listen() == 0;  // assigned by the masters
    }
    return false;
  }

  static bool Named(const pb::FieldDescriptor* f) {
    return f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && f->message_type()->FindFieldByName("name") &&
           f->message_type()->FindFieldByName("name")->type() == pb::FieldDescriptor::TYPE_STRING;
  }

  void Repeated(const pb::Message& a, const pb::Message& b, const pb::FieldDescriptor* f, const std::string& p) {
    const pb::Reflection* ra = a.GetReflection();
    const pb::Reflection* rb = b.GetReflection();
    const int na = ra->FieldSize(a, f), nb = rb->FieldSize(b, f);
    if (Named(f)) {
      const pb::FieldDescriptor* name = f->message_type()->FindFieldByName("name");
      std::map<std::string, const pb::Message*> xa, xb;
      std::vector<std::string> order;
      for (int i = 0; i < na; ++i) {
        const auto& m = ra->GetRepeatedMessage(a, f, i);
        std::string n = m.GetReflection()->GetString(m, name);
        if (xa.emplace(n, &m).second) order.push_back(n);
      }
      for (int i = 0; i < nb; ++i) {
        const auto& m = rb->GetRepeatedMessage(b, f, i);
        std::string n = m.GetReflection()->GetString(m, name);
        if (xb.emplace(n, &m).second && !xa.count(n)) order.push_back(n);
      }
      for (const auto& n : order) {
        const std::string ep = p + "[" + n + "]";
        auto ia = xa.find(n), ib = xb.find(n);
        if (ib == xb.end()) {
          Add(v1::FieldDiff::DELETED, ep, Whole(*ia->second), "");
        } else if (ia == xa.end()) {
          Add(v1::FieldDiff::ADDED, ep, "", Whole(*ib->second));
        } else {
          Message(*ia->second, *ib->second, ep);
        }
      }
      return;
    }
    for (int i = 0; i < std::max(na, nb); ++i) {
      const std::string ep = p + "[" + std::to_string(i) + "]";
      const bool message = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE;
      if (i >= nb) {
        Add(v1::FieldDiff::DELETED, ep, message ? Whole(ra->GetRepeatedMessage(a, f, i)) : Scalar(a, f, i), "");
      } else if (i >= na) {
        Add(v1::FieldDiff::ADDED, ep, "", message ? Whole(rb->GetRepeatedMessage(b, f, i)) : Scalar(b, f, i));
      } else if (message) {
        Message(ra->GetRepeatedMessage(a, f, i), rb->GetRepeatedMessage(b, f, i), ep);
      } else if (Scalar(a, f, i) != Scalar(b, f, i)) {
        Add(v1::FieldDiff::EDITED, ep, Scalar(a, f, i), Scalar(b, f, i));
      }
    }
  }

  void Map(const pb::Message& a, const pb::Message& b, const pb::FieldDescriptor* f, const std::string& p) {
    const pb::FieldDescriptor* key = f->message_type()->map_key();
    const pb::FieldDescriptor* value = f->message_type()->map_value();
    auto collect = [&](const pb::Message& m) {
      std::map<std::string, std::string> out;
      const pb::Reflection* r = m.GetReflection();
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        const auto& e = r->GetRepeatedMessage(m, f, i);
        std::string k;
        pb::TextFormat::PrintFieldValueToString(e, key, -1, &k);
        if (k.size() >= 2 && k.front() == '"') k = k.substr(1, k.size() - 2);
        out[k] = Scalar(e, value, -1);
      }
      return out;
    };
    auto xa = collect(a), xb = collect(b);
    for (const auto& [k, v] : xa) {
      auto it = xb.find(k);
      if (it == xb.end()) {
        Add(v1::FieldDiff::DELETED, p + "[" + k + "]", v, "");
      } else if (it->second != v) {
        Add(v1::FieldDiff::EDITED, p + "[" + k + "]", v, it->second);
      }
    }
    for (const auto& [k, v] : xb) {
      if (!xa.count(k)) Add(v1::FieldDiff::ADDED, p + "[" + k + "]", "", v);
    }
  }

  v1::JobDiff* out_;
};

std::string GroupUpdate(const v1::TaskGroup& before, const v1::TaskGroup& after) {
  if (DestructiveChange(before, after)) return "destructive update";
  v1::TaskGroup b = before, a = after;
  b.clear_count();
  a.clear_count();
  if (!pb::util::MessageDifferencer::Equals(a, b)) return "in-place update";
  return before.count() == after.count() ? "none" : "scale";
}

}  // namespace

v1::JobDiff DiffJobs(const v1::Job* before, const v1::Job& after) {
  v1::JobDiff out;
  Differ differ(&out);
  v1::Job empty;
  if (before == nullptr) {
    out.set_new_job(true);
  } else {
    out.set_version_before(before->version());
  }
  // The fields on copies whose secrets are tags: a changed secret shows as
  // edited, its value never does. What the groups undergo is judged on the
  // real values below.
  v1::Job shown_before = before ? *before : empty, shown_after = after;
  RedactSecrets(&shown_before, SecretTag);
  RedactSecrets(&shown_after, SecretTag);
  differ.Message(shown_before, shown_after, "");
  out.set_unchanged(before != nullptr && out.fields_size() == 0);
  std::map<std::string, const v1::TaskGroup*> old_groups;
  if (before != nullptr) {
    for (const auto& g : before->groups()) old_groups[g.name()] = &g;
  }
  for (const auto& g : after.groups()) {
    auto* gd = out.add_groups();
    gd->set_name(g.name());
    gd->set_count_after(g.count());
    auto it = old_groups.find(g.name());
    if (it == old_groups.end()) {
      gd->set_update("create");
      continue;
    }
    gd->set_count_before(it->second->count());
    gd->set_update(GroupUpdate(*it->second, g));
    old_groups.erase(it);
  }
  for (const auto& [name, g] : old_groups) {
    auto* gd = out.add_groups();
    gd->set_name(name);
    gd->set_update("destroy");
    gd->set_count_before(g->count());
  }
  return out;
}

}  // namespace orch::master
