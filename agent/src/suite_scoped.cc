// Scoped templates: shapes that run on some presets only (suite_scoped.h).
#include "suite_scoped.h"

#include <algorithm>
#include <sstream>

namespace localbench::agent {
namespace {

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

std::string CanonicalWorkload(const SuiteTemplate& t) {
  std::ostringstream out;
  out << "workload kind=" << WorkloadName(t.kind) << " precision=" << PrecisionName(t.precision)
      << " prompt_tokens=" << t.prompt_tokens << " generated_tokens=" << t.generated_tokens
      << " sequence_tokens=" << t.sequence_tokens << " lora_rank=" << t.lora_rank << CanonicalTrainDims(t.train);
  if (t.deferred) out << " batch_one=deferred";
  return out.str();
}

std::string CanonicalScoped(const Suite& suite) {
  std::ostringstream out;
  for (const ScopedTemplate& st : suite.scoped) {
    const SuiteTemplate& t = st.shape;
    out << "scoped presets=";
    for (std::size_t i = 0; i < st.presets.size(); ++i) out << (i ? "," : "") << st.presets[i];
    out << " " << CanonicalWorkload(t) << "\n";
  }
  return out.str();
}

void AppendScoped(const Suite& suite, const std::string& preset, std::vector<SuiteItem>& items) {
  for (const ScopedTemplate& st : suite.scoped) {
    if (Contains(st.presets, preset)) items.push_back({preset, st.shape});
  }
}

std::vector<std::string> ScopedOnlyPresets(const Suite& suite) {
  std::vector<std::string> out;
  for (const ScopedTemplate& st : suite.scoped) {
    for (const std::string& p : st.presets) {
      if (!Contains(suite.presets, p) && !Contains(out, p)) out.push_back(p);
    }
  }
  return out;
}

void NarrowScoped(const Suite& standard, const RunOptions& o, Suite& s) {
  s.scoped.clear();
  for (const ScopedTemplate& st : standard.scoped) {
    if (!o.workloads.empty() && std::find(o.workloads.begin(), o.workloads.end(), st.shape.kind) == o.workloads.end())
      continue;
    if (!o.precisions.empty() &&
        std::find(o.precisions.begin(), o.precisions.end(), st.shape.precision) == o.precisions.end())
      continue;
    Suite one;
    for (const std::string& p : st.presets) {
      if (o.presets.empty() || Contains(o.presets, p)) one.presets.push_back(p);
    }
    if (one.presets.empty()) continue;
    one.templates = {st.shape};
    // The length lists and training dimensions, exactly as ApplyOptions
    // applies them to every template (one has no scoped shapes: no recursion).
    RunOptions lengths = o;
    lengths.presets.clear();
    lengths.workloads.clear();
    lengths.precisions.clear();
    absl::StatusOr<Suite> applied = ApplyOptions(one, lengths);
    if (!applied.ok()) continue;
    for (const SuiteTemplate& t : applied->templates) {
      ScopedTemplate out{{}, t};
      const bool general = std::find(s.templates.begin(), s.templates.end(), t) != s.templates.end();
      for (const std::string& p : one.presets) {
        if (!(general && Contains(s.presets, p))) out.presets.push_back(p);
      }
      if (!out.presets.empty()) s.scoped.push_back(std::move(out));
    }
  }
}

}  // namespace localbench::agent
