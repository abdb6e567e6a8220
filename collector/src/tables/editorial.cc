// The editorial side of the read path: verdicts with their staleness, the
// public change log, and the citations the editors' store records.
#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "localbench/collector/tables.h"
#include "tables/common.h"
#include "tables/verdicts.h"

namespace localbench::collector {

using tables::Reader;

namespace {

// A slug, or a display name the directory knows (case-insensitive).
absl::StatusOr<std::string> ResolveModel(const tables::Directory& dir, const std::string& name,
                                         const std::string& field) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (dir.count(name) > 0) return name;
  for (const auto& [slug, m] : dir) {
    if (absl::EqualsIgnoreCase(m.name(), name)) return slug;
  }
  if (auto ok = tables::CheckSlug(name, field); !ok.ok()) return ok;
  return absl::NotFoundError(absl::StrCat(field, ": no device model '", name, "' in the catalogue or results"));
}

// True when some cell could be both `a` and `b`: same preset and kind, and
// every other field equal where both name one (training dimensions: where
// both set one).
bool Overlap(const v1::WorkloadKey& a, const v1::WorkloadKey& b) {
  auto same = [](uint32_t x, uint32_t y) { return x == 0 || y == 0 || x == y; };
  auto both = [](bool has_x, auto x, bool has_y, auto y) { return !has_x || !has_y || x == y; };
  return a.model_preset() == b.model_preset() && a.kind() == b.kind() &&
         (a.precision() == v1::PRECISION_UNSPECIFIED || b.precision() == v1::PRECISION_UNSPECIFIED ||
          a.precision() == b.precision()) &&
         same(a.prompt_tokens(), b.prompt_tokens()) && same(a.generated_tokens(), b.generated_tokens()) &&
         same(a.sequence_tokens(), b.sequence_tokens()) && same(a.lora_rank(), b.lora_rank()) &&
         both(a.has_activation_precision(), a.activation_precision(), b.has_activation_precision(),
              b.activation_precision()) &&
         both(a.has_gradient_checkpointing(), a.gradient_checkpointing(), b.has_gradient_checkpointing(),
              b.gradient_checkpointing()) &&
         both(a.has_accumulation_steps(), a.accumulation_steps(), b.has_accumulation_steps(),
              b.accumulation_steps()) &&
         both(a.has_full_finetune_accounting(), a.full_finetune_accounting(), b.has_full_finetune_accounting(),
              b.full_finetune_accounting()) &&
         both(a.has_loss_chunks(), a.loss_chunks(), b.has_loss_chunks(), b.loss_chunks());
}

}  // namespace

absl::StatusOr<v1::VerdictList> TableService::ListVerdicts(const v1::ListVerdictsRequest& request) {
  if (!request.device_model().empty()) {
    if (auto ok = tables::CheckSlug(request.device_model(), "device_model"); !ok.ok()) return ok;
  }
  if (request.has_workload()) {
    tables::Filter unused;
    if (auto ok = tables::BindWorkload(request.workload(), "workload", true, &unused); !ok.ok()) return ok;
  }
  return tables::Read<v1::VerdictList>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::VerdictList> {
    if (auto ok = rd.At(request.read().as_of()); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    v1::VerdictList out;
    *out.mutable_version() = rd.Version();
    for (v1::Verdict& v : tables::VerdictsAt(rd, **dir, request.device_model(), "", verdict_threshold_)) {
      if (request.stale_only() && !v.stale()) continue;
      // A workload narrows to verdicts on it; whole-model verdicts stay.
      if (request.has_workload() && v.has_workload() && !Overlap(request.workload(), v.workload())) {
        continue;
      }
      *out.add_verdicts() = std::move(v);
    }
    return out;
  });
}

absl::StatusOr<v1::ChangeList> TableService::ListChanges(const v1::ListChangesRequest& request) {
  if (!request.submission_id().empty()) {
    if (auto ok = tables::CheckUuid(request.submission_id(), "submission_id"); !ok.ok()) return ok;
  }
  const uint32_t size = request.page_size() == 0 ? 100 : std::min<uint32_t>(request.page_size(), 1000);
  // The token is "VERSION.EVENT": the version the first page was read at and
  // the last event id served.
  int64_t token_version = 0;
  int64_t cursor = 0;
  if (!request.page_token().empty()) {
    std::vector<std::string> parts = absl::StrSplit(request.page_token(), '.');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &token_version) || !absl::SimpleAtoi(parts[1], &cursor) ||
        token_version <= 0 || cursor <= 0) {
      return absl::InvalidArgumentError("page_token: not a token from a previous response");
    }
    if (request.read().as_of() != 0 && request.read().as_of() != token_version) {
      return absl::InvalidArgumentError("page_token: bound to another data version than read.as_of");
    }
  }
  return tables::Read<v1::ChangeList>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::ChangeList> {
    if (auto ok = rd.At(token_version != 0 ? token_version : request.read().as_of()); !ok.ok()) return ok;
    v1::ChangeList out;
    *out.mutable_version() = rd.Version();
    const auto rows = rd.Plain("audit_events", request.submission_id(), cursor, static_cast<int64_t>(size) + 1,
                               rd.version());
    for (std::size_t i = 0; i < rows.size() && i < size; ++i) {
      const auto& r = rows[static_cast<pqxx::result::size_type>(i)];
      v1::Change* c = out.add_changes();
      c->set_event_id(r[0].as<int64_t>());
      c->set_submission_id(r[1].as<std::string>());
      c->set_action(r[2].as<std::string>());
      c->set_reason(r[3].as<std::string>());
      // r[4], the actor, is for the editors' audit log only.
      c->set_data_version(r[5].as<int64_t>());
      const int64_t micros = r[6].as<int64_t>();
      c->mutable_at()->set_seconds(micros / 1000000);
      c->mutable_at()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
    }
    if (rows.size() > size) {
      out.set_next_page_token(absl::StrCat(rd.version(), ".", out.changes(out.changes_size() - 1).event_id()));
    }
    return out;
  });
}

absl::StatusOr<VerdictCitation> TableService::Cite(const std::string& device_model, const v1::WorkloadKey* workload) {
  if (workload != nullptr) {
    tables::Filter unused;
    if (auto ok = tables::BindWorkload(*workload, "workload", true, &unused); !ok.ok()) return ok;
  }
  return tables::Read<VerdictCitation>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<VerdictCitation> {
    if (auto ok = rd.At(0); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    auto slug = ResolveModel(**dir, device_model, "device_model");
    if (!slug.ok()) return slug.status();
    VerdictCitation out;
    out.slug = *slug;
    out.version = rd.version();
    for (tables::CitedFigure& c : tables::CiteCells(rd, **dir, *slug, workload)) {
      out.cells.push_back(std::move(c.cell));
      out.largest_ok_batch.push_back(c.largest_ok_batch);
    }
    if (out.cells.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("device_model: nothing public is measured on '", *slug, "'",
                       workload != nullptr ? " for this workload" : "", " at data version ", rd.version(),
                       ": a verdict must cite figures"));
    }
    return out;
  });
}

absl::StatusOr<v1::Verdict> TableService::GetVerdict(const std::string& verdict_id) {
  if (auto ok = tables::CheckUuid(verdict_id, "verdict_id"); !ok.ok()) return ok;
  return tables::Read<v1::Verdict>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::Verdict> {
    if (auto ok = rd.At(0); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    std::vector<v1::Verdict> found = tables::VerdictsAt(rd, **dir, "", verdict_id, verdict_threshold_);
    if (found.empty()) return absl::NotFoundError(absl::StrCat("verdict_id: no verdict ", verdict_id));
    return std::move(found.front());
  });
}

}  // namespace localbench::collector
