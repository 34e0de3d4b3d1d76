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
 * Workload 3: 128 live blocks replaced at random with sizes from a mix. {@code small-heavy} (the harness's):
 * 90% up to 512 B, 9% up to 16 KiB, 1% up to 256 KiB; stresses the switch between size classes. {@code medium}:
 * every size from 64 KiB to 1 MiB, log-uniform; stresses the medium path (no two sizes alike, so a cache of
 * recently freed blocks of one size rarely helps).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Dio.netty.leakDetection.level=disabled"})
public class SizeMixBenchmark {
    private static final int LIVE = 128;

    @Param({"offheap", "malloc", "netty-pooled", "netty-adaptive"})
    public String peer;

    @Param({"small-heavy", "medium"})
    public String mix;

    private Peer allocator;
    private final long[] blocks = new long[LIVE];
    private final long[] sizes = new long[1 << 16];
    private final int[] order = new int[1 << 16];
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        allocator = Peer.create(peer, 256L << 20, 256 * 1024);
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = switch (mix) {
                case "small-heavy" -> {
                    int dice = random.nextInt(100);
                    yield dice < 90 ? random.nextLong(8, 513) : dice < 99 ? random.nextLong(513, 16385)
                            : random.nextLong(16385, 256 * 1024 + 1);
                }
                case "medium" -> (long) Math.pow(2, random.nextDouble(16, 20)) + 1;
                default -> throw new IllegalArgumentException("mix '" + mix + "': known mixes are small-heavy, medium");
            };
            order[i] = random.nextInt(LIVE);
        }
        for (int i = 0; i < LIVE; i++) {
            blocks[i] = allocator.allocate(sizes[i]);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        allocator.freeAll(blocks);
        allocator.close();
    }

    @Benchmark
    public long replace() {
        int n = next++ & (sizes.length - 1);
        int i = order[n];
        long size = sizes[n];
        allocator.free(blocks[i]);
        long block = allocator.allocate(size);
        allocator.touch(block, size);
        blocks[i] = block;
        return block;
    }
}
