package dev.offheap.allocator.region;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * An implicit free list over a caller's region: blocks are found by walking every block by its size field,
 * allocated or not, and the first that fits is taken (first fit). Boundary tags (a footer copying the header)
 * make coalescing on free immediate.
 *
 * <p>Not thread-safe: one thread at a time.
 *
 * <p>The layout, invariants and steps are {@link BoundaryTagAllocator}'s; this class adds no free-list
 * structure at all: the list is implicit in the block sizes.
 *
 * <h2>Cost</h2>
 * <ul>
 *   <li>allocate: O(all blocks), allocated ones included, so it slows as the heap fills;</li>
 *   <li>free: O(1), coalescing included;</li>
 *   <li>overhead: 24 bytes a block; blocks are at least 48 bytes.</li>
 * </ul>
 */
public final class ImplicitListAllocator extends BoundaryTagAllocator {

    private static final long MAGIC = 0x494d504c49434954L; // "IMPLICIT"

    private ImplicitListAllocator(MemorySegment region) {
        super(region, MAGIC, RegionHeaderLayout.SPECIFIC, null);
    }

    /** An allocator over native {@code region}, which it formats; the region's previous contents are lost. */
    public static ImplicitListAllocator over(MemorySegment region) {
        return new ImplicitListAllocator(region);
    }

    /** An allocator over a direct buffer's memory, which it formats. */
    public static ImplicitListAllocator over(ByteBuffer directBuffer) {
        return new ImplicitListAllocator(regionOf(directBuffer));
    }

    @Override
    long findFit(long blockSize, long alignment) {
        for (long block = firstBlock; block < heapEnd; block += walkedSize("allocate", block)) {
            if (!isAllocated(block) && fits(block, blockSize, alignment)) {
                return block;
            }
        }
        return -1;
    }

    @Override
    void insertFree(long block, long size) {
        // The list is the heap itself.
    }

    @Override
    void removeFree(long block, long size) {
        // The list is the heap itself.
    }
}
