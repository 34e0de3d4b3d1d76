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
    /** A heap over the range, for the frees that need one (nothing in these tests reaches its pages or locks). */
    private static final GlobalHeap HEAP = new GlobalHeap("jcstress", MemorySource.reserved()
            .open(PAGES * PageBuddy.PAGE_BYTES), PAGES * PageBuddy.PAGE_BYTES, (byte) 0);
    private static final MemorySegment MEMORY = HEAP.memory.asSlice(0, PAGES * PageBuddy.PAGE_BYTES);
    private static final AtomicInteger NEXT_PAGE = new AtomicInteger();

    final MemorySegment memory = MEMORY;
    final Slab slab = new Slab(NEXT_PAGE.getAndIncrement() & (PAGES - 1), 1,
            dev.offheap.allocator.SizeClasses.index(32 * 1024), 32 * 1024);

    /** The owning thread as the slab knows it: a token, since jcstress runs each actor on a thread of its own. */
    final Thread owner = new Thread(() -> { });

    SlabFixture() {
        while (slab.freeTop > 0) {
            int slot = slab.freeStack[--slab.freeTop];
            slab.live[slot] = 1;
        }
        slab.state = Slab.OWNED;
        slab.ownerThread = owner;
    }

    /**
     * Gives the slab to a shared cache (the kind virtual threads use) as its current slab: no owning thread,
     * frees into it through {@link ThreadCache#freeIntoShared}. The slab stays current and owned, so no free
     * of it files, queues or releases it.
     */
    ThreadCache shareIt() {
        ThreadCache shared = new ThreadCache(null, GlobalHeap.SMALL_CLASSES);
        slab.adoptBy(shared);
        shared.setCurrent(slab.sizeClass, slab);
        return shared;
    }

    /**
     * A free into the shared slab ({@link #shareIt}) by a thread that has just allocated from its cache (took and
     * released the lock, if it was free), as the allocator's free does it: 1 if it went through, 0 if refused.
     */
    int sharedFrees(int slot) {
        ThreadCache shared = slab.owner;
        if (shared.lock.tryLock()) {
            shared.takenBy(Thread.currentThread().threadId());
            shared.lock.unlock();
        }
        return ThreadCache.freeIntoShared(slab, slot, HEAP) ? 1 : 0;
    }

    /**
     * The owner's free of {@code slot}, as the allocator's free does it ({@link Slab#claimLocalFree}, then
     * {@link Slab#pushClaimed}): 1 if pushed on the free stack, 2 if handed over to the remote list (the slab was
     * taken from the owner meanwhile), 0 if refused (the slot was not live).
     */
    int ownerFrees(int slot) {
        if (!slab.claimLocalFree(slot)) {
            return 0;
        }
        return slab.pushClaimed(slot, owner, memory) >= 0 ? 1 : 2;
    }

    /** After the owner collects the remote frees: how many times {@code slot} is on the free stack. */
    int timesFree(int slot) {
        slab.collectRemote(memory);
        int times = 0;
        for (int i = 0; i < slab.freeTop; i++) {
            times += slab.freeStack[i] == slot ? 1 : 0;
        }
        return times;
    }
}
