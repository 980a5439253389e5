"""Generated from ``zenlead.proto`` (the copy beside this file, identical to
``proto/zenlead/v1/zenlead.proto``) by ``tools/gen_proto.py`` (``make proto``): do not edit.

``zenlead_pb2`` holds the messages (typed by ``zenlead_pb2.pyi``), ``zenlead_pb2_grpc`` the
services' stubs and servicer bases. Importing either needs the ``api`` extra (grpcio, protobuf).
"""
