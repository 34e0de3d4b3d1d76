package dev.offheap.allocator.region;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * An explicit free list over a caller's region: free blocks carry the links of one doubly linked list in
 * their own payload, so the search for a fit skips every allocated block. New free blocks go to the front
 * (LIFO), the search takes the first that fits.
 *
 * <p>Not thread-safe: one thread at a time.
 *
 * <p>The layout, invariants and steps are {@link BoundaryTagAllocator}'s; the list head is one header field:
 * <pre>
 *   header: | RegionHeaderLayout (64) | FREE_LIST (8) |
 * </pre>
 *
 * <h2>Cost</h2>
 * <ul>
 *   <li>allocate: O(free blocks);</li>
 *   <li>free: O(1), coalescing included (boundary tags find the neighbours, the links unlink them);</li>
 *   <li>overhead: 24 bytes a block; blocks are at least 48 bytes, to hold the links when free.</li>
 * </ul>
 */
public final class ExplicitListAllocator extends BoundaryTagAllocator {

    private static final long MAGIC = 0x4558504c49434954L; // "EXPLICIT"
    /** Header field: offset of the first free block, 0 if none. */
    private static final long FREE_LIST = RegionHeaderLayout.SPECIFIC;

    private ExplicitListAllocator(MemorySegment region) {
        super(region, MAGIC, FREE_LIST + Long.BYTES, null);
    }

    /** An allocator over native {@code region}, which it formats; the region's previous contents are lost. */
    public static ExplicitListAllocator over(MemorySegment region) {
        return new ExplicitListAllocator(region);
    }

    /** An allocator over a direct buffer's memory, which it formats. */
    public static ExplicitListAllocator over(ByteBuffer directBuffer) {
        return new ExplicitListAllocator(regionOf(directBuffer));
    }

    @Override
    long findFit(long blockSize, long alignment) {
        return firstFit(FREE_LIST, blockSize, alignment);
    }

    @Override
    void insertFree(long block, long size) {
        pushFree(FREE_LIST, block);
    }

    @Override
    void removeFree(long block, long size) {
        unlinkFree(FREE_LIST, block);
    }

    @Override
    long largestFreeBlock() {
        long largest = 0;
        for (long block = getLong(FREE_LIST); block != 0; block = getLong(block + BoundaryTagLayout.NEXT_FREE)) {
            largest = Math.max(largest, sizeOf(block) - BoundaryTagLayout.OVERHEAD);
        }
        return largest;
    }
}
