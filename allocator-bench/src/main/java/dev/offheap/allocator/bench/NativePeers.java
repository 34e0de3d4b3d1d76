package dev.offheap.allocator.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The native allocators measured through {@code malloc}/{@code free} downcalls: glibc's own, and the others
 * put in front of it with {@code LD_PRELOAD} in a JVM of their own (Debian's packages).
 */
final class NativePeers {
    /** A malloc peer: its name in the tables, the library to preload (none for glibc), and its package. */
    record NativePeer(String name, String library, String debianPackage) {
        boolean isGlibc() {
            return library == null;
        }

        /** The library's path if it is installed. */
        Optional<Path> path() {
            if (library == null) {
                return Optional.empty();
            }
            for (String dir : List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                    "/usr/lib", "/usr/local/lib")) {
                Path candidate = Path.of(dir, library);
                if (Files.exists(candidate)) {
                    return Optional.of(candidate);
                }
            }
            return Optional.empty();
        }

        boolean installed() {
            return isGlibc() || path().isPresent();
        }

        String howToInstall() {
            return "not installed: sudo apt-get install " + debianPackage;
        }
    }

    static final List<NativePeer> ALL = List.of(
            new NativePeer("malloc", null, "libc6"),
            new NativePeer("malloc-jemalloc", "libjemalloc.so.2", "libjemalloc2"),
            new NativePeer("malloc-mimalloc", "libmimalloc.so.2", "libmimalloc2.0"),
            new NativePeer("malloc-tcmalloc", "libtcmalloc.so.4", "libgoogle-perftools4"));

    /**
     * Installs the Debian packages of the peers that are missing, where the harness can: running as root with
     * apt-get (as on this project's machines and CI). Anywhere else the rows say how to install them. What apt
     * printed goes to the harness's log; a failure is not fatal, the rows then say what is missing.
     */
    static void installMissing() {
        List<String> missing = ALL.stream().filter(p -> !p.installed()).map(NativePeer::debianPackage).toList();
        if (missing.isEmpty() || !Files.isExecutable(Path.of("/usr/bin/apt-get"))
                || !"root".equals(System.getProperty("user.name"))) {
            return;
        }
        System.out.println("harness: installing the native peers " + missing + " (Debian packages, apt-get)");
        List<String> install = new java.util.ArrayList<>(List.of("apt-get", "install", "-y", "-q"));
        install.addAll(missing);
        if (run(install) != 0 && run(List.of("apt-get", "update", "-q")) == 0) {
            run(install); // the package lists were stale or absent
        }
    }

    private static int run(List<String> command) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return process.waitFor();
        } catch (java.io.IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    static Optional<NativePeer> byName(String name) {
        return ALL.stream().filter(p -> p.name().equals(name)).findFirst();
    }

    private NativePeers() {
    }
}
