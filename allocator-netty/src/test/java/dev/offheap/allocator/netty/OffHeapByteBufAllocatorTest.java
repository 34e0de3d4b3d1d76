package dev.offheap.allocator.netty;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.internal.PlatformDependent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OffHeapByteBufAllocatorTest {
    private OffHeapAllocator memory;
    private OffHeapByteBufAllocator netty;

    @BeforeEach
    void open() {
        memory = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("netty-test").maxBytes(64 << 20));
        netty = new OffHeapByteBufAllocator(memory);
    }

    @AfterEach
    void close() {
        memory.close();
    }

    private long liveBlocks() {
        return memory.stats().liveBlocks();
    }

    @Test
    void directBuffersAreBlocksOfTheAllocatorAndReleaseFreesThem() {
        ByteBuf buf = netty.directBuffer(100);
        assertTrue(buf.isDirect());
        assertTrue(buf.hasMemoryAddress() || buf.nioBufferCount() == 1);
        assertEquals(100, buf.capacity());
        assertEquals(1, liveBlocks());
        if (buf.hasMemoryAddress()) {
            assertEquals(100, memory.segment(buf.memoryAddress()).byteSize() >= 100 ? 100 : -1,
                    "the buffer's address is a block of the allocator");
        }
        buf.writeCharSequence("hello, off-heap", StandardCharsets.US_ASCII);
        assertEquals("hello, off-heap", buf.toString(StandardCharsets.US_ASCII));
        assertTrue(buf.release());
        assertEquals(0, liveBlocks());
    }

    @Test
    void bufferAndIoBufferPreferDirect() {
        ByteBuf a = netty.buffer(10);
        ByteBuf b = netty.ioBuffer(10);
        assertTrue(a.isDirect());
        assertTrue(b.isDirect());
        assertTrue(netty.isDirectBufferPooled());
        a.release();
        b.release();
        assertEquals(0, liveBlocks());
    }

    @Test
    void referenceCountingFreesOnlyAtZeroAndRefusesADoubleRelease() {
        ByteBuf buf = netty.directBuffer(64);
        buf.retain();
        assertFalse(buf.release());
        assertEquals(1, liveBlocks());
        assertTrue(buf.release());
        assertEquals(0, liveBlocks());
        assertThrows(IllegalReferenceCountException.class, buf::release);
        assertThrows(IllegalReferenceCountException.class, () -> buf.getByte(0));
        assertEquals(0, liveBlocks());
        // the allocator is intact: nothing was freed twice
        long block = memory.allocate(64);
        memory.free(block);
    }

    @Test
    void capacityGrowthMovesToANewBlockKeepingTheBytesAndFreesTheOld() {
        ByteBuf buf = netty.directBuffer(16, 1 << 20);
        for (int i = 0; i < 10_000; i++) {
            buf.writeInt(i);
        }
        assertTrue(buf.capacity() >= 40_000);
        for (int i = 0; i < 10_000; i++) {
            assertEquals(i, buf.readInt());
        }
        assertEquals(1, liveBlocks(), "old blocks freed as the buffer grew");
        buf.capacity(100);
        assertEquals(100, buf.capacity());
        assertEquals(1, liveBlocks());
        buf.release();
        assertEquals(0, liveBlocks());
    }

    @Test
    void maxCapacityIsNettys() {
        ByteBuf buf = netty.directBuffer(8, 16);
        buf.writeLong(1).writeLong(2);
        assertThrows(IndexOutOfBoundsException.class, () -> buf.writeByte(3));
        buf.release();
    }

    @Test
    void releaseFromAnotherThreadFreesTheBlock() throws InterruptedException {
        BlockingQueue<ByteBuf> handOver = new ArrayBlockingQueue<>(1024);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread consumer = Thread.ofPlatform().start(() -> {
            try {
                for (int i = 0; i < 10_000; i++) {
                    ByteBuf buf = handOver.take();
                    if (buf.readInt() != i) {
                        throw new AssertionError("buffer " + i + " holds " + buf.getInt(0));
                    }
                    buf.release();
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        for (int i = 0; i < 10_000; i++) {
            handOver.put(netty.directBuffer(64).writeInt(i));
        }
        consumer.join();
        assertNull(failure.get());
        assertEquals(0, liveBlocks());
    }

    @Test
    void compositeAndHeapBuffersWork() {
        CompositeByteBuf composite = netty.compositeDirectBuffer();
        composite.addComponent(true, netty.directBuffer(8).writeLong(7));
        composite.addComponent(true, netty.directBuffer(8).writeLong(8));
        assertEquals(7, composite.readLong());
        assertEquals(8, composite.readLong());
        assertEquals(2, liveBlocks());
        composite.release();
        assertEquals(0, liveBlocks());
        ByteBuf heap = netty.heapBuffer(10);
        assertFalse(heap.isDirect());
        heap.release();
    }

    @Test
    void usedDirectMemoryIsTheCapacityOfTheAdaptersLiveBuffersNeverMinusOne() {
        assertEquals(0, netty.metric().usedDirectMemory());
        ByteBuf buf = netty.directBuffer(1000);
        assertEquals(1000, netty.metric().usedDirectMemory(), netty.metric().toString());
        buf.capacity(5000); // grows into a new block, the old one freed
        assertEquals(5000, netty.metric().usedDirectMemory());
        long other = memory.allocate(100_000); // the shared allocator's other users are not this adapter's
        assertEquals(5000, netty.metric().usedDirectMemory());
        memory.free(other);
        buf.release();
        assertEquals(0, netty.metric().usedDirectMemory());
    }

    @Test
    void theCapIsTheAllocatorsWithItsFigures() {
        ByteBuf big = netty.directBuffer(40 << 20);
        OffHeapOutOfMemoryException e = assertThrows(OffHeapOutOfMemoryException.class,
                () -> netty.directBuffer(40 << 20));
        assertTrue(e.getMessage().contains(Long.toString(64L << 20)), e.getMessage());
        assertEquals(1, liveBlocks());
        big.release();
        ByteBuf again = netty.directBuffer(40 << 20);
        again.release();
        assertEquals(0, liveBlocks());
    }

    @Test
    void eachTestRunUsesTheNettyModeItIsFor() {
        String expected = System.getProperty("offheap.test.nettyUnsafe");
        if (expected != null) { // set by the two surefire executions of this module
            assertEquals(Boolean.parseBoolean(expected), PlatformDependent.hasUnsafe(), "Netty's Unsafe mode");
        }
    }

    @Test
    void heapBuffersCountInUsedHeapMemory() {
        ByteBuf heap = netty.heapBuffer(1024);
        assertEquals(1024, netty.metric().usedHeapMemory());
        heap.capacity(4096);
        assertEquals(4096, netty.metric().usedHeapMemory());
        heap.release();
        assertEquals(0, netty.metric().usedHeapMemory());
    }

    @Test
    void buffersAreLeakAwareAsNettysUnpooledOnes() {
        ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        try {
            ByteBuf direct = netty.directBuffer(16);
            ByteBuf heap = netty.heapBuffer(16);
            // What Netty's UnpooledByteBufAllocator returns at this level: a wrapper that reports a buffer
            // collected without release().
            assertTrue(direct.getClass().getSimpleName().contains("LeakAware"), direct.getClass().getName());
            assertTrue(heap.getClass().getSimpleName().contains("LeakAware"), heap.getClass().getName());
            direct.release();
            heap.release();
            assertEquals(0, liveBlocks());
        } finally {
            ResourceLeakDetector.setLevel(level);
        }
    }

    @Test
    void aBufferDroppedWithoutReleaseIsReportedAsALeakAtParanoidLevel() throws InterruptedException {
        ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        Logger detectorLog = (Logger) LoggerFactory.getLogger(ResourceLeakDetector.class);
        ListAppender<ILoggingEvent> reports = new ListAppender<>();
        reports.start();
        detectorLog.addAppender(reports);
        try {
            dropWithoutRelease(netty, 20);
            // Netty reports a leak when a later buffer is tracked, after the GC has found the dropped ones.
            for (int attempt = 0; attempt < 100 && leakReports(reports) == 0; attempt++) {
                System.gc();
                Thread.sleep(10);
                netty.directBuffer(1).release();
            }
            assertTrue(leakReports(reports) > 0, "no LEAK report for 20 buffers dropped without release()");
            assertEquals(20, liveBlocks(), "the leaked buffers' blocks stay allocated: only release() frees one");
        } finally {
            detectorLog.detachAppender(reports);
            ResourceLeakDetector.setLevel(level);
        }
    }

    /** In a frame of its own, so that no local keeps the buffers reachable. */
    private static void dropWithoutRelease(OffHeapByteBufAllocator alloc, int count) {
        for (int i = 0; i < count; i++) {
            alloc.directBuffer(64).writeLong(i);
        }
    }

    private static long leakReports(ListAppender<ILoggingEvent> reports) {
        return reports.list.stream().filter(e -> e.getFormattedMessage().startsWith("LEAK: ByteBuf.release()"))
                .count();
    }

    @Test
    void aBufferUsedAfterTheAllocatorClosedNeverCrashesTheJvm() {
        OffHeapAllocator own = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("netty-closed")
                .maxBytes(16 << 20));
        OffHeapByteBufAllocator alloc = new OffHeapByteBufAllocator(own);
        MemorySegment range = own.range();
        ByteBuf buf = alloc.directBuffer(64);
        buf.writeLong(42);
        own.close();
        assertTrue(own.isClosed());
        if (PlatformDependent.hasUnsafe()) {
            // Netty reads the raw address: the memory stays mapped until the buffer is released.
            assertTrue(range.scope().isAlive(), "unmapped under a live Unsafe buffer");
            assertEquals(42, buf.getLong(0));
            assertTrue(buf.release());
            assertFalse(range.scope().isAlive(), "the memory goes once the last buffer is released");
        } else {
            assertThrows(IllegalStateException.class, () -> buf.getLong(0));
            buf.release();
        }
    }
}
