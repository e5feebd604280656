#include "core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace meta {
namespace {

// The "%*" flag: the virtual time of the simulated Env that owns the logger.
class VirtualTimeFlag : public spdlog::custom_flag_formatter {
 public:
  explicit VirtualTimeFlag(std::function<Instant()> clock) : clock_(std::move(clock)) {}

  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string text = clock_().ToString();
    dest.append(text.data(), text.data() + text.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<VirtualTimeFlag>(clock_);
  }

 private:
  std::function<Instant()> clock_;
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> StderrSink() {
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return sink;
}

std::shared_ptr<spdlog::logger> MakeNodeLogger(
    NodeId node_id, std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks,
    std::function<Instant()> virtual_clock) {
  const std::string name = "n" + std::to_string(node_id);
  auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  std::unique_ptr<spdlog::pattern_formatter> formatter;
  if (virtual_clock) {
    formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<VirtualTimeFlag>('*', std::move(virtual_clock));
    formatter->set_pattern("[%*] [%n] [%l] %v");
  } else {
    formatter = std::make_unique<spdlog::pattern_formatter>("[%Y-%m-%d %H:%M:%S.%f] [%n] [%l] %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

}  // namespace meta
