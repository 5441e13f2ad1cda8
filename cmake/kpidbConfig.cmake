# find_package(kpidb) -> the target kpidb::client (client/client.h,
# client/batch_writer.h under <prefix>/include/kpidb, and the public types
# under <prefix>/include/kpidb). The client needs gRPC and Protobuf only.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(PkgConfig)
pkg_check_modules(PROTOBUF REQUIRED IMPORTED_TARGET protobuf)
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)
include(${CMAKE_CURRENT_LIST_DIR}/kpidbTargets.cmake)
