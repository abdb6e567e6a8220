// Fixture reader and runner of the outside oracle (oracle_fixture.h).
#include "oracle_fixture.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "localbench/kernels/dtype.h"
#include "localbench/kernels/workload.h"
#include "status_macros.h"
#include "workload_testing.h"

namespace localbench::kernels::oracle {
namespace {

absl::Status Bad(const std::string& what) { return absl::InvalidArgumentError("oracle fixture: " + what); }

absl::StatusOr<std::string> Setting(const FixtureCase& c, const std::string& key) {
  auto it = c.settings.find(key);
  if (it == c.settings.end()) return Bad(absl::StrCat(c.name, ": no setting ", key));
  return it->second;
}

std::int64_t IntOr(const FixtureCase& c, const std::string& key, std::int64_t fallback) {
  auto it = c.settings.find(key);
  return it == c.settings.end() ? fallback : std::stoll(it->second);
}

absl::StatusOr<WorkloadConfig> ConfigOf(const FixtureCase& c) {
  WorkloadConfig cfg;
  absl::StatusOr<std::string> kind = Setting(c, "kind");
  if (!kind.ok()) return kind.status();
  absl::StatusOr<WorkloadKind> k = ParseWorkloadKind(*kind);
  if (!k.ok()) return k.status();
  cfg.kind = *k;
  absl::StatusOr<DType> precision = ParseDType(c.settings.count("precision") ? c.settings.at("precision") : "");
  if (!precision.ok()) return precision.status();
  cfg.precision = *precision;
  ModelPreset& p = cfg.preset;
  p.name = "oracle-" + c.name;
  p.vocab = IntOr(c, "vocab", 0);
  p.hidden = IntOr(c, "hidden", 0);
  p.intermediate = IntOr(c, "intermediate", 0);
  p.layers = IntOr(c, "layers", 0);
  p.heads = IntOr(c, "heads", 0);
  p.kv_heads = IntOr(c, "kv_heads", 0);
  p.head_dim = IntOr(c, "head_dim", 0);
  p.rope_theta = std::stof(c.settings.count("rope_theta") ? c.settings.at("rope_theta") : "0");
  p.rms_eps = std::stof(c.settings.count("rms_eps") ? c.settings.at("rms_eps") : "0");
  p.tied_embeddings = IntOr(c, "tied_embeddings", 0) != 0;
  p.qkv_bias = IntOr(c, "qkv_bias", 0) != 0;
  cfg.batch = IntOr(c, "batch", 0);
  cfg.prompt_tokens = IntOr(c, "prompt_tokens", 0);
  cfg.generated_tokens = IntOr(c, "generated_tokens", 0);
  cfg.sequence_tokens = IntOr(c, "sequence_tokens", 0);
  cfg.lora_rank = IntOr(c, "lora_rank", 0);
  return cfg;
}

std::int64_t Numel(const FixtureTensor& t) {
  std::int64_t n = 1;
  for (std::int64_t d : t.dims) n *= d;
  return n;
}

// Writes a "set:" tensor into the workload buffer of that name.
absl::Status SetBuffer(Backend& backend, Workload& w, const FixtureTensor& t, const std::string& buffer) {
  absl::StatusOr<Tensor> dst = testing::NamedBuffer(w, buffer);
  if (!dst.ok()) return dst.status();
  if (dst->numel() != Numel(t)) {
    return Bad(absl::StrCat(buffer, " has ", dst->numel(), " elements, the fixture ", Numel(t)));
  }
  if (t.is_int) return backend.device().CopyHostToDevice(dst->data, t.i32.data(), t.i32.size() * 4);
  std::vector<char> host(dst->bytes());
  ConvertFromF32(t.f32.data(), dst->dtype, host.data(), t.f32.size());
  return backend.device().CopyHostToDevice(dst->data, host.data(), host.size());
}

// Compares one "expect:" tensor with the workload's buffer (or its loss).
absl::StatusOr<std::string> Compare(Backend& backend, Workload& w, const FixtureTensor& t, const std::string& buffer,
                                    std::optional<double> loss) {
  std::vector<double> got;
  if (buffer == "loss") {
    if (!loss) return Bad("expect:loss without a training loss");
    got.push_back(*loss);
  } else {
    absl::StatusOr<Tensor> src = testing::NamedBuffer(w, buffer);
    if (!src.ok()) return src.status();
    if (src->numel() != Numel(t)) {
      return Bad(absl::StrCat(buffer, " has ", src->numel(), " elements, the fixture ", Numel(t)));
    }
    std::vector<char> host(src->bytes());
    LB_RETURN_IF_ERROR(backend.device().CopyDeviceToHost(host.data(), src->data, host.size()));
    if (t.is_int) {
      const auto* ids = reinterpret_cast<const std::int32_t*>(host.data());
      for (std::int64_t i = 0; i < src->numel(); ++i) got.push_back(ids[i]);
    } else {
      std::vector<float> f(static_cast<std::size_t>(src->numel()));
      ConvertToF32(src->dtype, host.data(), f.data(), f.size());
      got.assign(f.begin(), f.end());
    }
  }
  std::int64_t bad = 0, worst = -1;
  double worst_excess = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double want = t.is_int ? t.i32[i] : t.f32[i];
    const double err = std::abs(got[i] - want), allowed = t.atol + t.rtol * std::abs(want);
    if (!(err <= allowed)) {
      ++bad;
      if (worst < 0 || !(err - allowed <= worst_excess)) {
        worst = static_cast<std::int64_t>(i);
        worst_excess = err - allowed;
      }
    }
  }
  if (bad == 0) return std::string();
  const double want = t.is_int ? t.i32[static_cast<std::size_t>(worst)] : t.f32[static_cast<std::size_t>(worst)];
  return absl::StrCat(buffer, ": ", bad, " of ", got.size(), " elements outside |got - want| <= ", t.atol, " + ",
                      t.rtol, " |want|; worst [", worst, "] got ", got[static_cast<std::size_t>(worst)], " want ",
                      want);
}

}  // namespace

absl::StatusOr<std::string> FixtureDir() {
  const char* dir = std::getenv("LOCALBENCH_ORACLE_DIR");
  if (dir == nullptr || *dir == '\0') {
    return absl::FailedPreconditionError(
        "LOCALBENCH_ORACLE_DIR is not set: run through ctest (tests/oracle/make_fixtures.py writes the fixtures)");
  }
  return std::string(dir);
}

absl::StatusOr<std::vector<std::string>> ListCases(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".lbfix") names.push_back(e.path().stem().string());
  }
  if (ec) return absl::NotFoundError(absl::StrCat("oracle fixtures: cannot list ", dir, ": ", ec.message()));
  std::sort(names.begin(), names.end());
  if (names.empty()) return absl::NotFoundError(absl::StrCat("oracle fixtures: none in ", dir));
  return names;
}

absl::StatusOr<FixtureCase> LoadCase(const std::string& dir, const std::string& name) {
  std::ifstream in(dir + "/" + name + ".lbfix", std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("oracle fixture ", name, " not found in ", dir));
  FixtureCase c;
  c.name = name;
  std::string line;
  if (!std::getline(in, line) || line != "LBFIX 1") return Bad(name + ": not an LBFIX 1 file");
  while (std::getline(in, line) && line != "end") {
    const std::size_t sp = line.find(' ');
    if (sp == std::string::npos) return Bad(name + ": bad setting line " + line);
    c.settings[line.substr(0, sp)] = line.substr(sp + 1);
  }
  while (std::getline(in, line)) {
    std::istringstream head(line);
    FixtureTensor t;
    std::string dtype;
    int rank = 0;
    if (!(head >> t.name >> dtype >> t.atol >> t.rtol >> rank) || rank < 1 || rank > 4 ||
        (dtype != "f32" && dtype != "i32")) {
      return Bad(name + ": bad tensor line " + line);
    }
    t.dims.resize(static_cast<std::size_t>(rank));
    for (std::int64_t& d : t.dims) {
      if (!(head >> d) || d < 1) return Bad(name + ": bad dims in " + line);
    }
    t.is_int = dtype == "i32";
    const std::size_t n = static_cast<std::size_t>(Numel(t));
    if (t.is_int) {
      t.i32.resize(n);
      in.read(reinterpret_cast<char*>(t.i32.data()), static_cast<std::streamsize>(n * 4));
    } else {
      t.f32.resize(n);
      in.read(reinterpret_cast<char*>(t.f32.data()), static_cast<std::streamsize>(n * 4));
    }
    if (!in) return Bad(name + ": truncated data of " + t.name);
    c.tensors.push_back(std::move(t));
  }
  return c;
}

absl::StatusOr<std::vector<std::string>> RunCase(Backend& backend, const FixtureCase& c) {
  absl::StatusOr<WorkloadConfig> cfg = ConfigOf(c);
  if (!cfg.ok()) return cfg.status();
  absl::StatusOr<std::unique_ptr<Workload>> w = Workload::Create(backend, *cfg);
  if (!w.ok()) return w.status();
  for (const FixtureTensor& t : c.tensors) {
    if (t.name.rfind("set:", 0) == 0) LB_RETURN_IF_ERROR(SetBuffer(backend, **w, t, t.name.substr(4)));
  }
  std::optional<double> loss;
  if (cfg->kind == WorkloadKind::kTrainLora || cfg->kind == WorkloadKind::kTrainFull) {
    absl::StatusOr<double> l = testing::TrainingLoss(**w);
    if (!l.ok()) return l.status();
    loss = *l;
    LB_RETURN_IF_ERROR(testing::TrainingGradients(**w));
  } else {
    LB_RETURN_IF_ERROR((*w)->Step());
  }
  LB_RETURN_IF_ERROR(backend.device().Synchronize());
  std::vector<std::string> mismatches;
  int expects = 0;
  for (const FixtureTensor& t : c.tensors) {
    if (t.name.rfind("expect:", 0) != 0) continue;
    ++expects;
    absl::StatusOr<std::string> m = Compare(backend, **w, t, t.name.substr(7), loss);
    if (!m.ok()) return m.status();
    if (!m->empty()) mismatches.push_back(*m);
  }
  if (expects == 0) return Bad(c.name + ": nothing to compare");
  return mismatches;
}

}  // namespace localbench::kernels::oracle
