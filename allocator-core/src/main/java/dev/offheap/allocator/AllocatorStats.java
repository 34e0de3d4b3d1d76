package dev.offheap.allocator;

import java.util.List;

/**
 * A snapshot of an allocator's counters, in bytes unless the name says otherwise.
 *
 * <p>How the byte counts nest: {@code allocatedBytes + threadCachedBytes + freeBytes <= committedBytes <=
 * reservedBytes}. The difference to {@code committedBytes} is metadata and memory lost to alignment.
 *
 * @param reservedBytes          address space held by the allocator (for a caller's region, its size)
 * @param committedBytes         memory that may be backed by physical pages (touched and not given back)
 * @param allocatedBytes         usable bytes of the live blocks: what callers hold now
 * @param threadCachedBytes      free bytes held by thread caches, ready for their threads only
 * @param freeBytes              free bytes in the shared heap, ready for any allocation that fits
 * @param largestFreeBlockBytes  the largest block that can be allocated now without growing
 * @param liveBlocks             blocks allocated and not yet freed
 * @param allocations            allocations since creation ({@code allocate} and moving {@code reallocate})
 * @param frees                  frees since creation
 * @param sizeClasses            per-size-class figures, empty for allocators without size classes
 */
public record AllocatorStats(
        long reservedBytes,
        long committedBytes,
        long allocatedBytes,
        long threadCachedBytes,
        long freeBytes,
        long largestFreeBlockBytes,
        long liveBlocks,
        long allocations,
        long frees,
        List<SizeClassStats> sizeClasses) {

    public AllocatorStats {
        sizeClasses = List.copyOf(sizeClasses);
    }

    /**
     * Committed memory per live byte: 1.0 is perfect, 2.0 means half of the committed memory holds no live
     * data. {@link Double#POSITIVE_INFINITY} when memory is committed and nothing is live, 1.0 when nothing
     * is committed.
     */
    public double fragmentation() {
        if (committedBytes == 0) {
            return 1.0;
        }
        return allocatedBytes == 0 ? Double.POSITIVE_INFINITY : (double) committedBytes / allocatedBytes;
    }

    /**
     * Figures for one size class.
     *
     * @param classIndex    the index in {@link SizeClasses}
     * @param blockBytes    the block size of the class
     * @param liveBlocks    blocks of this class allocated and not freed
     * @param slabs         slabs of this class held by the allocator (in thread caches or shared)
     * @param freeSlots     free slots in those slabs
     */
    public record SizeClassStats(int classIndex, long blockBytes, long liveBlocks, long slabs, long freeSlots) {
    }
}
