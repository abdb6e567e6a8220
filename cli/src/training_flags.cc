#include "training_flags.h"

namespace localbench::cli {

void AddTrainingFlags(CLI::App* cmd, TrainingFlags* t) {
  cmd->add_option("--activation-precision", t->activation_precision,
                  "training: saved activations in fp32, fp16 or bf16 (default: any)");
  cmd->add_option("--gradient-checkpointing", t->gradient_checkpointing, "training: on or off (default: any)")
      ->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("--accumulation-steps", t->accumulation_steps,
                  "training: micro-batches per optimizer step, 1..1024 (default: any)");
  cmd->add_option("--full-accounting", t->full_accounting, "train_full: mixed or lean (default: any)")
      ->check(CLI::IsMember({"mixed", "lean"}));
  cmd->add_option("--loss-chunks", t->loss_chunks, "training: cross-entropy chunks, 0 = whole (default: any)");
}

}  // namespace localbench::cli
