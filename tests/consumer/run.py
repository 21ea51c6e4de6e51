#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Consumer test (suite 'consumer'): installs this build of fusenet into a temporary DESTDIR once, then builds and
# runs tests/consumer/consumer.cpp the three ways a user would: g++ with `pkg-config --cflags --libs fusenet`,
# CMake's find_package(fusenet), and a Meson project holding fusenet as a subproject. Only the consumer is
# compiled (and, for the subproject, libfusenet's I/O sources), so the test stays near a minute.
#
# Usage: run.py SOURCE_ROOT BUILD_ROOT [CXX]
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def output(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout.strip()


def introspect_prefix(build):
    import json
    opts = json.loads(output(["meson", "introspect", "--buildoptions", build]))
    return {o["name"]: o["value"] for o in opts if o["name"] in ("prefix", "libdir", "includedir")}


def check_run(exe, env=None):
    out = output([exe], env=env)
    print(out)
    if "2x3" not in out:
        raise SystemExit(f"{exe}: unexpected output {out!r}")


def main(argv):
    source, build = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    cxx = argv[3] if len(argv) > 3 else os.environ.get("CXX", "c++")
    opts = introspect_prefix(build)
    with tempfile.TemporaryDirectory(prefix="fusenet-consumer-") as tmp:
        destdir = os.path.join(tmp, "stage")
        run(["meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", destdir])
        prefix = destdir + opts["prefix"]
        libdir = os.path.join(prefix, opts["libdir"])
        env = dict(os.environ, LD_LIBRARY_PATH=libdir)

        # The installed files a consumer relies on.
        for rel in ["include/fusenet/fusenet.hpp", "include/fusenet/network.hpp", "share/doc/fusenet/LICENSE",
                    os.path.join(opts["libdir"], "cmake/fusenet/fusenetConfig.cmake"),
                    os.path.join(opts["libdir"], "cmake/fusenet/fusenetConfigVersion.cmake")]:
            if not os.path.exists(os.path.join(prefix, rel)):
                raise SystemExit(f"not installed: {rel}")

        # 1. pkg-config: the .pc carries -std=c++20 and OpenMP, so a plain compiler line works.
        pc_env = dict(env, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"))
        flags = output(["pkg-config", "--define-variable=prefix=" + prefix, "--cflags", "--libs", "fusenet"],
                       env=pc_env).split()
        print("pkg-config fusenet:", " ".join(flags))
        for needed in ["-std=c++20", "-fopenmp"]:
            if needed not in flags:
                raise SystemExit(f"pkg-config --cflags --libs fusenet lacks {needed}")
        exe = os.path.join(tmp, "consumer_pkgconfig")
        run([cxx, "-O1", "-Wall", "-Wextra", "-Werror", os.path.join(HERE, "consumer.cpp"), "-o", exe] + flags)
        check_run(exe, env)

        # 2. CMake find_package(fusenet) -> fusenet::fusenet.
        cm_build = os.path.join(tmp, "cmake-build")
        run(["cmake", "-S", HERE, "-B", cm_build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
             "-DCMAKE_CXX_COMPILER=" + cxx, "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_CXX_FLAGS=-O1"],
            stdout=subprocess.DEVNULL)
        run(["cmake", "--build", cm_build, "-j1"], stdout=subprocess.DEVNULL)
        check_run(os.path.join(cm_build, "consumer"), env)

        # 3. Meson subproject: tests/examples/bench stay off, fusenet_dep carries -std=c++20 into a project whose
        # own default is C++17.
        project = os.path.join(tmp, "meson-project")
        os.makedirs(os.path.join(project, "subprojects"))
        shutil.copy(os.path.join(HERE, "meson.build.in"), os.path.join(project, "meson.build"))
        shutil.copy(os.path.join(HERE, "consumer.cpp"), project)
        os.symlink(source, os.path.join(project, "subprojects", "fusenet"))
        ms_build = os.path.join(tmp, "meson-build")
        ms_env = dict(os.environ, CXX=cxx)
        ms_env.pop("PKG_CONFIG_PATH", None)
        run(["meson", "setup", ms_build, project, "--force-fallback-for=fusenet", "-Dbuildtype=plain"],
            env=ms_env, stdout=subprocess.DEVNULL)
        targets = output(["ninja", "-C", ms_build, "-t", "targets", "all"])
        for forbidden in ["tests/", "examples/", "bench/"]:
            if forbidden in targets:
                raise SystemExit(f"the subproject builds {forbidden} targets by default")
        run(["ninja", "-C", ms_build, "-j1"], stdout=subprocess.DEVNULL)
        check_run(os.path.join(ms_build, "consumer"))
    print("consumer: pkg-config, CMake and Meson subproject builds all ran")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
