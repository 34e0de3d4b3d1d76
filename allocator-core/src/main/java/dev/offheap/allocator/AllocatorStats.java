package dev.offheap.allocator;

import java.util.List;
import java.util.Locale;

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
     * A human-readable report: the totals on one line, then one row per size class in use with its blocks,
     * bytes, slabs and free slots.
     *
     * @param title what the report is about, e.g. the allocator's name
     */
    public String report(String title) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%s: reserved %,d B, committed %,d B, allocated %,d B in %,d blocks,"
                        + " thread-cached %,d B, free %,d B, largest free block %,d B, fragmentation %s"
                        + " (committed / allocated), %,d allocations, %,d frees%n", title, reservedBytes,
                committedBytes, allocatedBytes, liveBlocks, threadCachedBytes, freeBytes, largestFreeBlockBytes,
                Double.isFinite(fragmentation()) ? String.format(Locale.ROOT, "%.2f", fragmentation()) : "n/a",
                allocations, frees));
        if (!sizeClasses.isEmpty()) {
            out.append(String.format(Locale.ROOT, "%6s %10s %12s %14s %7s %11s %9s%n", "class", "block B",
                    "live blocks", "live B", "slabs", "free slots", "use"));
            for (SizeClassStats c : sizeClasses) {
                long slots = c.liveBlocks() + c.freeSlots();
                out.append(String.format(Locale.ROOT, "%6d %,10d %,12d %,14d %,7d %,11d %8.1f%%%n", c.classIndex(),
                        c.blockBytes(), c.liveBlocks(), c.liveBlocks() * c.blockBytes(), c.slabs(), c.freeSlots(),
                        slots == 0 ? 0.0 : 100.0 * c.liveBlocks() / slots));
            }
        }
        return out.toString();
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
