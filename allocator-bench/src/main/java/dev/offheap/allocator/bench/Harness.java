package dev.offheap.allocator.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The comparison harness, this project's main job: every workload against every peer, side by side, with
 * progress as it goes, tables at the end, and a report folder (report.md, results.csv, one SVG per table).
 *
 * <p>Each measurement runs in a JVM of its own: JMH workloads as {@code org.openjdk.jmh.Main} (unforked inside
 * that fresh JVM), trace replays as {@link TraceReplay}; the malloc peers other than glibc get their library
 * through {@code LD_PRELOAD} in theirs. The seed table runs here. {@code --help} lists the options.
 */
public final class Harness {

    private static final List<String> WORKLOADS = List.of("pair", "latency", "replace", "sizemix", "xmalloc", "larson",
            "ring", "seed", "trace", "cache", "cache-trace", "fill");
    private static final List<String> LATENCY_PEERS = List.of("offheap", "malloc", "netty-pooled", "netty-adaptive",
            "netty-offheap");
    private static final List<String> LARSON_PEERS = List.of("offheap", "offheap-nocache", "malloc", "malloc-jemalloc",
            "malloc-mimalloc", "malloc-tcmalloc");
    private static final List<String> PAIR_PEERS = List.of("offheap", "offheap-nocache", "malloc", "malloc-jemalloc",
            "malloc-mimalloc", "malloc-tcmalloc", "netty-pooled", "netty-adaptive", "netty-offheap", "arena-confined",
            "arena-shared",
            "allocate-direct", "bump", "implicit", "explicit", "segregated", "buddy", "slab");
    private static final List<String> MULTI_PEERS = List.of("offheap", "malloc", "malloc-jemalloc", "malloc-mimalloc",
            "malloc-tcmalloc", "netty-pooled", "netty-adaptive", "netty-offheap");
    /** What the observability features cost, at 64 B: leak detection sampled, and debug mode. */
    /** Pair peers at 64 B only: the cost of leak sampling and debug mode, and malloc as most FFM code calls it. */
    private static final List<String> COST_PEERS = List.of("offheap-sampled", "offheap-debug", "malloc-downcall");
    /** Peers that can replay a trace on its own threads: thread-safe, with address handles. */
    private static final List<String> THREADED_TRACE_PEERS = List.of("offheap", "malloc", "malloc-jemalloc",
            "malloc-mimalloc", "malloc-tcmalloc");
    private static final List<String> TRACE_PEERS = List.of("offheap", "malloc", "malloc-jemalloc", "malloc-mimalloc",
            "malloc-tcmalloc", "netty-pooled", "segregated");

    private final Options options;
    private final Report report = new Report();
    private final long started = System.nanoTime();
    private double estimatedTotal;
    private double estimatedDone;
    private int done;
    private int total;

    private Harness(Options options) {
        this.options = options;
    }

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("harness: " + e.getMessage() + " (--help lists the options)");
            System.exit(2);
            return;
        }
        if (options.help) {
            System.out.println(Options.HELP);
            return;
        }
        if (options.installPeers) {
            NativePeers.installMissing();
        }
        new Harness(options).run();
    }

    // -------------------------------------------------------------------------------------------------------
    // The plan

    /** One measurement: what it is, how long it should take, how to run it. */
    private record Task(String label, double estimateSeconds, Runner runner) {
    }

    @FunctionalInterface
    private interface Runner {
        void run() throws Exception;
    }

    private void run() throws Exception {
        List<Task> tasks = new ArrayList<>();
        Map<String, Map<String, Measurement>> results = new LinkedHashMap<>();
        Map<String, Map<String, String>> cacheResults = new LinkedHashMap<>();
        for (String workload : options.workloads) {
            switch (workload) {
                case "pair" -> {
                    for (long size : options.sizes) {
                        List<String> peers = new ArrayList<>(options.peersOr(PAIR_PEERS));
                        if (options.peers == null && size == 64) {
                            peers.addAll(COST_PEERS);
                        }
                        for (String peer : peers) {
                            tasks.add(jmhTask("pair", "PairBenchmark.allocateFree", peer, Map.of("size",
                                    Long.toString(size)), size + " B", results, true));
                        }
                    }
                }
                case "replace" -> options.peersOr(MULTI_PEERS).forEach(peer -> tasks.add(jmhTask("replace",
                        "ReplaceBenchmark.replace", peer, Map.of(), "256 B", results, false)));
                case "sizemix" -> options.peersOr(MULTI_PEERS).forEach(peer -> {
                    tasks.add(jmhTask("sizemix", "SizeMixBenchmark.replace", peer, Map.of("mix", "small-heavy"),
                            "mix", results, false));
                    tasks.add(jmhTask("sizemix", "SizeMixBenchmark.replace", peer, Map.of("mix", "medium"),
                            "medium mix", results, false));
                });
                case "xmalloc" -> options.peersOr(MULTI_PEERS).forEach(peer -> tasks.add(jmhTask("xmalloc",
                        "ProducerConsumerBenchmark.xmalloc", peer, Map.of(), "64 B", results, false)));
                case "latency" -> options.peersOr(LATENCY_PEERS).forEach(peer -> tasks.add(latencyTask(peer, results)));
                case "ring" -> options.peersOr(MULTI_PEERS).forEach(peer -> tasks.add(jmhTask("ring",
                        "RingBenchmark.allocateAndRetire", peer, Map.of(), "4096 ring", results, false)));
                case "larson" -> options.peersOr(LARSON_PEERS).forEach(peer -> tasks.add(larsonTask(peer, results)));
                case "seed" -> tasks.add(new Task("seed table: 7 designs and the JDK slicing allocator", 25, () -> seedTable()));
                case "trace" -> {
                    if (options.traces.isEmpty()) {
                        results.computeIfAbsent("trace-time|(none)", k -> new LinkedHashMap<>()).put("-",
                                Measurement.missing("no trace found at ../shared/traces: give one with --trace FILE"));
                        System.out.println("harness: no alloc-trace files found beside the project"
                                + " (../shared/traces); the trace workload needs --trace FILE");
                    }
                    for (Path trace : options.traces) {
                        for (String peer : options.peersOr(TRACE_PEERS)) {
                            tasks.add(traceTask(trace, peer, results, false));
                        }
                        if (Trace.threadsInHeader(trace) > 1) {
                            for (String peer : options.peersOr(THREADED_TRACE_PEERS)) {
                                tasks.add(traceTask(trace, peer, results, true));
                            }
                        }
                    }
                }
                case "cache-trace" -> tasks.add(new Task("cache-trace: hit rates on " + options.cacheTraces.size()
                        + " key traces", 10 + 10 * options.cacheTraces.size(), this::cacheTraces));
                case "fill" -> tasks.add(new Task("fill to the cap: 3 size mixes, 1 and 8 threads", 15, this::fill));
                case "cache" -> {
                    for (int readPercent : List.of(90, 50)) {
                        for (String peer : options.peers != null ? options.peers : List.of(CachePeer.NAMES)) {
                            tasks.add(cacheTask(peer, readPercent, cacheResults));
                        }
                    }
                }
                default -> throw new IllegalArgumentException("unknown workload " + workload);
            }
        }
        total = tasks.size();
        estimatedTotal = tasks.stream().mapToDouble(Task::estimateSeconds).sum();
        System.out.printf(Locale.ROOT, "harness: %d measurements, about %s; report in %s%n", total,
                minutes(estimatedTotal), options.out.toAbsolutePath());
        for (Task task : tasks) {
            progress(task.label());
            try {
                task.runner().run();
            } catch (Exception e) {
                System.out.println("  failed: " + e.getMessage());
            }
            estimatedDone += task.estimateSeconds();
            done++;
        }
        buildTables(results);
        if (!cacheResults.isEmpty()) {
            cacheTable(cacheResults);
        }
        for (Report.Table table : report.tables) {
            System.out.print(table.text());
        }
        report.write(options.out, header());
        System.out.printf(Locale.ROOT, "%nharness: done in %s; report: %s%n", minutes(elapsed()),
                options.out.resolve("report.md").toAbsolutePath());
    }

    private void progress(String label) {
        double elapsed = elapsed();
        double pace = estimatedDone > 0 ? elapsed / estimatedDone : 1;
        double left = (estimatedTotal - estimatedDone) * pace;
        System.out.printf(Locale.ROOT, "[%d/%d] %-60s elapsed %s, about %s left%n", done + 1, total, label,
                minutes(elapsed), minutes(left));
    }

    private double elapsed() {
        return (System.nanoTime() - started) / 1e9;
    }

    private static String minutes(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    // -------------------------------------------------------------------------------------------------------
    // JMH workloads

    /** A figure: its value, error, unit, allocation per op (JMH gc profiler), or why there is none. */
    private record Measurement(double score, double error, String unit, double bytesPerOp, String missing) {
        static Measurement missing(String why) {
            return new Measurement(Double.NaN, Double.NaN, "", Double.NaN, why);
        }
    }

    private Task jmhTask(String workload, String benchmark, String peer, Map<String, String> params, String column,
                         Map<String, Map<String, Measurement>> results, boolean gcProfile) {
        double estimate = 1.5 + options.warmups * options.iterationSeconds + options.iterations * options.iterationSeconds;
        String key = workload + "|" + column;
        return new Task(workload + " " + peer + " " + column, estimate, () -> {
            Map<String, Measurement> row = results.computeIfAbsent(key, k -> new LinkedHashMap<>());
            Optional<NativePeers.NativePeer> nativePeer = NativePeers.byName(peer);
            if (nativePeer.isPresent() && !nativePeer.get().installed()) {
                row.put(peer, Measurement.missing(nativePeer.get().howToInstall()));
                return;
            }
            Path csv = Files.createTempFile("jmh-", ".csv");
            List<String> command = new ArrayList<>(javaCommand());
            command.addAll(List.of("org.openjdk.jmh.Main", "^" + Harness.class.getPackageName() + "." + benchmark + "$",
                    "-f", "0", "-wi", Integer.toString(options.warmups), "-i", Integer.toString(options.iterations),
                    "-w", millis(options.iterationSeconds), "-r", millis(options.iterationSeconds),
                    "-p", "peer=" + (nativePeer.isPresent() ? "malloc" : peer), "-rf", "csv", "-rff", csv.toString()));
            params.forEach((name, value) -> command.addAll(List.of("-p", name + "=" + value)));
            if (gcProfile) {
                command.addAll(List.of("-prof", "gc"));
            }
            String output = runChild(command, nativePeer.flatMap(NativePeers.NativePeer::path));
            Measurement m = parseJmhCsv(csv, benchmark, output);
            if (m.missing() != null && !crashed(output)) {
                System.out.println("  no result (" + m.missing() + "); trying once more");
                output = runChild(command, nativePeer.flatMap(NativePeers.NativePeer::path));
                m = parseJmhCsv(csv, benchmark, output);
            }
            Files.deleteIfExists(csv);
            row.put(peer, m);
            report.csv(workload, peer, column, "score", m.score(), m.unit());
            report.csv(workload, peer, column, "error", m.error(), m.unit());
            if (!Double.isNaN(m.bytesPerOp())) {
                report.csv(workload, peer, column, "gc.alloc.rate.norm", m.bytesPerOp(), "B/op");
            }
        });
    }

    private static Measurement parseJmhCsv(Path csv, String benchmark, String output) throws IOException {
        List<String> lines = Files.exists(csv) ? Files.readAllLines(csv) : List.of();
        if (lines.size() < 2) {
            return Measurement.missing(failure(output));
        }
        double score = Double.NaN;
        double error = Double.NaN;
        String unit = "";
        double bytesPerOp = Double.NaN;
        String method = benchmark.substring(benchmark.indexOf('.') + 1);
        for (String line : lines.subList(1, lines.size())) {
            List<String> cells = splitCsv(line);
            String name = cells.get(0);
            if (name.endsWith("." + method)) {
                score = Double.parseDouble(cells.get(4));
                error = cells.get(5).isEmpty() ? Double.NaN : Double.parseDouble(cells.get(5));
                unit = cells.get(6);
            } else if (name.endsWith(":gc.alloc.rate.norm")) {
                bytesPerOp = Double.parseDouble(cells.get(4));
            }
        }
        return new Measurement(score, error, unit, bytesPerOp, null);
    }

    private static List<String> splitCsv(String line) {
        List<String> cells = new ArrayList<>();
        StringBuilder cell = new StringBuilder();
        boolean quoted = false;
        for (char c : line.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                cells.add(cell.toString());
                cell.setLength(0);
            } else {
                cell.append(c);
            }
        }
        cells.add(cell.toString());
        return cells;
    }

    /**
     * The pair at 64 B in JMH's sample mode: the time of single operations, for the tail. Single pairs are near
     * the timer's resolution, so the low percentiles are coarse; the high ones show the slow paths.
     */
    private Task latencyTask(String peer, Map<String, Map<String, Measurement>> results) {
        double estimate = 1.5 + (options.warmups + options.iterations) * options.iterationSeconds;
        return new Task("latency " + peer + " 64 B", estimate, () -> {
            Optional<NativePeers.NativePeer> nativePeer = NativePeers.byName(peer);
            if (nativePeer.isPresent() && !nativePeer.get().installed()) {
                results.computeIfAbsent("latency|p50", k -> new LinkedHashMap<>())
                        .put(peer, Measurement.missing(nativePeer.get().howToInstall()));
                return;
            }
            Path csv = Files.createTempFile("jmh-", ".csv");
            List<String> command = new ArrayList<>(javaCommand());
            command.addAll(List.of("org.openjdk.jmh.Main",
                    "^" + Harness.class.getPackageName() + ".PairBenchmark.allocateFree$", "-bm", "sample", "-tu", "ns",
                    "-f", "0", "-wi", Integer.toString(options.warmups), "-i", Integer.toString(options.iterations),
                    "-w", millis(options.iterationSeconds), "-r", millis(options.iterationSeconds),
                    "-p", "peer=" + (nativePeer.isPresent() ? "malloc" : peer), "-p", "size=64",
                    "-rf", "csv", "-rff", csv.toString()));
            runChild(command, nativePeer.flatMap(NativePeers.NativePeer::path));
            List<String> lines = Files.exists(csv) ? Files.readAllLines(csv) : List.of();
            Files.deleteIfExists(csv);
            for (String percentile : List.of("p0.50", "p0.99", "p0.999", "p0.9999")) {
                Map<String, Measurement> row = results.computeIfAbsent("latency|" + percentile,
                        k -> new LinkedHashMap<>());
                Measurement m = Measurement.missing("no result");
                for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
                    List<String> cells = splitCsv(line);
                    if (cells.get(0).endsWith(percentile)) {
                        m = new Measurement(Double.parseDouble(cells.get(4)), Double.NaN, "ns", Double.NaN, null);
                    }
                }
                row.put(peer, m);
                report.csv("latency", peer, percentile, "time", m.score(), "ns");
            }
        });
    }

    private Task larsonTask(String peer, Map<String, Map<String, Measurement>> results) {
        double seconds = Math.max(1, 3 * options.iterationSeconds * options.iterations / 2);
        return new Task("larson " + peer + " 2 threads", 2 + seconds * 1.4, () -> {
            Map<String, Measurement> row = results.computeIfAbsent("larson|2 threads", k -> new LinkedHashMap<>());
            Optional<NativePeers.NativePeer> nativePeer = NativePeers.byName(peer);
            if (nativePeer.isPresent() && !nativePeer.get().installed()) {
                row.put(peer, Measurement.missing(nativePeer.get().howToInstall()));
                return;
            }
            List<String> command = new ArrayList<>(javaCommand());
            command.addAll(List.of(Larson.class.getName(), nativePeer.isPresent() ? "malloc" : peer, "2",
                    Double.toString(seconds)));
            String output = runChild(command, nativePeer.flatMap(NativePeers.NativePeer::path));
            String line = output.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElse(null);
            if (line == null) {
                row.put(peer, Measurement.missing(failure(output)));
                return;
            }
            double score = Double.parseDouble(line.replaceAll(".*stepsPerMicrosecond=", ""));
            row.put(peer, new Measurement(score, Double.NaN, "steps/us", Double.NaN, null));
            report.csv("larson", peer, "2 threads", "stepsPerMicrosecond", score, "steps/us");
        });
    }

    // -------------------------------------------------------------------------------------------------------
    // Trace replay

    private Task traceTask(Path trace, String peer, Map<String, Map<String, Measurement>> results,
                           boolean threaded) {
        double estimate;
        try {
            estimate = 3.5 + Files.size(trace) / 1.5e6;
        } catch (IOException e) {
            estimate = 5;
        }
        String name = trace.getFileName().toString().replace(".trace.gz", "")
                + (threaded ? " (" + Trace.threadsInHeader(trace) + " threads)" : "");
        return new Task("trace " + name + " " + peer, estimate, () -> {
            Map<String, Measurement> time = results.computeIfAbsent("trace-time|" + name, k -> new LinkedHashMap<>());
            Map<String, Measurement> memory = results.computeIfAbsent("trace-memory|" + name, k -> new LinkedHashMap<>());
            Optional<NativePeers.NativePeer> nativePeer = NativePeers.byName(peer);
            if (nativePeer.isPresent() && !nativePeer.get().installed()) {
                time.put(peer, Measurement.missing(nativePeer.get().howToInstall()));
                memory.put(peer, Measurement.missing(nativePeer.get().howToInstall()));
                return;
            }
            List<String> command = new ArrayList<>(javaCommand());
            // Heap committed and touched up front: resident growth is then the peer's memory, not the heap's.
            command.addAll(1, List.of("-Xms1g", "-XX:+AlwaysPreTouch"));
            command.addAll(List.of(TraceReplay.class.getName(), trace.toString(),
                    nativePeer.isPresent() ? "malloc" : peer));
            if (threaded) {
                command.add("threads");
            }
            String output = runChild(command, nativePeer.flatMap(NativePeers.NativePeer::path));
            if (output.lines().noneMatch(l -> l.startsWith("RESULT ")) && !crashed(output)) {
                System.out.println("  no result; trying once more");
                output = runChild(command, nativePeer.flatMap(NativePeers.NativePeer::path));
            }
            String line = output.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElse(null);
            if (line == null) {
                time.put(peer, Measurement.missing(failure(output)));
                memory.put(peer, Measurement.missing(failure(output)));
                return;
            }
            Map<String, String> fields = Arrays.stream(line.substring(7).split(" "))
                    .map(f -> f.split("=", 2)).collect(Collectors.toMap(f -> f[0], f -> f[1]));
            double millis = Double.parseDouble(fields.get("millis"));
            double peakLive = Double.parseDouble(fields.get("peakLive"));
            double peakMemory = Double.parseDouble(fields.get("peakMemory"));
            String kind = fields.get("memoryKind");
            if (fields.containsKey("peakCommitted")) {
                double peakCommitted = Double.parseDouble(fields.get("peakCommitted"));
                kind += "; committed " + fmt(peakCommitted / peakLive) + "x";
                report.csv("trace", peer, name, "peakCommittedBytes", peakCommitted, "committed");
            }
            time.put(peer, new Measurement(millis, Double.NaN, "ms", Double.NaN, null));
            memory.put(peer, new Measurement(peakMemory / peakLive, Double.NaN, kind, peakMemory, null));
            report.csv("trace", peer, name, "millis", millis, "ms");
            report.csv("trace", peer, name, "peakLiveBytes", peakLive, "B");
            report.csv("trace", peer, name, "peakMemoryBytes", peakMemory, fields.get("memoryKind"));
        });
    }

    // -------------------------------------------------------------------------------------------------------
    // Off-heap caches

    private Task cacheTask(String peer, int readPercent, Map<String, Map<String, String>> results) {
        double seconds = Math.max(1, options.iterations * options.iterationSeconds * 1.5);
        String mix = readPercent + "/" + (100 - readPercent);
        return new Task("cache " + peer + " " + mix, 4 + 5 * seconds, () -> {
            List<String> command = new ArrayList<>(javaCommand());
            command.addAll(1, CACHE_JVM_FLAGS);
            command.addAll(List.of(CacheBench.class.getName(), peer, Integer.toString(readPercent),
                    Double.toString(seconds), Integer.toString(CACHE_RATE)));
            String output = runChild(command, Optional.empty());
            String line = output.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElse(null);
            Map<String, String> fields = new LinkedHashMap<>();
            if (line == null) {
                List<String> printed = output.lines().filter(l -> !l.isBlank()).toList();
                fields.put("missing", "failed: " + printed.stream().filter(l -> l.contains("Exception"))
                        .findFirst().orElse(printed.isEmpty() ? "no output" : printed.getLast()).strip());
            } else {
                Arrays.stream(line.substring(7).split(" ")).map(f -> f.split("=", 2))
                        .forEach(f -> fields.put(f[0], f[1]));
                fields.forEach((k, v) -> {
                    if (!k.equals("note")) {
                        report.csv("cache", peer, mix, k, Double.parseDouble(v), "");
                    }
                });
            }
            results.put(peer + "|" + mix, fields);
        });
    }

    /** Heap pre-touched, so resident growth is off-heap memory; Chronicle Map needs its opens to run at all. */
    private static final List<String> CACHE_JVM_FLAGS = List.of("-Xms1g", "-XX:+AlwaysPreTouch",
            "-Dchronicle.analytics.disable=true", "--sun-misc-unsafe-memory-access=allow",
            "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
            "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
            "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED");
    /** Operations per second of the fixed-rate latency run: well within every peer's throughput. */
    private static final int CACHE_RATE = 100_000;

    private void cacheTable(Map<String, Map<String, String>> results) {
        Report.Table table = new Report.Table("cache", "Off-heap caches: YCSB scrambled Zipfian",
                "Workload 9: " + CacheBench.RECORDS + " keys (scrambled Zipfian, theta 0.99), values of 16 B to"
                        + " 128 KiB (half under 256 B, mean about 2.5 KiB), capacity " + mib(CacheBench.CAPACITY_BYTES)
                        + "; reads fill the cache on a miss; every phase on the same pool of two threads. Throughput in"
                        + " thousands of operations per second on 1 and 2 threads (x ohc: 2 threads, against OHC's"
                        + " default LRU); hit rate of the 2-thread run;"
                        + " latency at a fixed " + CACHE_RATE / 1000 + "k operations/s on one thread, from each"
                        + " operation's intended start (no coordinated omission), in microseconds; memory = growth"
                        + " of resident memory over the run / capacity (heap pre-touched, logging started before"
                        + " the baseline; includes the JVM's own growth alike for all), and the peer's own figure"
                        + " where it gives one. Chronicle Map is a"
                        + " map, not a cache: it cannot evict, so it is sized for every key.",
                List.of("peer", "mix", "kops/s 1 thr", "kops/s 2 thr", "x ohc", "hit rate", "p50 us", "p99 us",
                        "p99.9 us", "memory / capacity", "note"), "throughput on 2 threads, x ohc (higher better)");
        for (String mix : List.of("90/10", "50/50")) {
            Map<String, String> baseline = results.get("ohc|" + mix);
            double base = baseline == null || baseline.containsKey("missing") ? Double.NaN
                    : Double.parseDouble(baseline.get("ops2"));
            results.forEach((key, f) -> {
                if (!key.endsWith("|" + mix)) {
                    return;
                }
                String peer = key.substring(0, key.indexOf('|'));
                if (f.containsKey("missing")) {
                    table.add(List.of(peer, mix, "-", "-", "-", "-", "-", "-", "-", "-", f.get("missing")));
                    return;
                }
                double ops2 = Double.parseDouble(f.get("ops2"));
                double capacity = Double.parseDouble(f.get("capacity"));
                long own = Long.parseLong(f.get("own"));
                table.add(List.of(peer, mix, fmt(Double.parseDouble(f.get("ops1")) / 1000), fmt(ops2 / 1000),
                        fmt(ops2 / base), String.format(Locale.ROOT, "%.3f", Double.parseDouble(f.get("hitRate"))),
                        fmt(Double.parseDouble(f.get("p50")) / 1000), fmt(Double.parseDouble(f.get("p99")) / 1000),
                        fmt(Double.parseDouble(f.get("p999")) / 1000),
                        fmt(Double.parseDouble(f.get("rssGrowth")) / capacity)
                                + (own >= 0 ? " (own " + fmt(own / capacity) + ")" : ""),
                        f.get("note").replace('_', ' ')));
                if (mix.equals("90/10")) {
                    table.chart.put(peer, ops2 / base);
                }
            });
        }
        report.tables.add(table);
    }

    // -------------------------------------------------------------------------------------------------------
    // Cache hit rates on key traces

    /** Workload {@code cache-trace} ({@link CacheTraceReplay}) in a JVM of its own. */
    private void cacheTraces() throws IOException, InterruptedException {
        Report.Table table = new Report.Table("cache-trace", "Cache hit rates on real key traces",
                "Workload `cache-trace`: each access reads the key; a miss puts it (16-byte values). Budgets: 1/16,"
                        + " 1/8, 1/4 and 1/2 of the trace's distinct keys. offheap-entries: OffHeapCache with"
                        + " maxEntries(budget) and bytes to spare; offheap-bytes: capacityBytes for the budget's"
                        + " entries ('-': below the smallest capacity the cache accepts, one 64 KiB key per"
                        + " segment); caffeine: maximumSize(budget), maintenance on the caller's thread; lru:"
                        + " LinkedHashMap in access order. Last column: the lower of the two offheap rates minus"
                        + " Caffeine's.",
                List.of("trace", "budget", "offheap-entries", "offheap-bytes", "caffeine", "lru", "offheap - caffeine"),
                "the lower offheap hit rate - caffeine's");
        if (options.cacheTraces.isEmpty()) {
            table.add(List.of("(none)", "-", "-", "-", "-", "-", "no key trace found at ../shared/cachetraces: give"
                    + " one with --cache-trace FILE"));
            report.tables.add(table);
            return;
        }
        List<String> command = new ArrayList<>(javaCommand());
        command.add(CacheTraceReplay.class.getName());
        options.cacheTraces.forEach(trace -> command.add(trace.toString()));
        String output = runChild(command, Optional.empty());
        Map<String, Map<String, String>> rows = new LinkedHashMap<>();
        output.lines().filter(l -> l.startsWith("RESULT cachetrace ")).forEach(line -> {
            Map<String, String> fields = Arrays.stream(line.substring("RESULT cachetrace ".length()).split(" "))
                    .map(f -> f.split("=", 2)).collect(Collectors.toMap(f -> f[0], f -> f[1]));
            rows.computeIfAbsent(fields.get("trace") + "|" + fields.get("budget"), k -> new LinkedHashMap<>())
                    .put(fields.get("policy"), fields.get("hitRate"));
        });
        if (rows.isEmpty()) {
            List<String> printed = output.lines().filter(l -> !l.isBlank()).toList();
            table.add(List.of("-", "-", "-", "-", "-", "-", "failed: " + (printed.isEmpty() ? "no output"
                    : printed.getLast().strip())));
        }
        for (Map.Entry<String, Map<String, String>> row : rows.entrySet()) {
            String[] key = row.getKey().split("\\|");
            Map<String, String> rates = row.getValue();
            List<String> cells = new ArrayList<>(List.of(key[0], key[1]));
            for (String policy : CacheTraceReplay.POLICIES) {
                cells.add(rates.getOrDefault(policy, "-"));
                if (!"-".equals(rates.getOrDefault(policy, "-"))) {
                    report.csv("cache-trace", policy, key[0] + "/" + key[1], "hitRate",
                            Double.parseDouble(rates.get(policy)), "ratio");
                }
            }
            double caffeine = Double.parseDouble(rates.getOrDefault("caffeine", "NaN"));
            double worst = Stream.of("offheap-entries", "offheap-bytes").map(p -> rates.getOrDefault(p, "-"))
                    .filter(v -> !v.equals("-")).mapToDouble(Double::parseDouble).min().orElse(Double.NaN);
            cells.add(Double.isNaN(worst) ? "-" : String.format(Locale.ROOT, "%+.3f", worst - caffeine));
            table.add(cells);
            if (!Double.isNaN(worst)) {
                table.chart.put(key[0] + " " + key[1], worst - caffeine);
            }
        }
        report.tables.add(table);
    }

    // -------------------------------------------------------------------------------------------------------
    // Fill to the cap

    /** Workload {@code fill} ({@link FillToCap}) in a JVM of its own: how much of maxBytes a user gets. */
    private void fill() throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(javaCommand());
        command.add(FillToCap.class.getName());
        String output = runChild(command, Optional.empty());
        Report.Table table = new Report.Table("fill", "Filling to the cap",
                "Workload `fill`: OffHeapAllocator with maxBytes " + (FillToCap.CAP >> 20) + " MiB; each thread keeps a"
                        + " slowly growing set of live blocks (each step replaces a random live block; one in "
                        + FillToCap.GROW_ONE_IN + " only allocates), until the first refusal anywhere. At that moment, over the cap: bytes asked for by live"
                        + " blocks, their usable bytes, and the most committed seen. Mixes: frag (97% log-uniform"
                        + " 1 B-16 KiB, 2.8% 64 KiB-1 MiB, 0.2% 1-4 MiB), to128k (log-uniform 16 B-128 KiB), small"
                        + " (uniform 16-512 B). Reason: cap (the cap itself was reached) or no-run (no contiguous"
                        + " run of pages while memory was free).",
                List.of("mix", "threads", "asked / cap", "usable / cap", "committed / cap", "refused for"),
                "asked / cap");
        List<String> lines = output.lines().filter(l -> l.startsWith("RESULT fill ")).toList();
        if (lines.isEmpty()) {
            List<String> printed = output.lines().filter(l -> !l.isBlank()).toList();
            table.add(List.of("-", "-", "-", "-", "-", "failed: " + (printed.isEmpty() ? "no output"
                    : printed.getLast().strip())));
        }
        for (String line : lines) {
            Map<String, String> fields = Arrays.stream(line.substring("RESULT fill ".length()).split(" "))
                    .map(f -> f.split("=", 2)).collect(Collectors.toMap(f -> f[0], f -> f[1]));
            String mix = fields.get("mix");
            String threads = fields.get("threads");
            double asked = Double.parseDouble(fields.get("asked"));
            table.add(List.of(mix, threads, ratio3(asked), ratio3(Double.parseDouble(fields.get("usable"))),
                    ratio3(Double.parseDouble(fields.get("committed"))), fields.get("reason")));
            table.chart.put(mix + ", " + threads + " thr", asked);
            for (String metric : List.of("asked", "usable", "committed")) {
                report.csv("fill", "offheap", mix + "/" + threads, metric, Double.parseDouble(fields.get(metric)),
                        "ratio");
            }
        }
        report.tables.add(table);
    }

    /** A ratio near 1 with three decimals: 0.899 and 0.900 are on two sides of a target. */
    private static String ratio3(double value) {
        return String.format(Locale.ROOT, "%.3f", value);
    }

    // -------------------------------------------------------------------------------------------------------
    // Seed table

    private void seedTable() throws IOException, InterruptedException {
        Report.Table table = new Report.Table("seed", "The seed article's table, measured",
                "One workload for every design: " + SeedTable.BLOCKS + " blocks of 16-512 B (uniform) in a 64 MiB "
                        + "heap; allocation and free in ns per operation (median of " + SeedTable.ROUNDS + " rounds,"
                        + " frees in random order); internal fragmentation = 1 - requested/usable; external = share "
                        + "of the bytes freed from a full 8 MiB heap (every other block) that fresh blocks could not "
                        + "use again. arena-slicing is the JDK's SegmentAllocator.slicingAllocator, which cannot free."
                        + " Ratios: allocation time against the baseline, segregated lists.",
                List.of("design", "allocate ns", "x segregated", "free ns", "internal frag", "external frag"),
                "allocation time, x segregated");
        List<SeedTable.Row> rows = new ArrayList<>();
        List<String> designs = new ArrayList<>(SeedTable.designs());
        designs.add("arena-slicing");
        for (String design : designs) { // a JVM per design: one call site per JIT, as in a program that uses one
            List<String> command = new ArrayList<>(javaCommand());
            command.addAll(List.of(SeedTable.class.getName(), design));
            String output = runChild(command, Optional.empty());
            String line = output.lines().filter(l -> l.startsWith("RESULT seed ")).findFirst().orElse(null);
            if (line == null) {
                table.add(List.of(design, "-", "-", "-", "-", failure(output)));
                continue;
            }
            Map<String, String> f = Arrays.stream(line.substring("RESULT seed ".length()).split(" "))
                    .map(kv -> kv.split("=", 2)).collect(Collectors.toMap(kv -> kv[0], kv -> kv[1]));
            rows.add(new SeedTable.Row(design, Double.parseDouble(f.get("allocateNs")),
                    Double.parseDouble(f.get("freeNs")), Double.parseDouble(f.get("internal")),
                    Double.parseDouble(f.get("external"))));
        }
        double baseline = rows.stream().filter(r -> r.design().equals("segregated")).findFirst()
                .map(SeedTable.Row::allocateNs).orElse(Double.NaN);
        for (SeedTable.Row row : rows) {
            table.add(List.of(row.design(), fmt(row.allocateNs()), fmt(row.allocateNs() / baseline),
                    fmt(row.freeNs()), percent(row.internal()), percent(row.external())));
            table.chart.put(row.design(), row.allocateNs() / baseline);
            report.csv("seed", row.design(), "", "allocateNs", row.allocateNs(), "ns/op");
            report.csv("seed", row.design(), "", "freeNs", row.freeNs(), "ns/op");
            report.csv("seed", row.design(), "", "internalFragmentation", row.internal(), "ratio");
            report.csv("seed", row.design(), "", "externalFragmentation", row.external(), "ratio");
        }
        report.tables.add(table);
    }

    // -------------------------------------------------------------------------------------------------------
    // Tables

    private void buildTables(Map<String, Map<String, Measurement>> results) {
        Map<String, List<String>> byWorkload = new LinkedHashMap<>();
        for (String key : results.keySet()) {
            byWorkload.computeIfAbsent(key.substring(0, key.indexOf('|')), k -> new ArrayList<>()).add(key);
        }
        for (Map.Entry<String, List<String>> workload : byWorkload.entrySet()) {
            String name = workload.getKey();
            boolean throughput = name.equals("xmalloc") || name.equals("larson");
            boolean memory = name.equals("trace-memory");
            String description = switch (name) {
                case "pair" -> "Workload 1: allocate + write first and last byte + free, one thread; ns per pair"
                        + " (lower is better); B/op from JMH's gc profiler.";
                case "replace" -> "Workload 2: random replacement among 8,192 live 256 B blocks; ns per replacement.";
                case "sizemix" -> "Workload 3: 128 live blocks replaced with a small-heavy size mix (to 256 KiB),"
                        + " and with a medium mix (every size from 64 KiB to 1 MiB, log-uniform); ns per replacement.";
                case "xmalloc" -> "Workload 4: one thread allocates batches of 4,096 x 64 B, another frees them;"
                        + " blocks per microsecond, both threads together (higher is better).";
                case "latency" -> "Workload 1 at 64 B in JMH's sample mode: ns per single pair at each percentile"
                        + " (the timer's resolution makes the low percentiles coarse).";
                case "larson" -> "Workload 5: 2 lanes of 1,000 slots; each step frees a random slot and allocates"
                        + " 8-1000 B; every 20,000 steps a lane's thread hands its slots to a new thread and ends;"
                        + " steps per microsecond, higher is better. Only peers with address handles.";
                case "ring" -> "Workload 6: a ring of 4,096 blocks, sizes cycling through a histogram (16 B to"
                        + " 4 KiB), each allocation retiring the block of a sliding window ago; ns per step.";
                case "trace-time" -> "Workload 7: replay of real allocation traces in a fresh JVM per peer, on one"
                        + " thread, and for multi-threaded traces also on the trace's own threads (each block's"
                        + " events in order; thread-safe address peers only); milliseconds for the whole trace"
                        + " (median of five replays after 1.5 s of warm-up replays).";
                case "trace-memory" -> "Workload 7: peak memory / peak live bytes during the replay (1.0 is"
                        + " perfect): growth of resident memory (VmHWM over the VmRSS before the replays) for"
                        + " every peer (Java heap pre-touched and logging started before the baseline, as in any"
                        + " service; the JVM's other memory, such as the classes a library loads, included); the note adds the most committed bytes the allocator"
                        + " reported, read every 4,096 events, where it reports them.";
                default -> name;
            };
            Report.Table table = new Report.Table(name, title(name), description + " Baseline: glibc malloc"
                    + " through critical FFM downcalls (Linker.Option.critical; malloc-downcall: standard ones).",
                    List.of("peer", "parameter", "score", "error", "x malloc", "B/op",
                    "note"), memory ? "memory per live byte" : throughput ? "throughput, x malloc (higher better)"
                    : "time, x malloc (lower better)");
            for (String key : workload.getValue()) {
                String parameter = key.substring(key.indexOf('|') + 1);
                Map<String, Measurement> row = results.get(key);
                Measurement baseline = row.get("malloc");
                for (Map.Entry<String, Measurement> peer : row.entrySet()) {
                    Measurement m = peer.getValue();
                    if (m.missing() != null) {
                        table.add(List.of(peer.getKey(), parameter, "-", "-", "-", "-", m.missing()));
                        continue;
                    }
                    double ratio = memory ? m.score() : baseline == null || baseline.missing() != null ? Double.NaN
                            : m.score() / baseline.score();
                    table.add(List.of(peer.getKey(), parameter, fmt(m.score()) + (memory ? "" : " " + m.unit()),
                            Double.isNaN(m.error()) ? "" : "± " + fmt(m.error()), fmt(ratio),
                            memory || Double.isNaN(m.bytesPerOp()) ? "" : fmt(m.bytesPerOp()),
                            memory ? m.unit() + ", peak " + mib(m.bytesPerOp()) : ""));
                    // Every size of the pair workload (a log axis keeps them readable); one percentile of latency.
                    if (!name.equals("latency") || parameter.equals("p0.99")) {
                        table.chart.put(peer.getKey() + (workload.getValue().size() > 1 ? " " + parameter : ""), ratio);
                    }
                }
            }
            report.tables.add(0, table);
        }
        // Workload order as run: the loop above prepends, so reverse the non-seed tables back.
        List<Report.Table> ordered = new ArrayList<>(report.tables.stream().filter(t -> !t.id.equals("seed")).toList());
        java.util.Collections.reverse(ordered);
        report.tables.stream().filter(t -> t.id.equals("seed")).forEach(ordered::add);
        report.tables.clear();
        report.tables.addAll(ordered);
    }

    private static String title(String workload) {
        return switch (workload) {
            case "pair" -> "Allocate/free pairs";
            case "replace" -> "Random replacement, 8,192 live blocks";
            case "sizemix" -> "Size mix, 128 live blocks";
            case "xmalloc" -> "Producer/consumer (xmalloc-test)";
            case "latency" -> "Pair latency at 64 B (sample mode)";
            case "larson" -> "Larson: threads that hand their blocks to new threads";
            case "ring" -> "Ring with sliding survivors (sh6bench-like)";
            case "trace-time" -> "Trace replay: time";
            case "trace-memory" -> "Trace replay: memory";
            default -> workload;
        };
    }

    private static String fmt(double value) {
        if (Double.isNaN(value)) {
            return "-";
        }
        return String.format(Locale.ROOT, Math.abs(value) >= 100 ? "%.0f" : Math.abs(value) >= 10 ? "%.1f" : "%.2f",
                value);
    }

    private static String millis(double seconds) {
        return Math.round(seconds * 1000) + "ms";
    }

    private static String percent(double value) {
        return String.format(Locale.ROOT, "%.1f%%", value * 100);
    }

    private static String mib(double bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1 << 20));
    }

    private String header() throws IOException {
        String cpu = Files.exists(Path.of("/proc/cpuinfo")) ? Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                .filter(l -> l.startsWith("model name")).findFirst().map(l -> l.substring(l.indexOf(':') + 2))
                .orElse("?") : "?";
        return "# Benchmark report\n\n"
                + "Run " + LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME).substring(0, 19)
                + " on " + Runtime.getRuntime().availableProcessors() + " cores (" + cpu + "), "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", Java "
                + System.getProperty("java.version") + ". JMH: " + options.warmups + " warmup and "
                + options.iterations + " measured iterations of " + options.iterationSeconds + " s per figure,"
                + " one fresh JVM per figure. Reproduce with `mvn -pl allocator-bench -am package exec:exec"
                + (options.argLine.isEmpty() ? "" : " -Dbench.args=\"" + options.argLine + "\"") + "`.\n\n";
    }

    // -------------------------------------------------------------------------------------------------------
    // Child JVMs

    private static List<String> javaCommand() {
        String java = ProcessHandle.current().info().command().orElse("java");
        return new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
                "-Dio.netty.leakDetection.level=disabled", "-cp", System.getProperty("java.class.path")));
    }

    /** Whether a child JVM died of a fatal error (a crash writes an hs_err file): reported, never retried. */
    private static boolean crashed(String output) {
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
    private static String runChild(List<String> command, Optional<Path> preload) throws IOException,
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

    // -------------------------------------------------------------------------------------------------------
    // Options

    static final class Options {
        static final String HELP = """
                usage: mvn -pl allocator-bench -am package exec:exec -Dbench.args="[options]"

                Runs the comparison suite: each workload against each peer, one fresh JVM per figure.

                  --workloads LIST   among pair,latency,replace,sizemix,xmalloc,larson,ring,seed,trace,cache,
                                     cache-trace,fill
                                     (default: all)
                  --peers LIST       peers for every workload (default: each workload's own list), among
                                     offheap, offheap-nocache, malloc, malloc-jemalloc, malloc-mimalloc,
                                     malloc-tcmalloc, netty-pooled, netty-adaptive, netty-offheap (Netty's
                                     buffers through OffHeapByteBufAllocator), arena-confined, arena-shared,
                                     allocate-direct, bump, implicit, explicit, segregated, buddy, slab,
                                     offheap-sampled (leak detection 1 in 64), offheap-debug (debug mode),
                                     malloc-downcall (glibc malloc through standard, not critical, downcalls;
                                     these three measured at 64 B by default);
                                     for the cache workload: offheap-cache, ohc, ohc-wtinylfu, chronicle-map,
                                     ehcache-offheap
                  --sizes LIST       block sizes of the pair workload (default: 16,64,256,1024,4096,65536,131072)
                  --no-install       do not install missing native peers (by default, running as root with
                                     apt-get, the harness installs libjemalloc2, libmimalloc2.0 and
                                     libgoogle-perftools4 first; elsewhere their rows say how)
                  --trace FILE       an alloc-trace v1 file to replay (repeatable; default: ../shared/traces/*.gz)
                  --cache-trace FILE a cache key trace, LIRS text or cache2k binary (repeatable; default:
                                     ../shared/cachetraces/*.gz and *.xz)
                  --iterations N     measured JMH iterations per figure (default 3)
                  --warmups N        warmup JMH iterations per figure (default 2)
                  --seconds S        length of one JMH iteration in seconds (default 0.4)
                  --out DIR          report folder (default: target/bench-report)
                  --help             this text

                malloc-jemalloc/-mimalloc/-tcmalloc need Debian's libjemalloc2, libmimalloc2.0 and
                libgoogle-perftools4; without them their rows say how to install them.
                """;

        boolean help;
        /** Install missing native peers (jemalloc, mimalloc, tcmalloc) with apt-get where the harness runs as root. */
        boolean installPeers = true;
        List<String> workloads = WORKLOADS;
        List<String> peers;
        List<Long> sizes = List.of(16L, 64L, 256L, 1024L, 4096L, 65536L, 131072L);
        List<Path> traces = new ArrayList<>();
        List<Path> cacheTraces = new ArrayList<>();
        int iterations = 3;
        int warmups = 2;
        double iterationSeconds = 0.4;
        Path out = Path.of("target", "bench-report");
        String argLine = "";

        List<String> peersOr(List<String> defaults) {
            return peers != null ? peers : defaults;
        }

        static Options parse(String[] args) throws IOException {
            Options o = new Options();
            o.argLine = String.join(" ", args);
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (arg.equals("--help") || arg.equals("-h")) {
                    o.help = true;
                    continue;
                }
                if (arg.equals("--no-install")) {
                    o.installPeers = false;
                    continue;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                String value = args[++i];
                switch (arg) {
                    case "--workloads" -> {
                        o.workloads = List.of(value.split(","));
                        for (String w : o.workloads) {
                            if (!WORKLOADS.contains(w)) {
                                throw new IllegalArgumentException("unknown workload '" + w + "'; known: " + WORKLOADS);
                            }
                        }
                    }
                    case "--peers" -> o.peers = List.of(value.split(","));
                    case "--sizes" -> o.sizes = Stream.of(value.split(",")).map(Long::parseLong).toList();
                    case "--trace" -> {
                        Path trace = Path.of(value);
                        if (!Files.isReadable(trace)) {
                            throw new IllegalArgumentException("--trace " + value + ": no readable file there");
                        }
                        o.traces.add(trace);
                    }
                    case "--cache-trace" -> {
                        Path trace = Path.of(value);
                        if (!Files.isReadable(trace)) {
                            throw new IllegalArgumentException("--cache-trace " + value + ": no readable file there");
                        }
                        o.cacheTraces.add(trace);
                    }
                    case "--iterations" -> o.iterations = Integer.parseInt(value);
                    case "--warmups" -> o.warmups = Integer.parseInt(value);
                    case "--seconds" -> o.iterationSeconds = Double.parseDouble(value);
                    case "--out" -> o.out = Path.of(value);
                    default -> throw new IllegalArgumentException("unknown option '" + arg + "'");
                }
            }
            if (o.cacheTraces.isEmpty()) {
                for (Path dir : List.of(Path.of("..", "..", "shared", "cachetraces"),
                        Path.of("..", "shared", "cachetraces"))) {
                    if (Files.isDirectory(dir)) {
                        try (Stream<Path> files = Files.list(dir)) {
                            o.cacheTraces.addAll(files.filter(f -> f.toString().matches(".*\\.(gz|xz)$")).sorted()
                                    .toList());
                        }
                        break;
                    }
                }
            }
            if (o.traces.isEmpty()) {
                for (Path dir : List.of(Path.of("..", "..", "shared", "traces"), Path.of("..", "shared", "traces"))) {
                    if (Files.isDirectory(dir)) {
                        try (Stream<Path> files = Files.list(dir)) {
                            o.traces.addAll(files.filter(f -> f.toString().endsWith(".trace.gz")).sorted().toList());
                        }
                        break;
                    }
                }
            }
            return o;
        }
    }
}
