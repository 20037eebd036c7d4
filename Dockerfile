# kvserve container image: the server on debian:bookworm-slim, as a non-root user (uid 10001), port 8080.
#
#   docker build -t kvserve .                                      # model read from a volume at /models
#   docker run -p 127.0.0.1:8080:8080 -v "$PWD/models:/models:ro" --stop-timeout 15 kvserve
#   docker build -t kvserve:baked --build-arg BAKE_MODEL=1 .       # the default model baked in (+98 MB)
#   docker run -p 127.0.0.1:8080:8080 --stop-timeout 15 kvserve:baked
#
# Fetch the model on the host first with ./scripts/fetch-model (it lands in models/). docker-compose.yml does all
# of this with the limits set. With Podman, build with `--format docker`: the OCI image format has no HEALTHCHECK.
#
# Configuration: /etc/kvserve/kvserve.json (the repository's config/kvserve.json; mount another file there to
# replace it), then KVSERVE_<KEY> variables (-e KVSERVE_KV_CACHE_BYTES=268435456), then --set key=value flags
# after the command (docker run kvserve serve --config /etc/kvserve/kvserve.json --set threads=2). The image sets
# KVSERVE_HOST=0.0.0.0, KVSERVE_PORT=8080 and KVSERVE_MODEL=/models/SmolLM2-135M-Instruct.Q4_1.gguf.
# Other commands: docker run --rm -v "$PWD/models:/models:ro" kvserve inspect --model /models/<file>.
#
# Volumes: /models (read-only is enough) and /data (owned by uid 10001; the server's state).
# Stopping: the ENTRYPOINT is in exec form, so the server is PID 1 and `docker stop` delivers SIGTERM to it; it
# stops within shutdown_grace_seconds (default 8, under Docker's default stop timeout of 10 s; with a longer grace, raise --stop-timeout;
# compose: stop_grace_period), or docker sends SIGKILL when in-flight streams take the whole grace period.
# On x86-64 the binary targets Haswell-class CPUs (AVX2, FMA, F16C); see Package.swift.

# ---- build: the Swift toolchain image; the binary links the Swift runtime and Foundation statically.
FROM swift:6.3-bookworm AS build
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when Package.swift changes.
# (Package.resolved is not part of the repository, so the versions resolve from Package.swift.)
# The session store links the system's SQLite.
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libsqlite3-dev >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY Package.swift ./
RUN swift package resolve
# The manifest names the test targets too, so their directories must exist for the package to load.
COPY Sources ./Sources
COPY Tests ./Tests
# strip: the symbol table and debug information (75 MB -> 62 MB; the image has no Swift backtracer to use them).
# The unstripped binary stays in this stage: docker build --target build, then .build/release/kvserve in /src.
# ldd: what the binary still loads dynamically (glibc, libstdc++, libgcc_s, libsqlite3), printed in the build log.
RUN swift build -c release --static-swift-stdlib --product kvserve \
 && mkdir -p /out \
 && cp "$(swift build -c release --static-swift-stdlib --show-bin-path)/kvserve" /out/kvserve \
 && strip /out/kvserve \
 && ldd /out/kvserve

# ---- model: empty unless BAKE_MODEL=1, then the default model, fetched and verified by scripts/fetch-model.
FROM swift:6.3-bookworm AS model
ARG BAKE_MODEL=0
WORKDIR /src
COPY scripts/fetch-model ./scripts/fetch-model
RUN mkdir -p models \
 && if [ "$BAKE_MODEL" = 1 ]; then \
      { python3 -m pip --version >/dev/null 2>&1 \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null; }; } \
      && ./scripts/fetch-model; \
    fi

# ---- runtime
FROM debian:bookworm-slim
# The libraries the binary loads are glibc, libstdc++6 and libgcc-s1, part of bookworm-slim (apt needs them), and
# libsqlite3-0 (the session store). The HEALTHCHECK uses bash rather than curl (curl would add 10 MB).
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libsqlite3-0 >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 10001 kvserve \
 && useradd --system --uid 10001 --gid kvserve --home-dir /data --no-create-home --shell /usr/sbin/nologin kvserve \
 && mkdir -p /models /data \
 && chown kvserve:kvserve /data
COPY --from=build /out/kvserve /usr/local/bin/kvserve
# Fails the build if the base image lacks a library the binary needs.
RUN if ldd /usr/local/bin/kvserve | grep 'not found'; then exit 1; fi
COPY config/kvserve.json /etc/kvserve/kvserve.json
# The baked model, if any. /models is deliberately not a VOLUME: a declared volume would copy a baked model into
# a new anonymous volume for every container. Mount the host's models directory there instead (-v ...:/models:ro).
COPY --from=model /src/models/ /models/
ENV KVSERVE_HOST=0.0.0.0 \
    KVSERVE_PORT=8080 \
    KVSERVE_MODEL=/models/SmolLM2-135M-Instruct.Q4_1.gguf \
    KVSERVE_DATA_DIR=/data
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
# GET /health through bash's /dev/tcp (no curl in the image): healthy when the status line says 200.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD bash -c 'exec 3<>"/dev/tcp/127.0.0.1/${KVSERVE_PORT:-8080}" && printf "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" >&3 && head -n 1 <&3 | grep -q " 200 "'
ENTRYPOINT ["/usr/local/bin/kvserve"]
CMD ["serve", "--config", "/etc/kvserve/kvserve.json"]
