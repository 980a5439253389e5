"""The status API as the chart deploys it: with the chart's identity alone (auth-delegator binding and
the API's namespace rules, added only by api.enabled) the API authenticates, authorises, answers and
takes locks — over TLS, from certificate files, on HTTP and gRPC — and nothing is refused by RBAC."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from lightkube import Client
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from tests.cluster.deploy.conftest import RESTRICTED, container_args, install, make_namespace, uninstall
from tests.cluster.deploy.test_install import LOCAL_FLAGS, denial
from tests.support.api import LOCKS, READ_ALL, grant, token_for
from tests.support.controller import ControllerProcess
from zen_lead.api.pb import zenlead_pb2 as pb
from zen_lead.api.pb import zenlead_pb2_grpc as pb_grpc
from zen_lead.localcluster import ClusterInfo

pytestmark = pytest.mark.cluster
API_FLAGS = ("--api-bind-address", "--grpc-bind-address", "--api-tls-cert-file", "--api-tls-key-file")


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=zen-lead-api", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _https(url: str, token: str, context: ssl.SSLContext, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        return json.loads(answer.read())


def test_the_api_serves_with_the_chart_identity_over_tls(
    kube: Client, cluster: ClusterInfo, helm: Path, workdir: Path, namespaces: list[str], tmp_path: Path
) -> None:
    namespace = make_namespace(kube, "zl-api", RESTRICTED)
    namespaces.append(namespace)
    installation = install(
        kube, cluster, helm, namespace=namespace, release="zen-lead", workdir=workdir,
        api={"enabled": True, "tls": {"secretName": "zen-lead-api-tls"}},
    )  # fmt: skip
    cert, key = self_signed(tmp_path)
    try:
        controller = ControllerProcess(
            kubeconfig=installation.kubeconfig, namespace=namespace, log_dir=tmp_path, name="api"
        )
        at = controller.argv.index("--namespace")
        del controller.argv[at : at + 2]  # the chart's flags name the namespaces
        # the chart's own flags, with this machine's addresses and certificate files instead of the pod's
        chart = [
            a for a in container_args(installation.objects) if not a.startswith((*LOCAL_FLAGS, *API_FLAGS))
        ]
        assert len(chart) < len(container_args(installation.objects)) - 3  # the API flags were there
        controller.argv += [
            *chart,
            "--api-bind-address=127.0.0.1:0",
            "--grpc-bind-address=127.0.0.1:0",
            f"--api-tls-cert-file={cert}",
            f"--api-tls-key-file={key}",
        ]
        controller.start()
        grant(kube, namespace, "caller", READ_ALL + LOCKS)
        token = token_for(kube, namespace, "caller")
        kube.create(
            Lease(metadata=ObjectMeta(name="job", namespace=namespace),
                  spec=LeaseSpec(holderIdentity="w-1", leaseDurationSeconds=60, leaseTransitions=3))
        )  # fmt: skip
        context = ssl.create_default_context(cafile=str(cert))
        base = f"https://127.0.0.1:{controller.port('api')}"
        state = _https(f"{base}/v1/leader/lease/job", token, context)
        assert (state["hasLeader"], state["leader"]["identity"], state["term"]) == (True, "w-1", 3)
        lock = _https(f"{base}/v1/locks/nightly:acquire", token, context, {"holder": "me", "ttlSeconds": 30})
        assert (lock["held"], lock["holder"]) == (True, "me")
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # it is TLS, for real
            _https(f"{base}/v1/leader/lease/job", token, ssl.create_default_context())

        async def over_grpc() -> Any:
            credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
            async with grpc.aio.secure_channel(
                f"127.0.0.1:{controller.port('grpc')}", credentials
            ) as channel:
                return await pb_grpc.LeadersStub(channel).Get(
                    pb.GetLeaderRequest(target=pb.Target(kind=pb.KIND_LEASE, name="nightly")),
                    metadata=(("authorization", f"Bearer {token}"),),
                )

        answer = asyncio.run(over_grpc())
        assert (answer.leader.identity, answer.term) == ("me", lock["token"])
        # cert-manager renews the Secret: the files change under the running server, which serves the new
        # pair to the next connection without a restart
        renewed = tmp_path / "renewed"
        renewed.mkdir()
        new_cert, new_key = self_signed(renewed)
        new_key.replace(key)
        new_cert.replace(cert)
        fresh = ssl.create_default_context(cafile=str(cert))
        assert _https(f"{base}/v1/locks/nightly", token, fresh)["holder"] == "me"
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            _https(f"{base}/v1/locks/nightly", token, context)  # the old certificate is gone
        assert asyncio.run(over_grpc()).leader.identity == "me"  # gRPC reads the new pair too
        refused = [r for r in controller.records() if denial(r)]
        assert not refused, refused[:3]
        assert controller.metric("zen_lead_api_authorizations_total", result="error") == 0
        controller.stop()
    finally:
        uninstall(kube, installation)


def test_plaintext_off_loopback_is_refused_before_start(cluster: ClusterInfo) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zen_lead", "run", "--kubeconfig", str(cluster.kubeconfig),
         "--api-bind-address=0.0.0.0:0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "--api-bind-address: 0.0.0.0 is not a loopback address" in done.stderr
