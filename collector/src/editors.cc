#include "localbench/collector/editors.h"

#include <algorithm>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "localbench/collector/db_errors.h"
#include "localbench/collector/log.h"
#include "localbench/common/crypto.h"
#include "tables/common.h"

namespace localbench::collector {
namespace {

// Prepares collector/queries/tables/NAME.sql on `conn` (an identical
// redefinition is a map look-up in libpqxx).
void Prepare(pqxx::connection& conn, const std::string& name) { conn.prepare(name, tables::Sql(name)); }

// Runs `body` on a leased connection; database errors become statuses.
template <typename T>
absl::StatusOr<T> WithConnection(ConnectionPool* pool, const char* doing,
                                 const std::function<absl::StatusOr<T>(pqxx::connection&)>& body) {
  auto lease = pool->Acquire();
  if (!lease.ok()) return lease.status();
  try {
    return body(**lease);
  } catch (const std::exception& e) {
    return StatusFromDbError(e, doing);
  }
}

const char* RoleName(v1::Role role) {
  switch (role) {
    case v1::ROLE_AGENT: return "agent";
    case v1::ROLE_EDITOR: return "editor";
    case v1::ROLE_ADMIN: return "admin";
    default: return "unspecified";
  }
}

v1::Role ParseRole(const std::string& s) {
  if (s == "agent") return v1::ROLE_AGENT;
  if (s == "editor") return v1::ROLE_EDITOR;
  if (s == "admin") return v1::ROLE_ADMIN;
  return v1::ROLE_UNSPECIFIED;
}

void SetMicros(int64_t micros, google::protobuf::Timestamp* t) {
  t->set_seconds(micros / 1000000);
  t->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

}  // namespace

absl::StatusOr<v1::CreateTokenResponse> CreateApiToken(pqxx::connection& conn, v1::Role role, std::string_view name) {
  if (role != v1::ROLE_EDITOR && role != v1::ROLE_ADMIN) {
    return absl::InvalidArgumentError("role: ROLE_EDITOR or ROLE_ADMIN (agents enrol through Ingest)");
  }
  if (name.empty() || name.size() > 128) return absl::InvalidArgumentError("name: 1 to 128 characters");
  v1::CreateTokenResponse out;
  out.set_token_id(NewUuid());
  out.set_token(RandomHex(32));
  try {
    Prepare(conn, "editor_token_insert");
    pqxx::work tx(conn);
    tx.exec_prepared("editor_token_insert", out.token_id(), Sha256Hex(out.token()), RoleName(role),
                     std::string(name));
    tx.commit();
  } catch (const std::exception& e) {
    return StatusFromDbError(e, "storing the token");
  }
  return out;
}

absl::StatusOr<Principal> EditorStore::Authorize(std::string_view token, v1::Role needed) {
  if (token.empty()) return absl::UnauthenticatedError("missing token: send `authorization: Bearer <token>`");
  const std::string hash = Sha256Hex(token);
  return WithConnection<Principal>(pool_, "checking the token", [&](pqxx::connection& conn) -> absl::StatusOr<Principal> {
    Prepare(conn, "editor_token_by_hash");
    Prepare(conn, "editor_agent_by_hash");
    pqxx::nontransaction tx(conn);
    const pqxx::result r = tx.exec_prepared("editor_token_by_hash", hash);
    if (r.empty()) {
      if (!tx.exec_prepared("editor_agent_by_hash", hash).empty()) {
        return absl::PermissionDeniedError("an agent token may only submit results; use an editor or admin token");
      }
      return absl::UnauthenticatedError("invalid token: unknown or revoked");
    }
    Principal who;
    who.token_id = r[0][0].as<std::string>();
    who.role = ParseRole(r[0][1].as<std::string>());
    who.name = r[0][2].as<std::string>();
    if (who.role < needed) {
      return absl::PermissionDeniedError(
          absl::StrCat("this needs an ", RoleName(needed), " token; '", who.name, "' holds an ", RoleName(who.role),
                       " token"));
    }
    return who;
  });
}

absl::StatusOr<v1::ModerationResponse> EditorStore::Moderate(const Principal& who, std::string_view action,
                                                             const v1::ModerationRequest& request) {
  if (auto ok = tables::CheckUuid(request.submission_id(), "submission_id"); !ok.ok()) return ok;
  if (request.reason().empty() || request.reason().size() > 1024) {
    return absl::InvalidArgumentError("reason: required, 1 to 1024 characters");
  }
  return WithConnection<v1::ModerationResponse>(
      pool_, "recording the moderation", [&](pqxx::connection& conn) -> absl::StatusOr<v1::ModerationResponse> {
        Prepare(conn, "editor_lock_versions");
        Prepare(conn, "editor_moderation_state");
        Prepare(conn, "record_moderation");
        pqxx::work tx(conn);
        // The counter's row lock serialises this check and its event with
        // every other action and ingest commit.
        tx.exec_prepared("editor_lock_versions");
        const pqxx::result state = tx.exec_prepared("editor_moderation_state", request.submission_id());
        if (state.empty()) {
          return absl::NotFoundError(absl::StrCat("submission_id: no submission ", request.submission_id()));
        }
        const std::string latest = state[0][1].is_null() ? "" : state[0][1].as<std::string>();
        if (action == latest) {
          return absl::FailedPreconditionError(
              absl::StrCat("submission ", request.submission_id(), " is already ", action == "flag" ? "flagged" : "retracted"));
        }
        if (action == "flag" && latest == "retract") {
          return absl::FailedPreconditionError(
              absl::StrCat("submission ", request.submission_id(), " is retracted; restore it before flagging"));
        }
        if (action == "restore" && latest != "flag" && latest != "retract") {
          return absl::FailedPreconditionError(
              absl::StrCat("submission ", request.submission_id(), " is neither flagged nor retracted"));
        }
        const pqxx::result r = tx.exec_prepared("record_moderation", request.submission_id(), std::string(action),
                                                request.reason(), who.name, who.token_id);
        tx.commit();
        v1::ModerationResponse out;
        out.set_submission_id(request.submission_id());
        out.set_flagged(action == "flag");
        out.set_retracted(action == "retract");
        out.set_data_version(r[0][0].as<int64_t>());
        LogLine(absl::StrCat("admin: ", std::string(action), " ", request.submission_id(), " by '", who.name, "' at version ",
                             out.data_version()));
        return out;
      });
}

absl::StatusOr<v1::AuditEventList> EditorStore::ListAuditEvents(const v1::ListAuditEventsRequest& request) {
  if (!request.submission_id().empty()) {
    if (auto ok = tables::CheckUuid(request.submission_id(), "submission_id"); !ok.ok()) return ok;
  }
  const uint32_t size = request.page_size() == 0 ? 100 : std::min<uint32_t>(request.page_size(), 1000);
  int64_t cursor = 0;
  if (!request.page_token().empty() && (!absl::SimpleAtoi(request.page_token(), &cursor) || cursor <= 0)) {
    return absl::InvalidArgumentError("page_token: not a token from a previous response");
  }
  return WithConnection<v1::AuditEventList>(
      pool_, "reading the audit trail", [&](pqxx::connection& conn) -> absl::StatusOr<v1::AuditEventList> {
        Prepare(conn, "audit_events");
        pqxx::read_transaction tx(conn);
        const pqxx::result rows = tx.exec_prepared("audit_events", request.submission_id(), cursor,
                                                   static_cast<int64_t>(size) + 1,
                                                   request.read().as_of() > 0 ? request.read().as_of()
                                                                              : std::numeric_limits<int64_t>::max());
        v1::AuditEventList out;
        for (std::size_t i = 0; i < rows.size() && i < size; ++i) {
          const auto& r = rows[static_cast<pqxx::result::size_type>(i)];
          v1::AuditEvent* e = out.add_events();
          e->set_event_id(r[0].as<int64_t>());
          e->set_submission_id(r[1].as<std::string>());
          e->set_action(r[2].as<std::string>());
          e->set_reason(r[3].as<std::string>());
          e->set_actor(r[4].as<std::string>());
          e->set_data_version(r[5].as<int64_t>());
          SetMicros(r[6].as<int64_t>(), e->mutable_at());
        }
        if (rows.size() > size) out.set_next_page_token(absl::StrCat(out.events(out.events_size() - 1).event_id()));
        return out;
      });
}

absl::StatusOr<v1::Verdict> EditorStore::PutVerdict(const Principal& who, const v1::PutVerdictRequest& request) {
  if (request.text().empty() || request.text().size() > 4000) {
    return absl::InvalidArgumentError("text: required, 1 to 4000 characters");
  }
  std::string id = request.verdict_id();
  if (!id.empty()) {
    auto existing = tables_->GetVerdict(id);  // NOT_FOUND names verdict_id
    if (!existing.ok()) return existing.status();
  } else {
    id = NewUuid();
  }
  const v1::WorkloadKey* workload = request.has_workload() ? &request.workload() : nullptr;
  auto cite = tables_->Cite(request.device_model(), workload);
  if (!cite.ok()) return cite.status();
  return WriteRevision(who, id, workload, request.text(), "write", *cite);
}

absl::StatusOr<v1::Verdict> EditorStore::ConfirmVerdict(const Principal& who, const v1::ConfirmVerdictRequest& request) {
  auto existing = tables_->GetVerdict(request.verdict_id());
  if (!existing.ok()) return existing.status();
  const v1::WorkloadKey* workload = existing->has_workload() ? &existing->workload() : nullptr;
  auto cite = tables_->Cite(existing->device_model(), workload);
  if (!cite.ok()) return cite.status();
  return WriteRevision(who, existing->verdict_id(), workload, existing->text(), "confirm", *cite);
}

absl::StatusOr<v1::Verdict> EditorStore::WriteRevision(const Principal& who, const std::string& verdict_id,
                                                       const v1::WorkloadKey* workload, const std::string& text,
                                                       const char* action, const VerdictCitation& cite) {
  auto written = WithConnection<int64_t>(pool_, "storing the verdict", [&](pqxx::connection& conn) -> absl::StatusOr<int64_t> {
    Prepare(conn, "verdict_insert");
    Prepare(conn, "verdict_cell_insert");
    pqxx::work tx(conn);
    const std::string workload_hex =
        workload == nullptr ? "" : absl::BytesToHexString(workload->SerializeAsString());
    const pqxx::result r = tx.exec_prepared("verdict_insert", verdict_id, cite.slug, workload_hex, text,
                                            std::string(action), who.name, who.token_id, cite.version);
    const int64_t revision = r[0][0].as<int64_t>();
    for (std::size_t i = 0; i < cite.cells.size(); ++i) {
      const v1::CitedCell& c = cite.cells[i];
      tx.exec_prepared("verdict_cell_insert", revision, static_cast<int>(i),
                       absl::BytesToHexString(c.workload().SerializeAsString()), static_cast<int>(c.batch_size()),
                       c.tokens_per_second_then(), cite.largest_ok_batch[i], static_cast<int>(c.machine_count_then()));
    }
    tx.commit();
    return r[0][1].as<int64_t>();
  });
  if (!written.ok()) return written.status();
  LogLine(absl::StrCat("admin: verdict ", verdict_id, " ", action, " by '", who.name, "' on ", cite.slug,
                       " citing version ", cite.version, " (now version ", *written, ")"));
  return tables_->GetVerdict(verdict_id);
}

absl::StatusOr<v1::CreateTokenResponse> EditorStore::CreateToken(const v1::CreateTokenRequest& request) {
  return WithConnection<v1::CreateTokenResponse>(
      pool_, "storing the token",
      [&](pqxx::connection& conn) { return CreateApiToken(conn, request.role(), request.name()); });
}

absl::StatusOr<v1::RevokeTokenResponse> EditorStore::RevokeToken(const v1::RevokeTokenRequest& request) {
  if (auto ok = tables::CheckUuid(request.token_id(), "token_id"); !ok.ok()) return ok;
  auto out = WithConnection<v1::RevokeTokenResponse>(
      pool_, "revoking the token", [&](pqxx::connection& conn) -> absl::StatusOr<v1::RevokeTokenResponse> {
        Prepare(conn, "editor_token_revoke");
        pqxx::work tx(conn);
        const pqxx::result r = tx.exec_prepared("editor_token_revoke", request.token_id());
        if (!r[0][1].as<bool>()) return absl::NotFoundError(absl::StrCat("token_id: no token ", request.token_id()));
        tx.commit();
        v1::RevokeTokenResponse resp;
        resp.set_revoked(r[0][0].as<int64_t>() > 0);
        return resp;
      });
  if (out.ok() && forget_agent_) forget_agent_(request.token_id());
  return out;
}

absl::StatusOr<v1::TokenList> EditorStore::ListTokens(const v1::ListTokensRequest& request) {
  return WithConnection<v1::TokenList>(pool_, "listing tokens", [&](pqxx::connection& conn) -> absl::StatusOr<v1::TokenList> {
    Prepare(conn, "editor_token_list");
    pqxx::read_transaction tx(conn);
    v1::TokenList out;
    for (const auto& r : tx.exec_prepared("editor_token_list", request.include_revoked())) {
      v1::TokenInfo* t = out.add_tokens();
      t->set_token_id(r[0].as<std::string>());
      t->set_role(ParseRole(r[1].as<std::string>()));
      t->set_name(r[2].as<std::string>());
      SetMicros(r[3].as<int64_t>(), t->mutable_created_at());
      if (!r[4].is_null()) SetMicros(r[4].as<int64_t>(), t->mutable_revoked_at());
    }
    return out;
  });
}

}  // namespace localbench::collector
