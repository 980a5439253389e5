import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KIND_UNSPECIFIED: _ClassVar[Kind]
    KIND_POOL: _ClassVar[Kind]
    KIND_SERVICE: _ClassVar[Kind]
    KIND_LEASE: _ClassVar[Kind]
KIND_UNSPECIFIED: Kind
KIND_POOL: Kind
KIND_SERVICE: Kind
KIND_LEASE: Kind

class Target(_message.Message):
    __slots__ = ("kind", "namespace", "name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    kind: Kind
    namespace: str
    name: str
    def __init__(self, kind: _Optional[_Union[Kind, str]] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Leader(_message.Message):
    __slots__ = ("identity", "pod", "uid", "pod_ip", "node")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    POD_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    POD_IP_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    identity: str
    pod: str
    uid: str
    pod_ip: str
    node: str
    def __init__(self, identity: _Optional[str] = ..., pod: _Optional[str] = ..., uid: _Optional[str] = ..., pod_ip: _Optional[str] = ..., node: _Optional[str] = ...) -> None: ...

class LeaderState(_message.Message):
    __slots__ = ("target", "exists", "has_leader", "leader", "term", "since", "no_leader_reason", "stale", "stale_seconds", "served_by")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    HAS_LEADER_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    NO_LEADER_REASON_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    STALE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    target: Target
    exists: bool
    has_leader: bool
    leader: Leader
    term: int
    since: _timestamp_pb2.Timestamp
    no_leader_reason: str
    stale: bool
    stale_seconds: float
    served_by: str
    def __init__(self, target: _Optional[_Union[Target, _Mapping]] = ..., exists: _Optional[bool] = ..., has_leader: _Optional[bool] = ..., leader: _Optional[_Union[Leader, _Mapping]] = ..., term: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., no_leader_reason: _Optional[str] = ..., stale: _Optional[bool] = ..., stale_seconds: _Optional[float] = ..., served_by: _Optional[str] = ...) -> None: ...

class GetLeaderRequest(_message.Message):
    __slots__ = ("target", "refuse_stale")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REFUSE_STALE_FIELD_NUMBER: _ClassVar[int]
    target: Target
    refuse_stale: bool
    def __init__(self, target: _Optional[_Union[Target, _Mapping]] = ..., refuse_stale: _Optional[bool] = ...) -> None: ...

class ListLeadersRequest(_message.Message):
    __slots__ = ("namespace", "kind")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    kind: Kind
    def __init__(self, namespace: _Optional[str] = ..., kind: _Optional[_Union[Kind, str]] = ...) -> None: ...

class ListLeadersResponse(_message.Message):
    __slots__ = ("leaders",)
    LEADERS_FIELD_NUMBER: _ClassVar[int]
    leaders: _containers.RepeatedCompositeFieldContainer[LeaderState]
    def __init__(self, leaders: _Optional[_Iterable[_Union[LeaderState, _Mapping]]] = ...) -> None: ...

class WatchLeaderRequest(_message.Message):
    __slots__ = ("target", "after_term", "heartbeat_seconds")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    AFTER_TERM_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    target: Target
    after_term: int
    heartbeat_seconds: float
    def __init__(self, target: _Optional[_Union[Target, _Mapping]] = ..., after_term: _Optional[int] = ..., heartbeat_seconds: _Optional[float] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("type", "state")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        TYPE_UNSPECIFIED: _ClassVar[WatchEvent.Type]
        TYPE_SNAPSHOT: _ClassVar[WatchEvent.Type]
        TYPE_CHANGE: _ClassVar[WatchEvent.Type]
        TYPE_HEARTBEAT: _ClassVar[WatchEvent.Type]
    TYPE_UNSPECIFIED: WatchEvent.Type
    TYPE_SNAPSHOT: WatchEvent.Type
    TYPE_CHANGE: WatchEvent.Type
    TYPE_HEARTBEAT: WatchEvent.Type
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    type: WatchEvent.Type
    state: LeaderState
    def __init__(self, type: _Optional[_Union[WatchEvent.Type, str]] = ..., state: _Optional[_Union[LeaderState, _Mapping]] = ...) -> None: ...

class Lock(_message.Message):
    __slots__ = ("namespace", "name", "held", "holder", "token", "ttl_seconds", "acquired", "renewed", "owner")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACQUIRED_FIELD_NUMBER: _ClassVar[int]
    RENEWED_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    held: bool
    holder: str
    token: int
    ttl_seconds: int
    acquired: _timestamp_pb2.Timestamp
    renewed: _timestamp_pb2.Timestamp
    owner: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., held: _Optional[bool] = ..., holder: _Optional[str] = ..., token: _Optional[int] = ..., ttl_seconds: _Optional[int] = ..., acquired: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., renewed: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., owner: _Optional[str] = ...) -> None: ...

class AcquireLockRequest(_message.Message):
    __slots__ = ("namespace", "name", "holder", "ttl_seconds", "wait_seconds")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    holder: str
    ttl_seconds: int
    wait_seconds: float
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., holder: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., wait_seconds: _Optional[float] = ...) -> None: ...

class RenewLockRequest(_message.Message):
    __slots__ = ("namespace", "name", "holder", "token")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    holder: str
    token: int
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., holder: _Optional[str] = ..., token: _Optional[int] = ...) -> None: ...

class ReleaseLockRequest(_message.Message):
    __slots__ = ("namespace", "name", "holder", "token")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    holder: str
    token: int
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., holder: _Optional[str] = ..., token: _Optional[int] = ...) -> None: ...

class ReleaseLockResponse(_message.Message):
    __slots__ = ("released",)
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    released: bool
    def __init__(self, released: _Optional[bool] = ...) -> None: ...

class GetLockRequest(_message.Message):
    __slots__ = ("namespace", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...
