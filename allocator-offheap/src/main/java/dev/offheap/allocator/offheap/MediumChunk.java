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
 *
 * <p>At the cap the free space of pages that also hold a block or tags goes back too, by the OS's page (a
 * sub-page, 4 KiB): medium blocks of 64 KiB-1 MiB leave holes that cover few whole 64 KiB pages, and these
 * partly free pages held 0.045 of a 256 MiB cap at the first refusal (8 threads, sizes 16 B-128 KiB):
 * <pre>
 *   edges bit s  ==  sub-page s lies wholly in free space, in a page that is not clean, and was handed back
 *                    to the OS; the heap subtracts these from its committed bytes (GlobalHeap.edgeBytes)
 * </pre>
 * An allocation or resize that writes over an edge sub-page counts it as committed again, within the cap; a page
 * that becomes clean drops its edges (the page is counted out whole now).
 */
final class MediumChunk extends Span {
    final SegregatedListAllocator blocks;
    /** Bit p: page {@code firstPage + p} is decommitted free space (a chunk has at most 64 pages). */
    long cleanPages;
    /** Bit p: page p is being decommitted by the purge, without the lock; nonzero: no allocation, resize or
     *  release here meanwhile. */
    long purging;
    final int[] freedEpoch;
    /** Sub-page bits: edges, see the class comment; null until the first. */
    private long[] edges;
    /** Set bits of {@link #edges}. */
    int edgeCount;
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

    /** Sub-page {@code s} (of {@code 1 << subShift} bytes) is an edge. */
    boolean isEdge(int s) {
        return edges != null && (edges[s >>> 6] & 1L << s) != 0;
    }

    /** Marks sub-pages {@code [from, to)} as edges (none of them is one). */
    void markEdges(int from, int to, int subShift) {
        if (edges == null) {
            edges = new long[(pageCount << (PAGE_SHIFT - subShift)) + 63 >>> 6];
        }
        for (int s = from; s < to; s++) {
            edges[s >>> 6] |= 1L << s;
        }
        edgeCount += to - from;
    }

    /** The edges among the sub-pages that overlap the chunk's bytes {@code [from, to)}. */
    int edgesIn(long from, long to, int subShift) {
        int count = 0;
        for (int s = firstSubPage(from, subShift), end = endSubPage(to, subShift); s < end; s++) {
            count += isEdge(s) ? 1 : 0;
        }
        return count;
    }

    /**
     * The edges among the sub-pages that overlap the chunk's bytes {@code [from, to)} stop being edges.
     *
     * @return how many there were
     */
    int clearEdgesIn(long from, long to, int subShift) {
        int cleared = 0;
        for (int s = firstSubPage(from, subShift), end = endSubPage(to, subShift); s < end; s++) {
            if (isEdge(s)) {
                edges[s >>> 6] &= ~(1L << s);
                cleared++;
            }
        }
        edgeCount -= cleared;
        return cleared;
    }

    /** The pages that hold an edge, as page bits. */
    long pagesWithEdges(int subShift) {
        long pages = 0;
        int perPage = 1 << (PAGE_SHIFT - subShift);
        for (int s = 0; edgeCount != 0 && s < pageCount * perPage; s++) {
            if (isEdge(s)) {
                pages |= 1L << (s / perPage);
            }
        }
        return pages;
    }

    /**
     * The pages in {@code pageBits} stop holding edges (they were decommitted whole, or go back to the page layer).
     *
     * @return how many edges they held
     */
    int clearEdgesOfPages(long pageBits, int subShift) {
        int cleared = 0;
        for (long rest = edgeCount == 0 ? 0 : pageBits; rest != 0; rest &= rest - 1) {
            long page = Long.numberOfTrailingZeros(rest);
            cleared += clearEdgesIn(page << PAGE_SHIFT, page + 1 << PAGE_SHIFT, subShift);
        }
        return cleared;
    }

    /**
     * Keeps as edges only the sub-pages that lie wholly in free space now (after a resize wrote where it may).
     *
     * @return how many stopped being edges
     */
    int keepEdgesInFreeSpace(long rangeAddress, int subShift) {
        if (edgeCount == 0) {
            return 0;
        }
        long[] free = subPagesInFreeSpace(rangeAddress, subShift);
        int before = edgeCount;
        edgeCount = 0;
        for (int w = 0; w < edges.length; w++) {
            edges[w] &= free[w];
            edgeCount += Long.bitCount(edges[w]);
        }
        return before - edgeCount;
    }

    /**
     * The first edge that is not a sub-page wholly in free space of a page that is not clean (for the verifier),
     * or -1.
     */
    int misplacedEdge(long rangeAddress, int subShift) {
        if (edgeCount == 0) {
            return -1;
        }
        long[] free = subPagesInFreeSpace(rangeAddress, subShift);
        int count = 0;
        for (int s = 0; s < edges.length * Long.SIZE; s++) {
            if (isEdge(s)) {
                count++;
                if ((free[s >>> 6] & 1L << s) == 0 || (cleanPages & 1L << (s >>> (PAGE_SHIFT - subShift))) != 0) {
                    return s;
                }
            }
        }
        return count == edgeCount ? -1 : Integer.MAX_VALUE;
    }

    /** Bit s: sub-page s lies wholly in the free space of a free block. O(blocks). */
    private long[] subPagesInFreeSpace(long rangeAddress, int subShift) {
        long chunkAddress = rangeAddress + offset();
        long[] free = new long[edges.length];
        blocks.forEachFreeSpace((from, to) -> {
            int end = (int) ((to - chunkAddress) >>> subShift);
            for (int s = (int) ((from - chunkAddress + (1L << subShift) - 1) >>> subShift); s < end; s++) {
                free[s >>> 6] |= 1L << s;
            }
        });
        return free;
    }

    /** The sub-page that holds the chunk's byte {@code from} (0 before the chunk). */
    private static int firstSubPage(long from, int subShift) {
        return (int) (Math.max(0, from) >>> subShift);
    }

    /** The sub-page after the one that holds the chunk's byte {@code to - 1}, at most the chunk's end. */
    private int endSubPage(long to, int subShift) {
        return (int) Math.min((long) pageCount << (PAGE_SHIFT - subShift), (to + (1L << subShift) - 1) >>> subShift);
    }
}
