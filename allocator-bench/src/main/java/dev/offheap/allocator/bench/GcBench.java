package dev.offheap.allocator.bench;

import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingStream;

import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

import static dev.offheap.allocator.bench.Rounds.median;
import static dev.offheap.allocator.bench.Rounds.spread;

/**
 * Workload {@code gc}: what an off-heap cache is for, measured. A service-like loop keeps a large data set in a
 * cache and answers requests at a fixed rate, with the data in Caffeine on the heap, in {@code OffHeapCache}, or
 * in OHC, each in a JVM of its own, under G1 and under ZGC, every JVM with the same maximum heap.
 *
 * <p>One run: fill the cache with {@code DATA_MIB} of values (the cache workload's sizes, 16 B to 128 KiB, one
 * fixed size per key; capacity a quarter above the data so nothing is evicted); then one request thread at a
 * fixed rate, each request reading a scrambled-Zipfian key ({@value #WRITE_PERCENT}% replace the key's value with
 * freshly received bytes instead), and allocating {@value #REQUEST_GARBAGE_BYTES} bytes of short-lived garbage
 * for parsing and answering, as a service does. A warm-up (at least {@value #WARMUP_SECONDS} s, and until the
 * collector has run twice since the fill, at most {@value #MAX_WARMUP_SECONDS} s), then the measured phase:
 * latency of each request from its intended start (no coordinated omission); every GC pause and ZGC allocation
 * stall from JDK Flight Recorder (in process, events {@code jdk.GCPhasePause} and {@code jdk.ZAllocationStall});
 * the largest heap used after a GC ({@code jdk.GCHeapSummary}); the CPU time of every thread but the request
 * thread, per request: the collector's threads, the JIT, a cache's own maintenance.
 *
 * <p>Usage: {@code GcBench STORE DATA_MIB WARMUP_SECONDS SECONDS RATE}; prints one {@code RESULT} line. The
 * request thread waits for each intended start by spinning, so it holds one core: the collector's concurrent
 * threads have the others.
 */
public final class GcBench {
    static final List<String> STORES = List.of("caffeine", "offheap-cache", "ohc");
    static final List<String> COLLECTORS = List.of("G1", "ZGC");
    static final int WRITE_PERCENT = 10;
    static final int REQUEST_GARBAGE_BYTES = 1024;
    static final int DEFAULT_DATA_MIB = 2048;
    static final int DEFAULT_RATE = 20_000;
    static final int WARMUP_SECONDS = 5;
    static final int MAX_WARMUP_SECONDS = 30;
    static final int SECONDS = 12;

    private static final com.sun.management.OperatingSystemMXBean PROCESS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private GcBench() {
    }

    public static void main(String[] args) throws Exception {
        String store = args[0];
        long dataBytes = Long.parseLong(args[1]) << 20;
        double warmUpSeconds = Double.parseDouble(args[2]);
        double seconds = Double.parseDouble(args[3]);
        int rate = Integer.parseInt(args[4]);
        long records = 0;
        long valueBytes = 0;
        while (valueBytes < dataBytes) {
            valueBytes += CacheBench.valueOf(records++).length;
        }
        long fillStarted = System.nanoTime();
        try (CachePeer peer = CachePeer.create(store, dataBytes + dataBytes / 4, records,
                (int) (valueBytes / records))) {
            CachePeer.Scratch scratch = new CachePeer.Scratch();
            for (long key = 0; key < records; key++) {
                peer.put(key, CacheBench.valueOf(key), scratch);
            }
            double fillSeconds = (System.nanoTime() - fillStarted) / 1e9;
            Requests requests = new Requests(peer, records);
            // Warm up at least warmUpSeconds and until the collector has run twice since the fill: the first
            // collections after it promote what the fill made (the caches' indexes too), a start-up cost, not the
            // steady state measured here.
            long collectionsAfterFill = collections();
            long warmUpEnd = System.nanoTime() + (long) (MAX_WARMUP_SECONDS * 1e9);
            requests.run(rate, warmUpSeconds, null);
            while (collections() < collectionsAfterFill + 2 && System.nanoTime() < warmUpEnd) {
                requests.run(rate, 0.5, null);
            }
            List<Long> pauses = new ArrayList<>();
            List<Long> stalls = new ArrayList<>();
            long[] heapAfterGc = new long[1];
            long[] latencies;
            long otherCpu;
            try (RecordingStream events = new RecordingStream()) {
                events.enable("jdk.GCPhasePause");
                events.enable("jdk.ZAllocationStall");
                events.enable("jdk.GCHeapSummary");
                events.onEvent("jdk.GCPhasePause", e -> add(pauses, e));
                events.onEvent("jdk.ZAllocationStall", e -> add(stalls, e));
                events.onEvent("jdk.GCHeapSummary", e -> {
                    if ("After GC".equals(e.getString("when"))) {
                        synchronized (heapAfterGc) {
                            heapAfterGc[0] = Math.max(heapAfterGc[0], e.getLong("heapUsed"));
                        }
                    }
                });
                events.startAsync();
                latencies = new long[(int) (seconds * rate)];
                long processBefore = PROCESS.getProcessCpuTime();
                long threadBefore = THREADS.getCurrentThreadCpuTime();
                requests.run(rate, seconds, latencies);
                // The request thread spins between requests: the rest of the process is the collector's share.
                otherCpu = PROCESS.getProcessCpuTime() - processBefore
                        - (THREADS.getCurrentThreadCpuTime() - threadBefore);
                events.stop(); // delivers every event recorded so far
            }
            Arrays.sort(latencies);
            long[] pause = sorted(pauses);
            long[] stall = sorted(stalls);
            double otherCpuUs = otherCpu / 1e3 / latencies.length;
            System.out.printf(Locale.ROOT, "RESULT store=%s records=%d fillSeconds=%.1f pauses=%d pauseP99=%d"
                            + " pauseMax=%d pauseTotal=%d stalls=%d stallMax=%d heapAfterGcMax=%d p50=%d p99=%d"
                            + " p999=%d max=%d otherCpuUs=%.2f hitRate=%.4f%n",
                    store, records, fillSeconds, pause.length, percentile(pause, 0.99), percentile(pause, 1),
                    Arrays.stream(pause).sum(), stall.length, percentile(stall, 1), heapAfterGc[0],
                    percentile(latencies, 0.50), percentile(latencies, 0.99), percentile(latencies, 0.999),
                    percentile(latencies, 1), otherCpuUs, requests.hitRate());
        }
    }

    /** Collections (and, for ZGC, pauses) so far, over every collector bean. */
    private static long collections() {
        return ManagementFactory.getGarbageCollectorMXBeans().stream()
                .mapToLong(GarbageCollectorMXBean::getCollectionCount).sum();
    }

    private static void add(List<Long> durations, RecordedEvent event) {
        synchronized (durations) {
            durations.add(event.getDuration().toNanos());
        }
    }

    private static long[] sorted(List<Long> durations) {
        synchronized (durations) {
            return durations.stream().mapToLong(Long::longValue).sorted().toArray();
        }
    }

    /** The nanoseconds at {@code p} of a sorted array (p = 1: the largest), 0 if empty. */
    static long percentile(long[] sorted, double p) {
        return sorted.length == 0 ? 0 : sorted[Math.max(0, Math.min(sorted.length - 1,
                (int) Math.ceil(p * sorted.length) - 1))];
    }

    /** The request loop; one thread. */
    private static final class Requests {
        private final CachePeer peer;
        private final ScrambledZipfian keys;
        private final SplittableRandom random = new SplittableRandom(7);
        private final CachePeer.Scratch scratch = new CachePeer.Scratch();
        /** Where each request's garbage goes, so that it is really allocated and dies young. */
        private final byte[][] recentGarbage = new byte[64][];
        private long reads;
        private long hits;

        Requests(CachePeer peer, long records) {
            this.peer = peer;
            this.keys = new ScrambledZipfian(records, 11);
        }

        /** Runs at {@code rate} for {@code seconds}; records each latency where {@code latencies} is given. */
        void run(int rate, double seconds, long[] latencies) {
            int count = latencies != null ? latencies.length : (int) (seconds * rate);
            long interval = 1_000_000_000L / rate;
            long start = System.nanoTime();
            for (int i = 0; i < count; i++) {
                long intended = start + i * interval;
                while (System.nanoTime() < intended) {
                    Thread.onSpinWait();
                }
                request(i);
                if (latencies != null) {
                    latencies[i] = System.nanoTime() - intended;
                }
            }
        }

        private void request(int i) {
            byte[] garbage = new byte[REQUEST_GARBAGE_BYTES];
            garbage[i & (REQUEST_GARBAGE_BYTES - 1)] = (byte) i;
            recentGarbage[i & (recentGarbage.length - 1)] = garbage;
            long key = keys.next();
            byte[] template = CacheBench.valueOf(key);
            if (random.nextInt(100) < WRITE_PERCENT) {
                peer.put(key, template.clone(), scratch); // bytes just received: a new array
                return;
            }
            reads++;
            if (peer.get(key, scratch)) {
                hits++;
            } else {
                peer.put(key, template.clone(), scratch);
            }
        }

        double hitRate() {
            return reads == 0 ? 0 : (double) hits / reads;
        }
    }

    // -------------------------------------------------------------------------------------------------------
    // The harness's table

    /** The JVM flags of one run: the collector, and one maximum heap for every store (twice the data, plus 1 GiB). */
    static List<String> jvmFlags(String collector, int dataMib) {
        return List.of(collector.equals("G1") ? "-XX:+UseG1GC" : "-XX:+UseZGC", "-Xmx" + (2L * dataMib + 1024) + "m");
    }

    /**
     * Workload {@code gc} for the harness: every store under every collector, each run in a JVM of its own;
     * {@code rounds} rounds, the stores in a rotating order; medians with min-max where there is more than one.
     */
    static void table(Report report, int dataMib, int rounds) throws IOException, InterruptedException {
        Map<String, List<Map<String, String>>> results = new LinkedHashMap<>();
        Map<String, String> failures = new LinkedHashMap<>();
        for (String collector : COLLECTORS) {
            STORES.forEach(store -> results.put(collector + " " + store, new ArrayList<>()));
        }
        for (int round = 0; round < rounds; round++) {
            for (String collector : COLLECTORS) {
                for (int s = 0; s < STORES.size(); s++) {
                    String store = STORES.get((s + round) % STORES.size());
                    List<String> command = new ArrayList<>(ChildJvm.command());
                    int at = command.indexOf("-cp"); // after javaCommand's own -Xmx: the last one counts
                    command.addAll(at, jvmFlags(collector, dataMib));
                    command.addAll(at, Harness.PEER_OPENS);
                    command.addAll(List.of(GcBench.class.getName(), store, Integer.toString(dataMib),
                            Integer.toString(WARMUP_SECONDS), Integer.toString(SECONDS),
                            Integer.toString(DEFAULT_RATE)));
                    String output = ChildJvm.run(command, Optional.empty());
                    String key = collector + " " + store;
                    output.lines().filter(l -> l.startsWith("RESULT ")).findFirst().ifPresentOrElse(
                            line -> results.get(key).add(Rounds.fields(line, "RESULT ")),
                            () -> failures.put(key, ChildJvm.failure(output)));
                }
            }
        }
        Report.Table table = new Report.Table("gc", "GC pauses with the data on the heap and off it",
                "Workload `gc`: a service-like loop keeps " + dataMib + " MiB of values (the cache workload's sizes)"
                        + " in a cache and answers " + DEFAULT_RATE / 1000 + "k requests/s on one thread: a"
                        + " scrambled-Zipfian key read (" + WRITE_PERCENT + "% replace the value with newly"
                        + " received bytes), " + REQUEST_GARBAGE_BYTES + " B of short-lived garbage a request."
                        + " Caffeine holds byte[] values on the heap; OffHeapCache reads into a reused buffer; OHC"
                        + " returns a new byte[] a read (its API). One JVM per store and collector, each with -Xmx"
                        + (2L * dataMib + 1024) + "m; a warm-up of " + WARMUP_SECONDS + " s and until the collector"
                        + " has run twice since the fill (the fill's promotions are start-up, not steady state; at"
                        + " most " + MAX_WARMUP_SECONDS + " s), then " + SECONDS + " s measured: GC pauses and ZGC"
                        + " allocation stalls from JDK Flight Recorder, latency from"
                        + " each request's intended start (no coordinated omission), CPU of every thread but the"
                        + " request thread (collector, JIT, cache maintenance) per request, the largest heap used"
                        + " after a GC. " + (rounds == 1 ? "One run each (--gc-rounds N for medians)."
                        : "Medians of " + rounds + " rounds (stores in a rotating order), min-max in brackets."),
                List.of("collector", "store", "pauses", "pause max, ms", "paused, ms total", "stalls (max ms)",
                        "heap after GC, MB", "p50 / p99 us", "p99.9, us", "max, us", "other CPU, us/req",
                        "hit rate"),
                "p99.9 request latency / Caffeine's under G1 (lower better)");
        double referenceP999 = median(results.get("G1 caffeine"), "p999");
        results.forEach((key, rows) -> {
            String[] parts = key.split(" ");
            if (rows.isEmpty()) {
                table.add(List.of(parts[0], parts[1], "-", "-", "-", "-", "-", "-", "-", "-", "-",
                        failures.getOrDefault(key, "no run")));
                return;
            }
            table.add(List.of(parts[0], parts[1], spread(rows, "pauses", 1, "%.0f"),
                    spread(rows, "pauseMax", 1e6, "%.2f"), spread(rows, "pauseTotal", 1e6, "%.1f"),
                    spread(rows, "stalls", 1, "%.0f") + (median(rows, "stalls") == 0 ? ""
                            : " (" + spread(rows, "stallMax", 1e6, "%.2f") + ")"),
                    median(rows, "heapAfterGcMax") == 0 ? "- (no GC)" : spread(rows, "heapAfterGcMax", 1e6, "%.0f"),
                    spread(rows, "p50", 1e3, "%.0f") + " / " + spread(rows, "p99", 1e3, "%.0f"),
                    spread(rows, "p999", 1e3, "%.0f"), spread(rows, "max", 1e3, "%.0f"),
                    spread(rows, "otherCpuUs", 1, "%.2f"), spread(rows, "hitRate", 1, "%.3f")));
            table.chart.put(key, median(rows, "p999") / referenceP999);
            for (String metric : List.of("pauseMax", "pauseTotal", "p99", "p999", "max")) {
                report.csv("gc", parts[1], parts[0], metric, median(rows, metric) / 1e3, "us");
            }
            report.csv("gc", parts[1], parts[0], "heapAfterGcMax", median(rows, "heapAfterGcMax"), "B");
        });
        report.tables.add(table);
    }

    static Duration estimate(int dataMib, int rounds) {
        return Duration.ofSeconds((long) rounds * COLLECTORS.size() * STORES.size()
                * (WARMUP_SECONDS + SECONDS + 4 + dataMib / 512));
    }
}
