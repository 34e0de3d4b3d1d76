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
 * Workload 1: an allocate+free pair on one thread, the block's first and last byte written in between.
 * Stresses the fast path alone: what a request-scoped buffer costs.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Dio.netty.leakDetection.level=disabled"})
public class PairBenchmark {

    @Param({"offheap", "offheap-nocache", "malloc", "netty-pooled", "netty-adaptive", "arena-confined",
            "allocate-direct", "segregated", "buddy", "slab"})
    public String peer;

    @Param({"16", "64", "256", "1024", "4096", "65536"})
    public long size;

    private Peer allocator;
    /** A monitoring agent polling the allocator's MBean, when {@code -Dbench.pollMillis} asks for one. */
    private MetricsPoller poller;

    @Setup(Level.Trial)
    public void setUp() {
        allocator = Peer.create(peer, 256L << 20, size);
        poller = MetricsPoller.startIfAsked();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (poller != null) {
            poller.close();
        }
        allocator.close();
    }

    @Benchmark
    public long allocateFree() {
        long handle = allocator.allocate(size);
        allocator.touch(handle, size);
        allocator.free(handle);
        return handle;
    }
}
