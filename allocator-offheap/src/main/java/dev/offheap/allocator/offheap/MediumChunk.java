package dev.offheap.allocator.offheap;

import dev.offheap.allocator.region.SegregatedListAllocator;

/**
 * A span that holds medium blocks: segregated free lists with boundary-tag coalescing
 * ({@link SegregatedListAllocator}) over the span's memory. Guarded by the global heap's lock.
 */
final class MediumChunk extends Span {
    final SegregatedListAllocator blocks;

    MediumChunk(int firstPage, int pageCount, SegregatedListAllocator blocks) {
        super(firstPage, pageCount);
        this.blocks = blocks;
    }
}
