// The terminal-table columns of each `localbench` answer (JSON and CSV
// print every field; these choose what fits a terminal).
#ifndef LOCALBENCH_CLI_VIEWS_H_
#define LOCALBENCH_CLI_VIEWS_H_

#include "output.h"

namespace localbench::cli {

inline const View kOomView{"rows",
                    {{"DEVICE MODEL", "device_model.slug"},
                     {"PRESET", "workload.model_preset"},
                     {"KIND", "workload.kind"},
                     {"PRECISION", "workload.precision"},
                     {"PROMPT", "workload.prompt_tokens"},
                     {"SEQ", "workload.sequence_tokens"},
                     {"ACT", "workload.activation_precision"},
                     {"CKPT", "workload.gradient_checkpointing"},
                     {"ACCUM", "workload.accumulation_steps"},
                     {"LOSS CHUNKS", "workload.loss_chunks"},
                     {"ACCOUNTING", "workload.full_finetune_accounting"},
                     {"LARGEST OK", "largest_ok_batch.median"},
                     {"OOM AT", "smallest_failed_batch.median"},
                     {"PLAN MAX", "planned_max_batch"},
                     {"MACHINES", "support.machine_count"},
                     {"VERIFIED", "support.verified"}}};
inline const View kCurveView{"points",
                      {{"BATCH", "batch_size"},
                       {"TOKENS/S", "tokens_per_second.median"},
                       {"MIN", "tokens_per_second.min"},
                       {"MAX", "tokens_per_second.max"},
                       {"PEAK BYTES", "peak_bytes.median"},
                       {"PLAN BYTES", "planned_bytes"},
                       {"MACHINES", "support.machine_count"},
                       {"OOM MACHINES", "oom_machine_count"}}};
inline const View kCompareView{"rows",
                        {{"DEVICE MODEL", "device_model.slug"},
                         {"TOKENS/S", "tokens_per_second.median"},
                         {"RELATIVE", "relative_tokens_per_second"},
                         {"PEAK BYTES", "peak_bytes.median"},
                         {"LARGEST OK", "largest_ok_batch.median"},
                         {"MACHINES", "support.machine_count"},
                         {"VERIFIED", "support.verified"}}};
inline const View kStackView{"rows",
                      {{"DRIVER", "driver_version"},
                       {"RUNTIME", "runtime_version"},
                       {"AGENT", "agent_version"},
                       {"TOKENS/S", "tokens_per_second.median"},
                       {"CHANGE", "relative_change"},
                       {"MACHINES", "support.machine_count"}}};
inline const View kWillItRunView{"",
                          {{"FIT", "fit"},
                           {"MARGIN BYTES", "margin_bytes"},
                           {"REQUIRED BYTES", "required_bytes.value"},
                           {"LARGEST BATCH", "largest_batch.value"},
                           {"BASIS", "largest_batch.basis"},
                           {"TOKENS/S", "tokens_per_second.value"},
                           {"SPEED BASIS", "tokens_per_second.basis"},
                           {"ADVICE", "advice"}}};
inline const View kSubmissionView{"",
                           {{"SUBMISSION", "submission.submission_id"},
                            {"DEVICE MODEL", "device_model"},
                            {"RECEIVED", "received_at"},
                            {"STORED AT VERSION", "stored_data_version"},
                            {"FLAGGED", "flagged"},
                            {"RETRACTED", "retracted"},
                            {"REASON", "flag_reason"}}};
inline const View kModerationView{"",
                           {{"SUBMISSION", "submission_id"},
                            {"FLAGGED", "flagged"},
                            {"RETRACTED", "retracted"},
                            {"DATA VERSION", "data_version"}}};
inline const View kAuditView{"events",
                      {{"EVENT", "event_id"},
                       {"AT", "at"},
                       {"ACTION", "action"},
                       {"SUBMISSION", "submission_id"},
                       {"ACTOR", "actor"},
                       {"VERSION", "data_version"},
                       {"REASON", "reason"}}};
inline const View kChangesView{"changes",
                        {{"EVENT", "event_id"},
                         {"AT", "at"},
                         {"ACTION", "action"},
                         {"SUBMISSION", "submission_id"},
                         {"VERSION", "data_version"},
                         {"REASON", "reason"}}};
inline const View kVerdictsView{"verdicts",
                         {{"VERDICT", "verdict_id"},
                          {"DEVICE MODEL", "device_model"},
                          {"PRESET", "workload.model_preset"},
                          {"KIND", "workload.kind"},
                          {"CKPT", "workload.gradient_checkpointing"},
                          {"ACT", "workload.activation_precision"},
                          {"STALE", "stale"},
                          {"WRITTEN AT", "written_at_version"},
                          {"EDITOR", "editor"},
                          {"TEXT", "text"},
                          {"WHY STALE", "stale_reasons"}}};
inline const View kVerdictView{"",
                        {{"VERDICT", "verdict_id"},
                         {"DEVICE MODEL", "device_model"},
                         {"STALE", "stale"},
                         {"WRITTEN AT", "written_at_version"},
                         {"EDITOR", "editor"},
                         {"TEXT", "text"}}};
inline const View kCitedView{"cited",
                      {{"PRESET", "workload.model_preset"},
                       {"KIND", "workload.kind"},
                       {"PRECISION", "workload.precision"},
                       {"ACT", "workload.activation_precision"},
                       {"CKPT", "workload.gradient_checkpointing"},
                       {"ACCUM", "workload.accumulation_steps"},
                       {"BATCH", "batch_size"},
                       {"TOKENS/S THEN", "tokens_per_second_then"},
                       {"NOW", "tokens_per_second_now"},
                       {"LARGEST OK THEN", "largest_ok_batch_then"},
                       {"NOW", "largest_ok_batch_now"},
                       {"MACHINES THEN", "machine_count_then"},
                       {"NOW", "machine_count_now"},
                       {"MOVED", "moved"}}};
inline const View kTokenView{"", {{"TOKEN ID", "token_id"}, {"TOKEN (shown once)", "token"}}};
inline const View kTokensView{"tokens",
                       {{"TOKEN ID", "token_id"},
                        {"ROLE", "role"},
                        {"NAME", "name"},
                        {"CREATED", "created_at"},
                        {"REVOKED", "revoked_at"}}};
inline const View kRevokeView{"", {{"REVOKED", "revoked"}}};

}  // namespace localbench::cli

#endif  // LOCALBENCH_CLI_VIEWS_H_
