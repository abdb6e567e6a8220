#include "tables/common.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <regex>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "localbench/collector/store.h"
#include "localbench/collector/tables.h"
#include "localbench/collector/workload_key.h"
#include "tables/queries.h"

namespace localbench::collector::tables {
namespace {

// Table statements read through this prefix (the filtered, visible sweeps).
constexpr const char* kPrefix = "filtered_sweeps";

bool Matches(std::string_view s, const char* pattern) {
  static std::mutex mu;
  static std::map<std::string, std::regex> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(pattern);
  if (it == cache.end()) it = cache.emplace(pattern, std::regex(pattern)).first;
  return std::regex_match(s.begin(), s.end(), it->second);
}

absl::Status Invalid(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Binds the training dimensions of a WorkloadKey or TableFilter (the same
// field names in both); errors name the field under `field`.
template <typename Message>
absl::Status BindTrainingDims(const Message& m, const std::string& field, Filter* out) {
  if (m.has_activation_precision()) {
    const v1::Precision p = m.activation_precision();
    if (p != v1::PRECISION_FP32 && p != v1::PRECISION_FP16 && p != v1::PRECISION_BF16) {
      return Invalid(absl::StrCat(field, ".activation_precision"), "must be fp32, fp16 or bf16");
    }
    out->activation_precision = PrecisionName(p);
  }
  if (m.has_gradient_checkpointing()) out->checkpointing = m.gradient_checkpointing() ? "on" : "off";
  if (m.has_accumulation_steps()) {
    if (m.accumulation_steps() < 1 || m.accumulation_steps() > 1024) {
      return Invalid(absl::StrCat(field, ".accumulation_steps"), "must be between 1 and 1024");
    }
    out->accumulation_steps = m.accumulation_steps();
  }
  if (m.has_full_finetune_accounting()) {
    switch (m.full_finetune_accounting()) {
      case v1::FULL_FINETUNE_ACCOUNTING_MIXED: out->accounting = "mixed"; break;
      case v1::FULL_FINETUNE_ACCOUNTING_LEAN: out->accounting = "lean"; break;
      default: return Invalid(absl::StrCat(field, ".full_finetune_accounting"), "must be mixed or lean");
    }
  }
  if (m.has_loss_chunks()) {
    if (m.loss_chunks() > 1024) return Invalid(absl::StrCat(field, ".loss_chunks"), "must be between 0 and 1024");
    out->loss_chunks = m.loss_chunks();
  }
  return absl::OkStatus();
}

}  // namespace

const std::string& Sql(const std::string& name) {
  static const auto* all = [] {
    auto* m = new std::map<std::string, std::string, std::less<>>();
    for (const NamedQuery& q : EmbeddedQueries()) m->emplace(q.name, q.sql);
    return m;
  }();
  auto it = all->find(name);
  if (it == all->end()) {  // a build defect, not input: crash loudly
    std::fprintf(stderr, "no embedded query collector/queries/tables/%.*s.sql\n", static_cast<int>(name.size()),
                 name.data());
    std::abort();
  }
  return it->second;
}

absl::Status CheckSlug(const std::string& slug, const std::string& field) {
  if (!Matches(slug, "[a-z0-9][a-z0-9-]{0,79}")) {
    return Invalid(field, absl::StrCat("'", absl::CHexEscape(slug.substr(0, 100)),
                                       "' is not a device model slug (lower-case letters, digits, '-')"));
  }
  return absl::OkStatus();
}

absl::Status CheckUuid(std::string_view id, const std::string& field) {
  if (!Matches(id, "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")) {
    return Invalid(field, "not an id (lower-case RFC 4122 UUID)");
  }
  return absl::OkStatus();
}

absl::StatusOr<Filter> BindFilter(const v1::TableFilter& f, const std::string& field) {
  Filter out;
  if (!v1::Vendor_IsValid(f.vendor())) return Invalid(absl::StrCat(field, ".vendor"), "unknown vendor");
  if (f.vendor() != v1::VENDOR_UNSPECIFIED) out.vendor = VendorName(f.vendor());
  for (int i = 0; i < f.device_models_size(); ++i) {
    auto ok = CheckSlug(f.device_models(i), absl::StrCat(field, ".device_models[", i, "]"));
    if (!ok.ok()) return ok;
    absl::StrAppend(&out.slugs, i ? "," : "", f.device_models(i));
  }
  if (f.memory_min_bytes() > static_cast<uint64_t>(INT64_MAX) ||
      f.memory_max_bytes() > static_cast<uint64_t>(INT64_MAX)) {
    return Invalid(absl::StrCat(field, ".memory_max_bytes"), "out of range");
  }
  out.memory_min = static_cast<int64_t>(f.memory_min_bytes());
  out.memory_max = static_cast<int64_t>(f.memory_max_bytes());
  if (out.memory_max != 0 && out.memory_max < out.memory_min) {
    return Invalid(absl::StrCat(field, ".memory_max_bytes"), "is below memory_min_bytes");
  }
  if (!f.model_preset().empty()) {
    if (!Matches(f.model_preset(), "[a-z0-9][a-z0-9._-]{0,63}")) {
      return Invalid(absl::StrCat(field, ".model_preset"), "not a preset name");
    }
    out.preset = f.model_preset();
  }
  if (!v1::WorkloadKind_IsValid(f.kind())) return Invalid(absl::StrCat(field, ".kind"), "unknown workload kind");
  if (f.kind() != v1::WORKLOAD_KIND_UNSPECIFIED) out.kind = KindName(f.kind());
  if (!v1::Precision_IsValid(f.precision())) return Invalid(absl::StrCat(field, ".precision"), "unknown precision");
  if (f.precision() != v1::PRECISION_UNSPECIFIED) out.precision = PrecisionName(f.precision());
  out.length = f.sequence_tokens();
  if (f.suite_version().size() > 64) return Invalid(absl::StrCat(field, ".suite_version"), "longer than 64 bytes");
  out.suite_version = f.suite_version();
  if (f.agent_version().size() > 128) return Invalid(absl::StrCat(field, ".agent_version"), "longer than 128 bytes");
  out.agent_version = f.agent_version();
  if (!v1::Backend_IsValid(f.backend())) return Invalid(absl::StrCat(field, ".backend"), "unknown backend");
  if (f.backend() != v1::BACKEND_UNSPECIFIED) out.backend = BackendName(f.backend());
  if (auto ok = BindTrainingDims(f, field, &out); !ok.ok()) return ok;
  return out;
}

absl::Status BindWorkload(const v1::WorkloadKey& w, const std::string& field, bool require, Filter* out) {
  if (w.model_preset().empty()) {
    if (require) return Invalid(absl::StrCat(field, ".model_preset"), "required");
  } else if (!Matches(w.model_preset(), "[a-z0-9][a-z0-9._-]{0,63}")) {
    return Invalid(absl::StrCat(field, ".model_preset"), "not a preset name");
  } else {
    out->preset = w.model_preset();
  }
  if (!v1::WorkloadKind_IsValid(w.kind())) return Invalid(absl::StrCat(field, ".kind"), "unknown workload kind");
  if (w.kind() == v1::WORKLOAD_KIND_UNSPECIFIED) {
    if (require) return Invalid(absl::StrCat(field, ".kind"), "required");
  } else {
    out->kind = KindName(w.kind());
  }
  if (!v1::Precision_IsValid(w.precision())) return Invalid(absl::StrCat(field, ".precision"), "unknown precision");
  if (w.precision() != v1::PRECISION_UNSPECIFIED) out->precision = PrecisionName(w.precision());
  out->prompt_tokens = w.prompt_tokens();
  out->generated_tokens = w.generated_tokens();
  out->sequence_tokens = w.sequence_tokens();
  out->lora_rank = w.lora_rank();
  // A key's training dimensions belong to its kind: inference has none, and
  // only a full fine-tune has an accounting.
  if (w.kind() != v1::WORKLOAD_KIND_UNSPECIFIED) {
    const bool training = IsTrainingKind(w.kind());
    const std::pair<bool, const char*> dims[] = {
        {w.has_activation_precision(), "activation_precision"}, {w.has_gradient_checkpointing(), "gradient_checkpointing"},
        {w.has_accumulation_steps(), "accumulation_steps"},     {w.has_loss_chunks(), "loss_chunks"}};
    for (const auto& [set, name] : dims) {
      if (set && !training) return Invalid(absl::StrCat(field, ".", name), "only for training workloads");
    }
    if (w.has_full_finetune_accounting() && w.kind() != v1::WORKLOAD_KIND_TRAIN_FULL) {
      return Invalid(absl::StrCat(field, ".full_finetune_accounting"), "only for train_full");
    }
  }
  return BindTrainingDims(w, field, out);
}

void Reader::Prepare(const std::string& name, bool with_filter) {
  // libpqxx keeps definitions per connection and accepts an identical
  // redefinition, so preparing on every use costs a map look-up only.
  conn_.prepare(name, with_filter ? absl::StrCat(Sql(kPrefix), Sql(name)) : Sql(name));
}

absl::Status Reader::At(int64_t as_of) {
  // Custom plans: the filters are "'' or equal" pairs a generic plan
  // cannot prune.
  tx_.exec("SET LOCAL plan_cache_mode = force_custom_plan");
  const int64_t latest = Plain("latest_version")[0][0].as<int64_t>();
  if (as_of < 0) return Invalid("read.as_of", "must not be negative");
  if (as_of > latest) {
    return Invalid("read.as_of", absl::StrCat("data version ", as_of, " does not exist yet (newest is ", latest, ")"));
  }
  version_ = as_of == 0 ? latest : as_of;
  if (version_ > 0) {
    auto r = Plain("version_made_at", version_);
    if (!r.empty()) {
      const int64_t micros = r[0][0].as<int64_t>();
      made_at_seconds_ = micros / 1000000;
      made_at_nanos_ = static_cast<int32_t>(micros % 1000000) * 1000;
    }
  }
  return absl::OkStatus();
}

v1::DataVersion Reader::Version() const {
  v1::DataVersion v;
  v.set_data_version(version_);
  if (made_at_seconds_) {
    v.mutable_made_at()->set_seconds(*made_at_seconds_);
    v.mutable_made_at()->set_nanos(made_at_nanos_);
  }
  return v;
}

std::optional<v1::Spread> SpreadAt(const pqxx::row& row, int first) {
  if (row[first].is_null()) return std::nullopt;
  v1::Spread s;
  s.set_median(row[first].as<double>());
  s.set_min(row[first + 1].as<double>());
  s.set_max(row[first + 2].as<double>());
  s.set_p25(row[first + 3].as<double>());
  s.set_p75(row[first + 4].as<double>());
  return s;
}

void SetSupport(const VerifyRule& verify, int64_t machines, int64_t submissions, const v1::Spread* headline,
                v1::Support* support) {
  support->set_machine_count(static_cast<uint32_t>(machines));
  support->set_submission_count(static_cast<uint32_t>(submissions));
  const bool agree = headline != nullptr && headline->p75() <= headline->p25() * (1 + verify.tolerance);
  // The quorum is at least 2 (VerifyRule::Check): one machine never verifies a cell.
  const bool verified = machines >= static_cast<int64_t>(std::max<uint32_t>(verify.quorum, 2)) && agree;
  support->set_verified(verified);
  if (verified) {
    support->set_label("verified");
  } else {
    support->set_label(absl::StrCat(machines, machines == 1 ? " machine" : " machines", ", not yet verified"));
  }
}

v1::WorkloadKey WorkloadAt(const pqxx::row& row, int first) {
  v1::WorkloadKey w;
  w.set_model_preset(row[first].as<std::string>());
  w.set_kind(ParseKind(row[first + 1].as<std::string>()));
  w.set_precision(ParsePrecision(row[first + 2].as<std::string>()));
  w.set_prompt_tokens(row[first + 3].as<uint32_t>());
  w.set_generated_tokens(row[first + 4].as<uint32_t>());
  w.set_sequence_tokens(row[first + 5].as<uint32_t>());
  w.set_lora_rank(row[first + 6].as<uint32_t>());
  // Stored normalised (rows.cc): inference rows hold the defaults, which
  // CanonicalWorkloadKey drops again.
  w.set_activation_precision(ParsePrecision(row[first + 7].as<std::string>()));
  w.set_gradient_checkpointing(row[first + 8].as<bool>());
  w.set_accumulation_steps(row[first + 9].as<uint32_t>());
  const std::string accounting = row[first + 10].as<std::string>();
  if (accounting == "mixed") w.set_full_finetune_accounting(v1::FULL_FINETUNE_ACCOUNTING_MIXED);
  if (accounting == "lean") w.set_full_finetune_accounting(v1::FULL_FINETUNE_ACCOUNTING_LEAN);
  w.set_loss_chunks(row[first + 11].as<uint32_t>());
  return CanonicalWorkloadKey(std::move(w));
}

std::string KeyString(const v1::WorkloadKey& key) {
  const v1::WorkloadKey w = CanonicalWorkloadKey(key);
  std::string s = absl::StrFormat("%s|%d|%d|%010u|%010u|%010u|%010u", w.model_preset(), w.kind(), w.precision(),
                                  w.prompt_tokens(), w.generated_tokens(), w.sequence_tokens(), w.lora_rank());
  // Inference keys keep the older form; training keys add their dimensions.
  if (IsTrainingKind(w.kind())) {
    absl::StrAppendFormat(&s, "|%d|%d|%04u|%d|%04u", w.activation_precision(), w.gradient_checkpointing() ? 1 : 0,
                          w.accumulation_steps(), w.full_finetune_accounting(), w.loss_chunks());
  }
  return s;
}

v1::Vendor ParseVendor(std::string_view s) {
  for (auto v : {v1::VENDOR_NVIDIA, v1::VENDOR_AMD, v1::VENDOR_INTEL, v1::VENDOR_APPLE, v1::VENDOR_OTHER}) {
    if (s == VendorName(v)) return v;
  }
  return v1::VENDOR_UNSPECIFIED;
}
v1::Backend ParseBackend(std::string_view s) {
  for (auto b : {v1::BACKEND_CPU, v1::BACKEND_CUDA, v1::BACKEND_HIP}) {
    if (s == BackendName(b)) return b;
  }
  return v1::BACKEND_UNSPECIFIED;
}
v1::WorkloadKind ParseKind(std::string_view s) {
  for (auto k : {v1::WORKLOAD_KIND_PREFILL, v1::WORKLOAD_KIND_DECODE, v1::WORKLOAD_KIND_TRAIN_LORA,
                 v1::WORKLOAD_KIND_TRAIN_FULL}) {
    if (s == KindName(k)) return k;
  }
  return v1::WORKLOAD_KIND_UNSPECIFIED;
}
v1::Precision ParsePrecision(std::string_view s) {
  for (auto p : {v1::PRECISION_FP32, v1::PRECISION_FP16, v1::PRECISION_BF16, v1::PRECISION_Q8_0,
                 v1::PRECISION_Q4_0, v1::PRECISION_NF4}) {
    if (s == PrecisionName(p)) return p;
  }
  return v1::PRECISION_UNSPECIFIED;
}

std::shared_ptr<const Directory> DirectoryCache::Get(int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  return version == version_ ? dir_ : nullptr;
}

void DirectoryCache::Put(int64_t version, std::shared_ptr<const Directory> dir) {
  std::lock_guard<std::mutex> lock(mu_);
  if (version < version_) return;  // keep the newest
  version_ = version;
  dir_ = std::move(dir);
}

absl::StatusOr<std::shared_ptr<const Directory>> LoadDirectory(Reader& rd, DirectoryCache* cache) {
  if (auto hit = cache->Get(rd.version())) return hit;
  auto loaded = std::make_shared<Directory>();
  Directory& dir = *loaded;
  for (const auto& row : rd.Plain("device_models", rd.version())) {
    v1::DeviceModel m;
    m.set_slug(row[0].as<std::string>());
    m.set_vendor(ParseVendor(row[1].as<std::string>()));
    m.set_backend(ParseBackend(row[2].as<std::string>()));
    m.set_name(row[3].as<std::string>());
    m.set_memory_bytes(row[4].as<uint64_t>());
    m.set_memory_bandwidth_bytes_per_second(row[5].as<double>());
    m.set_bf16_tflops(row[6].as<double>());
    m.set_fp32_tflops(row[7].as<double>());
    m.set_source(row[8].as<std::string>());
    m.set_in_catalogue(row[9].as<bool>());
    m.set_machine_count(row[10].as<uint32_t>());
    m.set_submission_count(row[11].as<uint32_t>());
    dir.emplace(m.slug(), std::move(m));
  }
  cache->Put(rd.version(), loaded);
  return std::shared_ptr<const Directory>(std::move(loaded));
}

absl::StatusOr<v1::DeviceModel> FindModel(const Directory& dir, const std::string& slug, const std::string& field) {
  if (auto ok = CheckSlug(slug, field); !ok.ok()) return ok;
  auto it = dir.find(std::string(slug));
  if (it == dir.end()) {
    return absl::NotFoundError(absl::StrCat(field, ": no device model '", slug, "' in the catalogue or results"));
  }
  return it->second;
}

uint64_t Digest(const google::protobuf::Message& m) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream out(&raw);
    out.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&out);
  }
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  return h;
}

absl::StatusOr<PageWindow> ParsePage(const v1::Page& page, uint64_t request_digest, const std::string& field) {
  PageWindow w;
  if (page.page_size() > 1000) return Invalid(absl::StrCat(field, ".page_size"), "at most 1000");
  if (page.page_size() != 0) w.size = page.page_size();
  if (page.page_token().empty()) return w;
  std::string text;
  const auto bad = Invalid(absl::StrCat(field, ".page_token"), "not a token from this query");
  if (page.page_token().size() > 200 || !absl::WebSafeBase64Unescape(page.page_token(), &text)) return bad;
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  uint64_t digest = 0;
  uint64_t offset = 0;
  if (parts.size() != 4 || parts[0] != "p1" || !absl::SimpleAtoi(parts[1], &w.version) || w.version <= 0 ||
      !absl::SimpleAtoi(parts[2], &offset) || !absl::SimpleHexAtoi(parts[3], &digest) ||
      digest != request_digest) {
    return bad;
  }
  w.offset = offset;
  return w;
}

std::string NextPageToken(const PageWindow& w, std::size_t total, int64_t version, uint64_t request_digest) {
  if (w.offset + w.size >= total) return "";
  return absl::WebSafeBase64Escape(
      absl::StrFormat("p1:%d:%d:%x", version, w.offset + w.size, request_digest));
}

bool VersionLess(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      // Compare as numbers: strip leading zeros, then length, then digits.
      std::string_view x = a.substr(i, ie - i), y = b.substr(j, je - j);
      while (x.size() > 1 && x[0] == '0') x.remove_prefix(1);
      while (y.size() > 1 && y[0] == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::string MeasureCommand(const v1::WorkloadKey& w, uint32_t batch, const std::string& device) {
  static const std::map<v1::WorkloadKind, const char*> kAgentKind = {
      {v1::WORKLOAD_KIND_PREFILL, "prefill"},
      {v1::WORKLOAD_KIND_DECODE, "decode"},
      {v1::WORKLOAD_KIND_TRAIN_LORA, "train-lora"},
      {v1::WORKLOAD_KIND_TRAIN_FULL, "train-full"}};
  auto kind = kAgentKind.find(w.kind());
  std::string cmd = absl::StrCat("localbench-agent run --device ", device, " --presets ", w.model_preset(),
                                 " --workloads ", kind == kAgentKind.end() ? "prefill" : kind->second,
                                 " --precisions ", PrecisionName(w.precision()));
  if (w.prompt_tokens()) absl::StrAppend(&cmd, " --prompt-tokens ", w.prompt_tokens());
  if (w.generated_tokens()) absl::StrAppend(&cmd, " --generated-tokens ", w.generated_tokens());
  if (w.sequence_tokens()) absl::StrAppend(&cmd, " --sequence-tokens ", w.sequence_tokens());
  absl::StrAppend(&cmd, TrainingDimsFlags(w));
  absl::StrAppend(&cmd, " --batches ", batch);
  return cmd;
}

}  // namespace localbench::collector::tables
