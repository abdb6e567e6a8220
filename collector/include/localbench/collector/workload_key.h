// The served identity of a workload (v1::WorkloadKey) with its training
// dimensions (fields 8-12, issue 13): one canonical form for comparing keys,
// and the words and agent flags that name the dimensions. Shared by the
// tables, the verdicts and the HTTP charts so all of them tell the same
// cells apart.
#ifndef LOCALBENCH_COLLECTOR_WORKLOAD_KEY_H_
#define LOCALBENCH_COLLECTOR_WORKLOAD_KEY_H_

#include <string>

#include "localbench/v1/query.pb.h"

namespace localbench::collector {

// True for TRAIN_LORA and TRAIN_FULL, the kinds with training dimensions.
bool IsTrainingKind(v1::WorkloadKind kind);

// The key as a served row states it: on a training kind every training
// dimension set, an unset one at its pre-2027.01 meaning (fp32 activations,
// no checkpointing, accumulation 1, whole loss, LEAN for TRAIN_FULL; no
// accounting on TRAIN_LORA); on an inference kind none. Keys stored before
// the dimensions existed (verdicts' cited cells) compare equal to the cells
// they were written on.
v1::WorkloadKey CanonicalWorkloadKey(v1::WorkloadKey w);

// The training dimensions that differ from the pre-2027.01 meaning, in
// words for labels: "bf16 act, ckpt, accum 4, loss 8 chunks, mixed"; empty
// when none (older rows keep their labels).
std::string TrainingDimsLabel(const v1::WorkloadKey& w);

// The `localbench-agent run` flags selecting exactly the training
// dimensions of `w` (canonicalised); empty for inference.
std::string TrainingDimsFlags(const v1::WorkloadKey& w);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_WORKLOAD_KEY_H_
