package dev.offheap.allocator.offheap;

import dev.offheap.allocator.region.SegregatedListAllocator;

import java.util.Arrays;

import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_SHIFT;

/**
 * A span that holds medium blocks: segregated free lists with boundary-tag coalescing
 * ({@link SegregatedListAllocator}) over the span's memory. Guarded by its arena's medium lock.
 *
 * <p>Its free space goes back to the OS page by page while the chunk lives ({@link GlobalHeap}'s purge), so one
 * surviving block does not keep the whole chunk resident:
 * <pre>
 *   cleanPages bit p  ==  page p lies wholly in the free space of one free block and was decommitted since,
 *                         or never committed (its committed bit in the page buddy is clear)
 *   freedEpoch[p]     ==  the purge epoch in which a block over page p was last freed (or the chunk made)
 * </pre>
 * A new chunk starts with every page that was not committed clean, so it commits only what is written in it.
 * An allocation or a resize in the chunk may write over a clean page (the block, or the tags of what is left
 * free): afterwards the heap marks committed again every clean page that is no longer wholly free space.
 */
final class MediumChunk extends Span {
    final SegregatedListAllocator blocks;
    /** Bit p: page {@code firstPage + p} is decommitted free space (a chunk has at most 64 pages). */
    long cleanPages;
    /** Bit p: page p is being decommitted by the purge, without the lock; nonzero: no allocation, resize or
     *  release here meanwhile. */
    long purging;
    final int[] freedEpoch;
    /** The medium heap that made the chunk: its lock guards the chunk ({@link MediumArenas}). */
    final MediumHeap arena;

    MediumChunk(int firstPage, int pageCount, SegregatedListAllocator blocks, int epoch, MediumHeap arena) {
        super(firstPage, pageCount);
        this.arena = arena;
        if (pageCount > Long.SIZE) {
            throw new IllegalArgumentException("a medium chunk of " + pageCount + " pages: at most 64");
        }
        this.blocks = blocks;
        this.freedEpoch = new int[pageCount];
        Arrays.fill(freedEpoch, epoch);
    }

    /**
     * Bit p set: page p lies wholly in the free space of a free block (what the chunk could give back now).
     * O(blocks in the chunk), at most a few dozen: medium blocks are over 64 KiB.
     */
    long pagesInFreeSpace(long rangeAddress) {
        long chunkAddress = rangeAddress + offset();
        long[] mask = new long[1];
        blocks.forEachFreeSpace((from, to) -> {
            long first = (from - chunkAddress + PAGE_BYTES - 1) >>> PAGE_SHIFT;
            long end = (to - chunkAddress) >>> PAGE_SHIFT;
            for (long p = first; p < end; p++) {
                mask[0] |= 1L << p;
            }
        });
        return mask[0];
    }
}
