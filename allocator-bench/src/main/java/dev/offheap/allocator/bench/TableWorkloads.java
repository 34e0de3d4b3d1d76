package dev.offheap.allocator.bench;

import java.io.IOException;
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
 * The workloads that build a table of their own (seed, fill, cache-trace), each measured in child JVMs: their
 * tables' columns are not the peer/score/ratio of the JMH and trace workloads.
 */
final class TableWorkloads {
    private final Report report;
    private final Options options;

    TableWorkloads(Report report, Options options) {
        this.report = report;
        this.options = options;
    }

    // -------------------------------------------------------------------------------------------------------
    // Cache hit rates on key traces

    /** Workload {@code cache-trace} ({@link CacheTraceReplay}) in a JVM of its own. */
    void cacheTraces() throws IOException, InterruptedException {
        Report.Table table = new Report.Table("cache-trace", "Cache hit rates on real key traces",
                "Workload `cache-trace`: each access reads the key; a miss puts it (16-byte values). Budgets: 1/16,"
                        + " 1/8, 1/4 and 1/2 of the trace's distinct keys. offheap-entries: OffHeapCache with"
                        + " maxEntries(budget) and bytes to spare; offheap-bytes: capacityBytes for the budget's"
                        + " entries, with maxKeyBytes(8) ('-': below the smallest capacity, 4 KiB); caffeine: maximumSize(budget), maintenance on the caller's thread; lru:"
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
        List<String> command = new ArrayList<>(ChildJvm.command());
        command.add(CacheTraceReplay.class.getName());
        options.cacheTraces.forEach(trace -> command.add(trace.toString()));
        String output = ChildJvm.run(command, Optional.empty());
        Map<List<String>, Map<String, String>> rows = new LinkedHashMap<>(); // (trace, budget) -> policy -> rate
        output.lines().filter(l -> l.startsWith("RESULT cachetrace ")).forEach(line -> {
            Map<String, String> fields = Arrays.stream(line.substring("RESULT cachetrace ".length()).split(" "))
                    .map(f -> f.split("=", 2)).collect(Collectors.toMap(f -> f[0], f -> f[1]));
            rows.computeIfAbsent(List.of(fields.get("trace"), fields.get("budget")), k -> new LinkedHashMap<>())
                    .put(fields.get("policy"), fields.get("hitRate"));
        });
        if (rows.isEmpty()) {
            List<String> printed = output.lines().filter(l -> !l.isBlank()).toList();
            table.add(List.of("-", "-", "-", "-", "-", "-", "failed: " + (printed.isEmpty() ? "no output"
                    : printed.getLast().strip())));
        }
        for (Map.Entry<List<String>, Map<String, String>> row : rows.entrySet()) {
            String[] key = row.getKey().toArray(String[]::new);
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
    void fill() throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(ChildJvm.command());
        command.add(FillToCap.class.getName());
        String output = ChildJvm.run(command, Optional.empty());
        Report.Table table = new Report.Table("fill", "Filling to the cap",
                "Workload `fill`: OffHeapAllocator with maxBytes " + (FillToCap.CAP >> 20) + " MiB; each thread keeps a"
                        + " slowly growing set of live blocks (each step replaces a random live block; one in "
                        + FillToCap.GROW_ONE_IN + " only allocates), until the first refusal anywhere. At that moment, over the cap: bytes asked for by live"
                        + " blocks, their usable bytes, the most committed seen, and where the rest was: free"
                        + " slots in thread caches (`AllocatorStats.threadCachedBytes`), free space in the heap"
                        + " (`freeBytes`: medium chunks' free space, queued slabs). Mixes: frag (97% log-uniform"
                        + " 1 B-16 KiB, 2.8% 64 KiB-1 MiB, 0.2% 1-4 MiB), to128k (log-uniform 16 B-128 KiB), small"
                        + " (uniform 16-512 B). Reason: cap (the cap itself was reached) or no-run (no contiguous"
                        + " run of pages while memory was free), and the size refused (small to 64 KiB, medium"
                        + " to 1 MiB, huge above).",
                List.of("mix", "threads", "asked / cap", "usable / cap", "committed / cap", "thread-cached / cap",
                        "heap free / cap", "refused for"),
                "asked / cap");
        List<String> lines = output.lines().filter(l -> l.startsWith("RESULT fill ")).toList();
        if (lines.isEmpty()) {
            List<String> printed = output.lines().filter(l -> !l.isBlank()).toList();
            table.add(List.of("-", "-", "-", "-", "-", "-", "-", "failed: " + (printed.isEmpty() ? "no output"
                    : printed.getLast().strip())));
        }
        for (String line : lines) {
            Map<String, String> fields = Arrays.stream(line.substring("RESULT fill ".length()).split(" "))
                    .map(f -> f.split("=", 2)).collect(Collectors.toMap(f -> f[0], f -> f[1]));
            String mix = fields.get("mix");
            String threads = fields.get("threads");
            double asked = Double.parseDouble(fields.get("asked"));
            table.add(List.of(mix, threads, ratio3(asked), ratio3(Double.parseDouble(fields.get("usable"))),
                    ratio3(Double.parseDouble(fields.get("committed"))),
                    ratio3(Double.parseDouble(fields.get("threadCached"))),
                    ratio3(Double.parseDouble(fields.get("heapFree"))),
                    fields.get("reason") + ": " + sizeKind(Long.parseLong(fields.get("refusedBytes")))));
            table.chart.put(mix + ", " + threads + " thr", asked);
            for (String metric : List.of("asked", "usable", "committed")) {
                report.csv("fill", "offheap", mix + "/" + threads, metric, Double.parseDouble(fields.get(metric)),
                        "ratio");
            }
        }
        report.tables.add(table);
    }

    /** A refused request: its size and which part of the heap serves it. */
    private static String sizeKind(long bytes) {
        String kind = bytes <= 64 << 10 ? "small" : bytes <= 1 << 20 ? "medium" : "huge";
        return String.format(Locale.ROOT, "%,d B %s", bytes, kind);
    }

    /** A ratio near 1 with three decimals: 0.899 and 0.900 are on two sides of a target. */
    private static String ratio3(double value) {
        return String.format(Locale.ROOT, "%.3f", value);
    }

    // -------------------------------------------------------------------------------------------------------
    // Seed table

    void seedTable() throws IOException, InterruptedException {
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
            List<String> command = new ArrayList<>(ChildJvm.command());
            command.addAll(List.of(SeedTable.class.getName(), design));
            String output = ChildJvm.run(command, Optional.empty());
            String line = output.lines().filter(l -> l.startsWith("RESULT seed ")).findFirst().orElse(null);
            if (line == null) {
                table.add(List.of(design, "-", "-", "-", "-", ChildJvm.failure(output)));
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
            table.add(List.of(row.design(), Report.fmt(row.allocateNs()), Report.fmt(row.allocateNs() / baseline),
                    Report.fmt(row.freeNs()), Report.percent(row.internal()), Report.percent(row.external())));
            table.chart.put(row.design(), row.allocateNs() / baseline);
            report.csv("seed", row.design(), "", "allocateNs", row.allocateNs(), "ns/op");
            report.csv("seed", row.design(), "", "freeNs", row.freeNs(), "ns/op");
            report.csv("seed", row.design(), "", "internalFragmentation", row.internal(), "ratio");
            report.csv("seed", row.design(), "", "externalFragmentation", row.external(), "ratio");
        }
        report.tables.add(table);
    }
}
