package dev.offheap.allocator.region;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.AllocatorClosedException;
import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.InvalidAddressException;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.internal.Checks;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static dev.offheap.allocator.internal.Checks.hex;
import static dev.offheap.allocator.region.RegionHeaderLayout.ALLOCATED_BYTES;
import static dev.offheap.allocator.region.RegionHeaderLayout.ALLOCATIONS;
import static dev.offheap.allocator.region.RegionHeaderLayout.FREES;
import static dev.offheap.allocator.region.RegionHeaderLayout.FREE_BYTES;
import static dev.offheap.allocator.region.RegionHeaderLayout.LIVE_BLOCKS;
import static dev.offheap.allocator.region.RegionHeaderLayout.MAGIC;
import static dev.offheap.allocator.region.RegionHeaderLayout.SALT;

/**
 * What the classic allocators over a caller's region share: the region checks, the header of counters
 * ({@link RegionHeaderLayout}), access to the region by offset, and the common messages.
 *
 * <p>Not thread-safe: a region allocator is used by one thread at a time, as the C originals are.
 *
 * <p>All bookkeeping lives in the region, so the region is the allocator's whole state; the Java object
 * holds only the region and constants derived from its size. Offsets in the subclasses are from
 * {@link #heapAddress}, the region's start aligned up to 16 bytes.
 */
public abstract sealed class RegionAllocator implements Allocator
        permits BumpAllocator, BoundaryTagAllocator, BuddyAllocator, SlabAllocator {

    /** The smallest region any of these allocators accepts. */
    public static final long MIN_REGION_BYTES = 4096;

    /**
     * The tags' words, read and written without an alignment check: every tag is 8-byte aligned by construction
     * (blocks start on 16-byte boundaries), and the check, on every one of a free's dozen reads, was a sixth of a
     * medium allocate-free pair.
     */
    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    /** An aligned word for compare-and-set (an atomic access needs the alignment): (segment, base offset, offset). */
    private static final VarHandle ATOMIC_WORD = ValueLayout.JAVA_LONG.varHandle();

    /** The caller's region, aligned up to 16 bytes: offset 0 is the header. */
    final MemorySegment heap;
    /** Native address of offset 0. */
    final long heapAddress;
    /** Bytes of {@link #heap}. */
    final long heapSize;
    private final String name;
    private boolean closed;
    /** What {@link #stats()} returns once closed; null before. */
    private AllocatorStats finalStats;

    RegionAllocator(MemorySegment region, long magic) {
        this(region, magic, null);
    }

    /** With {@code displayName} (or the class name if null) as the allocator's name in every message. */
    RegionAllocator(MemorySegment region, long magic, String displayName) {
        if (!region.isNative()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " over a heap segment: the region must be"
                    + " native memory (Arena.allocate, a mapped file, or MemorySegment.ofBuffer of a direct buffer)");
        }
        if (region.isReadOnly()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " over a read-only segment: the allocator"
                    + " keeps its bookkeeping in the region and must write to it");
        }
        long skip = Checks.alignUp(region.address(), MIN_ALIGNMENT) - region.address();
        if (region.byteSize() - skip < MIN_REGION_BYTES) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " over " + region.byteSize()
                    + " bytes: a region needs at least " + MIN_REGION_BYTES + " bytes");
        }
        this.heap = region.asSlice(skip);
        this.heapAddress = heap.address();
        this.heapSize = heap.byteSize();
        this.name = displayName != null ? displayName : getClass().getSimpleName() + "@" + hex(heapAddress);
        heap.asSlice(0, RegionHeaderLayout.SPECIFIC).fill((byte) 0);
        putLong(MAGIC, magic);
        putLong(SALT, ThreadLocalRandom.current().nextLong() | 1);
    }

    /** The region of a direct buffer, or a clear error for a heap buffer. */
    static MemorySegment regionOf(ByteBuffer buffer) {
        if (!buffer.isDirect()) {
            throw new IllegalArgumentException("a region allocator over a heap ByteBuffer: the region must be"
                    + " native memory; use ByteBuffer.allocateDirect or a MappedByteBuffer");
        }
        return MemorySegment.ofBuffer(buffer);
    }

    // ---------------------------------------------------------------------------------------------------------
    // What each allocator provides

    /** Free bytes and the largest block that can be allocated now, for messages and stats. */
    abstract long largestFreeBlock();

    /** The alignment this allocator can give, at most. */
    public abstract long maxAlignment();

    // ---------------------------------------------------------------------------------------------------------
    // Shared behaviour

    @Override
    public final long allocate(long byteSize) {
        return allocate(byteSize, MIN_ALIGNMENT);
    }

    @Override
    public final MemorySegment segment(long address) {
        long usable = usableSize(address);
        return heap.asSlice(address - heapAddress, usable);
    }

    @Override
    public final AllocatorStats stats() {
        AllocatorStats atClose = finalStats;
        if (atClose != null) {
            return atClose; // the region may be gone with its owner's arena: nothing is read from it now
        }
        return new AllocatorStats(heapSize, heapSize, getLong(ALLOCATED_BYTES), 0, closed ? 0 : getLong(FREE_BYTES),
                largestFreeBlockBytes(), getLong(LIVE_BLOCKS), getLong(ALLOCATIONS), getLong(FREES), List.of());
    }

    /** Blocks allocated and not freed: one read, where {@link #stats()} also walks the free lists. */
    public final long liveBlocks() {
        return getLong(LIVE_BLOCKS);
    }

    /** Usable bytes of the live blocks, as {@link AllocatorStats#allocatedBytes()}: one read, no walk. */
    public final long allocatedBytes() {
        return getLong(ALLOCATED_BYTES);
    }

    /** The largest block that can be allocated now, as {@link AllocatorStats#largestFreeBlockBytes()}. */
    public final long largestFreeBlockBytes() {
        return closed ? 0 : largestFreeBlock();
    }

    /** Bytes free for blocks, as {@link AllocatorStats#freeBytes()}: one read, no walk. */
    public final long freeBytes() {
        return getLong(FREE_BYTES);
    }

    @Override
    public final void close() {
        if (!closed) {
            finalStats = new AllocatorStats(0, 0, 0, 0, 0, 0, getLong(LIVE_BLOCKS), getLong(ALLOCATIONS),
                    getLong(FREES), List.of());
            putLong(MAGIC, 0);
            closed = true;
        }
    }

    @Override
    public String toString() {
        return name;
    }

    final void ensureOpen(String call) {
        if (closed) {
            throw new AllocatorClosedException(call + ": " + name + " is closed");
        }
    }

    final void ensureOpenToAllocate(long byteSize) {
        if (closed) {
            throw new AllocatorClosedException("allocate(" + byteSize + "): " + name + " is closed");
        }
    }

    final void ensureOpen(String call, long address) {
        if (closed) {
            throw new AllocatorClosedException(call + "(" + hex(address) + "): " + name + " is closed");
        }
    }

    /** Counts a block handed out. */
    final void countAllocation(long usableBytes) {
        putLong(LIVE_BLOCKS, getLong(LIVE_BLOCKS) + 1);
        putLong(ALLOCATED_BYTES, getLong(ALLOCATED_BYTES) + usableBytes);
        putLong(ALLOCATIONS, getLong(ALLOCATIONS) + 1);
    }

    /** Counts a block given back. */
    final void countFree(long usableBytes) {
        putLong(LIVE_BLOCKS, getLong(LIVE_BLOCKS) - 1);
        putLong(ALLOCATED_BYTES, getLong(ALLOCATED_BYTES) - usableBytes);
        putLong(FREES, getLong(FREES) + 1);
    }

    /** Counts a block resized in place. */
    final void countResize(long oldUsableBytes, long newUsableBytes) {
        putLong(ALLOCATED_BYTES, getLong(ALLOCATED_BYTES) - oldUsableBytes + newUsableBytes);
    }

    final void addFreeBytes(long delta) {
        putLong(FREE_BYTES, getLong(FREE_BYTES) + delta);
    }

    final long salt() {
        return getLong(SALT);
    }

    /**
     * The usual move of {@code reallocate}: a new block, the contents copied, the old block freed. If the new
     * block cannot be had the exception leaves the old block as it was.
     */
    final long moveBlock(long address, long oldUsable, long newByteSize) {
        long moved = allocate(newByteSize);
        MemorySegment.copy(heap, address - heapAddress, heap, moved - heapAddress, Math.min(oldUsable, newByteSize));
        free(address);
        return moved;
    }

    final OffHeapOutOfMemoryException outOfMemory(long byteSize, long byteAlignment) {
        long free = getLong(FREE_BYTES);
        long largest = largestFreeBlock();
        return new OffHeapOutOfMemoryException("allocate(" + byteSize + (byteAlignment > MIN_ALIGNMENT ? ", "
                + byteAlignment : "") + "): " + name + " has no free block that fits (" + free + " bytes free of "
                + heapSize + ", largest block " + largest + " bytes); free blocks or use a larger region",
                byteSize, free, largest);
    }

    final InvalidAddressException invalid(String call, long address, String reason) {
        return new InvalidAddressException(address, call + "(" + hex(address) + "): not an address " + name
                + " returned: " + reason);
    }

    final InvalidAddressException outside(String call, long address, long firstOffset, long endOffset) {
        return invalid(call, address, "outside its blocks [" + hex(heapAddress + firstOffset) + ", "
                + hex(heapAddress + endOffset) + ")");
    }

    final long getLong(long offset) {
        return heap.get(WORD, offset);
    }

    final void putLong(long offset, long value) {
        heap.set(WORD, offset, value);
    }

    /** Compare-and-set of the 8-byte word at {@code offset}; needs memory that allows atomic access (native). */
    final boolean casLong(long offset, long expected, long value) {
        return ATOMIC_WORD.compareAndSet(heap, offset, expected, value);
    }

    final byte getByte(long offset) {
        return heap.get(BYTE, offset);
    }

    final void putByte(long offset, byte value) {
        heap.set(BYTE, offset, value);
    }
}
