package dev.offheap.allocator.offheap;

import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;

/**
 * The pages of the range, in one or two areas, each a {@link PageBuddy}; pages are numbered over the whole range
 * here ({@code page = area origin + page in the area}), so that the page map and the spans never see the areas.
 *
 * <pre>
 *   reserved address space (it can grow, so it is reserved far larger than the cap):
 *   | small area: slabs (1, 2 or 4 pages)        | large area: medium chunks (64 pages), huge blocks    |
 *   0                                          split                                               pages
 *
 *   a fixed range (a caller's region, an arena): one area over all of it
 * </pre>
 * Why two areas: in one buddy, slabs freed and taken again land anywhere, and a few of them in every 4 MiB of
 * the range leave no run for a medium chunk or a huge block while most of the memory is free (the first refusal
 * came at 0.63 of the cap that way). Slabs apart, the large area's runs are cut only by large spans. A request
 * that finds no run in its own area tries the other one before it fails.
 *
 * <p>Not thread-safe: the heap lock guards it. {@link #committedPages()} alone may be read without the lock.
 */
final class PageLayer {

    private final PageBuddy small;
    private final PageBuddy large;
    /** First page of the large area; == {@link #pages} when there is one area. */
    private final int split;
    final int pages;
    /**
     * Committed pages of both areas, one field written under the lock: a reader without the lock that added the
     * two areas' counts could see one before and the other after a move of pages between them, a sum above the
     * cap that never was.
     */
    private volatile long committedPages;

    /**
     * @param pages      pages of the whole range
     * @param smallPages pages of the small area, at the start; {@code pages} for a single area
     */
    PageLayer(int pages, int smallPages) {
        this.pages = pages;
        this.split = smallPages;
        this.small = new PageBuddy(smallPages);
        this.large = smallPages == pages ? null : new PageBuddy(pages - smallPages);
    }

    /** The largest order a span may have: that of the smaller area. */
    int maxOrder() {
        return large == null ? small.maxOrder : Math.min(small.maxOrder, large.maxOrder);
    }

    /**
     * A run of {@code count} pages aligned to {@code 2^alignOrder} pages, from the area for its kind ({@code slab}:
     * the small one), else from the other; -1 if neither has one.
     */
    int allocatePages(int count, int alignOrder, boolean slab) {
        if (large == null) {
            return small.allocatePages(count, alignOrder);
        }
        PageBuddy first = slab ? small : large;
        PageBuddy second = slab ? large : small;
        int page = first.allocatePages(count, alignOrder);
        if (page >= 0) {
            return page + origin(first);
        }
        page = second.allocatePages(count, alignOrder);
        return page < 0 ? -1 : page + origin(second);
    }

    /** Gives back a run of pages (of one area: spans never straddle the split). */
    void freeRange(int page, int count, int epoch) {
        PageBuddy area = area(page);
        area.freeRange(page - origin(area), count, epoch);
    }

    /** Marks a run as committed; returns how many of its pages were not before. */
    int commit(int page, int count) {
        PageBuddy area = area(page);
        int newly = area.commit(page - origin(area), count);
        committedPages += newly;
        return newly;
    }

    /** How many pages of the run are not committed now: what committing it would add. */
    int uncommittedIn(int page, int count) {
        PageBuddy area = area(page);
        return count - area.countCommitted(page - origin(area), count);
    }

    /** Marks a run as decommitted; returns how many of its pages were committed before. */
    int decommitted(int page, int count) {
        PageBuddy area = area(page);
        int dirty = area.decommitted(page - origin(area), count);
        committedPages -= dirty;
        return dirty;
    }

    /** Bit i set: page {@code page + i} is not committed; {@code count <= 64}. */
    long uncommittedBits(int page, int count) {
        PageBuddy area = area(page);
        return area.uncommittedBits(page - origin(area), count);
    }

    boolean isCommitted(int page) {
        PageBuddy area = area(page);
        return area.isCommitted(page - origin(area));
    }

    /** Pages that may hold memory, both areas; read without the lock by {@code committedBytes()}. */
    long committedPages() {
        return committedPages;
    }

    long freePages() {
        return small.freePages() + (large == null ? 0 : large.freePages());
    }

    long dirtyFreePages() {
        return small.dirtyFreePages() + (large == null ? 0 : large.dirtyFreePages());
    }

    /** Bytes of the largest free run either area could hand out now. */
    long largestFreeBytes() {
        int order = Math.max(small.largestFreeOrder(), large == null ? -1 : large.largestFreeOrder());
        return order < 0 ? 0 : PAGE_BYTES << order;
    }

    /**
     * Takes out of the free lists the free blocks last freed before {@code epochLimit} that hold committed pages
     * (see {@link PageBuddy#takePurgeable}); each {@code page << 8 | order}, pages over the whole range.
     */
    long[] takePurgeable(int epochLimit) {
        long[] fromSmall = small.takePurgeable(epochLimit);
        if (large == null) {
            return fromSmall;
        }
        long[] fromLarge = large.takePurgeable(epochLimit);
        long[] all = java.util.Arrays.copyOf(fromSmall, fromSmall.length + fromLarge.length);
        for (int i = 0; i < fromLarge.length; i++) {
            all[fromSmall.length + i] = fromLarge[i] + ((long) split << 8);
        }
        return all;
    }

    /** Gives back blocks from {@link #takePurgeable} once decommitted; returns the pages that were committed. */
    long returnPurged(long[] blocks, int epoch) {
        long purged = 0;
        for (long block : blocks) {
            int page = (int) (block >>> 8);
            PageBuddy area = area(page);
            purged += area.returnPurged(page - origin(area), (int) (block & 0xff), epoch);
        }
        committedPages -= purged;
        return purged;
    }

    /** Every free block, pages over the whole range. */
    void forEachFreeBlock(PageBuddy.FreeBlockVisitor visitor) {
        small.forEachFreeBlock(visitor);
        if (large != null) {
            large.forEachFreeBlock((page, order) -> visitor.visit(page + split, order));
        }
    }

    /** The first broken invariant of either area, or null. */
    String verify() {
        long areas = small.committedPages() + (large == null ? 0 : large.committedPages());
        if (areas != committedPages) {
            return "committed pages: " + committedPages + " counted, " + areas + " in the areas";
        }
        String problem = small.verify();
        if (problem == null && large != null) {
            problem = large.verify();
            return problem == null ? null : "large area: " + problem;
        }
        return problem == null ? null : (large == null ? "" : "small area: ") + problem;
    }

    private PageBuddy area(int page) {
        return page < split ? small : large;
    }

    private int origin(PageBuddy area) {
        return area == small ? 0 : split;
    }
}
