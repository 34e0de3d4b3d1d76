package dev.offheap.allocator.bench;

import java.util.Arrays;
import java.util.List;

/**
 * The harness's workloads: each knows its name on the command line, its table's title and description, what its
 * figures are (and so how its ratios read), and its peers. How each runs is {@code Harness.plan}, a switch over
 * this type that the compiler checks for completeness.
 */
enum Workload {
    PAIR("pair", "Allocate/free pairs", Kind.TIME, Peers.PAIR,
            "Workload 1: allocate + write first and last byte + free, one thread; ns per pair (lower is better);"
                    + " B/op from JMH's gc profiler."),
    VIRTUAL("virtual", "Virtual threads: pair and producer/consumer", Kind.TIME, Peers.MULTI,
            "Workload 1 at 64 B (ns per pair, lower is better) and workload 4 (blocks per microsecond, higher is"
                    + " better), run by JMH on platform threads and on virtual threads (-Djmh.executor=VIRTUAL, JMH's"
                    + " own executor). A virtual thread has no cache of its own in OffHeapAllocator: it allocates"
                    + " from a shared cache under a try-lock and frees into it under the same lock if it took it"
                    + " last (else remotely, one CAS onto the slab's remote list); malloc's downcall runs on the"
                    + " carrier, whose thread cache it uses."),
    LATENCY("latency", "Pair latency at 64 B (sample mode)", Kind.TIME, Peers.LATENCY,
            "Workload 1 at 64 B in JMH's sample mode: ns per single pair at each percentile (the timer's resolution"
                    + " makes the low percentiles coarse)."),
    REPLACE("replace", "Random replacement, 8,192 live blocks", Kind.TIME, Peers.MULTI,
            "Workload 2: random replacement among 8,192 live 256 B blocks; ns per replacement."),
    SIZEMIX("sizemix", "Size mix, 128 live blocks", Kind.TIME, Peers.MULTI,
            "Workload 3: 128 live blocks replaced with a small-heavy size mix (to 256 KiB), and with a medium mix"
                    + " (every size from 64 KiB to 1 MiB, log-uniform); ns per replacement. Then the medium mix on 2"
                    + " threads sharing one allocator, 128 blocks each (ns per replacement on each thread; thread-safe"
                    + " address peers only)."),
    XMALLOC("xmalloc", "Producer/consumer (xmalloc-test)", Kind.THROUGHPUT, Peers.MULTI,
            "Workload 4: one thread allocates batches of 4,096 x 64 B, another frees them; blocks per microsecond,"
                    + " both threads together (higher is better). Then 4 x cores threads, half producing and half"
                    + " consuming through one queue: more threads than cores."),
    METRICS("metrics", "Metrics polled while threads allocate", Kind.TIME, List.of("offheap"),
            "The 64 B pair (ns per pair, lower is better) and producer/consumer (blocks per microsecond, higher is"
                    + " better) on OffHeapAllocator with its MBean registered, without and with a monitoring thread"
                    + " that reads every MBean attribute but the report every millisecond, as an exporter polling"
                    + " JMX would (the getters share one snapshot a second at most, which holds the heap locks"
                    + " only to copy the slab list; the slabs are walked outside them)."),
    LARSON("larson", "Larson: threads that hand their blocks to new threads", Kind.THROUGHPUT, Peers.LARSON,
            "Workload 5: 2 lanes of 1,000 slots, then 8 (more threads than cores: oversubscribed, as in many"
                    + " containers); each step frees a random slot and allocates 8-1000 B; every 20,000 steps a"
                    + " lane's thread hands its slots to a new thread and ends; steps per microsecond, all lanes"
                    + " together, higher is better. Only peers with address handles."),
    RING("ring", "Ring with sliding survivors (sh6bench-like)", Kind.TIME, Peers.MULTI,
            "Workload 6: a ring of 4,096 blocks, sizes cycling through a histogram (16 B to 4 KiB), each allocation"
                    + " retiring the block of a sliding window ago; ns per step."),
    SEED("seed", "The seed article's table, measured", Kind.OWN_TABLE, List.of(), ""),
    TRACE("trace", "Trace replay: time", Kind.TIME, Peers.TRACE,
            "Workload 7: replay of real allocation traces in a fresh JVM per peer, on one thread, and for"
                    + " multi-threaded traces also on the trace's own threads (each block's events in order;"
                    + " thread-safe address peers only); milliseconds for the whole trace (median of five replays"
                    + " after 1.5 s of warm-up replays)."),
    /** The second table of {@link #TRACE}; not a workload of its own on the command line. */
    TRACE_MEMORY("trace-memory", "Trace replay: memory", Kind.MEMORY, Peers.TRACE,
            "Workload 7: peak memory / peak live bytes during the replay (1.0 is perfect): growth of resident"
                    + " memory (VmHWM over the VmRSS before the replays) for every peer (Java heap pre-touched and"
                    + " logging started before the baseline, as in any service; the JVM's other memory, such as the"
                    + " classes a library loads, included); the note adds the most committed bytes the allocator"
                    + " reported, read every 4,096 events, where it reports them."),
    CHURN("churn", "Memory under a cache's churn", Kind.MEMORY, Peers.THREADED_TRACE,
            "Workload 10: 2 threads keep 256 MiB of live blocks (the cache workload's entry sizes: 16 B to 128 KiB"
                    + " plus 64 B, half under 320 B) by random replacement through a shared table, as a cache's"
                    + " puts and evictions do, the threads replaced every 1.5 million steps each, 3 rounds after the"
                    + " fill; resident growth / live bytes at the end (1.0 is perfect; the JVM's own growth"
                    + " included, alike for every peer), with the peak (VmHWM) and the allocator's committed"
                    + " figure in the note. Only thread-safe peers with address handles."),
    CACHE("cache", "Off-heap caches: YCSB scrambled Zipfian", Kind.OWN_TABLE, List.of(CachePeer.NAMES), ""),
    CACHE_TRACE("cache-trace", "Cache hit rates on real key traces", Kind.OWN_TABLE, List.of(), ""),
    FILL("fill", "Filling to the cap", Kind.OWN_TABLE, List.of("offheap"), ""),
    GC("gc", "GC pauses with the data on the heap and off it", Kind.OWN_TABLE, GcBench.STORES, ""),
    NETTY_SERVER("netty-server", "A Netty HTTP server", Kind.OWN_TABLE,
            List.of("netty-offheap", "netty-pooled", "netty-adaptive"), "");

    /** What a workload's figures are, and so how its table reads them against glibc malloc. */
    enum Kind {
        /** Lower is better; ratio = peer / malloc. */
        TIME,
        /** Higher is better; ratio = peer / malloc. */
        THROUGHPUT,
        /** Memory per live byte; the figure is the ratio. */
        MEMORY,
        /** Builds a table of its own (seed, cache, cache-trace, fill). */
        OWN_TABLE
    }

    final String id;
    final String title;
    final Kind kind;
    final List<String> defaultPeers;
    final String description;

    Workload(String id, String title, Kind kind, List<String> defaultPeers, String description) {
        this.id = id;
        this.title = title;
        this.kind = kind;
        this.defaultPeers = defaultPeers;
        this.description = description;
    }

    /** The workloads a user can name, in the order they run by default. */
    static List<Workload> selectable() {
        return Arrays.stream(values()).filter(w -> w != TRACE_MEMORY).toList();
    }

    /**
     * What runs when no workload is named: every selectable one but {@link #GC}, whose six JVMs with a 2 GiB data
     * set and a steady-state warm-up take 2.5 minutes a round, which would bring the default run near 20.
     */
    static List<Workload> defaults() {
        return selectable().stream().filter(w -> w != GC).toList();
    }

    /** The workload named {@code id} on the command line. */
    static Workload byId(String id) {
        return selectable().stream().filter(w -> w.id.equals(id)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("unknown workload '" + id + "'; known: "
                        + selectable().stream().map(w -> w.id).toList()));
    }

    /** The chart's label for a table of this kind. */
    String chartLabel() {
        return switch (kind) {
            case MEMORY -> "memory per live byte";
            case THROUGHPUT -> "throughput, x malloc (higher better)";
            case TIME, OWN_TABLE -> "time, x malloc (lower better)";
        };
    }

    /** The peers each workload runs by default. */
    static final class Peers {
        static final List<String> LATENCY = List.of("offheap", "malloc", "netty-pooled", "netty-adaptive",
                "netty-offheap");
        static final List<String> LARSON = List.of("offheap", "offheap-nocache", "malloc", "malloc-jemalloc",
                "malloc-mimalloc", "malloc-tcmalloc");
        static final List<String> PAIR = List.of("offheap", "offheap-nocache", "malloc", "malloc-jemalloc",
                "malloc-mimalloc", "malloc-tcmalloc", "netty-pooled", "netty-adaptive", "netty-offheap",
                "arena-confined", "arena-shared", "allocate-direct", "bump", "implicit", "explicit", "segregated",
                "buddy", "slab");
        static final List<String> MULTI = List.of("offheap", "malloc", "malloc-jemalloc", "malloc-mimalloc",
                "malloc-tcmalloc", "netty-pooled", "netty-adaptive", "netty-offheap");
        /** Pair peers at 64 B only: the cost of leak sampling and debug mode, and malloc as most FFM code calls it. */
        static final List<String> COST = List.of("offheap-sampled", "offheap-debug", "malloc-downcall");
        /** Peers that can replay a trace on its own threads: thread-safe, with address handles. */
        static final List<String> THREADED_TRACE = List.of("offheap", "malloc", "malloc-jemalloc",
                "malloc-mimalloc", "malloc-tcmalloc");
        static final List<String> TRACE = List.of("offheap", "malloc", "malloc-jemalloc", "malloc-mimalloc",
                "malloc-tcmalloc", "netty-pooled", "segregated");

        private Peers() {
        }
    }
}
