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
import java.util.function.ToLongFunction;
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
    @Param({"offheap", "malloc", "netty-pooled", "netty-adaptive"})
    public String peer;

    @Param({"small-heavy", "medium"})
    public String mix;

    private Peer allocator;
    private Replacements lane;

    @Setup(Level.Trial)
    public void setUp() {
        allocator = Peer.create(peer, 256L << 20, 256 * 1024);
        ToLongFunction<SplittableRandom> size = switch (mix) {
            case "small-heavy" -> random -> {
                int dice = random.nextInt(100);
                return dice < 90 ? random.nextLong(8, 513) : dice < 99 ? random.nextLong(513, 16385)
                        : random.nextLong(16385, 256 * 1024 + 1);
            };
            case "medium" -> Replacements::medium;
            default -> throw new IllegalArgumentException("mix '" + mix + "': known mixes are small-heavy, medium");
        };
        lane = new Replacements(allocator, 7, size);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        lane.freeAll(allocator);
        allocator.close();
    }

    @Benchmark
    public long replace() {
        return lane.replace(allocator);
    }
}
