"""One source of truth for every name zen-lead writes or reads on objects."""

from __future__ import annotations

PREFIX = "zen-lead.io"

# ---- annotations on the source Service (the user's configuration) ----------------------------------
ANNOTATION_ENABLED = f"{PREFIX}/enabled"
ANNOTATION_LEADER_SERVICE_NAME = f"{PREFIX}/leader-service-name"
ANNOTATION_STICKY = f"{PREFIX}/sticky"
ANNOTATION_MIN_READY_DURATION = f"{PREFIX}/min-ready-duration"
ANNOTATION_LEADER_SERVICE_TYPE = f"{PREFIX}/leader-service-type"

# ---- what zen-lead writes on the objects it owns ---------------------------------------------------
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "zen-lead"
LABEL_SOURCE_SERVICE = f"{PREFIX}/source-service"
ANNOTATION_LEADER_POD = f"{PREFIX}/leader-pod"
ANNOTATION_LEADER_POD_UID = f"{PREFIX}/leader-pod-uid"
ANNOTATION_LEADER_SINCE = f"{PREFIX}/leader-since"
ANNOTATION_SOURCE_UID = f"{PREFIX}/source-uid"
# on the leader EndpointSlices: rises by one with every new leader (the status API's term of a Service)
ANNOTATION_LEADER_TERM = f"{PREFIX}/leader-term"

# EndpointSlice labels (discovery.k8s.io/v1)
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_ENDPOINTSLICE_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
ENDPOINTSLICE_MANAGED_BY_VALUE = "endpointslice.zen-lead.io"
LABEL_ADDRESS_FAMILY = f"{PREFIX}/address-type"

# ---- API identity ---------------------------------------------------------------------------------
FIELD_MANAGER = "zen-lead"
EVENT_SOURCE_COMPONENT = "zen-lead"
LEADER_SERVICE_SUFFIX = "-leader"

# Well-known labels read from nodes
ZONE_LABEL = "topology.kubernetes.io/zone"

# ---- pools (opt-in: the LeaderPolicy CRD, coordination.kube-zen.io/v1alpha1) ----------------------
POOL_GROUP = "coordination.kube-zen.io"
POOL_VERSION = "v1alpha1"
# what users write on pod templates (keep exactly: users already write them)
ANNOTATION_POOL = "zen-lead/pool"
ANNOTATION_JOIN = "zen-lead/join"
ANNOTATION_CAMPAIGN = "zen-lead/campaign"  # "true": the member runs an elector on the pool's Lease itself
# what the pools controller writes on member pods (only those that joined; switchable off)
ANNOTATION_ROLE = "zen-lead/role"
ANNOTATION_TERM = "zen-lead/term"
ANNOTATION_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
# what it writes on the pool's Lease
LABEL_POOL = f"{POOL_GROUP}/pool"
ANNOTATION_HOLDER_UID = f"{POOL_GROUP}/holder-uid"
ANNOTATION_HELD_BY = f"{POOL_GROUP}/held-by"  # "controller": held on the member's behalf
ANNOTATION_NOMINEE = f"{POOL_GROUP}/preferred-holder"
FINALIZER_RESTORE_REPLICAS = f"{POOL_GROUP}/restore-replicas"

# ---- manual locks (opt-in: the ManualLock CRD, coordination.kube-zen.io/v1alpha1) ------------------
# what the manuallocks controller writes on the Lease of a ManualLock it holds (removed on release):
# the ManualLock's name and uid, and the token and expiry of the tenure it holds
ANNOTATION_MANUAL_LOCK = f"{POOL_GROUP}/manual-lock"
ANNOTATION_MANUAL_LOCK_UID = f"{POOL_GROUP}/manual-lock-uid"
ANNOTATION_MANUAL_LOCK_TOKEN = f"{POOL_GROUP}/manual-lock-token"
ANNOTATION_MANUAL_LOCK_EXPIRES = f"{POOL_GROUP}/manual-lock-expires-at"
FINALIZER_RELEASE_LOCK = f"{POOL_GROUP}/release-lock"
