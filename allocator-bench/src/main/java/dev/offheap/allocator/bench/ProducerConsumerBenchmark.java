package dev.offheap.allocator.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import dev.offheap.allocator.netty.OffHeapByteBufAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import io.netty.buffer.AdaptiveByteBufAllocator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Control;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Workload 4: one thread allocates batches of 4,096 blocks of 64 B, another frees them (mimalloc-bench's
 * xmalloc-test): every free is a cross-thread free. Throughput in blocks per microsecond, producer and
 * consumer counted together (each op is one block allocated or one block freed).
 */
@State(Scope.Group)
@OperationsPerInvocation(4096)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Dio.netty.leakDetection.level=disabled"})
public class ProducerConsumerBenchmark {
    private static final int BATCH = 4096;
    private static final long SIZE = 64;

    @Param({"offheap", "malloc", "netty-pooled", "netty-adaptive", "netty-offheap"})
    public String peer;

    private Peer addresses;
    /** A monitoring agent polling the allocator's MBean, when {@code -Dbench.pollMillis} asks for one. */
    private MetricsPoller poller;
    private ByteBufAllocator netty;
    private OffHeapAllocator nettyMemory;
    /** Hand-over of whole batches: one queue operation per 4,096 blocks, so its cost does not show. */
    private final ArrayBlockingQueue<Object> queue = new ArrayBlockingQueue<>(8);

    @Setup(Level.Trial)
    public void setUp() {
        switch (peer) {
            case "netty-pooled" -> netty = PooledByteBufAllocator.DEFAULT;
            case "netty-adaptive" -> netty = new AdaptiveByteBufAllocator(true, false);
            // Netty's buffers are objects: handed over as such, not through a peer's (single-thread) handle table.
            case "netty-offheap" -> {
                nettyMemory = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("bench-netty")
                        .maxBytes(1L << 30));
                netty = new OffHeapByteBufAllocator(nettyMemory);
            }
            default -> addresses = Peer.create(peer, 1L << 30, SIZE);
        }
        poller = MetricsPoller.startIfAsked();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (poller != null) {
            poller.close();
        }
        Object batch;
        while ((batch = queue.poll()) != null) {
            release(batch);
        }
        if (addresses != null) {
            addresses.close();
        }
        if (nettyMemory != null) {
            nettyMemory.close();
        }
    }

    /** Allocates one batch and hands it over; counts BATCH operations. */
    @Benchmark
    @Group("xmalloc")
    @GroupThreads(1)
    public void produce(Control control) {
        Object batch;
        if (netty != null) {
            ByteBuf[] buffers = new ByteBuf[BATCH];
            for (int i = 0; i < BATCH; i++) {
                buffers[i] = netty.directBuffer((int) SIZE, (int) SIZE);
                buffers[i].setByte(0, 1);
            }
            batch = buffers;
        } else {
            long[] blocks = new long[BATCH];
            for (int i = 0; i < BATCH; i++) {
                blocks[i] = addresses.allocate(SIZE);
                addresses.touch(blocks[i], SIZE);
            }
            batch = blocks;
        }
        while (!queue.offer(batch)) {
            if (control.stopMeasurement) {
                release(batch);
                return;
            }
            Thread.onSpinWait();
        }
    }

    /** Takes one batch and frees every block of it. */
    @Benchmark
    @Group("xmalloc")
    @GroupThreads(1)
    public void consume(Control control) {
        Object batch;
        while ((batch = queue.poll()) == null) {
            if (control.stopMeasurement) {
                return;
            }
            Thread.onSpinWait();
        }
        release(batch);
    }

    private void release(Object batch) {
        if (batch instanceof ByteBuf[] buffers) {
            for (ByteBuf buffer : buffers) {
                buffer.release();
            }
        } else {
            for (long block : (long[]) batch) {
                addresses.free(block);
            }
        }
    }
}
