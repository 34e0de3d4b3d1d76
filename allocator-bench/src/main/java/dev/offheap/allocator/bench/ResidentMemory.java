package dev.offheap.allocator.bench;

import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resident memory of a child JVM (a trace replay, a cache run), read the same way for every peer.
 *
 * <p>The baseline is read after the JVM has started its logging. A service has done that long before it
 * allocates; without it the first peer that logs pays for logback's start-up, its configuration parser and the
 * classes and compiled code that come with it, while malloc, which never logs, does not. On sqlite's trace that
 * was 11.7 MB of offheap's 27.9 MB of resident growth (16.2 MB with logging started first; malloc 8.5 and 7.0).
 * Everything the peer itself loads, compiles and maps is still counted.
 */
final class ResidentMemory {

    private ResidentMemory() {
    }

    /** VmRSS after the JVM's logging has started: what a peer's memory figure grows from. */
    static long baseline() {
        LoggerFactory.getLogger(ResidentMemory.class).debug("logging started before the resident baseline");
        return status("VmRSS");
    }

    /** A size field of {@code /proc/self/status} ({@code VmRSS}, {@code VmHWM}) in bytes, or -1 where /proc is not. */
    static long status(String field) {
        return status(Path.of("/proc/self/status"), field);
    }

    /** The same field of another process ({@code /proc/<pid>/status}), or -1. */
    static long status(long pid, String field) {
        return status(Path.of("/proc", Long.toString(pid), "status"), field);
    }

    private static long status(Path status, String field) {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
