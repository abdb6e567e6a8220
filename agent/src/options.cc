#include "localbench/agent/options.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "absl/status/status.h"

namespace localbench::agent {

std::string_view WorkloadName(v1::WorkloadKind kind) {
  switch (kind) {
    case v1::WORKLOAD_KIND_PREFILL: return "prefill";
    case v1::WORKLOAD_KIND_DECODE: return "decode";
    case v1::WORKLOAD_KIND_TRAIN_LORA: return "train-lora";
    case v1::WORKLOAD_KIND_TRAIN_FULL: return "train-full";
    default: return "unspecified";
  }
}

std::string_view PrecisionName(v1::Precision precision) {
  switch (precision) {
    case v1::PRECISION_FP32: return "fp32";
    case v1::PRECISION_FP16: return "fp16";
    case v1::PRECISION_BF16: return "bf16";
    case v1::PRECISION_Q8_0: return "q8_0";
    case v1::PRECISION_Q4_0: return "q4_0";
    case v1::PRECISION_NF4: return "nf4";
    default: return "unspecified";
  }
}

std::string_view BackendName(v1::Backend backend) {
  switch (backend) {
    case v1::BACKEND_CPU: return "cpu";
    case v1::BACKEND_CUDA: return "cuda";
    case v1::BACKEND_HIP: return "hip";
    default: return "unspecified";
  }
}

absl::StatusOr<v1::WorkloadKind> ParseWorkload(std::string_view name) {
  for (auto kind : {v1::WORKLOAD_KIND_PREFILL, v1::WORKLOAD_KIND_DECODE,
                    v1::WORKLOAD_KIND_TRAIN_LORA, v1::WORKLOAD_KIND_TRAIN_FULL}) {
    if (name == WorkloadName(kind)) return kind;
  }
  return absl::InvalidArgumentError("unknown workload '" + std::string(name) +
                                    "' (expected prefill, decode, train-lora or train-full)");
}

absl::StatusOr<v1::Precision> ParsePrecision(std::string_view name) {
  for (auto p : {v1::PRECISION_FP32, v1::PRECISION_FP16, v1::PRECISION_BF16, v1::PRECISION_Q8_0,
                 v1::PRECISION_Q4_0, v1::PRECISION_NF4}) {
    if (name == PrecisionName(p)) return p;
  }
  return absl::InvalidArgumentError("unknown precision '" + std::string(name) +
                                    "' (expected fp32, fp16, bf16, q8_0, q4_0 or nf4)");
}

absl::StatusOr<std::uint64_t> ParseByteSize(std::string_view text) {
  const std::string original(text);
  auto bad = [&] {
    return absl::InvalidArgumentError("invalid size '" + original +
                                      "' (expected bytes or a number with K, M, G or T, e.g. 512M)");
  };
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return bad();
  double value = 0;
  const std::string number(text.substr(0, i));
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || ptr != number.data() + number.size() || !std::isfinite(value)) return bad();
  std::string unit;
  for (char c : text.substr(i)) unit.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  double scale = 1;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB") scale = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB") scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB") scale = 1024.0 * 1024 * 1024 * 1024;
  else return bad();
  const double bytes = value * scale;
  if (bytes < 1 || bytes > 1.8e19) return bad();
  return static_cast<std::uint64_t>(bytes);
}

std::string FormatBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[u]);
  return buf;
}

absl::Status ValidateHostPort(std::string_view address) {
  const std::string a(address);
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError("invalid collector address '" + a + "': " + std::string(why) +
                                      " (expected HOST:PORT, e.g. 127.0.0.1:50051)");
  };
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  const auto host = address.substr(0, colon);
  const auto port = address.substr(colon + 1);
  if (host.empty()) return bad("no host");
  if (host.front() == '[' ? host.back() != ']' : host.find(':') != std::string_view::npos)
    return bad("IPv6 hosts need brackets");
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/') return bad("bad character in host");
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535)
    return bad("port must be 1..65535");
  return absl::OkStatus();
}

}  // namespace localbench::agent
