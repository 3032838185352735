# streamrun and the fraud plugin in a Debian 12 image (docs/local-stack.md).
#
#   docker build -t streamrun:local .
#   docker run --rm streamrun:local version
#
# The build stage installs the library packages of scripts/install-deps.sh
# without its test and lint tools (scripts/dockerfile-check.sh keeps the two
# lists in step) and builds with the release preset the host uses. The
# runtime stage holds only the shared libraries the binary links.

FROM debian:12-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev \
      libsimdjson-dev libabsl-dev libre2-dev \
      librdkafka-dev \
      librocksdb-dev \
      libcurl4-openssl-dev libssl-dev zlib1g-dev \
      prometheus-cpp-dev libcivetweb-dev \
      libprotobuf-dev libprotoc-dev libavro-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# STREAMRUN_NATIVE=OFF: the image may run on another CPU than the one that
# built it, so no -march=native. No unit tests in the image.
RUN cmake --preset release -DSTREAMRUN_NATIVE=OFF -DSTREAMRUN_TESTS=OFF \
 && cmake --build --preset release --target streamrun fraud

FROM debian:12-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl \
      libyaml-cpp0.7 libspdlog1.10 libfmt9 libsimdjson14 libabsl20220623 libre2-9 \
      librdkafka1 librocksdb7.8 libcurl4 libssl3 zlib1g \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcivetweb1 \
      libprotobuf32 libavro23 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /opt/streamrun --no-create-home streamrun
WORKDIR /opt/streamrun
COPY --from=build /src/build/release/runner/streamrun /usr/local/bin/streamrun
COPY --from=build /src/build/release/plugins/libfraud.so /opt/streamrun/plugins/libfraud.so
COPY pipelines/ /opt/streamrun/pipelines/
COPY schemas/ /opt/streamrun/schemas/
# fraud.yaml finds the plugin here; relative paths in pipelines resolve from
# /opt/streamrun, as they do from the repository root.
ENV STREAMRUN_PLUGIN_DIR=/opt/streamrun/plugins
RUN mkdir -p /opt/streamrun/out && chown streamrun /opt/streamrun/out
USER streamrun
EXPOSE 9249 8081
ENTRYPOINT ["streamrun"]
CMD ["run", "pipelines/clickstream_top10.yaml"]
