package dev.offheap.allocator.offheap;

import org.agrona.collections.LongArrayList;

import java.util.Arrays;

/**
 * The global heap's page allocator: a binary buddy system over the pages of the whole range, with all of its
 * bookkeeping out of band (Java arrays), so free pages can be handed back to the OS without touching them.
 *
 * <p>Not thread-safe: the global heap's lock guards it.
 *
 * <h2>Glossary</h2>
 * <dl>
 *   <dt>page</dt><dd>{@link #PAGE_BYTES} bytes; page {@code p} starts at range offset {@code p << PAGE_SHIFT}</dd>
 *   <dt>block of order k</dt><dd>{@code 2^k} pages starting at a page index that is a multiple of {@code 2^k}</dd>
 *   <dt>buddy</dt><dd>of the order-k block at {@code p}: the order-k block at {@code p ^ 2^k}</dd>
 *   <dt>committed page</dt><dd>one that may hold physical memory: handed out, or freed but not yet purged</dd>
 *   <dt>epoch</dt><dd>the heap's purge tick; a free block remembers the epoch of its last free</dd>
 * </dl>
 *
 * <h2>State, per page index p</h2>
 * <pre>
 *   tag[p]        FREE | order  at the first page of a free block; 0 elsewhere (allocated or interior)
 *   next[p], prev[p]            the free list of that order (page indexes, -1 = none)
 *   freedEpoch[p]               at the first page of a free block
 *   committed bit p             1 if the page may hold memory
 * </pre>
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>free blocks never overlap; a free block's buddy is never a free block of the same order;</li>
 *   <li>bit k of {@code nonEmpty} is set iff {@code head[k] != -1};</li>
 *   <li>{@code freePages == sum(2^order)} over free blocks; {@code committedPages == popcount(committed)}.</li>
 * </ul>
 *
 * <h2>Allocate and free</h2>
 * {@link #allocate(int)} takes, among the non-empty orders {@code >= k} (bitmap), the lowest whose newest
 * block still holds committed pages, else the lowest, and splits it down, filing the halves without committed
 * pages: memory already resident is used again before fresh pages are touched.
 * {@link #allocatePages(int, int)} takes the power-of-two block and frees the pages past the count again, so a
 * run of n pages wastes nothing. {@link #free(int, int)} merges with the buddy while the buddy is a free block
 * of the same order.
 */
final class PageBuddy {

    static final int PAGE_SHIFT = 16;
    static final long PAGE_BYTES = 1L << PAGE_SHIFT;

    private static final byte FREE = 0x40;

    final int pages;
    final int maxOrder;
    private final byte[] tag;
    private final int[] next;
    private final int[] prev;
    private final int[] freedEpoch;
    private final int[] head;
    private final long[] committed;
    private long nonEmpty;
    private long freePages;
    /** Written under the heap lock; volatile so that {@link GlobalHeap#committedBytes()} may read it without. */
    private volatile long committedPages;

    PageBuddy(int pages) {
        this.pages = pages;
        this.maxOrder = 31 - Integer.numberOfLeadingZeros(pages);
        this.tag = new byte[pages];
        this.next = new int[pages];
        this.prev = new int[pages];
        this.freedEpoch = new int[pages];
        this.head = new int[maxOrder + 1];
        this.committed = new long[(pages + 63) >>> 6];
        Arrays.fill(head, -1);
        freeRange(0, pages, 0);
    }

    long freePages() {
        return freePages;
    }

    long committedPages() {
        return committedPages;
    }

    /** The largest order with a free block, or -1. */
    int largestFreeOrder() {
        return 63 - Long.numberOfLeadingZeros(nonEmpty);
    }

    /** Free pages that are still committed (purgeable). */
    long dirtyFreePages() {
        long dirty = 0;
        for (int k = 0; k <= maxOrder; k++) {
            for (int p = head[k]; p != -1; p = next[p]) {
                dirty += countCommitted(p, 1 << k);
            }
        }
        return dirty;
    }

    /**
     * Takes a block of exactly {@code order}; returns its first page, or -1 if none is free. Memory that is still
     * committed goes first: the smallest order whose newest free block holds a committed page, else the smallest
     * order; splitting it keeps the half with committed pages. So freed pages are used again before fresh ones
     * are touched, and resident memory does not grow while committed pages wait for the purge.
     */
    int allocate(int order) {
        if (order > maxOrder) {
            return -1;
        }
        long candidates = nonEmpty & (-1L << order);
        if (candidates == 0) {
            return -1;
        }
        int from = Long.numberOfTrailingZeros(candidates);
        for (long c = candidates; c != 0; c &= c - 1) {
            int k = Long.numberOfTrailingZeros(c);
            if (anyCommitted(head[k], 1 << k)) {
                from = k;
                break;
            }
        }
        int page = head[from];
        unlink(page, from);
        int epoch = freedEpoch[page];
        for (int k = from; k > order; k--) {
            int half = 1 << (k - 1);
            if (!anyCommitted(page, half) && anyCommitted(page + half, half)) {
                link(page, k - 1, epoch);
                page += half;
            } else {
                link(page + half, k - 1, epoch);
            }
        }
        freePages -= 1L << order;
        return page;
    }

    /** Whether the aligned block of {@code count} (a power of two) pages at {@code page} has a committed page. */
    private boolean anyCommitted(int page, int count) {
        if (count < 64) {
            return (committed[page >>> 6] & (((1L << count) - 1) << (page & 63))) != 0;
        }
        for (int w = page >>> 6; w < (page + count) >>> 6; w++) {
            if (committed[w] != 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Takes a run of {@code count} pages whose first page is a multiple of {@code 2^alignOrder}; returns the
     * first page, or -1.
     */
    int allocatePages(int count, int alignOrder) {
        int order = Math.max(32 - Integer.numberOfLeadingZeros(count - 1), alignOrder);
        int page = allocate(order);
        if (page >= 0 && count < (1 << order)) {
            int epoch = freedEpoch[page];
            freeRange(page + count, (1 << order) - count, epoch);
        }
        return page;
    }

    /** Gives back the order-{@code order} block at {@code page}, merging with free buddies. */
    void free(int page, int order, int epoch) {
        freePages += 1L << order;
        while (order < maxOrder) {
            int buddy = page ^ (1 << order);
            if (buddy + (1 << order) > pages || tag[buddy] != (byte) (FREE | order)) {
                break;
            }
            unlink(buddy, order);
            epoch = Math.max(epoch, freedEpoch[buddy]);
            page = Math.min(page, buddy);
            order++;
        }
        link(page, order, epoch);
    }

    /** Gives back any run of pages, as the largest aligned blocks it is made of. */
    void freeRange(int page, int count, int epoch) {
        while (count > 0) {
            int order = Math.min(page == 0 ? maxOrder : Integer.numberOfTrailingZeros(page),
                    31 - Integer.numberOfLeadingZeros(count));
            free(page, order, epoch);
            page += 1 << order;
            count -= 1 << order;
        }
    }

    /** Marks a run as committed (it is about to be used); returns how many of its pages were not before. */
    int commit(int page, int count) {
        int newly = count - countCommitted(page, count);
        for (int p = page; p < page + count; p++) {
            committed[p >>> 6] |= 1L << p;
        }
        committedPages += newly;
        return newly;
    }

    /**
     * Takes out of the free lists every free block last freed before {@code epochLimit} that still has committed
     * pages, so that they can be decommitted without the heap's lock; hand them back with {@link #returnPurged}.
     * Meanwhile they are neither free nor in a span: nobody allocates them, and their buddies do not merge with
     * them.
     *
     * @return the blocks, each {@code page << 8 | order}
     */
    long[] takePurgeable(int epochLimit) {
        LongArrayList taken = new LongArrayList();
        for (int k = 0; k <= maxOrder; k++) {
            int p = head[k];
            while (p != -1) {
                int following = next[p];
                if (freedEpoch[p] < epochLimit && anyCommitted(p, 1 << k)) {
                    unlink(p, k);
                    freePages -= 1L << k;
                    taken.addLong(((long) p << 8) | k);
                }
                p = following;
            }
        }
        return taken.toLongArray();
    }

    /**
     * Gives back blocks from {@link #takePurgeable} after their memory was decommitted: clean now, free again,
     * merged with free buddies.
     *
     * @return the pages that were committed and are not now
     */
    long returnPurged(long[] blocks, int epoch) {
        long purged = 0;
        for (long block : blocks) {
            purged += returnPurged((int) (block >>> 8), (int) (block & 0xff), epoch);
        }
        return purged;
    }

    /** One block of {@link #returnPurged(long[], int)}; returns the pages that were committed. */
    int returnPurged(int page, int order, int epoch) {
        int purged = decommitted(page, 1 << order);
        free(page, order, epoch);
        return purged;
    }

    /**
     * Marks a run as decommitted: free pages just purged, or pages of a span whose memory its owner handed back
     * (a medium chunk's free space).
     *
     * @return how many of its pages were committed before
     */
    int decommitted(int page, int count) {
        int dirty = countCommitted(page, count);
        for (int q = page; q < page + count; q++) {
            committed[q >>> 6] &= ~(1L << q);
        }
        committedPages -= dirty;
        return dirty;
    }

    /** Bit i set: page {@code page + i} is not committed (never used, or decommitted since); {@code count <= 64}. */
    long uncommittedBits(int page, int count) {
        long bits = 0;
        for (int i = 0; i < count; i++) {
            if (!isCommitted(page + i)) {
                bits |= 1L << i;
            }
        }
        return bits;
    }

    /** Whether the page may hold memory. */
    boolean isCommitted(int page) {
        return (committed[page >>> 6] >>> page & 1) != 0;
    }

    /** Receives one free block. */
    @FunctionalInterface
    interface FreeBlockVisitor {
        void visit(int firstPage, int order);
    }

    /** Every free block, by order; lock held. */
    void forEachFreeBlock(FreeBlockVisitor visitor) {
        for (int k = 0; k <= maxOrder; k++) {
            for (int p = head[k]; p != -1; p = next[p]) {
                visitor.visit(p, k);
            }
        }
    }

    /**
     * Checks the free lists against the invariants above. Lock held.
     *
     * @return the problem found first, or null
     */
    String verify() {
        long free = 0;
        for (int k = 0; k <= maxOrder; k++) {
            if ((head[k] != -1) != ((nonEmpty >>> k & 1) != 0)) {
                return "the bitmap of non-empty orders disagrees with the free list of order " + k;
            }
            int previous = -1;
            for (int p = head[k]; p != -1; p = next[p]) {
                if (prev[p] != previous) {
                    return "free list of order " + k + ": page " + p + " links back to " + prev[p] + ", not " + previous;
                }
                if (tag[p] != (byte) (FREE | k) || (p & ((1 << k) - 1)) != 0 || p + (1 << k) > pages) {
                    return "free list of order " + k + ": page " + p + " is not a free, aligned block of that order";
                }
                free += 1L << k;
                previous = p;
            }
        }
        return free == freePages ? null : "free lists hold " + free + " pages, the count says " + freePages;
    }

    /** Committed pages in {@code [page, page + count)}: a word of the bitmap at a time. */
    int countCommitted(int page, int count) {
        int n = 0;
        for (int p = page, end = page + count; p < end; ) {
            int bits = Math.min(64 - (p & 63), end - p); // up to the end of p's word, or of the range
            long mask = bits == 64 ? -1L : ((1L << bits) - 1) << p;
            n += Long.bitCount(committed[p >>> 6] & mask);
            p += bits;
        }
        return n;
    }

    private void link(int page, int order, int epoch) {
        int first = head[order];
        next[page] = first;
        prev[page] = -1;
        if (first != -1) {
            prev[first] = page;
        }
        head[order] = page;
        nonEmpty |= 1L << order;
        tag[page] = (byte) (FREE | order);
        freedEpoch[page] = epoch;
    }

    private void unlink(int page, int order) {
        int n = next[page];
        int p = prev[page];
        if (p == -1) {
            head[order] = n;
            if (n == -1) {
                nonEmpty &= ~(1L << order);
            }
        } else {
            next[p] = n;
        }
        if (n != -1) {
            prev[n] = p;
        }
        tag[page] = 0;
    }
}
