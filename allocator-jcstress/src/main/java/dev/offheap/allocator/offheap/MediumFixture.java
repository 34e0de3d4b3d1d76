package dev.offheap.allocator.offheap;

import dev.offheap.allocator.region.SegregatedListAllocator;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A medium chunk's heap in small (a {@link SegregatedListAllocator} over 64 KiB) holding two live blocks, and an
 * empty {@link MediumStash}: a free as {@link MediumHeap#free} does it without a lock. The heaps of all fixtures
 * take turns over the pages of one reserved range, as {@link SlabFixture}'s slabs do.
 */
final class MediumFixture {
    private static final int PAGES = 1 << 14;
    private static final MemorySegment MEMORY = MemorySource.reserved()
            .open(PAGES * PageBuddy.PAGE_BYTES).segment().asSlice(0, PAGES * PageBuddy.PAGE_BYTES);
    private static final AtomicInteger NEXT_PAGE = new AtomicInteger();

    final SegregatedListAllocator blocks = SegregatedListAllocator.over(MEMORY.asSlice(
            (long) (NEXT_PAGE.getAndIncrement() & (PAGES - 1)) * PageBuddy.PAGE_BYTES, PageBuddy.PAGE_BYTES));
    final MediumStash stash = new MediumStash();
    final long first = blocks.allocate(5000);
    final long second = blocks.allocate(5000);

    /**
     * Frees {@code address} as the medium heap does: 1 if it went into the stash, 2 if claimed but the stash was
     * full (the heap would free it in its chunk), 0 if refused as a double free.
     */
    int free(long address) {
        try {
            long usable = blocks.claimFree("free", address);
            return stash.offer(address - MEMORY.address(), usable, 0) ? 1 : 2;
        } catch (dev.offheap.allocator.DoubleFreeException refused) {
            return 0;
        }
    }
}
