package dev.offheap.allocator.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The harness's options: what to run, against which peers, how long, where the report goes. */
final class Options {
    static final String HELP = """
            usage: mvn -pl allocator-bench -am package exec:exec -Dbench.args="[options]"

            Runs the comparison suite: each workload against each peer, one fresh JVM per figure.

              --workloads LIST   among pair,virtual,latency,replace,sizemix,xmalloc,metrics,larson,ring,seed,trace,
                                 cache,cache-trace,fill,netty-server,gc
                                 (default: all but gc, 2.5 minutes more a round: name it to run it)
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
              --jfr              record a JDK Flight Recorder file per measured JVM (JMH, larson, trace
                                     workloads) in <out>/jfr/: profile settings, thread parks and monitor
                                     waits from 100 us; read with `jfr print --events jdk.ThreadPark FILE`
              --no-install       do not install missing native peers (by default, running as root with
                                 apt-get, the harness installs libjemalloc2, libmimalloc2.0 and
                                 libgoogle-perftools4 first; elsewhere their rows say how)
              --trace FILE       an alloc-trace v1 file to replay (repeatable; default: ../shared/traces/*.gz)
              --cache-trace FILE a cache key trace, LIRS text or cache2k binary (repeatable; default:
                                 ../shared/cachetraces/*.gz and *.xz)
              --gc-data-mib N    the data set of the gc workload, in MiB (default 2048)
              --gc-rounds N      rounds of the gc workload, medians with min-max (default 1)
              --repeats N        runs of each multi-threaded figure (virtual, xmalloc, metrics, larson, cache) in N
                                 rounds, every peer once a round; the table shows the median with
                                 min-max (default 1; README's multi-threaded figures use 5)
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
    /** Record a JFR file per child JVM of the JMH, larson and trace workloads (lock, park, allocation samples). */
    boolean jfr;
    List<Workload> workloads = Workload.defaults();
    List<String> peers;
    List<Long> sizes = List.of(16L, 64L, 256L, 1024L, 4096L, 65536L, 131072L);
    List<Path> traces = new ArrayList<>();
    List<Path> cacheTraces = new ArrayList<>();
    int gcDataMib = GcBench.DEFAULT_DATA_MIB;
    int gcRounds = 1;
    int repeats = 1;
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
            if (arg.equals("--jfr")) {
                o.jfr = true;
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
                case "--workloads" -> o.workloads = Stream.of(value.split(",")).map(Workload::byId).toList();
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
                case "--gc-data-mib" -> o.gcDataMib = Integer.parseInt(value);
                case "--gc-rounds" -> o.gcRounds = Integer.parseInt(value);
                case "--repeats" -> o.repeats = Integer.parseInt(value);
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
