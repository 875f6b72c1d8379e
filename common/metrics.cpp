#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace orch::metrics {

namespace {

bool ValidName(const std::string& n, bool label) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return !(label && n.rfind("__", 0) == 0);
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  // The shortest text that reads back as the same double (0.1, not
  // 0.10000000000000001).
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

// HELP text escapes backslashes and newlines; label values quotes too.
std::string Escape(const std::string& v, bool quotes) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& v) { return Escape(v, false); }

// {a="x",b="y"} with `extra` (le="...") last; "" when there are none.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     const std::string& extra = "") {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (out.empty() ? "" : ",") + names[i] + "=\"" +
           EscapeLabelValue(i < values.size() ? values[i] : "") + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

}  // namespace

std::string EscapeLabelValue(const std::string& v) { return Escape(v, true); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    out[i] = total += counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::vector<double> SizeBuckets() {
  std::vector<double> out;
  for (double b = 1024; b <= double(1 << 30); b *= 4) out.push_back(b);
  return out;
}

template <typename T>
T& Family<T>::With(const std::vector<std::string>& values) {
  std::vector<std::string> key(values.begin(),
                               values.begin() + std::min(values.size(), label_names_.size()));
  key.resize(label_names_.size());
  std::lock_guard lock(mu_);
  auto& child = children_[key];
  if (!child) child = make_();
  return *child;
}

template <typename T>
void Family<T>::ForEach(
    const std::function<void(const std::vector<std::string>&, const T&)>& f) const {
  std::lock_guard lock(mu_);
  for (const auto& [values, child] : children_) f(values, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Entry& Registry::Add(const std::string& name, const std::string& help, Type type,
                               std::vector<std::string> label_names) {
  if (!ValidName(name, false)) throw std::invalid_argument("metric name " + name);
  for (const auto& l : label_names) {
    if (!ValidName(l, true) || l == "le")
      throw std::invalid_argument("label name " + l + " of " + name);
  }
  std::lock_guard lock(mu_);
  auto [it, added] = entries_.try_emplace(name);
  if (added) {
    it->second.help = help;
    it->second.type = type;
    it->second.label_names = std::move(label_names);
  } else if (it->second.type != type) {
    throw std::invalid_argument("metric " + name + " added twice with different types");
  }
  return it->second;
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  Entry& e = Add(name, help, Type::kCounter, std::move(label_names));
  std::lock_guard lock(mu_);
  if (!e.counters)
    e.counters = std::make_unique<Family<Counter>>(e.label_names,
                                                   [] { return std::make_unique<Counter>(); });
  return *e.counters;
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  Entry& e = Add(name, help, Type::kGauge, std::move(label_names));
  std::lock_guard lock(mu_);
  if (!e.gauges)
    e.gauges =
        std::make_unique<Family<Gauge>>(e.label_names, [] { return std::make_unique<Gauge>(); });
  return *e.gauges;
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  Entry& e = Add(name, help, Type::kHistogram, std::move(label_names));
  std::lock_guard lock(mu_);
  if (!e.histograms) {
    e.histograms = std::make_unique<Family<Histogram>>(e.label_names, [bounds = std::move(bounds)] {
      return std::make_unique<Histogram>(bounds);
    });
  }
  return *e.histograms;
}

void Registry::AddCallback(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names,
                           std::function<std::vector<Sample>()> read, bool counter) {
  Entry& e = Add(name, help, counter ? Type::kCounter : Type::kGauge, std::move(label_names));
  std::lock_guard lock(mu_);
  e.read = std::move(read);
}

std::string Registry::Render() const {
  // Callbacks run without the registry's lock (they take their owners').
  std::vector<std::pair<std::string, const Entry*>> entries;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : entries_) entries.emplace_back(name, &e);
  }
  std::string out;
  for (const auto& entry : entries) {
    // Not a structured binding: lambdas below capture it (clang before 16).
    const std::string& name = entry.first;
    const Entry* e = entry.second;
    const char* type = e->type == Type::kCounter ? "counter"
                       : e->type == Type::kGauge ? "gauge"
                                                 : "histogram";
    out += "# HELP " + name + " " + EscapeHelp(e->help) + "\n# TYPE " + name + " " + type + "\n";
    const auto& names = e->label_names;
    if (e->counters) {
      e->counters->ForEach([&](const std::vector<std::string>& v, const Counter& c) {
        out += name + LabelSet(names, v) + " " + FormatValue(c.Value()) + "\n";
      });
    }
    if (e->gauges) {
      e->gauges->ForEach([&](const std::vector<std::string>& v, const Gauge& g) {
        out += name + LabelSet(names, v) + " " + FormatValue(g.Value()) + "\n";
      });
    }
    if (e->histograms) {
      e->histograms->ForEach([&](const std::vector<std::string>& v, const Histogram& h) {
        const auto counts = h.CumulativeCounts();
        for (std::size_t i = 0; i < h.bounds().size(); ++i) {
          out += name + "_bucket" +
                 LabelSet(names, v, "le=\"" + FormatValue(h.bounds()[i]) + "\"") + " " +
                 std::to_string(counts[i]) + "\n";
        }
        out += name + "_bucket" + LabelSet(names, v, "le=\"+Inf\"") + " " +
               std::to_string(counts.back()) + "\n";
        out += name + "_sum" + LabelSet(names, v) + " " + FormatValue(h.Sum()) + "\n";
        out += name + "_count" + LabelSet(names, v) + " " + std::to_string(counts.back()) + "\n";
      });
    }
    if (e->read) {
      auto samples = e->read();
      std::sort(samples.begin(), samples.end(),
                [](const Sample& a, const Sample& b) { return a.label_values < b.label_values; });
      for (const auto& s : samples)
        out += name + LabelSet(names, s.label_values) + " " + FormatValue(s.value) + "\n";
    }
  }
  return out;
}

}  // namespace orch::metrics
