// The editors' side against a real PostgreSQL and real gRPC on loopback:
// every role boundary of the Admin service, moderation taking a submission
// out of and back into the tables and will-it-run with its audit trail and
// as_of intact, and verdicts going stale and fresh again.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "localbench/collector/editors.h"
#include "localbench/v1/admin.grpc.pb.h"
#include "localbench/v1/query.grpc.pb.h"
#include "tables_fixture.h"

namespace localbench::test_support {
namespace {

LOCALBENCH_USE_THROWAWAY_POSTGRES();

class EditorsTest : public TablesTest {
 protected:
  void SetUp() override {
    TablesTest::SetUp();
    if (HasFatalFailure()) return;
    pqxx::connection conn(collector_->db_url());
    auto admin = collector::CreateApiToken(conn, v1::ROLE_ADMIN, "root admin");
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_token_ = admin->token();
    admin_stub_ = v1::Admin::NewStub(collector_->NewChannel());
    query_stub_ = v1::Query::NewStub(collector_->NewChannel());
  }

  // A token of `role` named `name`, issued over gRPC by the admin.
  v1::CreateTokenResponse Issue(v1::Role role, const std::string& name) {
    v1::CreateTokenRequest req;
    req.set_role(role);
    req.set_name(name);
    v1::CreateTokenResponse resp;
    grpc::ClientContext ctx;
    SetBearer(ctx, admin_token_);
    grpc::Status st = admin_stub_->CreateToken(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }

  grpc::Status Moderate(const std::string& token, const std::string& action, const std::string& id,
                        const std::string& reason, v1::ModerationResponse* resp = nullptr) {
    v1::ModerationRequest req;
    req.set_submission_id(id);
    req.set_reason(reason);
    v1::ModerationResponse unused;
    if (resp == nullptr) resp = &unused;
    grpc::ClientContext ctx;
    if (!token.empty()) SetBearer(ctx, token);
    if (action == "flag") return admin_stub_->Flag(&ctx, req, resp);
    if (action == "retract") return admin_stub_->Retract(&ctx, req, resp);
    return admin_stub_->Restore(&ctx, req, resp);
  }

  v1::Verdict Put(const std::string& token, const v1::PutVerdictRequest& req) {
    v1::Verdict v;
    grpc::ClientContext ctx;
    SetBearer(ctx, token);
    grpc::Status st = admin_stub_->PutVerdict(&ctx, req, &v);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return v;
  }

  v1::VerdictList Verdicts(int64_t as_of = 0, bool stale_only = false) {
    v1::ListVerdictsRequest req;
    req.mutable_read()->set_as_of(as_of);
    req.set_device_model("rtx-4090-24gb");
    req.set_stale_only(stale_only);
    v1::VerdictList out;
    grpc::ClientContext ctx;  // public: no token
    grpc::Status st = query_stub_->ListVerdicts(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out;
  }

  v1::OomTable Oom(int64_t as_of = 0) {
    v1::OomTableRequest req;
    req.mutable_read()->set_as_of(as_of);
    auto t = tables().GetOomTable(req);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : v1::OomTable();
  }

  std::string admin_token_;
  std::unique_ptr<v1::Admin::Stub> admin_stub_;
  std::unique_ptr<v1::Query::Stub> query_stub_;
};

// Every Admin RPC once, with `token` ("" sends none); returns the codes.
std::vector<grpc::StatusCode> CallEveryAdminRpc(v1::Admin::Stub& stub, const std::string& token) {
  std::vector<std::function<grpc::Status(grpc::ClientContext*)>> calls = {
      [&](grpc::ClientContext* c) { v1::ModerationResponse r; return stub.Flag(c, {}, &r); },
      [&](grpc::ClientContext* c) { v1::ModerationResponse r; return stub.Retract(c, {}, &r); },
      [&](grpc::ClientContext* c) { v1::ModerationResponse r; return stub.Restore(c, {}, &r); },
      [&](grpc::ClientContext* c) { v1::AuditEventList r; return stub.ListAuditEvents(c, {}, &r); },
      [&](grpc::ClientContext* c) { v1::Verdict r; return stub.PutVerdict(c, {}, &r); },
      [&](grpc::ClientContext* c) { v1::Verdict r; return stub.ConfirmVerdict(c, {}, &r); },
      [&](grpc::ClientContext* c) { v1::CreateTokenResponse r; return stub.CreateToken(c, {}, &r); },
      [&](grpc::ClientContext* c) { v1::RevokeTokenResponse r; return stub.RevokeToken(c, {}, &r); },
      [&](grpc::ClientContext* c) { v1::TokenList r; return stub.ListTokens(c, {}, &r); },
  };
  std::vector<grpc::StatusCode> codes;
  for (auto& call : calls) {
    grpc::ClientContext ctx;
    if (!token.empty()) SetBearer(ctx, token);
    codes.push_back(call(&ctx).error_code());
  }
  return codes;
}

TEST_F(EditorsTest, EveryAdminRpcRefusesAgentTokensAndMissingTokens) {
  auto agent = collector_->Enroll();
  ASSERT_TRUE(agent.ok()) << agent.status();
  const std::vector<grpc::StatusCode> none = CallEveryAdminRpc(*admin_stub_, "");
  const std::vector<grpc::StatusCode> as_agent = CallEveryAdminRpc(*admin_stub_, agent->agent_token());
  const std::vector<grpc::StatusCode> unknown = CallEveryAdminRpc(*admin_stub_, std::string(64, 'a'));
  ASSERT_EQ(none.size(), 9u);
  for (std::size_t i = 0; i < none.size(); ++i) {
    EXPECT_EQ(none[i], grpc::StatusCode::UNAUTHENTICATED) << "rpc #" << i;
    EXPECT_EQ(as_agent[i], grpc::StatusCode::PERMISSION_DENIED) << "rpc #" << i;
    EXPECT_EQ(unknown[i], grpc::StatusCode::UNAUTHENTICATED) << "rpc #" << i;
  }
  // An editor passes the role check on the first six (and then fails on the
  // empty requests' validation), and is refused the three token RPCs.
  const v1::CreateTokenResponse editor = Issue(v1::ROLE_EDITOR, "Ed Itor");
  const std::vector<grpc::StatusCode> as_editor = CallEveryAdminRpc(*admin_stub_, editor.token());
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_NE(as_editor[i], grpc::StatusCode::PERMISSION_DENIED) << "rpc #" << i;
    EXPECT_NE(as_editor[i], grpc::StatusCode::UNAUTHENTICATED) << "rpc #" << i;
  }
  for (std::size_t i = 6; i < 9; ++i) EXPECT_EQ(as_editor[i], grpc::StatusCode::PERMISSION_DENIED) << "rpc #" << i;
  // The admin passes everywhere.
  const std::vector<grpc::StatusCode> as_admin = CallEveryAdminRpc(*admin_stub_, admin_token_);
  for (std::size_t i = 0; i < 9; ++i) {
    EXPECT_NE(as_admin[i], grpc::StatusCode::PERMISSION_DENIED) << "rpc #" << i;
    EXPECT_NE(as_admin[i], grpc::StatusCode::UNAUTHENTICATED) << "rpc #" << i;
  }
}

TEST_F(EditorsTest, PublicReadsNeedNoToken) {
  Store(Build(1, 1));
  grpc::ClientContext c1, c2, c3;
  v1::VerdictList verdicts;
  v1::ChangeList changes;
  v1::OomTable oom;
  EXPECT_TRUE(query_stub_->ListVerdicts(&c1, {}, &verdicts).ok());
  EXPECT_TRUE(query_stub_->ListChanges(&c2, {}, &changes).ok());
  ASSERT_TRUE(query_stub_->GetOomTable(&c3, {}, &oom).ok());
  EXPECT_FALSE(oom.rows().empty());
}

TEST_F(EditorsTest, RevokedTokensAreRefusedOnTheNextCall) {
  const v1::CreateTokenResponse editor = Issue(v1::ROLE_EDITOR, "Short Lived");
  const v1::Submission s = Build(1, 1);
  Store(s);
  ASSERT_TRUE(Moderate(editor.token(), "flag", s.submission_id(), "looks off").ok());

  v1::RevokeTokenRequest revoke;
  revoke.set_token_id(editor.token_id());
  v1::RevokeTokenResponse revoked;
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, admin_token_);
    ASSERT_TRUE(admin_stub_->RevokeToken(&ctx, revoke, &revoked).ok());
    EXPECT_TRUE(revoked.revoked());
  }
  grpc::Status st = Moderate(editor.token(), "restore", s.submission_id(), "fine after all");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, admin_token_);
    ASSERT_TRUE(admin_stub_->RevokeToken(&ctx, revoke, &revoked).ok());
    EXPECT_FALSE(revoked.revoked()) << "already revoked";
  }
  // Listing: revoked ones only when asked, never a secret.
  v1::ListTokensRequest list;
  v1::TokenList tokens;
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, admin_token_);
    ASSERT_TRUE(admin_stub_->ListTokens(&ctx, list, &tokens).ok());
  }
  for (const auto& t : tokens.tokens()) EXPECT_NE(t.token_id(), editor.token_id());
  list.set_include_revoked(true);
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, admin_token_);
    ASSERT_TRUE(admin_stub_->ListTokens(&ctx, list, &tokens).ok());
  }
  bool listed = false;
  for (const auto& t : tokens.tokens()) {
    if (t.token_id() != editor.token_id()) continue;
    listed = true;
    EXPECT_EQ(t.role(), v1::ROLE_EDITOR);
    EXPECT_EQ(t.name(), "Short Lived");
    EXPECT_TRUE(t.has_revoked_at());
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(tokens.DebugString().find(editor.token()), std::string::npos);

  // An agent's token, revoked by its agent id, stops submitting at once
  // (the collector's token cache forgets it).
  auto agent = collector_->Enroll(FingerprintFor(77));
  ASSERT_TRUE(agent.ok());
  auto ingest = collector_->NewIngestStub();
  auto submit = [&](uint64_t seed) {
    v1::SubmitRequest req;
    *req.mutable_submission() = MakeSubmission(seed, 1, 3);
    req.mutable_submission()->set_machine_fingerprint(FingerprintFor(77));
    v1::SubmitResponse resp;
    grpc::ClientContext ctx;
    SetBearer(ctx, agent->agent_token());
    return ingest->Submit(&ctx, req, &resp);
  };
  ASSERT_TRUE(submit(77).ok());
  revoke.set_token_id(agent->agent_id());
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, admin_token_);
    ASSERT_TRUE(admin_stub_->RevokeToken(&ctx, revoke, &revoked).ok());
    EXPECT_TRUE(revoked.revoked());
  }
  EXPECT_EQ(submit(78).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(EditorsTest, ModerationLeavesAndReturnsWithAuditTrailAndAsOf) {
  const v1::CreateTokenResponse editor = Issue(v1::ROLE_EDITOR, "Mod Erator");
  const v1::Submission a = Build(1, 1);
  const v1::Submission b = Build(2, 2, Variant{.speed = 1.1});
  Store(a);
  Store(b);
  const int64_t before = Latest();
  const v1::OomTable oom_before = Oom();
  ASSERT_FALSE(oom_before.rows().empty());
  EXPECT_EQ(oom_before.rows(0).support().machine_count(), 2u);

  v1::WillItRunRequest wir;
  wir.set_device_model("rtx-4090-24gb");
  *wir.mutable_workload() = KeyOf(a, 0);
  auto answer = tables().WillItRun(wir);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->tokens_per_second().basis(), v1::BASIS_MEASURED);
  EXPECT_EQ(answer->tokens_per_second().machine_count(), 2u);

  // Refusals name what to fix and change nothing.
  EXPECT_EQ(Moderate(editor.token(), "retract", a.submission_id(), "").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Moderate(editor.token(), "restore", a.submission_id(), "nothing to restore").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Moderate(editor.token(), "flag", UuidFor(999), "no such").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Latest(), before);

  v1::ModerationResponse resp;
  ASSERT_TRUE(Moderate(editor.token(), "retract", a.submission_id(), "driver bug inflated speed", &resp).ok());
  EXPECT_TRUE(resp.retracted());
  EXPECT_EQ(resp.data_version(), before + 1);
  EXPECT_EQ(Moderate(editor.token(), "retract", a.submission_id(), "again").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Oom().rows(0).support().machine_count(), 1u);
  answer = tables().WillItRun(wir);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->tokens_per_second().machine_count(), 1u);
  // Both out: will-it-run falls back to a prediction; the table is empty.
  ASSERT_TRUE(Moderate(editor.token(), "flag", b.submission_id(), "implausible clocks").ok());
  EXPECT_TRUE(Oom().rows().empty());
  answer = tables().WillItRun(wir);
  ASSERT_TRUE(answer.ok());
  EXPECT_NE(answer->tokens_per_second().basis(), v1::BASIS_MEASURED);
  // as_of still reproduces what was served before, byte for byte.
  EXPECT_EQ(Bytes(Oom(before)), Bytes(oom_before));

  ASSERT_TRUE(Moderate(editor.token(), "restore", a.submission_id(), "vendor confirmed the fix", &resp).ok());
  ASSERT_TRUE(Moderate(editor.token(), "restore", b.submission_id(), "clocks explained").ok());
  EXPECT_EQ(Oom().rows(0).support().machine_count(), 2u);
  answer = tables().WillItRun(wir);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->tokens_per_second().basis(), v1::BASIS_MEASURED);

  // The audit trail (editors): who, why, which version, newest first.
  v1::ListAuditEventsRequest audit_req;
  audit_req.set_submission_id(a.submission_id());
  v1::AuditEventList audit;
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, editor.token());
    ASSERT_TRUE(admin_stub_->ListAuditEvents(&ctx, audit_req, &audit).ok());
  }
  ASSERT_EQ(audit.events_size(), 2);
  EXPECT_EQ(audit.events(0).action(), "restore");
  EXPECT_EQ(audit.events(1).action(), "retract");
  EXPECT_EQ(audit.events(1).reason(), "driver bug inflated speed");
  EXPECT_EQ(audit.events(1).actor(), "Mod Erator");
  EXPECT_EQ(audit.events(1).data_version(), before + 1);
  // Paging through all four events, one at a time.
  audit_req.clear_submission_id();
  audit_req.set_page_size(1);
  int seen = 0;
  do {
    grpc::ClientContext ctx;
    SetBearer(ctx, editor.token());
    ASSERT_TRUE(admin_stub_->ListAuditEvents(&ctx, audit_req, &audit).ok());
    seen += audit.events_size();
    audit_req.set_page_token(audit.next_page_token());
  } while (!audit.next_page_token().empty() && seen < 10);
  EXPECT_EQ(seen, 4);

  // The public change log: the same actions, without who acted, and as of
  // a version it shows only what had happened by then.
  v1::ListChangesRequest changes_req;
  auto changes = tables().ListChanges(changes_req);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->changes_size(), 4);
  EXPECT_EQ(changes->changes(3).reason(), "driver bug inflated speed");
  EXPECT_EQ(changes->DebugString().find("Mod Erator"), std::string::npos);
  changes_req.mutable_read()->set_as_of(before + 1);
  changes = tables().ListChanges(changes_req);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->changes_size(), 1);
  EXPECT_EQ(changes->changes(0).action(), "retract");
}

TEST_F(EditorsTest, VerdictGoesStaleWhenItsCellsMoveAndFreshWhenConfirmed) {
  const v1::CreateTokenResponse editor = Issue(v1::ROLE_EDITOR, "Val Idator");
  const v1::Submission first = Build(1, 1);
  Store(first);
  v1::PutVerdictRequest put;
  put.set_device_model("GeForce RTX 4090");  // the catalogue's display name works too
  *put.mutable_workload()->mutable_model_preset() = "llama-3.2-1b";
  put.mutable_workload()->set_kind(KeyOf(first, 0).kind());
  put.set_text("Decodes the 1B model comfortably at batch 1.");
  const v1::Verdict written = Put(editor.token(), put);
  ASSERT_FALSE(written.verdict_id().empty());
  EXPECT_EQ(written.device_model(), "rtx-4090-24gb");
  EXPECT_EQ(written.editor(), "Val Idator");
  EXPECT_FALSE(written.stale());
  ASSERT_EQ(written.cited_size(), 1);
  EXPECT_GT(written.cited(0).tokens_per_second_then(), 0);
  EXPECT_EQ(written.cited(0).tokens_per_second_now(), written.cited(0).tokens_per_second_then());
  EXPECT_EQ(written.cited(0).machine_count_then(), 1u);
  const int64_t written_version = Latest();
  EXPECT_EQ(written.written_at_version(), written_version - 1) << "cites the version before its own";

  // Nothing public to cite: refused, naming the field.
  v1::PutVerdictRequest nothing = put;
  nothing.mutable_workload()->set_model_preset("qwen2.5-7b");
  {
    v1::Verdict v;
    grpc::ClientContext ctx;
    SetBearer(ctx, editor.token());
    grpc::Status st = admin_stub_->PutVerdict(&ctx, nothing, &v);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
  }

  // Served with the tables: the curve and the OOM table carry it.
  v1::BatchCurveRequest curve_req;
  curve_req.set_device_model("rtx-4090-24gb");
  *curve_req.mutable_workload() = KeyOf(first, 0);
  auto curve = tables().GetBatchCurve(curve_req);
  ASSERT_TRUE(curve.ok()) << curve.status();
  ASSERT_EQ(curve->verdicts_size(), 1);
  EXPECT_EQ(curve->verdicts(0).verdict_id(), written.verdict_id());
  EXPECT_EQ(Oom().verdicts_size(), 1);
  curve_req.mutable_workload()->set_kind(KeyOf(first, 1).kind());  // another workload: not this verdict
  curve_req.mutable_workload()->set_precision(KeyOf(first, 1).precision());
  curve = tables().GetBatchCurve(curve_req);
  ASSERT_TRUE(curve.ok());
  EXPECT_EQ(curve->verdicts_size(), 0);

  // Two more machines, about twice as fast: the median moves by about +100%.
  Store(Build(2, 2, Variant{.speed = 2.0}));
  Store(Build(3, 3, Variant{.speed = 2.0}));
  v1::VerdictList list = Verdicts();
  ASSERT_EQ(list.verdicts_size(), 1);
  const v1::Verdict& stale = list.verdicts(0);
  EXPECT_TRUE(stale.stale());
  ASSERT_EQ(stale.stale_reasons_size(), 1);
  EXPECT_NE(stale.stale_reasons(0).find("tokens/s"), std::string::npos) << stale.stale_reasons(0);
  EXPECT_NE(stale.stale_reasons(0).find("(+1"), std::string::npos) << stale.stale_reasons(0);  // +1xx%
  EXPECT_GT(stale.cited(0).tokens_per_second_now(), 1.8 * stale.cited(0).tokens_per_second_then());
  EXPECT_EQ(stale.cited(0).machine_count_now(), 3u);
  EXPECT_TRUE(stale.cited(0).moved());
  EXPECT_EQ(Verdicts(0, true).verdicts_size(), 1);
  // Narrowing by workload: a fuller key of the judged workload keeps it,
  // another workload does not.
  v1::ListVerdictsRequest narrowed;
  *narrowed.mutable_workload() = KeyOf(first, 0);
  auto on_cell = tables().ListVerdicts(narrowed);
  ASSERT_TRUE(on_cell.ok()) << on_cell.status();
  EXPECT_EQ(on_cell->verdicts_size(), 1);
  *narrowed.mutable_workload() = KeyOf(first, 1);
  auto elsewhere = tables().ListVerdicts(narrowed);
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_EQ(elsewhere->verdicts_size(), 0);
  // As of the version it was written at, it was fresh (as_of reproduces).
  EXPECT_FALSE(Verdicts(written_version).verdicts(0).stale());
  EXPECT_EQ(Verdicts(written_version - 1).verdicts_size(), 0) << "not yet written then";

  // Confirmed: the newest figures become "then", and it is fresh again.
  v1::ConfirmVerdictRequest confirm;
  confirm.set_verdict_id(written.verdict_id());
  v1::Verdict confirmed;
  {
    grpc::ClientContext ctx;
    SetBearer(ctx, editor.token());
    ASSERT_TRUE(admin_stub_->ConfirmVerdict(&ctx, confirm, &confirmed).ok());
  }
  EXPECT_FALSE(confirmed.stale());
  EXPECT_EQ(confirmed.text(), written.text());
  EXPECT_EQ(confirmed.cited(0).machine_count_then(), 3u);
  EXPECT_FALSE(Verdicts().verdicts(0).stale());
  EXPECT_EQ(Verdicts(0, true).verdicts_size(), 0);

  // A machine lost to moderation makes it stale again, whatever the speed.
  ASSERT_TRUE(Moderate(editor.token(), "retract", Build(3, 3).submission_id(),
                       "duplicate machine")
                  .ok());
  list = Verdicts();
  ASSERT_EQ(list.verdicts_size(), 1);
  EXPECT_TRUE(list.verdicts(0).stale());
  EXPECT_NE(list.verdicts(0).stale_reasons(0).find("machines 3 -> 2"), std::string::npos)
      << list.verdicts(0).stale_reasons(0);

  // A rewrite is a new revision under the same id, fresh, with new text.
  put.set_verdict_id(written.verdict_id());
  put.set_text("Still comfortable; two machines agree.");
  const v1::Verdict rewritten = Put(editor.token(), put);
  EXPECT_EQ(rewritten.verdict_id(), written.verdict_id());
  EXPECT_FALSE(rewritten.stale());
  list = Verdicts();
  ASSERT_EQ(list.verdicts_size(), 1);
  EXPECT_EQ(list.verdicts(0).text(), "Still comfortable; two machines agree.");
}

}  // namespace
}  // namespace localbench::test_support
