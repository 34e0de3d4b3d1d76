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

import java.util.concurrent.TimeUnit;

/**
 * Workload 6, in the manner of sh6bench/sh8bench: a ring of 4,096 blocks with a sliding window of survivors.
 * Each operation allocates the next size of a cycling histogram (many small, some up to 4 KiB) and frees the
 * block allocated a window ago; the window itself slides between 64 and 4,032 blocks, so the live set grows
 * and shrinks and frees come in allocation order, not LIFO.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Dio.netty.leakDetection.level=disabled"})
public class RingBenchmark {
    private static final int RING = 4096;
    private static final long[] HISTOGRAM = {16, 24, 32, 16, 48, 64, 16, 96, 128, 32, 256, 512, 64, 1024, 2048, 4096};

    @Param({"offheap", "malloc", "netty-pooled", "netty-adaptive"})
    public String peer;

    private Peer allocator;
    private final long[] ring = new long[RING];
    private final long[] sizes = new long[RING];
    private long step;

    @Setup(Level.Trial)
    public void setUp() {
        allocator = Peer.create(peer, 256L << 20, 4096);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (int i = 0; i < RING; i++) {
            if (sizes[i] != 0) {
                allocator.free(ring[i]);
            }
        }
        allocator.close();
    }

    @Benchmark
    public long allocateAndRetire() {
        long n = step++;
        int slot = (int) (n & (RING - 1));
        // The window breathes: 64 .. 4,032 survivors over a period of 2^16 operations.
        int window = 64 + (int) Math.abs(((n >> 4) & 0xFFF) - 2048) * 31 / 16;
        int retire = (int) ((n - window) & (RING - 1));
        if (sizes[retire] != 0) {
            allocator.free(ring[retire]);
            sizes[retire] = 0;
        }
        if (sizes[slot] != 0) {
            allocator.free(ring[slot]);
        }
        long size = HISTOGRAM[(int) (n % HISTOGRAM.length)];
        long block = allocator.allocate(size);
        allocator.touch(block, size);
        ring[slot] = block;
        sizes[slot] = size;
        return block;
    }
}
