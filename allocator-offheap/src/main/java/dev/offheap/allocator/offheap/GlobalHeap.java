package dev.offheap.allocator.offheap;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.HeapCorruptionException;
import dev.offheap.allocator.InvalidAddressException;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.SizeClasses;
import dev.offheap.allocator.offheap.jfr.CapReachedEvent;
import dev.offheap.allocator.offheap.jfr.PurgeEvent;
import dev.offheap.allocator.offheap.jfr.SpanEvent;
import dev.offheap.allocator.region.SegregatedListAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import static dev.offheap.allocator.internal.Checks.hex;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_SHIFT;

/**
 * The global heap: everything behind the thread caches, touched only on slow paths and guarded by two locks:
 * {@link #mediumLock} for the medium chunks, {@link #lock} (the heap lock) for everything else; medium code takes
 * the heap lock inside the medium lock when it needs pages, never the other way round.
 * See {@link OffHeapAllocator} for the whole design; this class holds:
 * <ul>
 *   <li>the {@link PageBuddy} of 64 KiB pages over the whole range, which every span comes from;</li>
 *   <li>the page map, {@code Span[]} indexed by page, written here under the lock and read lock-free by
 *       {@code free} (a thread that frees an address got it through a happens-before edge from the thread
 *       that allocated it, which came after the span's publication here);</li>
 *   <li>the partial slabs per class (QUEUED: dead threads' slabs with free slots), adopted by caches;</li>
 *   <li>the medium chunks, each a {@link SegregatedListAllocator} over a 4 MiB span (medium lock), and the
 *       {@link MediumStash}: up to 4 freed medium blocks (2 MiB) kept allocated in their chunks for the next
 *       allocation of about their size, which then skips the region allocator's split, coalesce and tags;</li>
 *   <li>the cap ({@code maxBytes}), checked against the pages in spans <em>before</em> any page is taken;</li>
 *   <li>the registry of caches, to reclaim dead threads' slabs and to add up stats;</li>
 *   <li>the purge: free pages go back to the OS once they have been free for the decay time, and so do the
 *       pages of a live medium chunk that lie wholly in its free space ({@link MediumChunk}).</li>
 * </ul>
 */
final class GlobalHeap {

    private static final Logger LOG = LoggerFactory.getLogger(GlobalHeap.class);

    private static final String SLAB = "slab";
    private static final String MEDIUM = "medium chunk";
    private static final String HUGE = "huge block";

    /**
     * Largest size served from slabs, so from thread caches without the heap lock. 64 KiB, a common buffer size
     * (Netty's, a socket's), like mimalloc and tcmalloc, which serve 128 and 256 KiB thread-locally; the price is
     * class rounding (at most 25%, against a boundary tag's 24 bytes) and up to four more 256 KiB slabs per
     * thread that uses these sizes.
     */
    static final long SMALL_MAX = 64 * 1024;
    /** Number of small size classes. */
    static final int SMALL_CLASSES = SizeClasses.index(SMALL_MAX) + 1;
    /** Largest size served from medium chunks. */
    static final long MEDIUM_MAX = 1024 * 1024;
    /** How long the purge waits, between two steps, for a woken waiter to take the lock before it goes on. */
    private static final long HAND_OVER_NANOS = 2_000_000;
    /** Pages of a medium chunk (4 MiB), fewer when the range is smaller. */
    private static final int MEDIUM_CHUNK_ORDER = 6;

    final String name;
    /** Debug mode fills new slabs with the poison byte, so the first allocation of a slot checks it too; 0: off. */
    private final byte newSlabFill;
    final ReentrantLock lock = new ReentrantLock();
    /**
     * Guards the medium chunks: the list, each chunk's blocks and page bits, and {@link #mediumAllocations}. Apart
     * from {@link #lock} so that medium blocks never wait behind the purge's walks
     * over slabs and free pages, nor behind slab refills: timing code (not kept) showed CacheBench's threads
     * waiting for the heap lock only in allocateMedium and freeMedium, up to 2 ms at purge ticks. Order: this
     * lock, then the heap lock; code that holds the heap lock only ever {@code tryLock}s this one.
     */
    final ReentrantLock mediumLock = new ReentrantLock();
    final MemorySource.Range range;
    final MemorySegment memory;
    final long rangeBytes;
    final long maxBytes;
    final Span[] pageMap;
    private final PageBuddy buddy;
    private final int mediumChunkOrder;
    private final ArrayDeque<Slab>[] partial;
    private final ArrayList<Slab> slabs = new ArrayList<>();
    private final ArrayList<MediumChunk> mediumChunks = new ArrayList<>();
    /** Medium blocks freed but kept for the next allocation of their size (medium lock). */
    private final MediumStash stash;
    private final ArrayList<HugeSpan> hugeSpans = new ArrayList<>();
    private final ArrayList<ThreadCache> caches = new ArrayList<>();

    private long spanPages;
    private int reclaimAtCacheCount = 16;
    private int epoch;
    private final long[] retiredAllocations = new long[SMALL_CLASSES];
    private long mediumAllocations;
    private long hugeAllocations;
    private long hugeFrees;
    private long hugeLiveBytes;
    private long purgedBytes;
    private long purges;
    /** Slabs the purge took out of live threads' caches ({@link #trimThreadCaches}). */
    private long slabsTakenFromLiveCaches;
    private boolean warnedNearCap;
    /** Purges between taking their pages out of the buddy and giving them back (the madvise calls, unlocked). */
    private int purgesInFlight;
    private final Condition purgeDone = lock.newCondition();

    @SuppressWarnings({"unchecked", "rawtypes"})
    GlobalHeap(String name, MemorySource.Range range, long maxBytes, byte newSlabFill) {
        this.name = name;
        this.newSlabFill = newSlabFill;
        this.range = range;
        this.memory = range.segment();
        this.rangeBytes = memory.byteSize() & -PAGE_BYTES;
        this.maxBytes = Math.min(maxBytes, rangeBytes);
        int pages = (int) (rangeBytes >>> PAGE_SHIFT);
        this.buddy = new PageBuddy(pages);
        this.pageMap = new Span[pages];
        this.stash = new MediumStash();
        this.mediumChunkOrder = Math.min(MEDIUM_CHUNK_ORDER, buddy.maxOrder);
        this.partial = new ArrayDeque[SMALL_CLASSES];
        for (int c = 0; c < SMALL_CLASSES; c++) {
            partial[c] = new ArrayDeque<>();
        }
    }

    /** Pages of a slab of class {@code sizeClass}: room for at least 8 slots, from 64 KiB up to 256 KiB. */
    static int slabPages(int sizeClass) {
        long slot = SizeClasses.size(sizeClass);
        long wanted = (slot * 8 + PAGE_BYTES - 1) >>> PAGE_SHIFT;
        return (int) Math.min(4, Long.highestOneBit(Math.max(1, wanted * 2 - 1)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Caches

    /**
     * Adds a cache to the registry. Every time the registry doubles, the caches of dead threads are reclaimed
     * first: thread churn keeps the number of caches near the number of live threads even without the purger.
     */
    void register(ThreadCache cache) {
        lock.lock();
        try {
            if (caches.size() >= reclaimAtCacheCount) {
                reclaimDeadCaches();
                reclaimAtCacheCount = Math.max(16, 2 * caches.size());
            }
            caches.add(cache);
        } finally {
            lock.unlock();
        }
    }

    /** Lock held: gives back the slabs of every cache whose thread has died. */
    private void reclaimDeadCaches() {
        ArrayList<ThreadCache> dead = new ArrayList<>();
        caches.removeIf(cache -> cache.ownerDied() && dead.add(cache));
        // Out of the registry first: the walk below lets waiting threads in between slabs, and nobody else
        // reaches a dead thread's cache (remote freers only touch its slabs).
        for (ThreadCache cache : dead) {
            releaseCacheSlabs(cache, false);
        }
    }

    /**
     * Lock held, in a long walk (thousands of slabs after a thread with a big cache died), between two
     * self-contained steps: lets threads waiting for the lock in, so that the purge never stalls an allocation
     * for more than one step (timing code added for a while, not kept, showed walks of 1-10 ms under
     * CacheBench without this).
     */
    private void letWaitersIn() {
        if (lock.hasQueuedThreads()) {
            lock.unlock();
            // The lock is not fair: re-locking at once would beat the woken waiter to it, and a parked thread takes
            // tens of microseconds to run again, longer on a busy or virtualised machine. With a 50 us spin here
            // the purge still barged in ahead of waiters step after step: CacheBench's threads waited up to 12 ms
            // in allocateMedium and freeMedium (timing code, not kept). So step aside, giving up the CPU, until a
            // waiter has the lock, then queue behind it.
            long giveUpAt = System.nanoTime() + HAND_OVER_NANOS;
            while (lock.hasQueuedThreads() && !lock.isLocked() && System.nanoTime() < giveUpAt) {
                Thread.yield();
            }
            lock.lock();
        }
    }

    /**
     * A slab of {@code sizeClass} with a free slot, owned by {@code cache} from now on: a partial slab if one
     * is queued, else a new one.
     */
    Slab refill(ThreadCache cache, int sizeClass, long requested) {
        lock.lock();
        try {
            Slab slab;
            while ((slab = partial[sizeClass].poll()) != null) {
                adopt(slab, cache);
                if (slab.freeTop > 0) {
                    cache.addOwned(slab);
                    return slab;
                }
                detachLocked(slab); // nothing free after all: leave it for its remote frees
            }
            int pages = slabPages(sizeClass);
            int page = takePages(pages, 31 - Integer.numberOfLeadingZeros(pages), requested, SLAB);
            buddy.commit(page, pages);
            slab = new Slab(page, pages, sizeClass, (int) SizeClasses.size(sizeClass));
            if (newSlabFill != 0) {
                memory.asSlice(slab.offset(), slab.byteSize()).fill(newSlabFill);
                slab.requested = new int[slab.slotCount];
            }
            slab.heapIndex = slabs.size();
            slabs.add(slab);
            map(slab);
            adopt(slab, cache);
            cache.addOwned(slab);
            return slab;
        } finally {
            lock.unlock();
        }
    }

    private void adopt(Slab slab, ThreadCache cache) {
        slab.ownerThread = cache.thread;
        slab.owner = cache;
        slab.state = Slab.OWNED;
        slab.collectRemote(memory);
    }

    /**
     * A remote freer found the slab DETACHED and won the CAS to QUEUED: file it where caches look for
     * partial slabs.
     */
    void enqueuePartial(Slab slab) {
        lock.lock();
        try {
            partial[slab.sizeClass].add(slab);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Lock held, the slab's owner gone or done with it: detach it, and queue it for adoption if it has a free
     * slot (or a remote free came in meanwhile), so that no partly empty slab is left where no cache looks.
     */
    private void detachLocked(Slab slab) {
        if (slab.detach()) {
            partial[slab.sizeClass].add(slab);
        }
    }

    /**
     * Lock held: gives back the slabs of a cache whose thread died ({@code onlyEmpty} false: partly used ones
     * are detached and queued for other caches), or the empty slabs of a cache being trimmed.
     */
    private void releaseCacheSlabs(ThreadCache cache, boolean onlyEmpty) {
        for (int c = 0; c < cache.owned.length; c++) {
            for (int i = cache.ownedCount[c] - 1; i >= 0; i--) {
                Slab slab = cache.owned[c][i];
                slab.collectRemote(memory);
                if (slab.isEmpty()) {
                    cache.removeOwned(slab);
                    release(slab);
                } else if (!onlyEmpty) {
                    cache.removeOwned(slab);
                    detachLocked(slab);
                }
                letWaitersIn();
                i = Math.min(i, cache.ownedCount[c]);
            }
        }
    }

    /**
     * Lock held: takes from live threads' caches the slabs they hold but cannot use soon: owned, not current,
     * no live block (after their remote frees); the spare too if the thread took no slow path since the last
     * purge. A producer whose blocks all went to other threads, then idle, keeps only its current slabs. One
     * slab per step, each under the cache's {@link ThreadCache#tryEnterToTrim() trim flag}; a cache whose owner
     * is in a slow path is left for the next purge.
     */
    private void trimThreadCaches() {
        nextCache:
        for (ThreadCache cache : caches.toArray(ThreadCache[]::new)) { // a copy: the walk lets registrations in
            if (cache.thread == null || cache.ownerDied()) {
                continue;
            }
            int slowPaths = cache.slowPaths;
            boolean idle = slowPaths == cache.slowPathsAtLastPurge;
            cache.slowPathsAtLastPurge = slowPaths;
            for (int c = 0; c < cache.owned.length; c++) {
                for (int i = Integer.MAX_VALUE; ; i--) {
                    if (!cache.tryEnterToTrim()) {
                        continue nextCache; // the owner is in a slow path: busy, not idle
                    }
                    try {
                        i = Math.min(i, cache.ownedCount[c] - 1); // the owner changes the list between steps
                        if (i < 0) {
                            break;
                        }
                        Slab slab = cache.takeUnused(c, i, idle, memory);
                        if (slab != null) {
                            release(slab);
                            slabsTakenFromLiveCaches++;
                        }
                    } finally {
                        cache.exitSlowPath();
                    }
                    letWaitersIn();
                }
            }
        }
    }

    /** The owner of a cache: gives back one of its empty slabs (not the current one). */
    void releaseOwned(ThreadCache cache, Slab slab) {
        lock.lock();
        try {
            cache.removeOwned(slab);
            release(slab);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Lock held: gives back the empty slabs of the shared caches that are not in use right now (try-lock, so
     * an allocating virtual thread is never waited for). Thread caches cannot be trimmed from outside: their
     * owners use them without a lock.
     */
    private void trimSharedCaches() {
        for (ThreadCache cache : caches.toArray(ThreadCache[]::new)) { // a copy: the walk lets registrations in
            if (cache.thread == null && cache.lock.tryLock()) {
                try {
                    releaseCacheSlabs(cache, true);
                } finally {
                    cache.lock.unlock();
                }
            }
        }
    }

    /** The calling thread's own cache, or a locked shared cache: its empty slabs go back now. */
    void trimCache(ThreadCache cache) {
        lock.lock();
        try {
            releaseCacheSlabs(cache, true);
        } finally {
            lock.unlock();
        }
    }

    private void release(Slab slab) {
        slab.state = Slab.RELEASED;
        slab.ownerThread = null;
        slab.owner = null;
        retiredAllocations[slab.sizeClass] += slab.allocations;
        Slab last = slabs.removeLast();
        if (last != slab) {
            slabs.set(slab.heapIndex, last);
            last.heapIndex = slab.heapIndex;
        }
        unmap(slab);
        givePages(slab.firstPage, slab.pageCount, SLAB);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Medium and huge blocks

    /** A medium block, or 0 if {@code byteSize} is too large for a chunk of this heap. */
    long allocateMedium(long byteSize, long alignment) {
        long chunkPages = 1L << mediumChunkOrder;
        if (byteSize + alignment + 4096 > chunkPages * PAGE_BYTES) {
            return 0;
        }
        mediumLock.lock();
        try {
            long reused = stash.take(byteSize, alignment);
            if (reused != 0) {
                mediumAllocations++;
                return reused;
            }
            long address = allocateInChunks(byteSize, alignment);
            if (address == 0 && stash.count() > 0) {
                // The stash never makes the heap grow: its blocks go back (and coalesce) before a new chunk is taken.
                stash.drain(Integer.MAX_VALUE, this::freeInChunk);
                address = allocateInChunks(byteSize, alignment);
            }
            if (address != 0) {
                return address;
            }
            MediumChunk chunk;
            lock.lock();
            try {
                int page = takePages((int) chunkPages, mediumChunkOrder, byteSize, MEDIUM);
                chunk = new MediumChunk(page, (int) chunkPages, SegregatedListAllocator.over(memory.asSlice(
                        (long) page << PAGE_SHIFT, chunkPages << PAGE_SHIFT), "OffHeapAllocator '" + name + "'"), epoch);
                if (range.canDecommit()) {
                    // Pages not committed (never used, or handed back since) start as clean free space: a new chunk
                    // commits only what is written in it, the region header and the blocks (recommitWritten below),
                    // not 4 MiB for one block.
                    chunk.cleanPages = buddy.uncommittedBits(page, (int) chunkPages);
                } else {
                    buddy.commit(page, (int) chunkPages);
                }
                map(chunk);
                mediumChunks.add(chunk);
            } finally {
                lock.unlock();
            }
            address = chunk.blocks.tryAllocate(byteSize, alignment);
            mediumAllocations++;
            recommitWritten(chunk);
            return address;
        } finally {
            mediumLock.unlock();
        }
    }

    /** Medium lock held: a block from the chunks the heap has, newest first; 0 if none can hold it. */
    private long allocateInChunks(long byteSize, long alignment) {
        for (int i = mediumChunks.size() - 1; i >= 0; i--) {
            MediumChunk chunk = mediumChunks.get(i);
            if (chunk.purging != 0 || !chunk.blocks.mightFit(byteSize)) {
                continue; // purging: its free pages are being handed back without the lock
            }
            long address = chunk.blocks.tryAllocate(byteSize, alignment);
            if (address != 0) {
                mediumAllocations++;
                recommitWritten(chunk, address);
                return address;
            }
        }
        return 0;
    }

    /**
     * Frees a medium block: into the {@link MediumStash} if there is room (it stays allocated in its chunk),
     * else in its chunk. Either way it is checked first: a live block of the chunk, not stashed already.
     */
    void freeMedium(MediumChunk chunk, long address) {
        mediumLock.lock();
        try {
            requireNotStashed("free", address);
            if (stash.count() < MediumStash.MAX_BLOCKS) {
                // What a free in the chunk would reject, rejected; a full stash leaves the checks to that free.
                long usable = chunk.blocks.checkFreeable("free", address);
                if (stash.offer(chunk, address, usable, epoch)) {
                    return;
                }
            }
            freeInChunk(chunk, address);
        } finally {
            mediumLock.unlock();
        }
    }

    /** Medium lock held: frees a live block in its chunk. */
    private void freeInChunk(MediumChunk chunk, long address) {
        long usable = chunk.blocks.freeReturningUsable(address);
        long first = (address - memory.address() >>> PAGE_SHIFT) - chunk.firstPage;
        long last = (address + usable - 1 - memory.address() >>> PAGE_SHIFT) - chunk.firstPage;
        for (long p = first; p <= last; p++) {
            chunk.freedEpoch[(int) p] = epoch; // its pages wait a whole purge tick before they go back
        }
    }

    /** Medium lock held: a stashed block is a freed one to every call that needs a live block. */
    private void requireNotStashed(String call, long address) {
        if (stash.holds(address)) {
            throw new DoubleFreeException(address, call + "(" + hex(address) + "): the block was already freed"
                    + " (double free or use after free)");
        }
    }

    /**
     * After an allocation or resize in a chunk: its clean pages that are no longer wholly free space (the block
     * took them, or the tags of the rest of a split free block landed there) count as committed again.
     */
    private void recommitWritten(MediumChunk chunk) {
        if (chunk.cleanPages != 0) {
            recommit(chunk, chunk.cleanPages & ~chunk.pagesInFreeSpace(memory.address()));
        }
    }

    /**
     * As {@link #recommitWritten(MediumChunk)} after an allocation that returned {@code address}: only the pages
     * it may have written can have stopped being clean, so the chunk's free space is not walked (that walk was a
     * third of a 128 KiB allocate+free pair in a new chunk).
     */
    private void recommitWritten(MediumChunk chunk, long address) {
        if (chunk.cleanPages != 0) {
            long chunkAddress = memory.address() + chunk.offset();
            long start = chunk.blocks.writtenStart(address) - chunkAddress;
            long end = chunk.blocks.writtenEnd(address) - chunkAddress;
            long first = Math.max(0, start >> PAGE_SHIFT);
            long last = Math.min(chunk.pageCount - 1, end - 1 >> PAGE_SHIFT);
            long pages = last - first + 1 == Long.SIZE ? -1L : ((1L << (last - first + 1)) - 1) << first;
            recommit(chunk, chunk.cleanPages & pages);
        }
    }

    /** Medium lock held: the chunk's clean pages in {@code written} count as committed again. */
    private void recommit(MediumChunk chunk, long written) {
        if (written == 0) {
            return;
        }
        lock.lock();
        try {
            for (long bits = written; bits != 0; bits &= bits - 1) {
                buddy.commit(chunk.firstPage + Long.numberOfTrailingZeros(bits), 1);
            }
        } finally {
            lock.unlock();
        }
        chunk.cleanPages &= ~written;
    }

    long usableMedium(String call, MediumChunk chunk, long address) {
        mediumLock.lock();
        try {
            requireNotStashed(call, address);
            return chunk.blocks.usableSize(address);
        } finally {
            mediumLock.unlock();
        }
    }

    /** Resizes within the chunk if it can (in place when the next block is free); 0 if it must move out. */
    long reallocateMedium(MediumChunk chunk, long address, long newByteSize) {
        mediumLock.lock();
        try {
            requireNotStashed("reallocate", address);
            if (newByteSize > MEDIUM_MAX || newByteSize <= GlobalHeap.SMALL_MAX || chunk.purging != 0) {
                return 0;
            }
            try {
                long resized = chunk.blocks.reallocate(address, newByteSize);
                recommitWritten(chunk);
                return resized;
            } catch (OffHeapOutOfMemoryException full) {
                return 0; // the chunk is full: the caller moves the block elsewhere
            }
        } finally {
            mediumLock.unlock();
        }
    }

    long allocateHuge(long byteSize, long alignment) {
        int pages = (int) ((byteSize + PAGE_BYTES - 1) >>> PAGE_SHIFT);
        int alignOrder = Math.max(0, 63 - Long.numberOfLeadingZeros(alignment) - PAGE_SHIFT);
        lock.lock();
        try {
            int page = takePages(pages, alignOrder, byteSize, HUGE);
            buddy.commit(page, pages);
            HugeSpan span = new HugeSpan(page, pages);
            hugeSpans.add(span);
            map(span);
            hugeAllocations++;
            hugeLiveBytes += span.byteSize();
            return memory.address() + span.offset();
        } finally {
            lock.unlock();
        }
    }

    /** Frees a huge block; the caller checked that the address is the span's start. */
    boolean freeHuge(HugeSpan span) {
        lock.lock();
        try {
            if (pageMap[span.firstPage] != span) {
                return false; // freed by another thread meanwhile
            }
            unmap(span);
            hugeSpans.remove(span);
            hugeFrees++;
            hugeLiveBytes -= span.byteSize();
            givePages(span.firstPage, span.pageCount, HUGE);
            return true;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Pages

    /**
     * Takes a run of pages for a span, after checking the cap; they keep their committed bits, and the caller
     * commits what it will use. Lock held.
     */
    private int takePages(int pages, int alignOrder, long requested, String kind) {
        if ((spanPages + pages) * PAGE_BYTES > maxBytes) {
            releaseEmptyAtCap();
        }
        if ((spanPages + pages) * PAGE_BYTES > maxBytes) {
            CapReachedEvent event = new CapReachedEvent();
            if (event.isEnabled()) {
                event.allocator = name;
                event.requestedBytes = requested;
                event.maxBytes = maxBytes;
                event.usedBytes = spanPages * PAGE_BYTES;
                event.commit();
            }
            // No walk over the slabs for a live-bytes figure here: a cache meets the cap as a matter of course
            // (evict and retry), and the walk held the lock 200 us a time on 1 GiB of 64-byte blocks.
            throw new OffHeapOutOfMemoryException("allocate(" + requested + "): OffHeapAllocator '" + name
                    + "' is at its cap: " + spanPages * PAGE_BYTES + " bytes in use of maxBytes " + maxBytes
                    + ", " + pages * PAGE_BYTES + " more needed; free blocks, or raise maxBytes (stats() shows how"
                    + " much of what is in use is live)", requested, maxBytes - spanPages * PAGE_BYTES,
                    largestFreeLocked());
        }
        int page = buddy.allocatePages(pages, alignOrder);
        if (page < 0) {
            releaseEmptyAtCap();
            page = buddy.allocatePages(pages, alignOrder);
        }
        while (page < 0 && purgesInFlight > 0) {
            purgeDone.awaitUninterruptibly(); // the pages being decommitted come back in a moment
            page = buddy.allocatePages(pages, alignOrder);
        }
        if (page < 0) {
            throw new OffHeapOutOfMemoryException("allocate(" + requested + "): OffHeapAllocator '" + name
                    + "' has no run of " + pages + " free pages left in its " + rangeBytes + "-byte range ("
                    + buddy.freePages() * PAGE_BYTES + " bytes free, but fragmented); free blocks, or use a larger"
                    + " range", requested, buddy.freePages() * PAGE_BYTES, largestFreeLocked());
        }
        spanPages += pages;
        spanEvent(kind, pages, true);
        if (!warnedNearCap && spanPages * PAGE_BYTES > maxBytes / 10 * 9) {
            warnedNearCap = true;
            LOG.warn("OffHeapAllocator '{}' is above 90% of its cap: {} of {} bytes in spans", name,
                    spanPages * PAGE_BYTES, maxBytes);
        }
        return page;
    }

    private void givePages(int page, int pages, String kind) {
        buddy.freeRange(page, pages, epoch);
        spanPages -= pages;
        spanEvent(kind, pages, false);
        if (warnedNearCap && spanPages * PAGE_BYTES < maxBytes / 10 * 8) {
            warnedNearCap = false;
        }
    }

    private void spanEvent(String kind, int pages, boolean acquired) {
        SpanEvent event = new SpanEvent();
        if (event.isEnabled()) {
            event.allocator = name;
            event.kind = kind;
            event.bytes = pages * PAGE_BYTES;
            event.acquired = acquired;
            event.commit();
        }
    }

    private void map(Span span) {
        for (int p = span.firstPage; p < span.firstPage + span.pageCount; p++) {
            pageMap[p] = span;
        }
    }

    private void unmap(Span span) {
        for (int p = span.firstPage; p < span.firstPage + span.pageCount; p++) {
            pageMap[p] = null;
        }
    }

    /** Lock held: reclaims dead threads' caches, gives back queued slabs that hold nothing. */
    private void releaseEmpty() {
        reclaimDeadCaches();
        for (ArrayDeque<Slab> queue : partial) {
            for (int n = queue.size(); n > 0 && !queue.isEmpty(); n--) {
                Slab slab = queue.pollFirst();
                slab.collectRemote(memory);
                if (slab.isEmpty()) {
                    release(slab);
                } else {
                    queue.addLast(slab);
                }
                letWaitersIn();
            }
        }
    }

    /**
     * Heap lock held, short of pages: {@link #releaseEmpty}, and empty medium chunks too if the medium lock can be
     * had without waiting (the lock order forbids waiting for it here); the purge gives them back in any case.
     */
    private void releaseEmptyAtCap() {
        releaseEmpty();
        if (mediumLock.tryLock()) {
            try {
                stash.drain(Integer.MAX_VALUE, this::freeInChunk);
                releaseEmptyMedium();
            } finally {
                mediumLock.unlock();
            }
        }
    }

    /** Medium lock held: gives back the medium chunks that hold nothing (taking the heap lock for their pages). */
    private void releaseEmptyMedium() {
        for (MediumChunk chunk : mediumChunks.toArray(new MediumChunk[0])) {
            if (chunk.blocks.liveBlocks() == 0 && chunk.purging == 0) {
                mediumChunks.remove(chunk);
                chunk.blocks.close();
                lock.lock();
                try {
                    unmap(chunk);
                    givePages(chunk.firstPage, chunk.pageCount, MEDIUM);
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Purge

    /**
     * Reclaims dead threads' caches, gives back empty slabs and chunks, and hands back to the OS the free
     * pages that have been free for a whole tick ({@code everything}: all of them, now).
     *
     * @return bytes handed back to the OS
     */
    long purge(boolean everything) {
        int epochLimit;
        lock.lock();
        try {
            epoch++;
            epochLimit = everything ? Integer.MAX_VALUE : epoch - 1;
            trimSharedCaches();
            trimThreadCaches();
            releaseEmpty();
        } finally {
            lock.unlock();
        }
        // The medium chunks, under their own lock, and never while this purge holds buddy blocks out of the free
        // lists (purgesInFlight): an allocateMedium holding the medium lock may be waiting for them to come back.
        mediumLock.lock();
        try {
            stash.drain(epochLimit, this::freeInChunk); // what was stashed before this tick began
            releaseEmptyMedium();
        } finally {
            mediumLock.unlock();
        }
        if (!range.canDecommit()) {
            return 0;
        }
        List<MediumChunk> chunks = takePurgeableMedium(epochLimit);
        long[] blocks;
        lock.lock();
        try {
            blocks = buddy.takePurgeable(epochLimit);
            if (blocks.length > 0) {
                purgesInFlight++;
            }
        } finally {
            lock.unlock();
        }
        if (blocks.length == 0 && chunks.isEmpty()) {
            return 0;
        }
        // The madvise calls, microseconds each and hundreds at a time, run without the locks: allocations go on.
        for (long block : blocks) {
            range.decommit((block >>> 8) << PAGE_SHIFT, (1L << (block & 0xff)) << PAGE_SHIFT);
        }
        for (MediumChunk chunk : chunks) {
            for (long due = chunk.purging; due != 0; due &= ~runAt(due)) {
                long run = runAt(due);
                range.decommit((long) (chunk.firstPage + Long.numberOfTrailingZeros(run)) << PAGE_SHIFT,
                        (long) Long.bitCount(run) << PAGE_SHIFT);
            }
        }
        long bytes = 0;
        if (blocks.length > 0) {
            lock.lock();
            try {
                bytes += buddy.returnPurged(blocks, epoch) * PAGE_BYTES;
                purgesInFlight--;
                purgeDone.signalAll();
            } finally {
                lock.unlock();
            }
        }
        bytes += returnPurgedMedium(chunks);
        lock.lock();
        try {
            purges++;
            purgedBytes += bytes;
        } finally {
            lock.unlock();
        }
        PurgeEvent event = new PurgeEvent();
        if (event.isEnabled()) {
            event.allocator = name;
            event.bytes = bytes;
            event.commit();
        }
        LOG.debug("OffHeapAllocator '{}' returned {} bytes to the OS", name, bytes);
        return bytes;
    }

    /**
     * Marks as {@link MediumChunk#purging} the pages of live medium chunks that lie wholly in free space and were
     * last freed before {@code epochLimit}, so that a chunk does not stay resident for the few blocks left in it.
     * Until {@link #returnPurgedMedium} such a chunk takes no allocation, resize or release (those could write
     * over the pages while they are decommitted without a lock); frees into it go on, since they only write tags
     * at block edges, never inside free space. Takes the medium lock a chunk at a time.
     *
     * @return the chunks with pages to decommit
     */
    private List<MediumChunk> takePurgeableMedium(int epochLimit) {
        MediumChunk[] all;
        mediumLock.lock();
        try {
            all = mediumChunks.toArray(new MediumChunk[0]);
        } finally {
            mediumLock.unlock();
        }
        List<MediumChunk> taken = new ArrayList<>();
        for (MediumChunk chunk : all) {
            mediumLock.lock();
            try {
                if (pageMap[chunk.firstPage] != chunk || chunk.purging != 0) {
                    continue; // given back meanwhile, or another purge (a trim) is handing back its pages
                }
                long due = chunk.pagesInFreeSpace(memory.address()) & ~chunk.cleanPages;
                for (long rest = due; rest != 0; rest &= rest - 1) {
                    int p = Long.numberOfTrailingZeros(rest);
                    if (chunk.freedEpoch[p] >= epochLimit) {
                        due &= ~(1L << p);
                    }
                }
                if (due != 0) {
                    chunk.purging = due;
                    taken.add(chunk);
                }
            } finally {
                mediumLock.unlock();
            }
        }
        return taken;
    }

    /** The chunks' purged pages are clean now; they serve allocations again. Medium lock a chunk at a time. */
    private long returnPurgedMedium(List<MediumChunk> chunks) {
        long bytes = 0;
        for (MediumChunk chunk : chunks) {
            mediumLock.lock();
            try {
                lock.lock();
                try {
                    for (long due = chunk.purging; due != 0; due &= ~runAt(due)) {
                        long run = runAt(due);
                        buddy.decommitted(chunk.firstPage + Long.numberOfTrailingZeros(run), Long.bitCount(run));
                    }
                } finally {
                    lock.unlock();
                }
                chunk.cleanPages |= chunk.purging;
                bytes += (long) Long.bitCount(chunk.purging) << PAGE_SHIFT;
                chunk.purging = 0;
            } finally {
                mediumLock.unlock();
            }
        }
        return bytes;
    }

    /** The lowest run of consecutive set bits of {@code bits} (not 0), as a mask. */
    private static long runAt(long bits) {
        return bits & ~(bits + (bits & -bits)); // adding the lowest set bit carries through the run and clears it
    }

    // ---------------------------------------------------------------------------------------------------------
    // Verify

    /**
     * Walks the whole heap under the lock and checks the invariants the design documents: the page map against
     * the spans and the buddy's free lists, every slab's slot accounting, every medium chunk's boundary tags;
     * in debug mode also every live small block's canary, and the poison of free and quarantined ones. Slabs
     * that another live thread owns are used without the lock, so only what that thread cannot be changing
     * (canaries of live blocks) is checked in them.
     *
     * @throws HeapCorruptionException naming the first broken invariant
     */
    void verify(Thread caller, byte canary) {
        mediumLock.lock();
        lock.lock();
        try {
            long mapped = 0;
            List<Span> spans = new ArrayList<>(slabs);
            spans.addAll(mediumChunks);
            spans.addAll(hugeSpans);
            for (Span span : spans) {
                for (int p = span.firstPage; p < span.firstPage + span.pageCount; p++) {
                    if (pageMap[p] != span) {
                        throw broken("page " + p + " of the " + span.getClass().getSimpleName() + " at range offset "
                                + hex(span.offset()) + " maps to " + pageMap[p]);
                    }
                }
                mapped += span.pageCount;
            }
            if (mapped != spanPages) {
                throw broken("spans hold " + mapped + " pages, the count says " + spanPages);
            }
            if (purgesInFlight == 0) {
                String problem = buddy.verify(pageMap);
                if (problem == null && buddy.freePages() + spanPages != buddy.pages) {
                    problem = buddy.freePages() + " free pages + " + spanPages + " in spans != " + buddy.pages;
                }
                if (problem != null) {
                    throw broken("page buddy: " + problem);
                }
            }
            for (Slab slab : slabs) {
                ThreadCache owner = slab.owner;
                boolean still = owner == null || owner.thread == caller
                        || owner.thread != null && !owner.thread.isAlive();
                verifySlab(slab, still, canary);
            }
            String stashProblem = stash.verify(mediumChunks::contains);
            if (stashProblem != null) {
                throw broken("medium stash: " + stashProblem);
            }
            for (MediumChunk chunk : mediumChunks) {
                chunk.blocks.verify();
                long notFree = chunk.cleanPages & ~chunk.pagesInFreeSpace(memory.address());
                if (notFree != 0) {
                    throw broken("medium chunk at range offset " + hex(chunk.offset()) + ": page "
                            + Long.numberOfTrailingZeros(notFree) + " was handed back to the OS but is not free space");
                }
                for (long bits = chunk.cleanPages; bits != 0; bits &= bits - 1) {
                    if (buddy.isCommitted(chunk.firstPage + Long.numberOfTrailingZeros(bits))) {
                        throw broken("medium chunk at range offset " + hex(chunk.offset()) + ": page "
                                + Long.numberOfTrailingZeros(bits) + " is clean, but committed in the page buddy");
                    }
                }
            }
        } finally {
            lock.unlock();
            mediumLock.unlock();
        }
    }

    private void verifySlab(Slab slab, boolean still, byte canary) {
        int[] requested = slab.requested;
        int live = 0;
        for (int slot = 0; slot < slab.slotCount; slot++) {
            byte state = slab.live[slot];
            long offset = slab.slotOffset(slot);
            if (state == Slab.LIVE_SLOT) {
                live++;
                if (requested != null) {
                    for (long i = requested[slot]; i < slab.slotBytes; i++) {
                        if (memory.get(ValueLayout.JAVA_BYTE, offset + i) != canary) {
                            throw broken("the block at " + hex(memory.address() + offset) + " (" + requested[slot]
                                    + " bytes asked) was written past its end: canary byte " + (i - requested[slot])
                                    + " after it changed (or the next block was written before its start)");
                        }
                    }
                }
            } else if (state == Slab.QUARANTINED) {
                live++;
                requirePoison(slab, slot, 0, "in quarantine");
            }
        }
        if (!still) {
            return;
        }
        if (live + slab.freeTop + slab.remoteCount() != slab.slotCount) {
            throw broken("slab of " + slab.slotBytes + "-byte blocks at range offset " + hex(slab.offset()) + ": "
                    + live + " live + " + slab.freeTop + " free + " + slab.remoteCount() + " remote != "
                    + slab.slotCount + " slots");
        }
        boolean[] seen = new boolean[slab.slotCount];
        for (int i = 0; i < slab.freeTop; i++) {
            int slot = slab.freeStack[i];
            if (slot >= slab.slotCount || seen[slot] || slab.live[slot] != 0) {
                throw broken("slab of " + slab.slotBytes + "-byte blocks at range offset " + hex(slab.offset())
                        + ": free-stack entry " + i + " (slot " + slot + ") is out of range, twice on the stack, or"
                        + " live");
            }
            seen[slot] = true;
            if (newSlabFill != 0) {
                requirePoison(slab, slot, SlabLayout.NEXT + Integer.BYTES, "free");
            }
        }
    }

    private void requirePoison(Slab slab, int slot, long from, String state) {
        long offset = slab.slotOffset(slot);
        for (long i = from; i < slab.slotBytes; i++) {
            if (memory.get(ValueLayout.JAVA_BYTE, offset + i) != newSlabFill) {
                throw broken("the " + state + " block at " + hex(memory.address() + offset) + " was written after it"
                        + " was freed: byte " + i + " of " + slab.slotBytes);
            }
        }
    }

    /** Debug mode: the bytes asked for by the live blocks of a slab (what their usableSize says). */
    private static long requestedBytes(Slab slab) {
        long bytes = 0;
        for (int slot = 0; slot < slab.slotCount; slot++) {
            if (slab.live[slot] == Slab.LIVE_SLOT) {
                bytes += slab.requested[slot];
            }
        }
        return bytes;
    }

    private static HeapCorruptionException broken(String what) {
        return new HeapCorruptionException("verify(): " + what);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Stats

    /** Every live block's address and usable bytes, in no particular order (a snapshot; racy for slabs). */
    void forEachLiveBlock(LiveBlockVisitor visitor) {
        mediumLock.lock();
        lock.lock();
        try {
            long base = memory.address();
            for (Slab slab : slabs) {
                for (int slot = 0; slot < slab.slotCount; slot++) {
                    if (slab.live[slot] == Slab.LIVE_SLOT) {
                        visitor.visit(base + slab.slotOffset(slot), slab.slotBytes);
                    }
                }
            }
            for (MediumChunk chunk : mediumChunks) {
                chunk.blocks.forEachLiveBlock((address, usable) -> {
                    if (!stash.holds(address)) {
                        visitor.visit(address, usable);
                    }
                });
            }
            for (HugeSpan huge : hugeSpans) {
                visitor.visit(base + huge.offset(), huge.byteSize());
            }
        } finally {
            lock.unlock();
            mediumLock.unlock();
        }
    }

    /** Receives one live block. */
    @FunctionalInterface
    interface LiveBlockVisitor {
        void visit(long address, long usableBytes);
    }

    /**
     * Heap lock held: the largest block that could be allocated now: a buddy block within the cap's headroom, or
     * a medium one (looked at only if the medium lock can be had).
     */
    private long largestFreeLocked() {
        int order = buddy.largestFreeOrder();
        long largest = order < 0 ? 0 : Math.min(PAGE_BYTES << order, maxBytes - spanPages * PAGE_BYTES);
        if (mediumLock.tryLock()) {
            try {
                for (MediumChunk chunk : mediumChunks) {
                    largest = Math.max(largest, chunk.blocks.largestFreeBlockBytes());
                }
            } finally {
                mediumLock.unlock();
            }
        }
        return largest;
    }

    /**
     * A snapshot of the heap's figures. The locks are held only to read the page buddy, the huge blocks, the
     * medium chunks and the list of slabs; the slabs, whose counters their owners change without a lock anyway,
     * are walked after both locks are let go: on a heap of 1 GiB of 64-byte blocks (15,625 slabs) that walk
     * took 2.5-7 ms, and every refill and medium allocation waited for it.
     */
    AllocatorStats stats(boolean closed) {
        Slab[] slabSnapshot;
        long allocated;
        long liveBlocks;
        long free;
        long committed;
        long largestFree;
        long allocations;
        mediumLock.lock();
        try {
            lock.lock();
            try {
                slabSnapshot = slabs.toArray(new Slab[0]);
                allocated = hugeLiveBytes;
                liveBlocks = hugeSpans.size();
                // Free bytes in committed memory: free pages not yet handed back to the OS, and free room in spans.
                free = (range.canDecommit() ? buddy.dirtyFreePages() : buddy.freePages()) * PAGE_BYTES;
                committed = committedBytes();
                largestFree = closed ? 0 : largestFreeLocked();
                allocations = mediumAllocations + hugeAllocations;
                for (long retired : retiredAllocations) {
                    allocations += retired;
                }
            } finally {
                lock.unlock();
            }
            for (MediumChunk chunk : closed ? List.<MediumChunk>of() : mediumChunks) {
                // Three header reads per chunk: the chunk's stats() would also walk its free lists, under the lock.
                // Its clean pages were given back: free, but not committed.
                allocated += chunk.blocks.allocatedBytes();
                liveBlocks += chunk.blocks.liveBlocks();
                free += chunk.blocks.freeBytes() - Long.bitCount(chunk.cleanPages) * PAGE_BYTES;
            }
            allocated -= stash.bytes(); // freed, kept allocated in their chunks for reuse: free to the caller
            liveBlocks -= stash.count();
            free += stash.bytes();
        } finally {
            mediumLock.unlock();
        }
        long[] live = new long[SMALL_CLASSES];
        long[] slabCount = new long[SMALL_CLASSES];
        long[] freeSlots = new long[SMALL_CLASSES];
        long cached = 0;
        for (Slab slab : slabSnapshot) {
            int c = slab.sizeClass;
            long slabLive = Math.max(0, slab.liveBlocks());
            live[c] += slabLive;
            slabCount[c]++;
            freeSlots[c] += slab.slotCount - slabLive;
            allocated += slab.requested == null ? slabLive * slab.slotBytes : requestedBytes(slab);
            liveBlocks += slabLive;
            allocations += slab.allocations;
            if (slab.owner != null) {
                cached += (slab.slotCount - slabLive) * slab.slotBytes;
            } else {
                free += (slab.slotCount - slabLive) * slab.slotBytes;
            }
        }
        List<AllocatorStats.SizeClassStats> classes = new ArrayList<>();
        for (int c = 0; c < SMALL_CLASSES; c++) {
            if (slabCount[c] > 0) {
                classes.add(new AllocatorStats.SizeClassStats(c, SizeClasses.size(c), live[c], slabCount[c],
                        freeSlots[c]));
            }
        }
        return new AllocatorStats(rangeBytes, closed ? 0 : committed, allocated, cached, free, largestFree,
                liveBlocks, allocations, allocations - liveBlocks, classes);
    }

    /**
     * Bytes committed now, read without a lock: cheap enough to poll. A range that cannot give pages back (an
     * arena, a caller's region) counts as committed whole.
     */
    long committedBytes() {
        return range.canDecommit() ? buddy.committedPages() * PAGE_BYTES : rangeBytes;
    }

    long purgedBytes() {
        return purgedBytes;
    }

    long slabsTakenFromLiveCaches() {
        return slabsTakenFromLiveCaches;
    }

    /** {@code maxBytes} minus the bytes in spans. */
    long headroomBytes() {
        lock.lock();
        try {
            return maxBytes - spanPages * PAGE_BYTES;
        } finally {
            lock.unlock();
        }
    }

    long purges() {
        return purges;
    }

    int cacheCount() {
        lock.lock();
        try {
            return caches.size();
        } finally {
            lock.unlock();
        }
    }

    InvalidAddressException invalid(String call, long address, String reason) {
        return new InvalidAddressException(address, call + "(" + hex(address) + "): not an address OffHeapAllocator '"
                + name + "' returned: " + reason);
    }
}
