package dev.offheap.allocator.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The JVMs the harness measures in: each figure runs in a fresh one (this JVM's java and class path, native
 * access on), optionally recorded with JFR, its output read to the end; and, when it gave no result, why, in one
 * line for the report (a crash's signal and frame, else the first exception).
 */
final class ChildJvm {

    private ChildJvm() {
    }

    /** A command to start a JVM like this one: its java, its class path, native access on, a 1 GiB heap. */
    static List<String> command() {
        String java = ProcessHandle.current().info().command().orElse("java");
        return new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
                "-Dio.netty.leakDetection.level=disabled", "-cp", System.getProperty("java.class.path")));
    }

    /**
     * With {@code --jfr}: the command records a flight recording of the measured JVM to {@code <out>/jfr/<name>.jfr}
     * (profile settings; thread parks and monitor waits from 100 us, so that lock hand-offs show).
     */
    static List<String> recorded(List<String> command, String name, Options options) throws IOException {
        if (!options.jfr) {
            return command;
        }
        Path dir = options.out.resolve("jfr");
        Files.createDirectories(dir);
        String file = dir.resolve(name.replaceAll("[^A-Za-z0-9._-]+", "_") + ".jfr").toAbsolutePath().toString();
        List<String> with = new ArrayList<>(command);
        with.add(1, "-XX:StartFlightRecording=filename=" + file + ",settings=profile,dumponexit=true,"
                + "jdk.ThreadPark#threshold=100us,jdk.JavaMonitorEnter#threshold=100us");
        return with;
    }

    /** Whether a child JVM died of a fatal error (a crash writes an hs_err file): reported, never retried. */
    static boolean crashed(String output) {
        return output.contains("A fatal error has been detected by the Java Runtime Environment");
    }

    /**
     * Why a child JVM gave no result, in one line: for a crash, the signal and the problematic frame from its
     * hs_err file (whose path is kept in the line); else the first exception it printed, or its last line.
     */
    static String failure(String output) {
        List<String> printed = output.lines().filter(l -> !l.isBlank()).toList();
        if (crashed(output)) {
            String file = printed.stream().filter(l -> l.contains("hs_err_pid")).findFirst()
                    .map(l -> l.substring(l.indexOf('/') >= 0 ? l.indexOf('/') : 0).strip()).orElse("");
            List<String> report = printed;
            try {
                if (!file.isEmpty() && Files.isReadable(Path.of(file))) {
                    report = Files.readAllLines(Path.of(file)).stream().limit(40).toList();
                }
            } catch (IOException ignored) {
                // the lines the JVM printed say as much
            }
            String signal = report.stream().filter(l -> l.matches("#\\s+(SIG|EXCEPTION|Internal Error).*"))
                    .findFirst().orElse("#").substring(1).strip();
            int frameAt = report.indexOf(report.stream().filter(l -> l.startsWith("# Problematic frame:"))
                    .findFirst().orElse(""));
            String frame = frameAt >= 0 && frameAt + 1 < report.size() ? report.get(frameAt + 1).substring(1).strip()
                    : "?";
            return "JVM crash: " + signal + "; frame " + frame + (file.isEmpty() ? "" : "; " + file);
        }
        String why = printed.stream().filter(l -> l.contains("Exception") || l.contains("Error")).findFirst()
                .orElse(printed.isEmpty() ? "no output" : printed.getLast());
        return "failed: " + why.strip();
    }

    /** Runs a child JVM to the end; returns what it printed. */
    static String run(List<String> command, Optional<Path> preload) throws IOException,
            InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        preload.ifPresent(library -> builder.environment().put("LD_PRELOAD", library.toString()));
        Process process = builder.start();
        StringBuilder output = new StringBuilder();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                output.append(line).append('\n');
            }
        }
        process.waitFor();
        return output.toString();
    }
}
