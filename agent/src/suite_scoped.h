// Scoped templates (Suite::scoped): templates that run on some presets only.
// Kept apart from suite.cc, which calls these in one line each.
#ifndef LOCALBENCH_AGENT_SUITE_SCOPED_H_
#define LOCALBENCH_AGENT_SUITE_SCOPED_H_

#include <string>
#include <vector>

#include "localbench/agent/options.h"
#include "localbench/agent/suite.h"

namespace localbench::agent {

// One template's canonical fields ("workload kind=... lora_rank=..." and
// its training dimensions; " batch_one=deferred" only when set, so older
// suites keep their text), without a newline: shared by the general and the
// scoped lines of Suite::CanonicalText.
std::string CanonicalWorkload(const SuiteTemplate& t);

// The canonical text of suite.scoped: one line per scoped shape, "" when
// there are none (so suites without them keep their text and hash).
std::string CanonicalScoped(const Suite& suite);

// Appends the scoped shapes naming `preset` to `items`, in suite order.
void AppendScoped(const Suite& suite, const std::string& preset, std::vector<SuiteItem>& items);

// Presets named by scoped shapes but not in suite.presets, first use first.
std::vector<std::string> ScopedOnlyPresets(const Suite& suite);

// Rebuilds s.scoped from standard.scoped under the run options: --presets
// keeps the named presets, --workloads and --precisions keep the shapes of
// the listed kinds and precisions (a scoped shape exists for its precision;
// it is not re-run in another), the length lists and training dimensions
// apply as to every template (a shape they cannot apply to, e.g.
// --activation-precision bf16 to an nf4 QLoRA, is left out), and a scoped
// point the general templates already run on that preset is dropped.
void NarrowScoped(const Suite& standard, const RunOptions& options, Suite& s);

}  // namespace localbench::agent

#endif  // LOCALBENCH_AGENT_SUITE_SCOPED_H_
