#!/usr/bin/env bash
# Builds rats' Java binding. Does not run cargo: build the native library first with
#   cargo build --release -p rats-jni      (or without --release for target/debug)
#
#   java/build.sh jar     compile src/main/java (javac --release 17) and write rats.jar with
#                         the native library inside (/native/<os>-<arch>/librats_jni.so)
#   java/build.sh test    the jar, then compile src/test/java and run the JUnit 5 tests
#   java/build.sh bench   the jar, then compile src/bench/java and run io.rats.Bench
#
# Environment:
#   JAVA_BUILD_DIR    output directory (default: java/build)
#   JNI_LIB_DIR_FOR_RATS  directory holding librats_jni.so (default: <repo>/target/release if it
#                     has one, else <repo>/target/debug)
#   JUNIT_JAR         the JUnit console launcher (default:
#                     /usr/share/java/junit-platform-console-standalone.jar, Debian's junit5)
#   JAVA_OPTS         extra options for the JVMs that run tests and the benchmark
#   BENCH_ARGS        arguments for io.rats.Bench
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
build="${JAVA_BUILD_DIR:-$here/build}"
junit="${JUNIT_JAR:-/usr/share/java/junit-platform-console-standalone.jar}"
libname="librats_jni.so"

die() {
    echo "build.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 jar|test|bench" >&2
    exit 2
}

# The native library's directory.
lib_dir() {
    if [[ -n "${JNI_LIB_DIR_FOR_RATS:-}" ]]; then
        [[ -f "$JNI_LIB_DIR_FOR_RATS/$libname" ]] || die "JNI_LIB_DIR_FOR_RATS=$JNI_LIB_DIR_FOR_RATS has no $libname (run: cargo build --release -p rats-jni)"
        (cd "$JNI_LIB_DIR_FOR_RATS" && pwd)
        return
    fi
    local d
    for d in "$repo/target/release" "$repo/target/debug"; do
        if [[ -f "$d/$libname" ]]; then
            echo "$d"
            return
        fi
    done
    die "no $libname in $repo/target/release or $repo/target/debug: run 'cargo build --release -p rats-jni' first (or set JNI_LIB_DIR_FOR_RATS)"
}

# The platform directory inside the jar, as NativeLoader.platform() computes it.
platform() {
    local os arch
    case "$(uname -s)" in
        Darwin*) os=macos ;;
        MINGW* | MSYS* | CYGWIN* | Windows*) os=windows ;;
        *) os=linux ;;
    esac
    arch="$(uname -m | tr '[:upper:]' '[:lower:]')"
    case "$arch" in
        amd64 | x86_64) arch=x86_64 ;;
        aarch64 | arm64) arch=aarch64 ;;
    esac
    echo "$os-$arch"
}

need_tools() {
    command -v javac >/dev/null || die "javac not found (install a JDK 17 or newer)"
    command -v jar >/dev/null || die "jar not found (install a JDK 17 or newer)"
    command -v java >/dev/null || die "java not found"
}

build_jar() {
    need_tools
    local lib classes stage
    lib="$(lib_dir)"
    classes="$build/classes"
    stage="$build/native-stage"
    rm -rf "$classes" "$stage"
    mkdir -p "$classes" "$stage/native/$(platform)"
    find "$here/src/main/java" -name '*.java' >"$build/main-sources.txt"
    javac --release 17 -encoding UTF-8 -Xlint:all -d "$classes" @"$build/main-sources.txt"
    cp "$lib/$libname" "$stage/native/$(platform)/$libname"
    rm -f "$build/rats.jar"
    jar --create --file "$build/rats.jar" -C "$classes" . -C "$stage" native
    echo "build.sh: $build/rats.jar (native library from $lib, as /native/$(platform)/$libname)"
}

need_junit() {
    [[ -f "$junit" ]] || die "JUnit console launcher not found at $junit: install Debian's junit5 package (apt-get install junit5) or set JUNIT_JAR"
}

run_tests() {
    need_junit
    local lib tclasses
    lib="$(lib_dir)"
    tclasses="$build/test-classes"
    rm -rf "$tclasses"
    mkdir -p "$tclasses"
    find "$here/src/test/java" -name '*.java' >"$build/test-sources.txt"
    javac --release 17 -encoding UTF-8 -Xlint:all -d "$tclasses" -cp "$build/rats.jar:$junit" @"$build/test-sources.txt"
    # One JVM, tests one at a time (the machine is shared), each test preemptible by its
    # @Timeout. JvmExitTest's child JVM gets the class path from where the classes were loaded
    # and the library directory from java.library.path.
    # shellcheck disable=SC2086
    java ${JAVA_OPTS:-} -Djava.library.path="$lib" \
        -jar "$junit" \
        --config=junit.jupiter.execution.parallel.enabled=false \
        --config=junit.jupiter.execution.timeout.thread.mode.default=SEPARATE_THREAD \
        --class-path "$build/rats.jar:$tclasses" \
        --scan-class-path "$tclasses" \
        --disable-banner \
        --disable-ansi-colors \
        --details=tree \
        --fail-if-no-tests
}

run_bench() {
    local lib bclasses
    lib="$(lib_dir)"
    bclasses="$build/bench-classes"
    rm -rf "$bclasses"
    mkdir -p "$bclasses"
    find "$here/src/bench/java" -name '*.java' >"$build/bench-sources.txt"
    javac --release 17 -encoding UTF-8 -Xlint:all -d "$bclasses" -cp "$build/rats.jar" @"$build/bench-sources.txt"
    # shellcheck disable=SC2086
    java ${JAVA_OPTS:-} -Djava.library.path="$lib" -cp "$build/rats.jar:$bclasses" io.rats.Bench ${BENCH_ARGS:-}
}

[[ $# -eq 1 ]] || usage
case "$1" in
    jar | test | bench) ;;
    *) usage ;;
esac
mkdir -p "$build"
build="$(cd "$build" && pwd)"
case "$1" in
    jar) build_jar ;;
    test) need_junit && build_jar && run_tests ;;
    bench) build_jar && run_bench ;;
    *) usage ;;
esac
