#!/usr/bin/env bash
# Checks the Dockerfile without a Docker engine, on the Debian 12 host that
# builds streamrun:
#   - base images are pinned to a tag (no `latest`);
#   - every package an `apt-get install` of the Dockerfile names has a
#     candidate version in this host's apt sources (both are Debian 12);
#   - the build stage installs the library packages of scripts/install-deps.sh
#     and leaves out only its known test and lint tools, so the two lists
#     cannot drift apart unnoticed;
#   - the build runs the same CMake preset as the host (scripts/build.sh's
#     default), builds targets that exist, and copies the binary from that
#     preset's build folder;
#   - when a release build is here (or ELF files are named), every shared
#     library they link directly comes from a package the runtime stage installs
#     (or one every Debian image has).
# Usage: scripts/dockerfile-check.sh [ELF...]   (default: the release build's
# streamrun and libfraud.so, skipped when not built). Exit status 1 on a problem.
set -euo pipefail
cd "$(dirname "$0")/.."
elves=("$@")
if [ ${#elves[@]} -eq 0 ]; then
  for f in build/release/runner/streamrun build/release/plugins/libfraud.so; do
    [ -f "$f" ] && elves+=("$f")
  done
fi

exec /usr/bin/python3 - "${elves[@]}" <<'PY'
import json, os, re, shlex, subprocess, sys

problems = []
def check(ok, what):
    print(("dockerfile-check: ok: " if ok else "dockerfile-check: FAIL: ") + what)
    if not ok:
        problems.append(what)

# Dockerfile instructions, continuation lines joined, comments dropped.
lines, cur = [], ""
for raw in open("Dockerfile"):
    s = raw.rstrip("\n")
    if not cur and (not s.strip() or s.lstrip().startswith("#")):
        continue
    if s.lstrip().startswith("#"):
        continue
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    lines.append(cur + s)
    cur = ""
stages, stage = {}, None
for line in lines:
    word, _, rest = line.strip().partition(" ")
    word = word.upper()
    if word == "FROM":
        m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.I)
        image, stage = m.group(1), m.group(2) or f"stage{len(stages)}"
        stages[stage] = {"image": image, "packages": [], "run": [], "copy": []}
        name, _, tag = image.rpartition(":")
        check(bool(name) and tag not in ("", "latest") and "/" not in tag,
              f"stage {stage}: base image {image} is pinned to a tag")
    elif word == "RUN":
        stages[stage]["run"].append(rest)
        for part in re.split(r"&&|;", rest):
            words = shlex.split(part)
            if "apt-get" in words and "install" in words:
                after = words[words.index("install") + 1:]
                stages[stage]["packages"] += [w for w in after if not w.startswith("-")]
    elif word == "COPY":
        stages[stage]["copy"].append(rest)

check("build" in stages and "runtime" in stages, "the Dockerfile has a `build` and a `runtime` stage")
build, runtime = stages.get("build", {"packages": [], "run": [], "copy": []}), stages.get("runtime", {"packages": [], "run": [], "copy": []})

# Every package resolves in this host's apt sources.
def candidate(pkg):
    out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True).stdout
    m = re.search(r"Candidate:\s*(\S+)", out)
    return m.group(1) if m and m.group(1) != "(none)" else None
for name in ("build", "runtime"):
    pkgs = stages.get(name, {}).get("packages", [])
    missing = [p for p in pkgs if candidate(p) is None]
    check(pkgs and not missing,
          f"{name} stage: {len(pkgs)} packages have a candidate in apt-cache policy"
          + (f" (none for: {' '.join(missing)})" if missing else ""))

# The build stage against scripts/install-deps.sh's PACKAGES.
text = open("scripts/install-deps.sh").read()
block = re.search(r"^PACKAGES=\((.*?)^\)", text, re.S | re.M).group(1)
host = set(re.sub(r"#.*", "", block).split())
# Tools the image does not need to build streamrun: compilers for sanitizers and
# fuzzing, format/lint, the compiler cache, test clients and servers, the web-view
# browser, unit-test framework (tests are off in the image), git, protoc and
# Python's protobuf (the format tests' Confluent client side).
LEFT_OUT = {"clang", "libclang-rt-14-dev", "clang-format", "clang-tidy", "ccache", "git", "doctest-dev",
            "kcat", "python3-confluent-kafka", "curl", "prometheus", "docker-compose", "chromium",
            "protobuf-compiler", "python3-protobuf"}
# Named in the image only: TLS roots, and zlib1g-dev (find_package(ZLIB); on the
# host it comes with librocksdb-dev).
EXTRA = {"ca-certificates", "zlib1g-dev"}
bset = set(build["packages"])
unexpected = sorted(bset - host - EXTRA)
dropped = sorted(host - bset - LEFT_OUT)
check(not unexpected, "build stage installs nothing beyond install-deps.sh's PACKAGES but "
      + " ".join(sorted(EXTRA)) + (f" (also: {' '.join(unexpected)})" if unexpected else ""))
check(not dropped, "build stage leaves out of install-deps.sh only test and lint tools"
      + (f" (also leaves out: {' '.join(dropped)})" if dropped else ""))

# The build commands: the host's preset, real targets, the preset's output path.
presets = json.load(open("CMakePresets.json"))
configure = {p["name"]: p for p in presets["configurePresets"]}
build_presets = {p["name"] for p in presets["buildPresets"]}
host_preset = re.search(r'preset="\$\{1:-([a-z]+)\}"', open("scripts/build.sh").read()).group(1)
runs = " ".join(build["run"])
used = set(re.findall(r"cmake --preset (\S+)", runs)) | set(re.findall(r"cmake --build --preset (\S+)", runs))
check(used == {host_preset}, f"build stage uses the preset scripts/build.sh defaults to ({host_preset}); it uses {' '.join(sorted(used)) or 'none'}")
check(host_preset in configure and host_preset in build_presets, f"preset {host_preset} is in CMakePresets.json")
targets = []
for m in re.finditer(r"--target ((?:[A-Za-z0-9_]+\s*)+)", runs):
    targets += m.group(1).split()
cmake_text = ""
for root, _, files in os.walk("."):
    if root.startswith("./build") or "/." in root:
        continue
    if "CMakeLists.txt" in files:
        cmake_text += open(os.path.join(root, "CMakeLists.txt")).read()
defined = set(re.findall(r"add_executable\((\w+)", cmake_text)) | set(re.findall(r"streamrun_example_plugin\((\w+)", cmake_text))
check(targets and all(t in defined for t in targets), f"build targets {' '.join(targets)} are defined in CMakeLists.txt")
bindir = configure.get(host_preset, {}).get("binaryDir", "").replace("${sourceDir}/", "")
froms = [c.split()[1] for c in runtime["copy"] if c.startswith("--from=build")]
check(f"/src/{bindir}/runner/streamrun" in froms, f"runtime stage copies /src/{bindir}/runner/streamrun (the preset's binary)")

# Shared libraries of built ELF files against the runtime stage's packages.
elves = sys.argv[1:]
if not elves:
    print("dockerfile-check: skipped: shared libraries (no release build here; name ELF files to check some)")
else:
    base = {"libc6", "libgcc-s1", "libstdc++6"}
    paths = {}
    for line in subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True).stdout.splitlines():
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m and "," in m.group(2):  # (libc6,x86-64) or (libc6,AArch64): the host's word size
            paths.setdefault(m.group(1), m.group(3))
    rset = set(runtime["packages"])
    for elf in elves:
        dyn = subprocess.run(["readelf", "-d", elf], capture_output=True, text=True, check=True).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn)
        bad = []
        for lib in needed:
            path = paths.get(lib)
            if path is None:
                bad.append(f"{lib} (not found on this host)")
                continue
            real = os.path.realpath(path)
            owner = None
            for candidate_path in (path, real):
                out = subprocess.run(["dpkg", "-S", candidate_path], capture_output=True, text=True)
                if out.returncode == 0:
                    owner = out.stdout.split(":")[0]
                    break
            if owner is None:
                bad.append(f"{lib} (no package owns {path})")
            elif owner not in rset and owner not in base:
                prio = subprocess.run(["dpkg-query", "-W", "-f=${Priority}", owner], capture_output=True, text=True).stdout
                if prio != "required":
                    bad.append(f"{lib} (from {owner})")
        check(not bad, f"{elf}: its {len(needed)} directly linked libraries come from runtime-stage or base packages"
              + (f"; not: {', '.join(bad)}" if bad else ""))

if problems:
    print(f"dockerfile-check: {len(problems)} problem(s)")
    sys.exit(1)
print("dockerfile-check: the Dockerfile's packages resolve and its build matches the host's")
PY
