#include "localbench/collector/query_service.h"

#include "localbench/collector/ingest.h"

namespace localbench::collector {
namespace {

// Copies a result into the gRPC reply, or maps its error.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpc(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status QueryService::GetTable(grpc::ServerContext*, const v1::GetTableRequest* request, v1::Table* response) {
  return Reply(tables_->GetTable(*request), response);
}

grpc::Status QueryService::ListSweeps(grpc::ServerContext*, const v1::ListSweepsRequest* request, v1::ListSweepsResponse* response) {
  return Reply(tables_->ListSweeps(*request), response);
}

grpc::Status QueryService::ListDevices(grpc::ServerContext*, const v1::ListDevicesRequest* request, v1::ListDevicesResponse* response) {
  return Reply(tables_->ListDevices(*request), response);
}

grpc::Status QueryService::GetSubmission(grpc::ServerContext*, const v1::GetSubmissionRequest* request, v1::GetSubmissionResponse* response) {
  return Reply(tables_->GetSubmission(*request), response);
}

grpc::Status QueryService::ListDeviceModels(grpc::ServerContext*, const v1::ListDeviceModelsRequest* request, v1::DeviceModelList* response) {
  return Reply(tables_->ListDeviceModels(*request), response);
}

grpc::Status QueryService::GetOomTable(grpc::ServerContext*, const v1::OomTableRequest* request, v1::OomTable* response) {
  return Reply(tables_->GetOomTable(*request), response);
}

grpc::Status QueryService::GetBatchCurve(grpc::ServerContext*, const v1::BatchCurveRequest* request, v1::BatchCurve* response) {
  return Reply(tables_->GetBatchCurve(*request), response);
}

grpc::Status QueryService::CompareHardware(grpc::ServerContext*, const v1::CompareHardwareRequest* request, v1::HardwareComparison* response) {
  return Reply(tables_->CompareHardware(*request), response);
}

grpc::Status QueryService::GetStackDeltas(grpc::ServerContext*, const v1::StackDeltaRequest* request, v1::StackDeltaTable* response) {
  return Reply(tables_->GetStackDeltas(*request), response);
}

grpc::Status QueryService::WillItRun(grpc::ServerContext*, const v1::WillItRunRequest* request, v1::WillItRunAnswer* response) {
  return Reply(tables_->WillItRun(*request), response);
}

grpc::Status QueryService::LargestModel(grpc::ServerContext*, const v1::LargestModelRequest* request, v1::LargestModelAnswer* response) {
  return Reply(tables_->LargestModel(*request), response);
}

grpc::Status QueryService::StackUp(grpc::ServerContext*, const v1::StackUpRequest* request, v1::StackUpAnswer* response) {
  return Reply(tables_->StackUp(*request), response);
}

grpc::Status QueryService::ListVerdicts(grpc::ServerContext*, const v1::ListVerdictsRequest* request, v1::VerdictList* response) {
  return Reply(tables_->ListVerdicts(*request), response);
}

grpc::Status QueryService::ListChanges(grpc::ServerContext*, const v1::ListChangesRequest* request, v1::ChangeList* response) {
  return Reply(tables_->ListChanges(*request), response);
}

}  // namespace localbench::collector
