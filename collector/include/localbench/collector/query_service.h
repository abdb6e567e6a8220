// The Query gRPC service: a thin adapter from gRPC to TableService.
#ifndef LOCALBENCH_COLLECTOR_QUERY_SERVICE_H_
#define LOCALBENCH_COLLECTOR_QUERY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "localbench/collector/tables.h"
#include "localbench/v1/query.grpc.pb.h"

namespace localbench::collector {

// Every Query RPC, answered by a TableService (which holds the rules and the
// SQL); errors keep their code (INVALID_ARGUMENT, NOT_FOUND, ...).
class QueryService final : public v1::Query::Service {
 public:
  // `tables` must outlive the service.
  explicit QueryService(TableService* tables) : tables_(tables) {}

  // One override per RPC (see query.proto): each passes the request to the
  // TableService method of the same name and maps its status to gRPC.

  grpc::Status GetTable(grpc::ServerContext*, const v1::GetTableRequest*, v1::Table*) override;
  grpc::Status ListSweeps(grpc::ServerContext*, const v1::ListSweepsRequest*, v1::ListSweepsResponse*) override;
  grpc::Status ListDevices(grpc::ServerContext*, const v1::ListDevicesRequest*, v1::ListDevicesResponse*) override;
  grpc::Status GetSubmission(grpc::ServerContext*, const v1::GetSubmissionRequest*,
                             v1::GetSubmissionResponse*) override;
  grpc::Status ListDeviceModels(grpc::ServerContext*, const v1::ListDeviceModelsRequest*,
                                v1::DeviceModelList*) override;
  grpc::Status GetOomTable(grpc::ServerContext*, const v1::OomTableRequest*, v1::OomTable*) override;
  grpc::Status GetBatchCurve(grpc::ServerContext*, const v1::BatchCurveRequest*, v1::BatchCurve*) override;
  grpc::Status CompareHardware(grpc::ServerContext*, const v1::CompareHardwareRequest*,
                               v1::HardwareComparison*) override;
  grpc::Status GetStackDeltas(grpc::ServerContext*, const v1::StackDeltaRequest*, v1::StackDeltaTable*) override;
  grpc::Status WillItRun(grpc::ServerContext*, const v1::WillItRunRequest*, v1::WillItRunAnswer*) override;
  grpc::Status LargestModel(grpc::ServerContext*, const v1::LargestModelRequest*, v1::LargestModelAnswer*) override;
  grpc::Status StackUp(grpc::ServerContext*, const v1::StackUpRequest*, v1::StackUpAnswer*) override;
  grpc::Status ListVerdicts(grpc::ServerContext*, const v1::ListVerdictsRequest*, v1::VerdictList*) override;
  grpc::Status ListChanges(grpc::ServerContext*, const v1::ListChangesRequest*, v1::ChangeList*) override;

 private:
  TableService* tables_;
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_QUERY_SERVICE_H_
