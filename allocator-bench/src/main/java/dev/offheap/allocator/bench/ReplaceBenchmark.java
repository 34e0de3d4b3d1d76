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
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Workload 2: random replacement among 8,192 live 256-byte blocks (the pattern of Netty's own allocator
 * benchmark). Stresses reuse of scattered free slots: the free list is never in address order.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Dio.netty.leakDetection.level=disabled"})
public class ReplaceBenchmark {
    private static final int LIVE = 8192;
    private static final long SIZE = 256;

    @Param({"offheap", "malloc", "netty-pooled", "netty-adaptive"})
    public String peer;

    private Peer allocator;
    private final long[] blocks = new long[LIVE];
    private final int[] order = new int[1 << 16];
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        allocator = Peer.create(peer, 256L << 20, SIZE);
        for (int i = 0; i < LIVE; i++) {
            blocks[i] = allocator.allocate(SIZE);
        }
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < order.length; i++) {
            order[i] = random.nextInt(LIVE);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        allocator.freeAll(blocks);
        allocator.close();
    }

    @Benchmark
    public long replace() {
        int i = order[next++ & (order.length - 1)];
        allocator.free(blocks[i]);
        long block = allocator.allocate(SIZE);
        allocator.touch(block, SIZE);
        blocks[i] = block;
        return block;
    }
}
