// Verdicts on the read side: citing cells, staleness at a version, and the
// verdicts served with the tables.
#include "tables/verdicts.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "localbench/collector/workload_key.h"
#include "tables/cells.h"

namespace localbench::collector::tables {
namespace {

// The figures a verdict can cite for one device model x workload key.
struct Figures {
  v1::WorkloadKey workload;
  double tokens_per_second = 0;  // median over machines at kCitedBatch; 0: none
  double largest_ok_batch = 0;   // median over machines
  uint32_t machines = 0;
};

// slug -> workload key string -> figures, at the reader's version, for the
// device models `slugs` (comma-separated; "" all).
using FigureMap = std::map<std::string, std::map<std::string, Figures>>;

FigureMap FiguresAt(Reader& rd, const Directory& dir, const std::string& slugs) {
  FigureMap out;
  Filter f;
  f.slugs = slugs;
  for (const v1::OomRow& row : OomRows(rd, f, dir)) {
    Figures& fig = out[row.device_model().slug()][KeyString(row.workload())];
    fig.workload = row.workload();
    fig.largest_ok_batch = row.has_largest_ok_batch() ? row.largest_ok_batch().median() : 0;
    fig.machines = row.support().machine_count();
  }
  f.batch_size = kCitedBatch;
  for (const PointCell& c : PointCells(rd, f)) {
    auto model = out.find(c.slug);
    if (model == out.end()) continue;
    auto cell = model->second.find(KeyString(c.workload));
    if (cell != model->second.end() && c.tokens_per_second) cell->second.tokens_per_second = c.tokens_per_second->median();
  }
  return out;
}

std::string CellName(const v1::WorkloadKey& w, uint32_t batch) {
  const std::string dims = TrainingDimsLabel(w);
  return absl::StrCat(w.model_preset(), " ", KindName(w.kind()), " ", PrecisionName(w.precision()),
                      dims.empty() ? "" : absl::StrCat(" (", dims, ")"), " b", batch);
}

// Fills the "now" fields of `c` from `now`, decides whether it moved, and
// says why in `reasons`.
void Judge(const Figures& then_fig, const Figures& now, double threshold, v1::CitedCell* c,
           std::vector<std::string>* reasons) {
  c->set_tokens_per_second_now(now.tokens_per_second);
  c->set_largest_ok_batch_now(static_cast<uint32_t>(now.largest_ok_batch));
  c->set_machine_count_now(now.machines);
  std::vector<std::string> why;
  const double then = then_fig.tokens_per_second;
  if (then > 0 ? std::abs(now.tokens_per_second - then) / then > threshold : now.tokens_per_second > 0) {
    why.push_back(then > 0 ? absl::StrFormat("tokens/s %.1f -> %.1f (%+.0f%%)", then, now.tokens_per_second,
                                             100.0 * (now.tokens_per_second / then - 1.0))
                           : absl::StrFormat("tokens/s %.1f -> %.1f", then, now.tokens_per_second));
  }
  if (std::abs(now.largest_ok_batch - then_fig.largest_ok_batch) > 1e-9) {
    why.push_back(absl::StrFormat("OOM threshold %g -> %g", then_fig.largest_ok_batch, now.largest_ok_batch));
  }
  if (now.machines < then_fig.machines) {
    why.push_back(absl::StrFormat("machines %d -> %d", then_fig.machines, now.machines));
  }
  c->set_moved(!why.empty());
  if (!why.empty()) {
    reasons->push_back(absl::StrCat(CellName(c->workload(), c->batch_size()), ": ", absl::StrJoin(why, "; ")));
  }
}

v1::WorkloadKey ParseWorkload(const pqxx::field& field) {
  const pqxx::binarystring bytes(field);
  v1::WorkloadKey w;
  // The bytes were written by this code: a failure is a broken invariant,
  // reported as INTERNAL by tables::Read.
  if (!w.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw std::runtime_error("stored verdict workload does not parse");
  }
  return w;
}

}  // namespace

bool WorkloadCovers(const v1::WorkloadKey& judged, const v1::WorkloadKey& cell) {
  if (judged.model_preset() != cell.model_preset() || judged.kind() != cell.kind()) return false;
  if (judged.precision() != v1::PRECISION_UNSPECIFIED && judged.precision() != cell.precision()) return false;
  if (judged.prompt_tokens() != 0 && judged.prompt_tokens() != cell.prompt_tokens()) return false;
  if (judged.generated_tokens() != 0 && judged.generated_tokens() != cell.generated_tokens()) return false;
  if (judged.sequence_tokens() != 0 && judged.sequence_tokens() != cell.sequence_tokens()) return false;
  if (judged.lora_rank() != 0 && judged.lora_rank() != cell.lora_rank()) return false;
  // A training dimension the verdict names must be the cell's (an inference
  // cell has none); one it leaves unset covers every value (verdicts written
  // before the dimensions existed keep covering what they covered).
  const v1::WorkloadKey c = CanonicalWorkloadKey(cell);
  if (judged.has_activation_precision() &&
      (!c.has_activation_precision() || judged.activation_precision() != c.activation_precision())) {
    return false;
  }
  if (judged.has_gradient_checkpointing() &&
      (!c.has_gradient_checkpointing() || judged.gradient_checkpointing() != c.gradient_checkpointing())) {
    return false;
  }
  if (judged.has_accumulation_steps() &&
      (!c.has_accumulation_steps() || judged.accumulation_steps() != c.accumulation_steps())) {
    return false;
  }
  if (judged.has_full_finetune_accounting() && (!c.has_full_finetune_accounting() ||
                                                judged.full_finetune_accounting() != c.full_finetune_accounting())) {
    return false;
  }
  return !judged.has_loss_chunks() || (c.has_loss_chunks() && judged.loss_chunks() == c.loss_chunks());
}

std::vector<CitedFigure> CiteCells(Reader& rd, const Directory& dir, const std::string& slug,
                                   const v1::WorkloadKey* judged) {
  FigureMap figures = FiguresAt(rd, dir, slug);
  std::vector<CitedFigure> out;
  for (const auto& [key, f] : figures[slug]) {
    if (judged != nullptr && !WorkloadCovers(*judged, f.workload)) continue;
    CitedFigure c;
    *c.cell.mutable_workload() = f.workload;
    c.cell.set_batch_size(kCitedBatch);
    c.cell.set_tokens_per_second_then(f.tokens_per_second);
    c.cell.set_largest_ok_batch_then(static_cast<uint32_t>(f.largest_ok_batch));
    c.cell.set_machine_count_then(f.machines);
    c.largest_ok_batch = f.largest_ok_batch;
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<v1::Verdict> VerdictsAt(Reader& rd, const Directory& dir, const std::string& slugs,
                                    const std::string& verdict_id, double threshold) {
  const pqxx::result heads = rd.Plain("verdicts_at", rd.version(), slugs, verdict_id);
  if (heads.empty()) return {};
  std::vector<v1::Verdict> out;
  std::map<int64_t, std::size_t> index_of_revision;
  std::set<std::string> models;
  for (const auto& row : heads) {
    v1::Verdict v;
    v.set_verdict_id(row[1].as<std::string>());
    v.set_device_model(row[2].as<std::string>());
    if (!row[3].is_null()) *v.mutable_workload() = ParseWorkload(row[3]);
    v.set_text(row[4].as<std::string>());
    v.set_editor(row[5].as<std::string>());
    const int64_t micros = row[6].as<int64_t>();
    v.mutable_written_at()->set_seconds(micros / 1000000);
    v.mutable_written_at()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
    v.set_written_at_version(row[7].as<int64_t>());
    index_of_revision[row[0].as<int64_t>()] = out.size();
    models.insert(v.device_model());
    out.push_back(std::move(v));
  }
  std::vector<std::string> revisions;
  for (const auto& [revision, unused] : index_of_revision) revisions.push_back(absl::StrCat(revision));
  FigureMap now = FiguresAt(rd, dir, absl::StrJoin(models, ","));
  std::vector<std::vector<std::string>> reasons(out.size());
  for (const auto& row : rd.Plain("verdict_cells", absl::StrCat("{", absl::StrJoin(revisions, ","), "}"))) {
    const std::size_t i = index_of_revision.at(row[0].as<int64_t>());
    v1::Verdict& v = out[i];
    Figures then;
    then.workload = ParseWorkload(row[1]);
    then.tokens_per_second = row[3].as<double>();
    then.largest_ok_batch = row[4].as<double>();
    then.machines = row[5].as<uint32_t>();
    v1::CitedCell* c = v.add_cited();
    *c->mutable_workload() = then.workload;
    c->set_batch_size(row[2].as<uint32_t>());
    c->set_tokens_per_second_then(then.tokens_per_second);
    c->set_largest_ok_batch_then(static_cast<uint32_t>(then.largest_ok_batch));
    c->set_machine_count_then(then.machines);
    Figures current;  // all zero: nothing public left
    const auto& model = now[v.device_model()];
    if (auto it = model.find(KeyString(then.workload)); it != model.end()) current = it->second;
    Judge(then, current, threshold, c, &reasons[i]);
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].set_stale(!reasons[i].empty());
    for (auto& r : reasons[i]) out[i].add_stale_reasons(std::move(r));
  }
  // Documented order: device model, then workload (whole-model first), then id.
  std::stable_sort(out.begin(), out.end(), [](const v1::Verdict& a, const v1::Verdict& b) {
    const std::string ka = a.has_workload() ? KeyString(a.workload()) : "";
    const std::string kb = b.has_workload() ? KeyString(b.workload()) : "";
    return std::tie(a.device_model(), ka, a.verdict_id()) < std::tie(b.device_model(), kb, b.verdict_id());
  });
  return out;
}

void AttachVerdicts(Reader& rd, const Directory& dir,
                    const std::vector<std::pair<std::string, v1::WorkloadKey>>& cells, double threshold,
                    google::protobuf::RepeatedPtrField<v1::Verdict>* out) {
  std::set<std::string> slugs;
  for (const auto& [slug, unused] : cells) slugs.insert(slug);
  if (slugs.empty()) return;
  for (v1::Verdict& v : VerdictsAt(rd, dir, absl::StrJoin(slugs, ","), "", threshold)) {
    bool keep = !v.has_workload();
    for (const auto& [slug, w] : cells) {
      if (keep) break;
      keep = slug == v.device_model() && WorkloadCovers(v.workload(), w);
    }
    if (keep) *out->Add() = std::move(v);
  }
}

}  // namespace localbench::collector::tables
