// Metrics in Prometheus' text exposition format (version 0.0.4): one small
// registry per process part (a master, an agent), families of counters,
// gauges and histograms by label values, and values read at scrape time
// (callbacks) for what a component already knows (a Raft term, state
// counts). Names follow Prometheus' conventions: orch_*, the unit in the
// name (_seconds, _bytes), _total for counters.
//
// Updating a counter, gauge or histogram is lock-free; finding a family's
// child by label values takes the family's lock, so hot paths look a child
// up once and keep the reference (children live as long as the registry).
// Thread safety: everything is thread-safe; Add* are meant for start-up.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace orch::metrics {

class Counter {
 public:
  // `v` must not be negative (a counter only goes up).
  void Inc(double v = 1) { value_.fetch_add(v < 0 ? 0 : v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Dec(double v = 1) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, increasing (+Inf is implied).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Cumulative counts per bound, then +Inf (= count); sum.
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<double> sum_{0};
};

// Seconds buckets for latencies from 100 µs to 10 s.
std::vector<double> LatencyBuckets();
// Buckets for sizes in bytes from 1 KiB to 1 GiB (factor 4).
std::vector<double> SizeBuckets();

// The children of one metric name, one per set of label values.
template <typename T>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}
  // The child for `values` (as many as the family has label names; extra
  // values are dropped, missing ones are empty), made on first use.
  T& With(const std::vector<std::string>& values);
  T& With(std::initializer_list<std::string> values) {
    return With(std::vector<std::string>(values));
  }
  // Visits every child with its label values (sorted).
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& f) const;
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// What a scrape-time callback reports: samples of its family.
struct Sample {
  std::vector<std::string> label_values;
  double value = 0;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adding a name twice returns the same family (the first one's help and
  // labels win). Names and label names must be valid Prometheus names
  // (std::invalid_argument otherwise: a programming error).
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names, std::vector<double> bounds);
  // A gauge (or counter, `counter` true) whose samples `read` returns at
  // each scrape.
  void AddCallback(const std::string& name, const std::string& help,
                   std::vector<std::string> label_names, std::function<std::vector<Sample>()> read,
                   bool counter = false);

  // Every metric, sorted by name, in the text exposition format.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Entry {
    std::string help;
    Type type;
    std::vector<std::string> label_names;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
    std::function<std::vector<Sample>()> read;
  };
  Entry& Add(const std::string& name, const std::string& help, Type type,
             std::vector<std::string> label_names);

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// The content type of Render()'s text.
inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// A label value or HELP text escaped for the text format.
std::string EscapeLabelValue(const std::string& v);

}  // namespace orch::metrics
