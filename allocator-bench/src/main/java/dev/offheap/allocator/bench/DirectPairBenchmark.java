package dev.offheap.allocator.bench;

import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** The pair on {@link OffHeapAllocator} called directly, without the {@link Peer} indirection or touching. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class DirectPairBenchmark {
    private OffHeapAllocator allocator;
    private final long[] ring = new long[64];
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("direct").maxBytes(64L << 20));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        allocator.close();
    }

    @Benchmark
    public long pair() {
        long address = allocator.allocate(64);
        allocator.free(address);
        return address;
    }

    /** Allocate one, free the one allocated 64 calls ago: the slab's list is exercised, not one slot. */
    @Benchmark
    public long ring() {
        int i = next++ & 63;
        long old = ring[i];
        if (old != 0) {
            allocator.free(old);
        }
        return ring[i] = allocator.allocate(64);
    }
}
