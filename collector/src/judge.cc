#include "judge.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "localbench/common/names.h"

namespace localbench::collector {

std::vector<Finding> JudgeSubmission(pqxx::transaction_base& tx, const v1::Submission& s, int64_t machine_id,
                                     int64_t device_id, int64_t version, const PlausibilityRules& rules) {
  if (!rules.enabled) return {};
  const pqxx::row model_row = tx.exec_prepared1("plausibility_catalogue", device_id, version);
  const std::string slug = model_row[0].as<std::string>();
  std::optional<CatalogueFigures> model;
  if (model_row[1].as<bool>()) {
    model = CatalogueFigures{slug, model_row[2].as<uint64_t>(), model_row[3].as<double>(), model_row[4].as<double>(),
                             model_row[5].as<double>()};
  }
  std::vector<Finding> findings = CheckPlausibility(s, model, model_row[6].as<uint64_t>(), rules);

  // Outliers: each OK point against the other machines' medians of its cell
  // (same device model, workload and batch) as public before this version.
  for (int i = 0; i < s.sweeps_size(); ++i) {
    const v1::Sweep& sw = s.sweeps(i);
    const v1::Workload& w = sw.workload();
    std::map<uint32_t, std::vector<double>> peers;  // batch -> other machines' medians
    for (const auto& row : tx.exec_prepared("plausibility_peers", version - 1, slug, machine_id, w.model_preset(),
                                            std::string(KindName(w.kind())), std::string(PrecisionName(w.precision())),
                                            static_cast<int64_t>(w.prompt_tokens()),
                                            static_cast<int64_t>(w.generated_tokens()),
                                            static_cast<int64_t>(w.sequence_tokens()),
                                            static_cast<int64_t>(w.lora_rank()))) {
      peers[row[0].as<uint32_t>()].push_back(row[1].as<double>());
    }
    for (int k = 0; k < sw.points_size(); ++k) {
      const v1::Point& pt = sw.points(k);
      auto it = peers.find(pt.batch_size());
      if (pt.status() != v1::POINT_STATUS_OK || it == peers.end()) continue;
      if (auto f = CheckOutlier(absl::StrCat("sweeps[", i, "].points[", k, "].tokens_per_second_median"),
                                pt.tokens_per_second_median(), it->second, rules)) {
        findings.push_back(*std::move(f));
      }
    }
  }
  if (findings.empty()) return findings;
  for (std::size_t i = 0; i < findings.size() && i < kMaxStoredFindings; ++i) {
    const Finding& f = findings[i];
    tx.exec_prepared("plausibility_finding_insert", s.submission_id(), static_cast<int64_t>(i), f.reason,
                     f.field.substr(0, 256), f.detail);
  }
  tx.exec_prepared("plausibility_flag", s.submission_id(), SummarizeFindings(findings), version);
  return findings;
}

}  // namespace localbench::collector
