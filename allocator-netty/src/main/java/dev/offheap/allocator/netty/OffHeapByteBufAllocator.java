package dev.offheap.allocator.netty;

import dev.offheap.allocator.AllocatorClosedException;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.buffer.UnpooledUnsafeDirectByteBuf;
import io.netty.buffer.UnpooledUnsafeHeapByteBuf;
import io.netty.util.internal.CleanableDirectBuffer;
import io.netty.util.internal.PlatformDependent;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * A Netty {@link io.netty.buffer.ByteBufAllocator} whose direct buffers are blocks of an {@link OffHeapAllocator}.
 *
 * <pre>{@code
 * OffHeapAllocator memory = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("netty").maxBytes(1L << 30));
 * bootstrap.option(ChannelOption.ALLOCATOR, new OffHeapByteBufAllocator(memory))
 *          .childOption(ChannelOption.ALLOCATOR, new OffHeapByteBufAllocator(memory));
 * }</pre>
 *
 * <p><b>Semantics are Netty's own.</b> Buffers are Netty's {@code UnpooledDirectByteBuf} (or its Unsafe variant
 * where Netty uses Unsafe), so reference counting, {@code capacity(int)} growth (a new block, the bytes copied,
 * the old block freed), leak-detection wrappers and slicing behave as with Netty's unpooled allocator. Only the
 * memory differs: {@code allocate} on the way in and {@code free} when the count reaches zero, from whichever
 * thread releases (a cross-thread release is the allocator's lock-free remote free). So the pooling, the cap,
 * the decay back to the OS and every metric are the allocator's: {@link #metric()} reads real figures, never
 * -1 ({@code usedHeapMemory} counts this adapter's heap buffers, as Netty's unpooled allocator does). Heap
 * buffers are Netty's unpooled ones. Buffers are leak-aware exactly as Netty's unpooled allocator makes them
 * ({@code toLeakAwareBuffer}, at Netty's {@code io.netty.leakDetection.level}).
 *
 * <p>The allocator is not closed by this adapter; close it after the last buffer is released. A buffer used
 * after that never crashes the JVM: without Unsafe it throws {@link IllegalStateException} (its memory is a
 * bounds-checked segment of the closed range); with Unsafe, where Netty reads and writes the raw address (and
 * native transports write from it), the allocator keeps its memory mapped until the last such buffer is released
 * ({@link dev.offheap.allocator.offheap.RawAddressHolder}) and says so at warn level, so a late access reads stale bytes
 * instead of unmapped memory. At the allocator's cap a buffer request throws
 * {@link dev.offheap.allocator.OffHeapOutOfMemoryException} with the figures.
 *
 * <p>Built on {@code io.netty.util.internal.CleanableDirectBuffer}, the hook Netty 4.2's unpooled direct buffers
 * allocate through; Netty is a {@code provided} dependency, the application's own.
 */
public final class OffHeapByteBufAllocator extends AbstractByteBufAllocator implements ByteBufAllocatorMetricProvider {
    private final OffHeapAllocator allocator;
    /** The allocator's range: a block's buffer is a slice of it, bounds-checked, unusable once it is closed. */
    private final MemorySegment range;
    private final long rangeBase;
    private final boolean unsafe = PlatformDependent.hasUnsafe();
    /** Live direct buffers whose raw address Netty uses through Unsafe: the allocator stays mapped while any. */
    private final AtomicLong rawBlocks = new AtomicLong();
    private final LongAdder heapBytes = new LongAdder();
    private final LongAdder directBytes = new LongAdder();
    private final ByteBufAllocatorMetric metric = new ByteBufAllocatorMetric() {
        @Override
        public long usedHeapMemory() {
            return heapBytes.sum();
        }

        /**
         * The capacity of this adapter's live direct buffers, counted as they come and go (as Netty's unpooled
         * allocator counts): no lock and no walk of the heap, so a monitoring agent polling it stalls nobody.
         */
        @Override
        public long usedDirectMemory() {
            return directBytes.sum();
        }

        @Override
        public String toString() {
            return "OffHeapByteBufAllocatorMetric(usedDirectMemory: " + usedDirectMemory() + ")";
        }
    };

    /** Direct buffers from {@code allocator}; {@code buffer()} and {@code ioBuffer()} return direct buffers. */
    public OffHeapByteBufAllocator(OffHeapAllocator allocator) {
        super(true);
        this.allocator = Objects.requireNonNull(allocator, "allocator");
        this.range = allocator.range();
        this.rangeBase = range.address();
        if (unsafe) {
            allocator.addRawAddressHolder(() -> rawBlocks.get() > 0);
        }
    }

    /** The allocator the direct buffers come from. */
    public OffHeapAllocator allocator() {
        return allocator;
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return toLeakAwareBuffer(unsafe ? new UnsafeBlockBuf(this, initialCapacity, maxCapacity)
                : new BlockBuf(this, initialCapacity, maxCapacity));
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return toLeakAwareBuffer(unsafe ? new CountedUnsafeHeapBuf(this, initialCapacity, maxCapacity)
                : new CountedHeapBuf(this, initialCapacity, maxCapacity));
    }

    @Override
    public boolean isDirectBufferPooled() {
        return true;
    }

    @Override
    public ByteBufAllocatorMetric metric() {
        return metric;
    }

    @Override
    public String toString() {
        return "OffHeapByteBufAllocator(" + allocator.name() + ")";
    }

    /**
     * One block of the allocator as Netty's direct-buffer memory; {@code clean()} frees it. A raw block (Unsafe
     * mode) is counted before it is allocated and uncounted after it is freed, so that close() can never find the
     * count at zero while Netty may use the address.
     */
    private static final class Block implements CleanableDirectBuffer {
        private final OffHeapByteBufAllocator adapter;
        private final long address;
        private final ByteBuffer buffer;
        private final boolean raw;

        Block(OffHeapByteBufAllocator adapter, int capacity, boolean raw) {
            this.adapter = adapter;
            this.raw = raw;
            OffHeapAllocator allocator = adapter.allocator;
            if (raw) {
                adapter.rawBlocks.incrementAndGet();
            }
            try {
                this.address = allocator.allocate(capacity);
                // Sliced from the range, not through allocator.segment(address): that validates the address the
                // allocator just returned (and takes the medium lock for a medium block).
                this.buffer = adapter.range.asSlice(address - adapter.rangeBase, capacity).asByteBuffer();
            } catch (RuntimeException | Error e) {
                released();
                throw e;
            }
            adapter.directBytes.add(capacity);
        }

        @Override
        public ByteBuffer buffer() {
            return buffer;
        }

        @Override
        public void clean() {
            try {
                adapter.allocator.free(address);
            } catch (AllocatorClosedException closed) {
                // Released after the allocator's close(): the block goes with the allocator's memory.
            } finally {
                adapter.directBytes.add(-buffer.capacity());
                released();
            }
        }

        private void released() {
            // Dekker with close(): it marks the allocator closed, then reads the count; this lowers the count,
            // then reads closed. At least one of the two sees the other, so the memory is released exactly once.
            if (raw && adapter.rawBlocks.decrementAndGet() == 0 && adapter.allocator.isClosed()) {
                adapter.allocator.rawAddressesReleased();
            }
        }

        @Override
        public boolean hasMemoryAddress() {
            return true;
        }

        @Override
        public long memoryAddress() {
            return address;
        }
    }

    private static final class BlockBuf extends UnpooledDirectByteBuf {
        BlockBuf(OffHeapByteBufAllocator alloc, int initialCapacity, int maxCapacity) {
            super(alloc, initialCapacity, maxCapacity);
        }

        @Override
        protected CleanableDirectBuffer allocateDirectBuffer(int capacity) {
            return new Block((OffHeapByteBufAllocator) alloc(), capacity, false);
        }
    }

    private static final class UnsafeBlockBuf extends UnpooledUnsafeDirectByteBuf {
        UnsafeBlockBuf(OffHeapByteBufAllocator alloc, int initialCapacity, int maxCapacity) {
            super(alloc, initialCapacity, maxCapacity);
        }

        @Override
        protected CleanableDirectBuffer allocateDirectBuffer(int capacity) {
            return new Block((OffHeapByteBufAllocator) alloc(), capacity, true);
        }
    }

    private static byte[] counted(ByteBufAllocator alloc, byte[] array) {
        ((OffHeapByteBufAllocator) alloc).heapBytes.add(array.length);
        return array;
    }

    private static byte[] uncounted(ByteBufAllocator alloc, byte[] array) {
        ((OffHeapByteBufAllocator) alloc).heapBytes.add(-array.length);
        return array;
    }

    /** Netty's heap buffer, its array counted in {@code usedHeapMemory} (as Netty's unpooled allocator counts). */
    private static final class CountedHeapBuf extends UnpooledHeapByteBuf {
        CountedHeapBuf(OffHeapByteBufAllocator alloc, int initialCapacity, int maxCapacity) {
            super(alloc, initialCapacity, maxCapacity);
        }

        @Override
        protected byte[] allocateArray(int initialCapacity) {
            return counted(alloc(), super.allocateArray(initialCapacity));
        }

        @Override
        protected void freeArray(byte[] array) {
            super.freeArray(uncounted(alloc(), array));
        }
    }

    /** {@link CountedHeapBuf} where Netty uses Unsafe. */
    private static final class CountedUnsafeHeapBuf extends UnpooledUnsafeHeapByteBuf {
        CountedUnsafeHeapBuf(OffHeapByteBufAllocator alloc, int initialCapacity, int maxCapacity) {
            super(alloc, initialCapacity, maxCapacity);
        }

        @Override
        protected byte[] allocateArray(int initialCapacity) {
            return counted(alloc(), super.allocateArray(initialCapacity));
        }

        @Override
        protected void freeArray(byte[] array) {
            super.freeArray(uncounted(alloc(), array));
        }
    }
}
