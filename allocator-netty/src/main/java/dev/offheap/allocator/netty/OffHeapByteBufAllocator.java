package dev.offheap.allocator.netty;

import dev.offheap.allocator.offheap.OffHeapAllocator;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.buffer.UnpooledUnsafeDirectByteBuf;
import io.netty.util.internal.CleanableDirectBuffer;
import io.netty.util.internal.PlatformDependent;

import java.nio.ByteBuffer;
import java.util.Objects;

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
 * -1. Heap buffers are Netty's unpooled ones.
 *
 * <p>The allocator is not closed by this adapter; close it after the last buffer is released (a buffer used
 * after that throws {@link IllegalStateException} rather than touching unmapped memory). At the allocator's cap a
 * buffer request throws {@link dev.offheap.allocator.OffHeapOutOfMemoryException} with the figures.
 *
 * <p>Built on {@code io.netty.util.internal.CleanableDirectBuffer}, the hook Netty 4.2's unpooled direct buffers
 * allocate through; Netty is a {@code provided} dependency, the application's own.
 */
public final class OffHeapByteBufAllocator extends AbstractByteBufAllocator implements ByteBufAllocatorMetricProvider {
    private final OffHeapAllocator allocator;
    private final boolean unsafe = PlatformDependent.hasUnsafe();
    private final ByteBufAllocatorMetric metric = new ByteBufAllocatorMetric() {
        @Override
        public long usedHeapMemory() {
            return 0;
        }

        @Override
        public long usedDirectMemory() {
            return allocator.stats().allocatedBytes();
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
    }

    /** The allocator the direct buffers come from. */
    public OffHeapAllocator allocator() {
        return allocator;
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return unsafe ? new UnsafeBlockBuf(this, initialCapacity, maxCapacity)
                : new BlockBuf(this, initialCapacity, maxCapacity);
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
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

    /** One block of the allocator as Netty's direct-buffer memory; {@code clean()} frees it. */
    private static final class Block implements CleanableDirectBuffer {
        private final OffHeapAllocator allocator;
        private final long address;
        private final ByteBuffer buffer;

        Block(OffHeapAllocator allocator, int capacity) {
            this.allocator = allocator;
            this.address = allocator.allocate(capacity);
            this.buffer = allocator.segment(address).asSlice(0, capacity).asByteBuffer();
        }

        @Override
        public ByteBuffer buffer() {
            return buffer;
        }

        @Override
        public void clean() {
            allocator.free(address);
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
            return new Block(((OffHeapByteBufAllocator) alloc()).allocator, capacity);
        }
    }

    private static final class UnsafeBlockBuf extends UnpooledUnsafeDirectByteBuf {
        UnsafeBlockBuf(OffHeapByteBufAllocator alloc, int initialCapacity, int maxCapacity) {
            super(alloc, initialCapacity, maxCapacity);
        }

        @Override
        protected CleanableDirectBuffer allocateDirectBuffer(int capacity) {
            return new Block(((OffHeapByteBufAllocator) alloc()).allocator, capacity);
        }
    }
}
