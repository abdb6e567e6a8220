// localbench-openapi: writes (or checks) docs/openapi.yaml from a descriptor
// set of the protos (with source info, for the field comments) and the
// collector's route table.
//
//   localbench-openapi DESCRIPTOR_SET --out docs/openapi.yaml
//   localbench-openapi DESCRIPTOR_SET --check docs/openapi.yaml   # exit 1 when stale
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <google/protobuf/descriptor.h>

#include "localbench/collector/http/openapi.h"

int main(int argc, char** argv) {
  if (argc != 4 || (std::string(argv[2]) != "--out" && std::string(argv[2]) != "--check")) {
    std::fprintf(stderr, "usage: localbench-openapi DESCRIPTOR_SET (--out|--check) FILE\n");
    return 2;
  }
  google::protobuf::DescriptorPool pool;
  if (auto st = localbench::collector::http::LoadDescriptorSet(argv[1], &pool); !st.ok()) {
    std::fprintf(stderr, "localbench-openapi: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  auto doc = localbench::collector::http::GenerateOpenApi(pool);
  if (!doc.ok()) {
    std::fprintf(stderr, "localbench-openapi: %s\n", std::string(doc.status().message()).c_str());
    return 1;
  }
  const std::string file = argv[3];
  if (std::string(argv[2]) == "--out") {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << *doc;
    if (!out.flush()) {
      std::fprintf(stderr, "localbench-openapi: cannot write %s\n", file.c_str());
      return 1;
    }
    return 0;
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream have;
  have << in.rdbuf();
  if (have.str() != *doc) {
    std::fprintf(stderr,
                 "localbench-openapi: %s is stale (the protos or the route table changed); regenerate it with "
                 "`cmake --build build-cpu --target openapi` and commit it\n",
                 file.c_str());
    return 1;
  }
  std::printf("localbench-openapi: %s is current\n", file.c_str());
  return 0;
}
