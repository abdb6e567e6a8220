// The benchmark tables: OOM thresholds, batch curves, hardware comparison,
// software stack deltas, and the older per-batch table.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "localbench/collector/tables.h"
#include "tables/cells.h"
#include "tables/common.h"
#include "tables/verdicts.h"

namespace localbench::collector {

using tables::Filter;
using tables::PointCell;
using tables::Reader;

namespace {

// Digest of a request without its read version and page token: what a page
// token binds besides the version.
template <typename Request>
uint64_t UnpagedDigest(const Request& request) {
  Request copy = request;
  copy.clear_read();
  copy.mutable_page()->clear_page_token();
  return tables::Digest(copy);
}

// The version to read at: as_of, or the one a page token binds (they must agree).
absl::StatusOr<int64_t> PagedVersion(int64_t as_of, const tables::PageWindow& w) {
  if (w.version == 0) return as_of;
  if (as_of != 0 && as_of != w.version) {
    return absl::InvalidArgumentError(
        absl::StrCat("page.page_token: bound to data version ", w.version, ", read.as_of asks for ", as_of));
  }
  return w.version;
}

}  // namespace

absl::StatusOr<v1::OomTable> TableService::GetOomTable(const v1::OomTableRequest& request) {
  auto filter = tables::BindFilter(request.filter(), "filter");
  if (!filter.ok()) return filter.status();
  const uint64_t digest = UnpagedDigest(request);
  auto window = tables::ParsePage(request.page(), digest, "page");
  if (!window.ok()) return window.status();
  auto as_of = PagedVersion(request.read().as_of(), *window);
  if (!as_of.ok()) return as_of.status();
  return tables::Read<v1::OomTable>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::OomTable> {
    if (auto ok = rd.At(*as_of); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    for (int i = 0; i < request.filter().device_models_size(); ++i) {
      auto m = tables::FindModel(**dir, request.filter().device_models(i), absl::StrCat("filter.device_models[", i, "]"));
      if (!m.ok()) return m.status();
    }
    std::vector<v1::OomRow> rows = tables::OomRows(rd, *filter, **dir);
    auto ok = tables::SortRows<v1::OomRow>(
        &rows, request.page().sort(), "page.sort",
        {{"largest_ok_batch", [](const v1::OomRow& r) { return r.largest_ok_batch().median(); }},
         {"smallest_failed_batch", [](const v1::OomRow& r) { return r.smallest_failed_batch().median(); }},
         {"planned_max_batch", [](const v1::OomRow& r) { return static_cast<double>(r.planned_max_batch()); }},
         {"peak_bytes_at_batch_1", [](const v1::OomRow& r) { return r.peak_bytes_at_batch_1().median(); }},
         {"memory_bytes", [](const v1::OomRow& r) { return static_cast<double>(r.device_model().memory_bytes()); }},
         {"machine_count", [](const v1::OomRow& r) { return static_cast<double>(r.support().machine_count()); }},
         {"submission_count",
          [](const v1::OomRow& r) { return static_cast<double>(r.support().submission_count()); }}});
    if (!ok.ok()) return ok;
    v1::OomTable out;
    *out.mutable_version() = rd.Version();
    std::vector<std::pair<std::string, v1::WorkloadKey>> cells;
    for (std::size_t i = window->offset; i < rows.size() && i < window->offset + window->size; ++i) {
      cells.emplace_back(rows[i].device_model().slug(), rows[i].workload());
      *out.add_rows() = std::move(rows[i]);
    }
    out.set_next_page_token(tables::NextPageToken(*window, rows.size(), rd.version(), digest));
    tables::AttachVerdicts(rd, **dir, cells, verdict_threshold_, out.mutable_verdicts());
    return out;
  });
}

absl::StatusOr<v1::BatchCurve> TableService::GetBatchCurve(const v1::BatchCurveRequest& request) {
  if (request.device_model().empty()) return absl::InvalidArgumentError("device_model: required");
  if (auto ok = tables::CheckSlug(request.device_model(), "device_model"); !ok.ok()) return ok;
  Filter f;
  f.slugs = request.device_model();
  if (auto ok = tables::BindWorkload(request.workload(), "workload", true, &f); !ok.ok()) return ok;
  return tables::Read<v1::BatchCurve>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::BatchCurve> {
    if (auto ok = rd.At(request.read().as_of()); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    auto model = tables::FindModel(**dir, request.device_model(), "device_model");
    if (!model.ok()) return model.status();
    v1::BatchCurve out;
    *out.mutable_version() = rd.Version();
    *out.mutable_device_model() = *model;
    *out.mutable_workload() = request.workload();
    const std::vector<PointCell> cells = tables::PointCells(rd, f);
    const std::string key = tables::BestKey(cells);
    if (key.empty()) return out;  // nothing measured: an empty curve, not an error
    for (const PointCell& c : cells) {
      if (tables::KeyString(c.workload) != key) continue;
      *out.mutable_workload() = c.workload;
      v1::CurvePoint* p = out.add_points();
      p->set_batch_size(c.batch_size);
      if (c.tokens_per_second) *p->mutable_tokens_per_second() = *c.tokens_per_second;
      if (c.peak_bytes) *p->mutable_peak_bytes() = *c.peak_bytes;
      p->set_planned_bytes(c.planned_bytes);
      tables::SetSupport(rd.verify(), c.machines, c.submissions, c.tokens_per_second ? &*c.tokens_per_second : nullptr,
                         p->mutable_support());
      p->set_oom_machine_count(c.oom_machines);
      p->set_reproduce_command(c.reproduce_command);
    }
    for (const v1::OomRow& row : tables::OomRows(rd, f, **dir)) {
      if (tables::KeyString(row.workload()) != key) continue;
      if (row.has_largest_ok_batch()) *out.mutable_largest_ok_batch() = row.largest_ok_batch();
      if (row.has_smallest_failed_batch()) *out.mutable_smallest_failed_batch() = row.smallest_failed_batch();
    }
    tables::AttachVerdicts(rd, **dir, {{model->slug(), out.workload()}}, verdict_threshold_, out.mutable_verdicts());
    return out;
  });
}

absl::StatusOr<v1::HardwareComparison> TableService::CompareHardware(const v1::CompareHardwareRequest& request) {
  if (request.device_models_size() == 1) {
    return absl::InvalidArgumentError("device_models: name 2 or more, or none for every measured model");
  }
  Filter f;
  for (int i = 0; i < request.device_models_size(); ++i) {
    const std::string field = absl::StrCat("device_models[", i, "]");
    if (auto ok = tables::CheckSlug(request.device_models(i), field); !ok.ok()) return ok;
    absl::StrAppend(&f.slugs, i ? "," : "", request.device_models(i));
  }
  if (auto ok = tables::BindWorkload(request.workload(), "workload", true, &f); !ok.ok()) return ok;
  const uint32_t batch = request.batch_size() == 0 ? 1 : request.batch_size();
  f.batch_size = batch;
  return tables::Read<v1::HardwareComparison>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::HardwareComparison> {
    if (auto ok = rd.At(request.read().as_of()); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    for (int i = 0; i < request.device_models_size(); ++i) {
      auto m = tables::FindModel(**dir, request.device_models(i), absl::StrCat("device_models[", i, "]"));
      if (!m.ok()) return m.status();
    }
    v1::HardwareComparison out;
    *out.mutable_version() = rd.Version();
    *out.mutable_workload() = request.workload();
    out.set_batch_size(batch);
    const std::vector<PointCell> cells = tables::PointCells(rd, f);
    const std::string key = tables::BestKey(cells);
    if (key.empty()) return out;
    std::map<std::string, v1::Spread> largest_ok;
    for (const v1::OomRow& row : tables::OomRows(rd, f, **dir)) {
      if (tables::KeyString(row.workload()) == key && row.has_largest_ok_batch()) {
        largest_ok[row.device_model().slug()] = row.largest_ok_batch();
      }
    }
    std::vector<v1::ComparisonRow> rows;
    double fastest = 0;
    for (const PointCell& c : cells) {
      if (tables::KeyString(c.workload) != key) continue;
      *out.mutable_workload() = c.workload;
      v1::ComparisonRow row;
      *row.mutable_device_model() = tables::ModelOf(**dir, c.slug);
      if (c.tokens_per_second) {
        *row.mutable_tokens_per_second() = *c.tokens_per_second;
        fastest = std::max(fastest, c.tokens_per_second->median());
      }
      if (c.peak_bytes) *row.mutable_peak_bytes() = *c.peak_bytes;
      if (auto it = largest_ok.find(c.slug); it != largest_ok.end()) *row.mutable_largest_ok_batch() = it->second;
      tables::SetSupport(rd.verify(), c.machines, c.submissions, c.tokens_per_second ? &*c.tokens_per_second : nullptr,
                         row.mutable_support());
      row.set_reproduce_command(c.reproduce_command);
      rows.push_back(std::move(row));
    }
    for (auto& row : rows) {
      if (fastest > 0) row.set_relative_tokens_per_second(row.tokens_per_second().median() / fastest);
    }
    // Fastest first; rows that ran out of memory at this batch (no speed) last.
    std::stable_sort(rows.begin(), rows.end(), [](const v1::ComparisonRow& a, const v1::ComparisonRow& b) {
      return a.tokens_per_second().median() > b.tokens_per_second().median();
    });
    std::vector<std::pair<std::string, v1::WorkloadKey>> compared;
    for (auto& row : rows) {
      compared.emplace_back(row.device_model().slug(), out.workload());
      *out.add_rows() = std::move(row);
    }
    tables::AttachVerdicts(rd, **dir, compared, verdict_threshold_, out.mutable_verdicts());
    return out;
  });
}

absl::StatusOr<v1::StackDeltaTable> TableService::GetStackDeltas(const v1::StackDeltaRequest& request) {
  if (request.device_model().empty()) return absl::InvalidArgumentError("device_model: required");
  if (auto ok = tables::CheckSlug(request.device_model(), "device_model"); !ok.ok()) return ok;
  Filter f;
  f.slugs = request.device_model();
  if (auto ok = tables::BindWorkload(request.workload(), "workload", true, &f); !ok.ok()) return ok;
  const uint32_t batch = request.batch_size() == 0 ? 1 : request.batch_size();
  f.batch_size = batch;
  return tables::Read<v1::StackDeltaTable>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::StackDeltaTable> {
    if (auto ok = rd.At(request.read().as_of()); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    auto model = tables::FindModel(**dir, request.device_model(), "device_model");
    if (!model.ok()) return model.status();
    v1::StackDeltaTable out;
    *out.mutable_version() = rd.Version();
    *out.mutable_device_model() = *model;
    *out.mutable_workload() = request.workload();
    out.set_batch_size(batch);
    // Group by workload key; answer for the key with the most machines.
    std::map<std::string, std::vector<v1::StackDeltaRow>> by_key;
    std::map<std::string, v1::WorkloadKey> keys;
    std::map<std::string, int64_t> machines;
    for (const auto& r : rd.Table("stack_cells", f)) {
      const v1::WorkloadKey w = tables::WorkloadAt(r, 1);
      const std::string key = tables::KeyString(w);
      keys[key] = w;
      v1::StackDeltaRow row;
      constexpr int k = 1 + tables::kKeyColumns;  // columns after the key: see stack_cells.sql
      row.set_driver_version(r[k].as<std::string>());
      row.set_runtime_version(r[k + 1].as<std::string>());
      row.set_agent_version(r[k + 2].as<std::string>());
      if (auto s = tables::SpreadAt(r, k + 5)) *row.mutable_tokens_per_second() = *s;
      tables::SetSupport(rd.verify(), r[k + 3].as<int64_t>(), r[k + 4].as<int64_t>(), &row.tokens_per_second(),
                         row.mutable_support());
      machines[key] += r[k + 3].as<int64_t>();
      by_key[key].push_back(std::move(row));
    }
    if (by_key.empty()) return out;
    std::string best;
    for (const auto& [key, n] : machines) {
      if (best.empty() || n > machines[best]) best = key;
    }
    *out.mutable_workload() = keys[best];
    auto& rows = by_key[best];
    std::stable_sort(rows.begin(), rows.end(), [](const v1::StackDeltaRow& a, const v1::StackDeltaRow& b) {
      if (a.driver_version() != b.driver_version()) return tables::VersionLess(a.driver_version(), b.driver_version());
      if (a.runtime_version() != b.runtime_version()) {
        return tables::VersionLess(a.runtime_version(), b.runtime_version());
      }
      return tables::VersionLess(a.agent_version(), b.agent_version());
    });
    const double baseline = rows.front().tokens_per_second().median();
    for (auto& row : rows) {
      if (baseline > 0) row.set_relative_change(row.tokens_per_second().median() / baseline - 1.0);
      *out.add_rows() = std::move(row);
    }
    return out;
  });
}

absl::StatusOr<v1::Table> TableService::GetTable(const v1::GetTableRequest& request) {
  const v1::ResultFilter& rf = request.filter();
  v1::TableFilter tf;
  tf.set_model_preset(rf.model_preset());
  tf.set_kind(rf.kind());
  tf.set_precision(rf.precision());
  tf.set_backend(rf.backend());
  if (!rf.suite_hash().empty()) {
    return absl::InvalidArgumentError("filter.suite_hash: not supported by GetTable; use TableFilter.suite_version");
  }
  auto filter = tables::BindFilter(tf, "filter");
  if (!filter.ok()) return filter.status();
  return tables::Read<v1::Table>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::Table> {
    if (auto ok = rd.At(request.data_version()); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    // device_name: a device model slug or its display name.
    if (!rf.device_name().empty()) {
      for (const auto& [slug, m] : **dir) {
        if (slug == rf.device_name() || m.name() == rf.device_name()) absl::StrAppend(&filter->slugs, filter->slugs.empty() ? "" : ",", slug);
      }
      if (filter->slugs.empty()) filter->slugs = "-";  // matches nothing
    }
    std::map<std::string, double> largest_ok;  // slug|key -> median
    for (const v1::OomRow& row : tables::OomRows(rd, *filter, **dir)) {
      largest_ok[row.device_model().slug() + "|" + tables::KeyString(row.workload())] = row.largest_ok_batch().median();
    }
    v1::Table out;
    out.set_data_version(rd.version());
    if (rd.Version().has_made_at()) *out.mutable_generated_at() = rd.Version().made_at();
    for (const PointCell& c : tables::PointCells(rd, *filter)) {
      if (!c.tokens_per_second) continue;  // the older table lists batches that ran
      const v1::DeviceModel m = tables::ModelOf(**dir, c.slug);
      v1::TableRow* row = out.add_rows();
      row->mutable_device()->set_backend(m.backend());
      row->mutable_device()->set_vendor(m.vendor());
      row->mutable_device()->set_name(m.name());
      row->mutable_device()->set_memory_total_bytes(m.memory_bytes());
      v1::Workload* w = row->mutable_workload();
      w->set_model_preset(c.workload.model_preset());
      w->set_kind(c.workload.kind());
      w->set_precision(c.workload.precision());
      w->set_prompt_tokens(c.workload.prompt_tokens());
      w->set_generated_tokens(c.workload.generated_tokens());
      w->set_sequence_tokens(c.workload.sequence_tokens());
      w->set_lora_rank(c.workload.lora_rank());
      // Training dimensions in results.proto's form (fields 8-12), where the
      // zero values carry the pre-2027.01 meaning: older rows stay as they were.
      const v1::WorkloadKey& k = c.workload;
      if (k.activation_precision() != v1::PRECISION_FP32) w->set_activation_precision(k.activation_precision());
      w->set_gradient_checkpointing(k.gradient_checkpointing());
      if (k.accumulation_steps() > 1) w->set_accumulation_steps(k.accumulation_steps());
      if (k.full_finetune_accounting() == v1::FULL_FINETUNE_ACCOUNTING_MIXED) {
        w->set_full_finetune_accounting(v1::FULL_FINETUNE_ACCOUNTING_MIXED);
      }
      w->set_loss_chunks(k.loss_chunks());
      row->set_batch_size(c.batch_size);
      row->set_submission_count(static_cast<uint32_t>(c.submissions));
      row->set_tokens_per_second_median(c.tokens_per_second->median());
      row->set_tokens_per_second_min(c.tokens_per_second->min());
      row->set_tokens_per_second_max(c.tokens_per_second->max());
      if (c.peak_bytes) row->set_arena_peak_bytes_median(static_cast<uint64_t>(c.peak_bytes->median()));
      row->set_largest_ok_batch_median(
          static_cast<uint32_t>(largest_ok[c.slug + "|" + tables::KeyString(c.workload)]));
      row->set_device_model(c.slug);
      row->set_machine_count(static_cast<uint32_t>(c.machines));
    }
    return out;
  });
}

absl::StatusOr<v1::ListSweepsResponse> TableService::ListSweeps(const v1::ListSweepsRequest& request) {
  const v1::ResultFilter& rf = request.filter();
  v1::TableFilter tf;
  tf.set_model_preset(rf.model_preset());
  tf.set_kind(rf.kind());
  tf.set_precision(rf.precision());
  tf.set_backend(rf.backend());
  auto filter = tables::BindFilter(tf, "filter");
  if (!filter.ok()) return filter.status();
  if (rf.device_name().size() > 256) return absl::InvalidArgumentError("filter.device_name: longer than 256 bytes");
  if (rf.suite_hash().size() > 64) return absl::InvalidArgumentError("filter.suite_hash: longer than 64 bytes");
  v1::ListSweepsRequest unpaged = request;
  unpaged.clear_read();
  unpaged.clear_page_token();
  const uint64_t digest = tables::Digest(unpaged);
  v1::Page page;
  page.set_page_size(request.page_size());
  page.set_page_token(request.page_token());
  auto window = tables::ParsePage(page, digest, "");
  if (!window.ok()) {
    // ParsePage names ".page_size"/".page_token": drop the leading dot.
    return absl::InvalidArgumentError(std::string(window.status().message()).substr(1));
  }
  auto as_of = PagedVersion(request.read().as_of(), *window);
  if (!as_of.ok()) return as_of.status();
  return tables::Read<v1::ListSweepsResponse>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::ListSweepsResponse> {
    if (auto ok = rd.At(*as_of); !ok.ok()) return ok;
    v1::ListSweepsResponse out;
    *out.mutable_version() = rd.Version();
    auto rows = rd.Plain("list_sweeps", rd.version(), filter->preset, filter->kind, filter->precision,
                         rf.device_name(), filter->backend, rf.suite_hash(), static_cast<int64_t>(window->offset),
                         static_cast<int64_t>(window->size + 1));
    for (std::size_t i = 0; i < rows.size() && i < window->size; ++i) {
      const auto& r = rows[static_cast<pqxx::result::size_type>(i)];
      v1::Submission payload;
      const pqxx::binarystring bytes(r[2]);
      if (!payload.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return absl::InternalError("stored payload does not parse");
      }
      const int index = r[1].as<int>();
      if (index >= payload.sweeps_size()) return absl::InternalError("stored sweep missing from its payload");
      v1::StoredSweep* s = out.add_sweeps();
      s->set_submission_id(r[0].as<std::string>());
      *s->mutable_hardware() = payload.hardware();
      *s->mutable_software() = payload.software();
      *s->mutable_sweep() = payload.sweeps(index);
      const int64_t micros = r[3].as<int64_t>();
      s->mutable_received_at()->set_seconds(micros / 1000000);
      s->mutable_received_at()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
      const std::string action = r[4].is_null() ? "" : r[4].as<std::string>();
      s->set_flagged(action == "flag");
      s->set_retracted(action == "retract");
    }
    if (rows.size() > window->size) {
      out.set_next_page_token(tables::NextPageToken(*window, window->offset + window->size + 1, rd.version(), digest));
    }
    return out;
  });
}

}  // namespace localbench::collector
