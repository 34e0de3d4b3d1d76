package dev.offheap.allocator.bench;

import java.io.IOException;
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
import java.util.stream.Stream;

import static dev.offheap.allocator.bench.Report.fmt;
import static dev.offheap.allocator.bench.Report.mib;
import static dev.offheap.allocator.bench.Report.millis;

/**
 * The comparison harness, this project's main job: every workload against every peer, side by side, with
 * progress as it goes, tables at the end, and a report folder (report.md, results.csv, one SVG per table).
 *
 * <p>Each measurement runs in a JVM of its own: JMH workloads as {@code org.openjdk.jmh.Main} (unforked inside
 * that fresh JVM), trace replays as {@link TraceReplay}; the malloc peers other than glibc get their library
 * through {@code LD_PRELOAD} in theirs. The seed table runs here. {@code --help} lists the options.
 */
public final class Harness {

    private final Options options;
    private final Report report = new Report();
    private final TableWorkloads tableWorkloads;
    private final long started = System.nanoTime();
    private double estimatedTotal;
    private double estimatedDone;
    private int done;
    private int total;

    private Harness(Options options) {
        this.options = options;
        this.tableWorkloads = new TableWorkloads(report, options);
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

    /** Where a figure goes: a workload's table, one column (a size, a trace, a percentile). */
    private record Cell(Workload workload, String column) {
    }

    /** A cache workload's row: a peer at a read/write mix. */
    private record CacheRow(String peer, String mix) {
    }

    @FunctionalInterface
    private interface Runner {
        void run() throws Exception;
    }

    private void run() throws Exception {
        List<Task> tasks = new ArrayList<>();
        Map<Cell, Map<String, Measurement>> results = new LinkedHashMap<>();
        Map<CacheRow, List<Map<String, String>>> cacheResults = new LinkedHashMap<>();
        for (Workload workload : options.workloads) {
            plan(workload, tasks, results, cacheResults);
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

    /** How each workload runs: the tasks it adds to the plan. */
    private void plan(Workload workload, List<Task> tasks, Map<Cell, Map<String, Measurement>> results,
                      Map<CacheRow, List<Map<String, String>>> cacheResults) {
        List<String> peers = options.peersOr(workload.defaultPeers);
        switch (workload) {
            case PAIR -> {
                for (long size : options.sizes) {
                    List<String> sizePeers = new ArrayList<>(peers);
                    if (options.peers == null && size == 64) {
                        sizePeers.addAll(Workload.Peers.COST);
                    }
                    for (String peer : sizePeers) {
                        tasks.add(jmhTask(workload, "PairBenchmark.allocateFree", peer, Map.of("size",
                                Long.toString(size)), size + " B", results, true));
                    }
                }
            }
            case VIRTUAL -> {
                // Rounds: every peer once, then again. Producer/consumer makes every free a cross-thread one.
                Map<String, String> benchmarks = new LinkedHashMap<>();
                benchmarks.put("pair", "PairBenchmark.allocateFree");
                benchmarks.put("producer/consumer", "ProducerConsumerBenchmark.xmalloc");
                for (int round = 0; round < options.repeats; round++) {
                    benchmarks.forEach((shape, benchmark) -> {
                        for (String executor : List.of("PLATFORM", "VIRTUAL")) { // JMH's own: threads of that kind
                            String column = shape + ", " + executor.toLowerCase(Locale.ROOT) + " threads";
                            Map<String, String> params = shape.equals("pair") ? Map.of("size", "64") : Map.of();
                            for (String peer : peers) {
                                tasks.add(jmhTask(workload, benchmark, peer, params, column, results,
                                        shape.equals("pair"), List.of("-Djmh.executor=" + executor)));
                            }
                        }
                    });
                }
            }
            case REPLACE -> peers.forEach(peer -> tasks.add(jmhTask(workload, "ReplaceBenchmark.replace", peer,
                    Map.of(), "256 B", results, false)));
            case SIZEMIX -> {
                peers.forEach(peer -> {
                    tasks.add(jmhTask(workload, "SizeMixBenchmark.replace", peer, Map.of("mix", "small-heavy"), "mix",
                            results, false));
                    tasks.add(jmhTask(workload, "SizeMixBenchmark.replace", peer, Map.of("mix", "medium"),
                            "medium mix", results, false));
                });
                // Two threads sharing one allocator: only peers whose handles any thread may free.
                peers.stream().filter(Workload.Peers.THREADED_TRACE::contains).forEach(peer -> tasks.add(jmhTask(
                        workload, "SharedMediumBenchmark.replace", peer, Map.of(), "medium mix, 2 threads", results,
                        false)));
            }
            case METRICS -> {
                // JMX on in both rows: the difference is the polling alone.
                for (int round = 0; round < options.repeats; round++) {
                    for (boolean polled : List.of(false, true)) {
                        List<String> jvmArgs = polled ? List.of("-Doffheap.jmx=true",
                                "-D" + MetricsPoller.PROPERTY + "=1") : List.of("-Doffheap.jmx=true");
                        String label = polled ? "offheap + MBean polled every 1 ms" : "offheap";
                        tasks.add(jmhTask(workload, "PairBenchmark.allocateFree", "offheap", label,
                                Map.of("size", "64"), "pair 64 B", results, true, jvmArgs));
                        tasks.add(jmhTask(workload, "ProducerConsumerBenchmark.xmalloc", "offheap", label,
                                Map.of(), "producer/consumer", results, false, jvmArgs));
                    }
                }
            }
            case XMALLOC -> {
                // Also with 4 x cores threads (half producing, half consuming, one queue): more threads than cores,
                // as in many containers, where a spin or yield that assumes the lock holder runs would collapse.
                int pairs = 2 * Runtime.getRuntime().availableProcessors();
                String oversubscribed = "64 B, " + pairs + "+" + pairs + " threads";
                for (int round = 0; round < options.repeats; round++) {
                    peers.forEach(peer -> tasks.add(jmhTask(workload, "ProducerConsumerBenchmark.xmalloc", peer,
                            Map.of(), "64 B", results, false)));
                    peers.forEach(peer -> tasks.add(jmhTask(workload, "ProducerConsumerBenchmark.xmalloc", peer, peer,
                            Map.of(), oversubscribed, results, false, List.of(), List.of("-tg", pairs + "," + pairs))));
                }
            }
            case LATENCY -> peers.forEach(peer -> tasks.add(latencyTask(peer, results)));
            case RING -> peers.forEach(peer -> tasks.add(jmhTask(workload, "RingBenchmark.allocateAndRetire", peer,
                    Map.of(), "4096 ring", results, false)));
            case LARSON -> {
                for (int round = 0; round < options.repeats; round++) {
                    for (int threads : LARSON_THREADS) { // peers side by side at each count
                        peers.forEach(peer -> tasks.add(larsonTask(peer, threads, results)));
                    }
                }
            }
            case CHURN -> peers.forEach(peer -> tasks.add(churnTask(peer, results)));
            case SEED -> tasks.add(new Task("seed table: 7 designs and the JDK slicing allocator", 25,
                    tableWorkloads::seedTable));
            case TRACE -> {
                if (options.traces.isEmpty()) {
                    results.computeIfAbsent(new Cell(Workload.TRACE, "(none)"), k -> new LinkedHashMap<>()).put("-",
                            Measurement.missing("no trace found at ../shared/traces: give one with --trace FILE"));
                    System.out.println("harness: no alloc-trace files found beside the project"
                            + " (../shared/traces); the trace workload needs --trace FILE");
                }
                for (Path trace : options.traces) {
                    for (String peer : peers) {
                        tasks.add(traceTask(trace, peer, results, false));
                    }
                    if (Trace.threadsInHeader(trace) > 1) {
                        for (String peer : options.peersOr(Workload.Peers.THREADED_TRACE)) {
                            tasks.add(traceTask(trace, peer, results, true));
                        }
                    }
                }
            }
            case TRACE_MEMORY -> { } // measured with TRACE
            case CACHE_TRACE -> tasks.add(new Task("cache-trace: hit rates on " + options.cacheTraces.size()
                    + " key traces", 10 + 10 * options.cacheTraces.size(), tableWorkloads::cacheTraces));
            case FILL -> tasks.add(new Task("fill to the cap: 3 size mixes, 1 and 8 threads", 15,
                    tableWorkloads::fill));
            case GC -> tasks.add(new Task("gc: " + options.gcDataMib + " MiB in 3 caches under G1 and ZGC, "
                    + options.gcRounds + " round(s)", GcBench.estimate(options.gcDataMib, options.gcRounds).toSeconds(),
                    () -> GcBench.table(report, options.gcDataMib, options.gcRounds)));
            case NETTY_SERVER -> tasks.add(new Task("netty-server: an HTTP server on 3 allocators, "
                    + NettyServerBench.DEFAULT_ROUNDS + " rounds", 165, () -> NettyServerBench.table(report)));
            case CACHE -> {
                for (int round = 0; round < options.repeats; round++) { // rounds: every peer once, then again
                    for (int readPercent : List.of(90, 50)) {
                        for (String peer : peers) {
                            tasks.add(cacheTask(peer, readPercent, cacheResults));
                        }
                    }
                }
            }
        }
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

    /**
     * A figure: its value, error, unit, allocation per op (JMH gc profiler), or why there is none. For a figure
     * run more than once ({@code --repeats}), the median of the runs' scores ({@code runs}, sorted) and no error;
     * a failed run is left out, and the table's "median of n" says how many counted.
     */
    private record Measurement(double score, double error, String unit, double bytesPerOp, String missing,
                               double[] runs) {
        Measurement(double score, double error, String unit, double bytesPerOp, String missing) {
            this(score, error, unit, bytesPerOp, missing, missing == null ? new double[] {score} : new double[0]);
        }

        static Measurement missing(String why) {
            return new Measurement(Double.NaN, Double.NaN, "", Double.NaN, why);
        }

        /** This run and {@code other} of the same figure: the median of every run; a failed run is left out. */
        Measurement plus(Measurement other) {
            if (missing != null) {
                return other;
            }
            if (other.missing != null) {
                return this;
            }
            double[] all = java.util.stream.DoubleStream.concat(Arrays.stream(runs), Arrays.stream(other.runs))
                    .sorted().toArray();
            return new Measurement(all[all.length / 2], Double.NaN, unit, bytesPerOp, null, all);
        }

        /** The error column: JMH's error for one run; the runs' spread for several. */
        String spread() {
            if (runs.length > 1) {
                return "median of " + runs.length + " (" + fmt(runs[0]) + "-" + fmt(runs[runs.length - 1]) + ")";
            }
            return Double.isNaN(error) ? "" : "± " + fmt(error);
        }
    }

    private Task jmhTask(Workload workload, String benchmark, String peer, Map<String, String> params, String column,
                         Map<Cell, Map<String, Measurement>> results, boolean gcProfile) {
        return jmhTask(workload, benchmark, peer, params, column, results, gcProfile, List.of());
    }

    /** A JMH figure measured in a JVM of its own started with {@code jvmArgs} too. */
    private Task jmhTask(Workload workload, String benchmark, String peer, Map<String, String> params, String column,
                         Map<Cell, Map<String, Measurement>> results, boolean gcProfile, List<String> jvmArgs) {
        return jmhTask(workload, benchmark, peer, peer, params, column, results, gcProfile, jvmArgs);
    }

    /** As above, the figure's row named {@code label} instead of the peer's name. */
    private Task jmhTask(Workload workload, String benchmark, String peer, String label, Map<String, String> params,
                         String column, Map<Cell, Map<String, Measurement>> results, boolean gcProfile,
                         List<String> jvmArgs) {
        return jmhTask(workload, benchmark, peer, label, params, column, results, gcProfile, jvmArgs, List.of());
    }

    /** As above, with {@code jmhArgs} on JMH's command line (such as {@code -tg} for a group's threads). */
    private Task jmhTask(Workload workload, String benchmark, String peer, String label, Map<String, String> params,
                         String column, Map<Cell, Map<String, Measurement>> results, boolean gcProfile,
                         List<String> jvmArgs, List<String> jmhArgs) {
        double estimate = 1.5 + options.warmups * options.iterationSeconds + options.iterations * options.iterationSeconds;
        Cell key = new Cell(workload, column);
        return new Task(workload.id + " " + label + " " + column, estimate, () -> {
            Map<String, Measurement> row = results.computeIfAbsent(key, k -> new LinkedHashMap<>());
            Optional<NativePeers.NativePeer> nativePeer = NativePeers.byName(peer);
            if (nativePeer.isPresent() && !nativePeer.get().installed()) {
                row.put(label, Measurement.missing(nativePeer.get().howToInstall()));
                return;
            }
            Path csv = Files.createTempFile("jmh-", ".csv");
            List<String> command = new ArrayList<>(ChildJvm.command());
            command.addAll(command.indexOf("-cp"), jvmArgs);
            command.addAll(List.of("org.openjdk.jmh.Main", "^" + Harness.class.getPackageName() + "." + benchmark + "$",
                    "-f", "0", "-wi", Integer.toString(options.warmups), "-i", Integer.toString(options.iterations),
                    "-w", millis(options.iterationSeconds), "-r", millis(options.iterationSeconds),
                    "-p", "peer=" + (nativePeer.isPresent() ? "malloc" : peer), "-rf", "csv", "-rff", csv.toString()));
            params.forEach((name, value) -> command.addAll(List.of("-p", name + "=" + value)));
            command.addAll(jmhArgs);
            if (gcProfile) {
                command.addAll(List.of("-prof", "gc"));
            }
            List<String> run = ChildJvm.recorded(command, workload.id + "-" + label + "-" + column, options);
            String output = ChildJvm.run(run, nativePeer.flatMap(NativePeers.NativePeer::path));
            Measurement m = parseJmhCsv(csv, benchmark, output);
            if (m.missing() != null && !ChildJvm.crashed(output)) {
                System.out.println("  no result (" + m.missing() + "); trying once more");
                output = ChildJvm.run(run, nativePeer.flatMap(NativePeers.NativePeer::path));
                m = parseJmhCsv(csv, benchmark, output);
            }
            Files.deleteIfExists(csv);
            row.merge(label, m, Measurement::plus); // a repeated figure keeps every run
            report.csv(workload.id, label, column, "score", m.score(), m.unit());
            report.csv(workload.id, label, column, "error", m.error(), m.unit());
            if (!Double.isNaN(m.bytesPerOp())) {
                report.csv(workload.id, label, column, "gc.alloc.rate.norm", m.bytesPerOp(), "B/op");
            }
        });
    }

    private static Measurement parseJmhCsv(Path csv, String benchmark, String output) throws IOException {
        List<String> lines = Files.exists(csv) ? Files.readAllLines(csv) : List.of();
        if (lines.size() < 2) {
            return Measurement.missing(ChildJvm.failure(output));
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
    private Task latencyTask(String peer, Map<Cell, Map<String, Measurement>> results) {
        double estimate = 1.5 + (options.warmups + options.iterations) * options.iterationSeconds;
        return new Task("latency " + peer + " 64 B", estimate, () -> {
            Optional<NativePeers.NativePeer> nativePeer = NativePeers.byName(peer);
            if (nativePeer.isPresent() && !nativePeer.get().installed()) {
                results.computeIfAbsent(new Cell(Workload.LATENCY, "p0.50"), k -> new LinkedHashMap<>())
                        .put(peer, Measurement.missing(nativePeer.get().howToInstall()));
                return;
            }
            Path csv = Files.createTempFile("jmh-", ".csv");
            List<String> command = new ArrayList<>(ChildJvm.command());
            command.addAll(List.of("org.openjdk.jmh.Main",
                    "^" + Harness.class.getPackageName() + ".PairBenchmark.allocateFree$", "-bm", "sample", "-tu", "ns",
                    "-f", "0", "-wi", Integer.toString(options.warmups), "-i", Integer.toString(options.iterations),
                    "-w", millis(options.iterationSeconds), "-r", millis(options.iterationSeconds),
                    "-p", "peer=" + (nativePeer.isPresent() ? "malloc" : peer), "-p", "size=64",
                    "-rf", "csv", "-rff", csv.toString()));
            ChildJvm.run(command, nativePeer.flatMap(NativePeers.NativePeer::path));
            List<String> lines = Files.exists(csv) ? Files.readAllLines(csv) : List.of();
            Files.deleteIfExists(csv);
            for (String percentile : List.of("p0.50", "p0.99", "p0.999", "p0.9999")) {
                Map<String, Measurement> row = results.computeIfAbsent(new Cell(Workload.LATENCY, percentile),
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

    /** Larson's lane counts: 2, and 8 (more threads than cores on most CI and container machines). */
    private static final int[] LARSON_THREADS = {2, 8};

    private Task larsonTask(String peer, int threads, Map<Cell, Map<String, Measurement>> results) {
        double seconds = Math.max(1, 3 * options.iterationSeconds * options.iterations / 2);
        String parameter = threads + " threads";
        return new Task("larson " + peer + " " + parameter, 2 + seconds * 1.4, () -> {
            Map<String, Measurement> row = results.computeIfAbsent(new Cell(Workload.LARSON, parameter),
                    k -> new LinkedHashMap<>());
            Map<String, String> fields = peerChild(peer, row, List.of(), Larson.class,
                    List.of(Integer.toString(threads), Double.toString(seconds)), "larson-" + peer + "-" + threads);
            if (fields == null) {
                return;
            }
            double score = Double.parseDouble(fields.get("stepsPerMicrosecond"));
            row.merge(peer, new Measurement(score, Double.NaN, "steps/us", Double.NaN, null), Measurement::plus);
            report.csv("larson", peer, parameter, "stepsPerMicrosecond", score, "steps/us");
        });
    }

    private Task churnTask(String peer, Map<Cell, Map<String, Measurement>> results) {
        String parameter = ChurnBench.LIVE_MIB + " MiB live, " + ChurnBench.THREADS + " threads";
        return new Task("churn " + peer, 6, () -> {
            Map<String, Measurement> row = results.computeIfAbsent(new Cell(Workload.CHURN, parameter),
                    k -> new LinkedHashMap<>());
            // Heap committed and touched up front: resident growth is then the peer's, not the heap's.
            Map<String, String> fields = peerChild(peer, row, List.of("-Xms1g", "-XX:+AlwaysPreTouch"),
                    ChurnBench.class, List.of(), "churn-" + peer);
            if (fields == null) {
                return;
            }
            double live = Double.parseDouble(fields.get("live"));
            double growth = Double.parseDouble(fields.get("rssGrowth"));
            double peak = Double.parseDouble(fields.get("peakGrowth"));
            double committed = Double.parseDouble(fields.get("committed"));
            String note = "rss-growth; at the peak " + fmt(Double.parseDouble(fields.get("peakRatio"))) + "x"
                    + (committed > 0 ? "; committed " + fmt(committed / live) + "x" : "");
            row.merge(peer, new Measurement(growth / live, Double.NaN, note, peak, null), Measurement::plus);
            report.csv("churn", peer, parameter, "rssGrowthBytes", growth, "B");
            report.csv("churn", peer, parameter, "peakGrowthBytes", peak, "B");
            report.csv("churn", peer, parameter, "liveBytes", live, "B");
        });
    }

    /**
     * Runs {@code main} for {@code peer} in a JVM of its own ({@code main PEER args...}; a native peer as
     * {@code malloc} under {@code LD_PRELOAD}) and returns the fields of its {@code RESULT} line; or null, with the
     * row told why (not installed, or the run's failure).
     */
    private Map<String, String> peerChild(String peer, Map<String, Measurement> row, List<String> jvmFlags,
                                          Class<?> main, List<String> args, String recording)
            throws IOException, InterruptedException {
        Optional<NativePeers.NativePeer> nativePeer = NativePeers.byName(peer);
        if (nativePeer.isPresent() && !nativePeer.get().installed()) {
            row.put(peer, Measurement.missing(nativePeer.get().howToInstall()));
            return null;
        }
        List<String> command = new ArrayList<>(ChildJvm.command());
        command.addAll(1, jvmFlags);
        command.add(main.getName());
        command.add(nativePeer.isPresent() ? "malloc" : peer);
        command.addAll(args);
        String output = ChildJvm.run(ChildJvm.recorded(command, recording, options),
                nativePeer.flatMap(NativePeers.NativePeer::path));
        String line = output.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElse(null);
        if (line == null) {
            row.merge(peer, Measurement.missing(ChildJvm.failure(output)), Measurement::plus);
            return null;
        }
        return Rounds.fields(line, "RESULT ");
    }

    // -------------------------------------------------------------------------------------------------------
    // Trace replay

    private Task traceTask(Path trace, String peer, Map<Cell, Map<String, Measurement>> results,
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
            Map<String, Measurement> time = results.computeIfAbsent(new Cell(Workload.TRACE, name),
                    k -> new LinkedHashMap<>());
            Map<String, Measurement> memory = results.computeIfAbsent(new Cell(Workload.TRACE_MEMORY, name),
                    k -> new LinkedHashMap<>());
            Optional<NativePeers.NativePeer> nativePeer = NativePeers.byName(peer);
            if (nativePeer.isPresent() && !nativePeer.get().installed()) {
                time.put(peer, Measurement.missing(nativePeer.get().howToInstall()));
                memory.put(peer, Measurement.missing(nativePeer.get().howToInstall()));
                return;
            }
            List<String> command = new ArrayList<>(ChildJvm.command());
            // Heap committed and touched up front: resident growth is then the peer's memory, not the heap's.
            command.addAll(1, List.of("-Xms1g", "-XX:+AlwaysPreTouch"));
            command.addAll(List.of(TraceReplay.class.getName(), trace.toString(),
                    nativePeer.isPresent() ? "malloc" : peer));
            if (threaded) {
                command.add("threads");
            }
            command = ChildJvm.recorded(command, "trace-" + name + "-" + peer, options);
            String output = ChildJvm.run(command, nativePeer.flatMap(NativePeers.NativePeer::path));
            if (output.lines().noneMatch(l -> l.startsWith("RESULT ")) && !ChildJvm.crashed(output)) {
                System.out.println("  no result; trying once more");
                output = ChildJvm.run(command, nativePeer.flatMap(NativePeers.NativePeer::path));
            }
            String line = output.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElse(null);
            if (line == null) {
                time.put(peer, Measurement.missing(ChildJvm.failure(output)));
                memory.put(peer, Measurement.missing(ChildJvm.failure(output)));
                return;
            }
            Map<String, String> fields = Rounds.fields(line, "RESULT ");
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

    private Task cacheTask(String peer, int readPercent, Map<CacheRow, List<Map<String, String>>> results) {
        double seconds = Math.max(1, options.iterations * options.iterationSeconds * 1.5);
        String mix = readPercent + "/" + (100 - readPercent);
        return new Task("cache " + peer + " " + mix, 4 + 5 * seconds, () -> {
            List<String> command = new ArrayList<>(ChildJvm.command());
            command.addAll(1, CACHE_JVM_FLAGS);
            command.addAll(List.of(CacheBench.class.getName(), peer, Integer.toString(readPercent),
                    Double.toString(seconds), Integer.toString(CACHE_RATE)));
            String output = ChildJvm.run(command, Optional.empty());
            String line = output.lines().filter(l -> l.startsWith("RESULT ")).findFirst().orElse(null);
            Map<String, String> fields = new LinkedHashMap<>();
            if (line == null) {
                List<String> printed = output.lines().filter(l -> !l.isBlank()).toList();
                fields.put("missing", "failed: " + printed.stream().filter(l -> l.contains("Exception"))
                        .findFirst().orElse(printed.isEmpty() ? "no output" : printed.getLast()).strip());
            } else {
                fields.putAll(Rounds.fields(line, "RESULT "));
                fields.forEach((k, v) -> {
                    if (!k.equals("note")) {
                        report.csv("cache", peer, mix, k, Double.parseDouble(v), "");
                    }
                });
            }
            results.computeIfAbsent(new CacheRow(peer, mix), k -> new ArrayList<>()).add(fields);
        });
    }

    /** What the cache peers need to run at all on Java 25 (OHC and Chronicle Map reach into the JDK). */
    static final List<String> PEER_OPENS = List.of("-Dchronicle.analytics.disable=true",
            "--sun-misc-unsafe-memory-access=allow",
            "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
            "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
            "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED");
    /** Heap pre-touched, so resident growth is off-heap memory. */
    private static final List<String> CACHE_JVM_FLAGS = Stream.concat(Stream.of("-Xms1g", "-XX:+AlwaysPreTouch"),
            PEER_OPENS.stream()).toList();
    /** Operations per second of the fixed-rate latency run: well within every peer's throughput. */
    private static final int CACHE_RATE = 100_000;

    /** The rounds of a cache row that gave a result (a failed round is left out); none if every one failed. */
    private static List<Map<String, String>> measured(List<Map<String, String>> rounds) {
        return rounds == null ? List.of() : rounds.stream().filter(r -> !r.containsKey("missing")).toList();
    }

    private void cacheTable(Map<CacheRow, List<Map<String, String>>> results) {
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
                        + " map, not a cache: it cannot evict, so it is sized for every key. With --repeats, every"
                        + " figure is the median of the rounds (peers interleaved), the 2-thread throughput and the"
                        + " latencies with (min-max); the note is the first round's.",
                List.of("peer", "mix", "kops/s 1 thr", "kops/s 2 thr", "x ohc", "hit rate", "p50 us", "p99 us",
                        "p99.9 us", "memory / capacity", "note"), "throughput on 2 threads, x ohc (higher better)");
        for (String mix : List.of("90/10", "50/50")) {
            double base = Rounds.median(measured(results.get(new CacheRow("ohc", mix))), "ops2");
            results.forEach((key, rounds) -> {
                if (!key.mix().equals(mix)) {
                    return;
                }
                String peer = key.peer();
                List<Map<String, String>> f = measured(rounds);
                if (f.isEmpty()) {
                    table.add(List.of(peer, mix, "-", "-", "-", "-", "-", "-", "-", "-", rounds.getFirst().get("missing")));
                    return;
                }
                double ops2 = Rounds.median(f, "ops2");
                double capacity = Double.parseDouble(f.getFirst().get("capacity"));
                double own = Rounds.median(f, "own");
                table.add(List.of(peer, mix, fmt(Rounds.median(f, "ops1") / 1000),
                        Rounds.spread(f, "ops2", 1000, Report::fmt), fmt(ops2 / base),
                        String.format(Locale.ROOT, "%.3f", Rounds.median(f, "hitRate")),
                        Rounds.spread(f, "p50", 1000, Report::fmt), Rounds.spread(f, "p99", 1000, Report::fmt),
                        Rounds.spread(f, "p999", 1000, Report::fmt),
                        fmt(Rounds.median(f, "rssGrowth") / capacity)
                                + (own >= 0 ? " (own " + fmt(own / capacity) + ")" : ""),
                        f.getFirst().get("note").replace('_', ' ')));
                if (mix.equals("90/10")) {
                    table.chart.put(peer, ops2 / base);
                }
            });
        }
        report.tables.add(table);
    }

    // -------------------------------------------------------------------------------------------------------
    // Tables

    private void buildTables(Map<Cell, Map<String, Measurement>> results) {
        Map<Workload, List<Cell>> byWorkload = new java.util.EnumMap<>(Workload.class);
        for (Cell cell : results.keySet()) {
            byWorkload.computeIfAbsent(cell.workload(), k -> new ArrayList<>()).add(cell);
        }
        List<Report.Table> tables = new ArrayList<>();
        for (Map.Entry<Workload, List<Cell>> entry : byWorkload.entrySet()) {
            Workload workload = entry.getKey();
            boolean memory = workload.kind == Workload.Kind.MEMORY;
            Report.Table table = new Report.Table(workload.id, workload.title, workload.description
                    + " Baseline: glibc malloc through critical FFM downcalls (Linker.Option.critical;"
                    + " malloc-downcall: standard ones).",
                    List.of("peer", "parameter", "score", "error", "x malloc", "B/op", "note"), workload.chartLabel());
            for (Cell cell : entry.getValue()) {
                String parameter = cell.column();
                Map<String, Measurement> row = results.get(cell);
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
                            m.spread(), fmt(ratio),
                            memory || Double.isNaN(m.bytesPerOp()) ? "" : fmt(m.bytesPerOp()),
                            memory ? m.unit() + ", peak " + mib(m.bytesPerOp()) : ""));
                    // Every size of the pair workload (a log axis keeps them readable); one percentile of latency.
                    if (workload != Workload.LATENCY || parameter.equals("p0.99")) {
                        table.chart.put(peer.getKey() + (entry.getValue().size() > 1 ? " " + parameter : ""), ratio);
                    }
                }
            }
            tables.add(table);
        }
        // The result tables in workload order, before the tables the other workloads made for themselves.
        report.tables.addAll(0, tables);
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
}
