# zen-lead controller image.
#
#   docker build -t <registry>/zen-lead:0.1.0 .
#
# Stage 1 builds the wheel and installs it with its pinned dependencies (constraints.txt, binary wheels
# only) into a virtualenv; stage 2 is a clean python:3.11-slim with that virtualenv and nothing else: no
# compiler, no pip, no source tree. It runs as an unprivileged user (uid 65532, the chart's runAsUser)
# and writes nothing to its filesystem, so it runs with readOnlyRootFilesystem.
# tests/cluster/deploy/test_image.py repeats these steps (wheel, virtualenv, `zen-lead run --help`; the
# static wrapper's build command).

ARG PYTHON_IMAGE=python:3.11-slim
ARG GO_IMAGE=golang:1.26

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN python -m pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/zen-lead \
 && /opt/zen-lead/bin/pip install --only-binary=:all: --constraint constraints.txt "$(echo /dist/zen_lead-*.whl)[api]" \
 && /opt/zen-lead/bin/pip uninstall --yes pip setuptools \
 && /opt/zen-lead/bin/zen-lead --version

# The static `zen-lead-exec` (cmd/zen-lead-exec, Go, no libc): for vendor images without Python, an init
# container copies it from this image into a shared volume (docs/exec.md, examples/exec/).
FROM ${GO_IMAGE} AS exec-builder
WORKDIR /src
COPY cmd/zen-lead-exec ./
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /dist/zen-lead-exec . \
 && /dist/zen-lead-exec --help

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 65532 zen-lead \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin zen-lead
COPY --from=builder /opt/zen-lead /opt/zen-lead
COPY --from=exec-builder /dist/zen-lead-exec /usr/local/bin/zen-lead-exec
ENV PATH=/opt/zen-lead/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
# /metrics and /healthz, /readyz (--metrics-bind-address, --health-probe-bind-address).
EXPOSE 8080 8081
ENTRYPOINT ["zen-lead", "run"]
