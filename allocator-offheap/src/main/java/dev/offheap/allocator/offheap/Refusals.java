package dev.offheap.allocator.offheap;

import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.offheap.jfr.CapReachedEvent;

import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;

/**
 * The allocator's refusals, with the figures a user needs to act on them: {@code maxBytes}, what is committed,
 * live and thread-cached, and what to do. Built under the heap lock after the heap made room, so a refusal's
 * walk over the slabs (one read per slab) happens only when nothing else could be done.
 */
final class Refusals {

    private Refusals() {
    }

    /** The cap reached: committing {@code count} more pages would pass it (0: a medium block's pages). */
    static OffHeapOutOfMemoryException capReached(GlobalHeap heap, long requested, int count) {
        long committed = heap.committedBytes();
        CapReachedEvent event = new CapReachedEvent();
        if (event.isEnabled()) {
            event.allocator = heap.name;
            event.requestedBytes = requested;
            event.maxBytes = heap.maxBytes;
            event.usedBytes = committed;
            event.commit();
        }
        long live = 0;
        long cached = 0;
        for (Slab slab : heap.slabs()) {
            long slabLive = Math.max(0, slab.liveBlocks());
            live += slabLive * slab.slotBytes;
            if (slab.owner != null) {
                cached += (slab.slotCount - slabLive) * slab.slotBytes;
            }
        }
        return new OffHeapOutOfMemoryException("allocate(" + requested + "): OffHeapAllocator '" + heap.name
                + "' is at its cap: maxBytes " + heap.maxBytes + ", committed " + committed
                + (count > 0 ? ", " + count * PAGE_BYTES + " more needed" : "") + "; in blocks: " + live
                + " bytes of small blocks, " + heap.hugeLiveBytes() + " of huge ones (medium: see stats()); free in"
                + " thread caches: " + cached + " bytes, which only their threads can use. Free blocks, call trim()"
                + " (empty slabs of every thread go back), or raise maxBytes", requested,
                Math.max(0, heap.maxBytes - committed), heap.largestFreeLocked());
    }

    /** No run of {@code count} free pages: a fixed range, fragmented (a reserved one is four times the cap). */
    static OffHeapOutOfMemoryException noRun(GlobalHeap heap, long requested, int count) {
        PageLayer pages = heap.pages();
        long free = pages.freePages() * PAGE_BYTES;
        return new OffHeapOutOfMemoryException("allocate(" + requested + "): OffHeapAllocator '" + heap.name
                + "' has no run of " + count + " free 64 KiB pages in its " + heap.rangeBytes + "-byte range: "
                + free + " bytes are free but fragmented, the largest run " + pages.largestFreeBytes()
                + " bytes (committed " + heap.committedBytes() + " of maxBytes " + heap.maxBytes + "). Free blocks"
                + (heap.range.canDecommit() ? "" : ", or give the allocator a larger region"), requested, free,
                heap.largestFreeLocked());
    }
}
