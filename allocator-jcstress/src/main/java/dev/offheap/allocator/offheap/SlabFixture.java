package dev.offheap.allocator.offheap;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A slab of two 32 KiB slots, both live, owned by "the owner" actor. The slabs of all fixtures take turns over
 * the pages of one reserved range (mmap, committed only where touched): jcstress makes states by the
 * thousand, and a native allocation each would exhaust the direct-memory limit.
 */
final class SlabFixture {
    private static final int PAGES = 1 << 14;
    private static final MemorySegment MEMORY = MemorySource.reserved()
            .open(PAGES * PageBuddy.PAGE_BYTES).segment().asSlice(0, PAGES * PageBuddy.PAGE_BYTES);
    private static final AtomicInteger NEXT_PAGE = new AtomicInteger();

    final MemorySegment memory = MEMORY;
    final Slab slab = new Slab(NEXT_PAGE.getAndIncrement() & (PAGES - 1), 1,
            dev.offheap.allocator.SizeClasses.index(32 * 1024), 32 * 1024);

    SlabFixture() {
        while (slab.freeTop > 0) {
            int slot = slab.freeStack[--slab.freeTop];
            slab.live[slot] = 1;
        }
        slab.state = Slab.OWNED;
    }
}
