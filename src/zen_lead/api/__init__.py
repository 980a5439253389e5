"""zen-lead's status and lock API (issue 14): HTTP/JSON and gRPC, served by ``zen-lead run``.

``zen_lead.api.pb`` holds the code generated from ``proto/zenlead/v1/zenlead.proto`` (``make proto``).
"""
