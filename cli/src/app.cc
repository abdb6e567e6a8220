#include "app.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "connection.h"
#include "localbench/v1/admin.grpc.pb.h"
#include "localbench/v1/query.grpc.pb.h"
#include "output.h"
#include "training_flags.h"
#include "views.h"

namespace localbench::cli {
namespace {

constexpr uint64_t kGiB = 1ULL << 30;

const char* CodeName(grpc::StatusCode c) {
  static const std::map<grpc::StatusCode, const char*> names = {
      {grpc::StatusCode::CANCELLED, "CANCELLED"},
      {grpc::StatusCode::UNKNOWN, "UNKNOWN"},
      {grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {grpc::StatusCode::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
      {grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
      {grpc::StatusCode::ALREADY_EXISTS, "ALREADY_EXISTS"},
      {grpc::StatusCode::PERMISSION_DENIED, "PERMISSION_DENIED"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
      {grpc::StatusCode::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
      {grpc::StatusCode::ABORTED, "ABORTED"},
      {grpc::StatusCode::OUT_OF_RANGE, "OUT_OF_RANGE"},
      {grpc::StatusCode::UNIMPLEMENTED, "UNIMPLEMENTED"},
      {grpc::StatusCode::INTERNAL, "INTERNAL"},
      {grpc::StatusCode::UNAVAILABLE, "UNAVAILABLE"},
      {grpc::StatusCode::DATA_LOSS, "DATA_LOSS"},
      {grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED"},
  };
  auto it = names.find(c);
  return it == names.end() ? "ERROR" : it->second;
}

int ExitFor(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK: return kOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::ALREADY_EXISTS: return kUsage;
    case grpc::StatusCode::NOT_FOUND: return kNotFound;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED: return kNotAllowed;
    default: return kFailed;
  }
}

// Raw workload flags, parsed into a WorkloadKey on use.
struct WorkloadFlags {
  std::string preset, kind, precision;
  uint32_t prompt_tokens = 0, generated_tokens = 0, sequence_tokens = 0, lora_rank = 0;
  TrainingFlags training;
};

void AddWorkloadFlags(CLI::App* cmd, WorkloadFlags* w, bool required) {
  auto* preset = cmd->add_option("--preset", w->preset, "model preset, e.g. llama-3.2-1b");
  auto* kind = cmd->add_option("--kind", w->kind, EnumChoices(*v1::WorkloadKind_descriptor()));
  if (required) {
    preset->required();
    kind->required();
  }
  cmd->add_option("--precision", w->precision, EnumChoices(*v1::Precision_descriptor()));
  cmd->add_option("--prompt-tokens", w->prompt_tokens, "prompt length (prefill, decode)");
  cmd->add_option("--generated-tokens", w->generated_tokens, "generated tokens (decode)");
  cmd->add_option("--sequence-tokens", w->sequence_tokens, "sequence length (training)");
  cmd->add_option("--lora-rank", w->lora_rank, "LoRA rank (train_lora)");
  AddTrainingFlags(cmd, &w->training);
}

// Sets enum field `name` of `m` from `text` ("" leaves it); an error names the flag.
std::string SetEnum(google::protobuf::Message* m, const char* name, const std::string& text, const char* flag) {
  if (text.empty()) return "";
  const auto* f = m->GetDescriptor()->FindFieldByName(name);
  const auto* v = ParseEnum(*f->enum_type(), text);
  if (v == nullptr) return absl::StrCat(flag, ": unknown value '", text, "' (expected ", EnumChoices(*f->enum_type()), ")");
  m->GetReflection()->SetEnum(m, f, v);
  return "";
}

std::string FillWorkload(const WorkloadFlags& w, v1::WorkloadKey* k) {
  k->set_model_preset(w.preset);
  if (auto e = SetEnum(k, "kind", w.kind, "--kind"); !e.empty()) return e;
  if (auto e = SetEnum(k, "precision", w.precision, "--precision"); !e.empty()) return e;
  k->set_prompt_tokens(w.prompt_tokens);
  k->set_generated_tokens(w.generated_tokens);
  k->set_sequence_tokens(w.sequence_tokens);
  k->set_lora_rank(w.lora_rank);
  return FillTrainingDims(w.training, k);
}

// Everything one invocation needs to send a request and print the answer.
struct Context {
  Settings flags;
  std::string config_path = DefaultConfigPath();
  bool explicit_config = false;
  bool json = false, csv = false;
  int64_t as_of = 0;
  int timeout_s = 30;
  std::ostream* out;
  std::ostream* err;
  bool colour = false;
  std::unique_ptr<v1::Query::Stub> query;
  std::unique_ptr<v1::Admin::Stub> admin;
  Settings settings;

  Format format() const { return json ? Format::kJson : csv ? Format::kCsv : Format::kTable; }

  // Connects; false (after a message) when the settings are unusable.
  bool Connect() {
    auto s = Resolve(flags, config_path, explicit_config);
    if (!s.ok()) {
      *err << "localbench: " << s.status().message() << "\n";
      return false;
    }
    settings = *s;
    auto channel = OpenChannel(settings);
    if (!channel.ok()) {
      *err << "localbench: " << channel.status().message() << "\n";
      return false;
    }
    query = v1::Query::NewStub(*channel);
    admin = v1::Admin::NewStub(*channel);
    return true;
  }

  // Reports a failed call with what to fix; returns its exit code.
  int Failed(const char* rpc, const grpc::Status& st) {
    *err << "localbench: " << rpc << ": " << CodeName(st.error_code()) << ": " << st.error_message() << "\n";
    switch (st.error_code()) {
      case grpc::StatusCode::UNAUTHENTICATED:
        *err << "  give an editor token: --token, $LOCALBENCH_TOKEN, or `token = ...` in " << config_path << "\n";
        break;
      case grpc::StatusCode::PERMISSION_DENIED:
        *err << "  moderation and verdicts need an editor token, token commands an admin token\n";
        break;
      case grpc::StatusCode::UNAVAILABLE:
        *err << "  is the collector at " << settings.collector << " running and speaking "
             << (settings.insecure ? "plaintext" : "TLS")
             << "? (--insecure for plaintext on loopback, --ca-cert for a private CA)\n";
        break;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        *err << "  no answer within " << timeout_s << " s (--timeout)\n";
        break;
      default:
        break;
    }
    return ExitFor(st.error_code());
  }

  void Prepare(grpc::ClientContext* ctx, bool with_token) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
    if (with_token && !settings.token.empty()) ctx->AddMetadata("authorization", "Bearer " + settings.token);
  }

  // Sends `req` through `method` of `stub` and prints the answer per `view`.
  template <typename Stub, typename Req, typename Resp>
  int Call(const char* rpc, Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
           const Req& req, const View& view, bool with_token, Resp* keep = nullptr) {
    grpc::ClientContext ctx;
    Prepare(&ctx, with_token);
    Resp resp;
    grpc::Status st = (stub.*method)(&ctx, req, &resp);
    if (!st.ok()) return Failed(rpc, st);
    if (keep != nullptr) {
      *keep = resp;
      return kOk;
    }
    Print(resp, view, format(), colour, *out);
    return kOk;
  }
};

}  // namespace

int Run(int argc, char** argv, std::ostream& out, std::ostream& err, bool colour) {
  Context c;
  c.out = &out;
  c.err = &err;
  c.colour = colour;
  CLI::App app{"localbench: benchmark tables, moderation and verdicts for editors"};
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--collector", c.flags.collector, "collector HOST:PORT (env LOCALBENCH_COLLECTOR)");
  app.add_option("--token", c.flags.token, "editor or admin token (env LOCALBENCH_TOKEN)");
  app.add_option("--ca-cert", c.flags.ca_cert, "PEM of the CA that signed the collector's certificate");
  app.add_flag("--insecure", c.flags.insecure, "plaintext gRPC, no TLS (a collector on loopback only)");
  app.add_option_function<std::string>(
      "--config", [&](const std::string& p) { c.config_path = p, c.explicit_config = true; },
      "config file (default ~/.config/localbench/cli.conf; must be mode 0600)");
  auto* json = app.add_flag("--json", c.json, "print protobuf JSON");
  app.add_flag("--csv", c.csv, "print CSV")->excludes(json);
  app.add_option("--as-of", c.as_of, "read at this data version (reads only; default: the newest)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", c.timeout_s, "seconds to wait for the collector")->check(CLI::Range(1, 3600));

  // What the chosen command does, set by its callback-free parse below.
  std::function<int()> action;
  bool writes = false;  // --as-of does not apply

  // tables ...
  CLI::App* tables = app.add_subcommand("tables", "benchmark tables")->require_subcommand(1);
  v1::OomTableRequest oom;
  std::vector<std::string> device_models;
  std::string vendor, backend;
  WorkloadFlags filter_w;
  uint32_t length = 0;
  double memory_min_gib = 0, memory_max_gib = 0;
  CLI::App* t_oom = tables->add_subcommand("oom", "OOM thresholds per device model and workload");
  t_oom->add_option("--device-model", device_models, "device model slug (repeatable)");
  t_oom->add_option("--vendor", vendor, EnumChoices(*v1::Vendor_descriptor()));
  t_oom->add_option("--backend", backend, EnumChoices(*v1::Backend_descriptor()));
  t_oom->add_option("--memory-min-gib", memory_min_gib, "device memory at least (GiB)");
  t_oom->add_option("--memory-max-gib", memory_max_gib, "device memory at most (GiB)");
  t_oom->add_option("--preset", filter_w.preset, "model preset");
  t_oom->add_option("--kind", filter_w.kind, EnumChoices(*v1::WorkloadKind_descriptor()));
  t_oom->add_option("--precision", filter_w.precision, EnumChoices(*v1::Precision_descriptor()));
  t_oom->add_option("--length", length, "prompt (inference) or sequence (training) tokens");
  AddTrainingFlags(t_oom, &filter_w.training);
  t_oom->add_option("--suite-version", *oom.mutable_filter()->mutable_suite_version(), "one suite version");
  t_oom->add_option("--agent-version", *oom.mutable_filter()->mutable_agent_version(), "one agent version");
  t_oom->add_option("--sort", *oom.mutable_page()->mutable_sort(), "column, '-' prefix for descending");
  uint32_t page_size = 0;
  t_oom->add_option("--page-size", page_size, "rows per page (default 100, at most 1000)");
  t_oom->add_option("--page-token", *oom.mutable_page()->mutable_page_token(), "from a previous page");

  std::string slug;
  WorkloadFlags w;
  uint32_t batch = 0;
  CLI::App* t_curve = tables->add_subcommand("curve", "tokens/s and memory per batch size");
  t_curve->add_option("--device-model", slug, "device model slug")->required();
  AddWorkloadFlags(t_curve, &w, true);
  CLI::App* t_compare = tables->add_subcommand("compare", "device models side by side");
  t_compare->add_option("--device-model", device_models, "device model slug (2 or more; none: all measured)");
  AddWorkloadFlags(t_compare, &w, true);
  t_compare->add_option("--batch", batch, "batch size (default 1)");
  CLI::App* t_stack = tables->add_subcommand("stack", "one device model across driver/runtime/agent versions");
  t_stack->add_option("--device-model", slug, "device model slug")->required();
  AddWorkloadFlags(t_stack, &w, true);
  t_stack->add_option("--batch", batch, "batch size (default 1)");

  CLI::App* wir = app.add_subcommand("will-it-run", "will a workload fit a device model (or a memory size)?");
  double memory_gib = 0;
  wir->add_option("--device-model", slug, "device model slug");
  wir->add_option("--memory-gib", memory_gib, "device memory in GiB, when no model is named");
  AddWorkloadFlags(wir, &w, true);
  wir->add_option("--batch", batch, "batch size wanted (default 1)");

  CLI::App* submission = app.add_subcommand("submission", "stored submissions")->require_subcommand(1);
  std::string id;
  CLI::App* s_show = submission->add_subcommand("show", "one submission and its editorial state");
  s_show->add_option("ID", id, "submission id")->required();

  std::string reason;
  std::map<std::string, CLI::App*> moderation;
  for (const char* act : {"flag", "retract", "restore"}) {
    const char* what = std::string(act) == "flag"      ? "keep a submission out of public tables until restored"
                       : std::string(act) == "retract" ? "withdraw a submission from every public answer"
                                                       : "undo a flag or retraction";
    CLI::App* m = app.add_subcommand(act, what);
    m->add_option("ID", id, "submission id")->required();
    m->add_option("--reason", reason, "why (required; shown in the audit log and the public change log)")->required();
    moderation[act] = m;
  }

  CLI::App* audit = app.add_subcommand("audit", "the moderation audit trail (editor token)");
  v1::ListAuditEventsRequest audit_req;
  audit->add_option("--submission", *audit_req.mutable_submission_id(), "one submission only");
  audit->add_option("--page-size", page_size, "events per page (default 100)");
  audit->add_option("--page-token", *audit_req.mutable_page_token(), "from a previous page");
  CLI::App* changes = app.add_subcommand("changes", "the public change log (no token needed)");
  v1::ListChangesRequest changes_req;
  changes->add_option("--submission", *changes_req.mutable_submission_id(), "one submission only");
  changes->add_option("--page-size", page_size, "changes per page (default 100)");

  CLI::App* verdict = app.add_subcommand("verdict", "editors' verdicts")->require_subcommand(1);
  CLI::App* v_put = verdict->add_subcommand("put", "write a verdict (or rewrite one with --id)");
  std::string text;
  v_put->add_option("--device-model", slug, "device model slug or catalogued name")->required();
  AddWorkloadFlags(v_put, &w, false);
  v_put->add_option("--text", text, "the verdict (1..4000 characters)")->required();
  v_put->add_option("--id", id, "rewrite this verdict");
  CLI::App* v_list = verdict->add_subcommand("list", "verdicts with their staleness");
  bool stale_only = false;
  v_list->add_option("--device-model", slug, "device model slug");
  AddWorkloadFlags(v_list, &w, false);
  v_list->add_flag("--stale", stale_only, "only stale verdicts");
  CLI::App* v_show = verdict->add_subcommand("show", "one verdict with its cited figures then and now");
  v_show->add_option("ID", id, "verdict id")->required();
  v_show->add_flag("--stale", stale_only, "exit 0 only if it is stale (else 3)");
  CLI::App* v_confirm = verdict->add_subcommand("confirm", "confirm a verdict against the newest figures");
  v_confirm->add_option("ID", id, "verdict id")->required();

  CLI::App* token = app.add_subcommand("token", "editor and admin tokens (admin token)")->require_subcommand(1);
  std::string role, name;
  CLI::App* k_create = token->add_subcommand("create", "issue a token (shown once)");
  k_create->add_option("--role", role, "editor or admin")->required()->check(CLI::IsMember({"editor", "admin"}));
  k_create->add_option("--name", name, "who holds it")->required();
  CLI::App* k_revoke = token->add_subcommand("revoke", "revoke a token (an agent's: its agent id)");
  k_revoke->add_option("ID", id, "token id")->required();
  CLI::App* k_list = token->add_subcommand("list", "tokens, never their secrets");
  bool include_revoked = false;
  k_list->add_flag("--all", include_revoked, "include revoked tokens");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();  // CLI11 shows the help of the (sub)command asked about
    return kOk;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      out << e.what() << "\n";
      return kOk;
    }
    err << "localbench: " << e.what() << "\n  run `localbench --help` for usage\n";
    return kUsage;
  }

  auto usage = [&](const std::string& message) {
    err << "localbench: " << message << "\n";
    return kUsage;
  };
  std::string bad;
  v1::ReadAt read;
  read.set_as_of(c.as_of);

  if (t_oom->parsed()) {
    *oom.mutable_read() = read;
    v1::TableFilter* f = oom.mutable_filter();
    for (const auto& m : device_models) f->add_device_models(m);
    f->set_model_preset(filter_w.preset);
    f->set_sequence_tokens(length);
    f->set_memory_min_bytes(static_cast<uint64_t>(memory_min_gib * static_cast<double>(kGiB)));
    f->set_memory_max_bytes(static_cast<uint64_t>(memory_max_gib * static_cast<double>(kGiB)));
    oom.mutable_page()->set_page_size(page_size);
    for (auto [field, value, flag] : {std::tuple{"vendor", &vendor, "--vendor"}, std::tuple{"backend", &backend, "--backend"},
                                      std::tuple{"kind", &filter_w.kind, "--kind"},
                                      std::tuple{"precision", &filter_w.precision, "--precision"}}) {
      if (bad.empty()) bad = SetEnum(f, field, *value, flag);
    }
    if (bad.empty()) bad = FillTrainingDims(filter_w.training, f);
    if (!bad.empty()) return usage(bad);
    action = [&] { return c.Call("GetOomTable", *c.query, &v1::Query::Stub::GetOomTable, oom, kOomView, false); };
  } else if (t_curve->parsed()) {
    v1::BatchCurveRequest req;
    *req.mutable_read() = read;
    req.set_device_model(slug);
    if (bad = FillWorkload(w, req.mutable_workload()); !bad.empty()) return usage(bad);
    action = [&, req] { return c.Call("GetBatchCurve", *c.query, &v1::Query::Stub::GetBatchCurve, req, kCurveView, false); };
  } else if (t_compare->parsed()) {
    v1::CompareHardwareRequest req;
    *req.mutable_read() = read;
    for (const auto& m : device_models) req.add_device_models(m);
    req.set_batch_size(batch);
    if (bad = FillWorkload(w, req.mutable_workload()); !bad.empty()) return usage(bad);
    action = [&, req] {
      return c.Call("CompareHardware", *c.query, &v1::Query::Stub::CompareHardware, req, kCompareView, false);
    };
  } else if (t_stack->parsed()) {
    v1::StackDeltaRequest req;
    *req.mutable_read() = read;
    req.set_device_model(slug);
    req.set_batch_size(batch);
    if (bad = FillWorkload(w, req.mutable_workload()); !bad.empty()) return usage(bad);
    action = [&, req] { return c.Call("GetStackDeltas", *c.query, &v1::Query::Stub::GetStackDeltas, req, kStackView, false); };
  } else if (wir->parsed()) {
    v1::WillItRunRequest req;
    *req.mutable_read() = read;
    if (slug.empty() == (memory_gib <= 0)) return usage("will-it-run: give --device-model or --memory-gib (one of them)");
    req.set_device_model(slug);
    req.set_memory_bytes(static_cast<uint64_t>(memory_gib * static_cast<double>(kGiB)));
    req.set_batch_size(batch);
    if (bad = FillWorkload(w, req.mutable_workload()); !bad.empty()) return usage(bad);
    action = [&, req] { return c.Call("WillItRun", *c.query, &v1::Query::Stub::WillItRun, req, kWillItRunView, false); };
  } else if (s_show->parsed()) {
    v1::GetSubmissionRequest req;
    *req.mutable_read() = read;
    req.set_submission_id(id);
    action = [&, req] {
      return c.Call("GetSubmission", *c.query, &v1::Query::Stub::GetSubmission, req, kSubmissionView, false);
    };
  } else if (moderation["flag"]->parsed() || moderation["retract"]->parsed() || moderation["restore"]->parsed()) {
    writes = true;
    v1::ModerationRequest req;
    req.set_submission_id(id);
    req.set_reason(reason);
    if (moderation["flag"]->parsed()) {
      action = [&, req] { return c.Call("Flag", *c.admin, &v1::Admin::Stub::Flag, req, kModerationView, true); };
    } else if (moderation["retract"]->parsed()) {
      action = [&, req] { return c.Call("Retract", *c.admin, &v1::Admin::Stub::Retract, req, kModerationView, true); };
    } else {
      action = [&, req] { return c.Call("Restore", *c.admin, &v1::Admin::Stub::Restore, req, kModerationView, true); };
    }
  } else if (audit->parsed()) {
    *audit_req.mutable_read() = read;
    audit_req.set_page_size(page_size);
    action = [&] {
      return c.Call("ListAuditEvents", *c.admin, &v1::Admin::Stub::ListAuditEvents, audit_req, kAuditView, true);
    };
  } else if (changes->parsed()) {
    *changes_req.mutable_read() = read;
    changes_req.set_page_size(page_size);
    action = [&] { return c.Call("ListChanges", *c.query, &v1::Query::Stub::ListChanges, changes_req, kChangesView, false); };
  } else if (v_put->parsed()) {
    writes = true;
    v1::PutVerdictRequest req;
    req.set_device_model(slug);
    req.set_text(text);
    req.set_verdict_id(id);
    if (!w.preset.empty() || !w.kind.empty()) {
      if (bad = FillWorkload(w, req.mutable_workload()); !bad.empty()) return usage(bad);
    }
    action = [&, req] { return c.Call("PutVerdict", *c.admin, &v1::Admin::Stub::PutVerdict, req, kVerdictView, true); };
  } else if (v_list->parsed()) {
    v1::ListVerdictsRequest req;
    *req.mutable_read() = read;
    req.set_device_model(slug);
    req.set_stale_only(stale_only);
    if (!w.preset.empty() || !w.kind.empty()) {
      if (bad = FillWorkload(w, req.mutable_workload()); !bad.empty()) return usage(bad);
    }
    action = [&, req] { return c.Call("ListVerdicts", *c.query, &v1::Query::Stub::ListVerdicts, req, kVerdictsView, false); };
  } else if (v_show->parsed()) {
    action = [&] {
      v1::ListVerdictsRequest req;
      *req.mutable_read() = read;
      v1::VerdictList all;
      if (int rc = c.Call("ListVerdicts", *c.query, &v1::Query::Stub::ListVerdicts, req, kVerdictsView, false, &all);
          rc != kOk) {
        return rc;
      }
      for (const v1::Verdict& v : all.verdicts()) {
        if (v.verdict_id() != id) continue;
        if (c.format() == Format::kTable) {
          out << "verdict " << v.verdict_id() << " on " << v.device_model() << " by " << v.editor()
              << ", figures of data version " << v.written_at_version() << (v.stale() ? " (STALE)" : "") << "\n"
              << v.text() << "\n";
          for (const auto& why : v.stale_reasons()) out << "  stale: " << why << "\n";
        }
        Print(v, c.format() == Format::kJson ? kVerdictView : kCitedView, c.format(), c.colour, out);
        return stale_only && !v.stale() ? static_cast<int>(kNotFound) : static_cast<int>(kOk);
      }
      err << "localbench: verdict show: no verdict " << id << " at data version " << all.version().data_version()
          << "\n";
      return static_cast<int>(kNotFound);
    };
  } else if (v_confirm->parsed()) {
    writes = true;
    v1::ConfirmVerdictRequest req;
    req.set_verdict_id(id);
    action = [&, req] {
      return c.Call("ConfirmVerdict", *c.admin, &v1::Admin::Stub::ConfirmVerdict, req, kVerdictView, true);
    };
  } else if (k_create->parsed()) {
    writes = true;
    v1::CreateTokenRequest req;
    req.set_role(role == "admin" ? v1::ROLE_ADMIN : v1::ROLE_EDITOR);
    req.set_name(name);
    action = [&, req] { return c.Call("CreateToken", *c.admin, &v1::Admin::Stub::CreateToken, req, kTokenView, true); };
  } else if (k_revoke->parsed()) {
    writes = true;
    v1::RevokeTokenRequest req;
    req.set_token_id(id);
    action = [&, req] { return c.Call("RevokeToken", *c.admin, &v1::Admin::Stub::RevokeToken, req, kRevokeView, true); };
  } else if (k_list->parsed()) {
    v1::ListTokensRequest req;
    req.set_include_revoked(include_revoked);
    action = [&, req] { return c.Call("ListTokens", *c.admin, &v1::Admin::Stub::ListTokens, req, kTokensView, true); };
  }
  if (!action) return usage("choose a command; run `localbench --help`");
  if (writes && c.as_of != 0) return usage("--as-of applies to reads only");
  if (!c.Connect()) return kUsage;
  return action();
}

}  // namespace localbench::cli
