package dev.offheap.allocator.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Workload 3's medium mix on two threads sharing one allocator: each thread replaces its own 128 live blocks of
 * 64 KiB to 1 MiB (log-uniform), so what they share is the allocator's medium path and its locks. ns per
 * replacement on each thread. Only thread-safe peers with address handles.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Threads(2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Dio.netty.leakDetection.level=disabled"})
public class SharedMediumBenchmark {
    @Param({"offheap", "malloc"})
    public String peer;

    private Peer allocator;
    private final AtomicInteger seeds = new AtomicInteger();
    /** Every lane's blocks, freed by the trial's teardown (see {@link #tearDown}). */
    private final Queue<Replacements> lanes = new ConcurrentLinkedQueue<>();

    @Setup(Level.Trial)
    public void setUp() {
        allocator = Peer.create(peer, 1L << 30, 1 << 20);
        if (!allocator.threadSafe()) {
            throw new IllegalArgumentException("the shared medium mix needs a thread-safe peer with address handles; "
                    + peer + " keeps its blocks in a single-threaded table");
        }
    }

    /**
     * Frees every lane's blocks, then closes the allocator. Not the lanes' own teardowns: JMH runs this one in the
     * first thread past its lane's teardown, without waiting for the other thread's, which then freed into a closed
     * allocator (AllocatorClosedException in a harness run).
     */
    @TearDown(Level.Trial)
    public void tearDown() {
        for (Replacements lane; (lane = lanes.poll()) != null; ) {
            lane.freeAll(allocator);
        }
        allocator.close();
    }

    /** One thread's live blocks and its sequence of sizes and slots. */
    @State(Scope.Thread)
    public static class Lane {
        Peer allocator;
        Replacements blocks;

        @Setup(Level.Trial)
        public void setUp(SharedMediumBenchmark shared) {
            allocator = shared.allocator;
            blocks = new Replacements(allocator, 7 + shared.seeds.getAndIncrement(), Replacements::medium);
            shared.lanes.add(blocks);
        }
    }

    @Benchmark
    public long replace(Lane lane) {
        return lane.blocks.replace(lane.allocator);
    }
}
