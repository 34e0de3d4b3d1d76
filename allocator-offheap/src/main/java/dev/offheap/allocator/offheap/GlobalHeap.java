package dev.offheap.allocator.offheap;

import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.SizeClasses;
import dev.offheap.allocator.offheap.jfr.PurgeEvent;
import dev.offheap.allocator.offheap.jfr.SpanEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_SHIFT;

/**
 * The global heap: everything behind the thread caches, touched only on slow paths. It owns the page layer
 * and drives the other parts of the heap, each in a class of its own (the refusals' messages: {@link Refusals}):
 * <ul>
 *   <li>here: the {@link PageBuddy} of 64 KiB pages over the whole range, which every span comes from; the page
 *       map ({@code Span[]} by page); the cap; slabs (refill, the partial slabs of dead threads queued for
 *       adoption, release); huge blocks; the purge, which drives every part's;</li>
 *   <li>{@link MediumArenas}: the {@link MediumHeap}s (chunks, each arena's under its own medium lock, and a
 *       lock-free stash) that threads spread over;</li>
 *   <li>{@link CacheRegistry}: every cache, to reclaim dead threads' slabs and trim live threads' unused ones;</li>
 *   <li>{@link HeapVerifier} and {@link HeapStats}: the walks behind {@code verify()} and {@code stats()}.</li>
 * </ul>
 * The page map is written here under the heap lock and read lock-free by {@code free}: a thread that frees an
 * address got it through a happens-before edge from the thread that allocated it, which came after the span's
 * publication here. Lock order and the protocols between the layers: {@code package-info.java}.
 *
 * <h2>Memory going back</h2>
 * A purge runs every {@code decayMillis / 2} on a shared daemon thread (and at once on {@code trim()}): dead
 * threads' slabs are reclaimed (their remote frees are not lost: a partly used slab is queued for another
 * thread), empty queued slabs and empty medium chunks go back to the page layer, and free pages that stayed free
 * for a whole tick are handed to the OS ({@code madvise(MADV_DONTNEED)}), those inside a medium chunk's free
 * blocks too, so a chunk with a few blocks left in it keeps only their pages; at the cap and on {@code trim()}
 * the rest of a chunk's free space goes too, by the OS's page ({@link MediumChunk}'s edges), so that the 64 KiB
 * pages a block shares with a hole do not hold the hole's memory. A thread cache keeps at most one
 * empty slab per class beyond its current one; the rest go back as they empty. The purge also takes from live
 * threads' caches the non-current slabs that other threads' frees emptied, and an idle thread's spares (every
 * spare on {@code trim()} and at the cap; {@link ThreadCache}: the owner's slow paths and the purger exclude each
 * other with a flag). What a live thread keeps is its current slab per class, which goes back when it calls
 * {@code trim()} itself or dies, or, for a class it stopped using while it allocates others, at its first slow path
 * a tick later ({@link #releaseColdClasses}).
 */
final class GlobalHeap {

    private static final Logger LOG = LoggerFactory.getLogger(GlobalHeap.class);

    /** What a run of pages is for: where it is taken from, whether it is committed whole when taken. */
    enum SpanKind {
        SLAB("slab", true), MEDIUM("medium chunk", false), HUGE("huge block", true);

        final String label;
        /** Committed whole when taken; a medium chunk commits its pages as its blocks are written. */
        final boolean commitsWhole;

        SpanKind(String label, boolean commitsWhole) {
            this.label = label;
            this.commitsWhole = commitsWhole;
        }
    }

    /**
     * Largest size served from slabs, so from thread caches without the heap lock. 64 KiB, a common buffer size
     * (Netty's, a socket's), like mimalloc and tcmalloc, which serve 128 and 256 KiB thread-locally; the price is
     * class rounding (at most 25%, against a boundary tag's 24 bytes) and up to four more 128-256 KiB slabs per
     * thread that uses these sizes.
     */
    static final long SMALL_MAX = 64 * 1024;
    /** Number of small size classes. */
    static final int SMALL_CLASSES = SizeClasses.index(SMALL_MAX) + 1;
    /** Largest size served from medium chunks. */
    static final long MEDIUM_MAX = 1024 * 1024;
    /** How long the purge waits, between two steps, for a woken waiter to take the lock before it goes on. */
    private static final long HAND_OVER_NANOS = 2_000_000;

    /** {@link #tryTakePages}: no run of free pages, even after making room. */
    private static final int NO_RUN = -1;
    /** {@link #tryTakePages}: a run, but committing it would pass the cap, even after making room. */
    private static final int OVER_CAP = -2;

    final String name;
    /** Debug mode fills new slabs with the poison byte, so the first allocation of a slot checks it too; 0: off. */
    final byte newSlabFill;
    /** The heap lock: the page layer, the slabs' lists, the huge blocks, the registry. */
    final ReentrantLock lock = new ReentrantLock();
    final MemorySource.Range range;
    final MemorySegment memory;
    final long rangeBytes;
    /** The cap: committed bytes never exceed it (for a fixed range, the range's size when smaller). */
    final long maxBytes;
    /** {@link #maxBytes} in pages. */
    private final long capPages;
    final Span[] pageMap;
    private final PageLayer pages;
    final MediumArenas mediums;
    final CacheRegistry registry;
    /** Address to block, and the errors for bad addresses. */
    final Addresses addresses;
    private final ArrayDeque<Slab>[] partial;
    private final ArrayList<Slab> slabs = new ArrayList<>();
    private final ArrayList<HugeSpan> hugeSpans = new ArrayList<>();

    private long spanPages;
    private int epoch;
    private final long[] retiredAllocations = new long[SMALL_CLASSES];
    private long hugeAllocations;
    private long hugeFrees;
    private long hugeLiveBytes;
    private long purgedBytes;
    private long purges;
    /**
     * Bytes of committed pages handed back to the OS by the sub-page: free space at the edges of medium chunks'
     * pages ({@link MediumChunk}'s edges). Written under the heap lock (with the chunk's medium lock); read
     * without a lock by {@link #committedBytes()}.
     */
    private volatile long edgeBytes;
    /** Allocations refused (the cap, or no run of pages), since creation; written under the heap lock. */
    private volatile long refusals;
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
        // A range that cannot give pages back is committed whole from the start: its size is the cap there.
        this.maxBytes = range.canDecommit() ? maxBytes : Math.min(maxBytes, rangeBytes);
        this.capPages = this.maxBytes >>> PAGE_SHIFT;
        int pageCount = (int) (rangeBytes >>> PAGE_SHIFT);
        // Reserved address space gets two areas (slabs apart); a fixed range one, so a huge block may use all of it.
        int smallPages = range.canDecommit() ? pageCount / 2 & -64 : pageCount;
        this.pages = new PageLayer(pageCount, smallPages > 0 ? smallPages : pageCount);
        this.pageMap = new Span[pageCount];
        this.addresses = new Addresses(name, memory, rangeBytes, pageMap);
        this.mediums = new MediumArenas(this, pages.maxOrder(), capPages);
        this.registry = new CacheRegistry(this);
        this.partial = new ArrayDeque[SMALL_CLASSES];
        for (int c = 0; c < SMALL_CLASSES; c++) {
            partial[c] = new ArrayDeque<>();
        }
    }

    /**
     * Pages of a slab of class {@code sizeClass}: a power of two from 1 to 4 (64 KiB to 256 KiB). Below 8 KiB,
     * the smallest with room for 8 slots. From 8 KiB, the smallest with room for 2 slots that leaves at most an
     * eighth of the slab unused at its end (16 KiB: 1 page, 4 slots; 24 KiB: 2 pages, 5 slots; 32 KiB: 1 page,
     * 2 slots; 48 KiB: 4 pages, 5 slots; 64 KiB: 2 pages, 2 slots). Not 8 slots there: each thread keeps a
     * partly used slab per class it uses, so a big class's slab size is multiplied by threads and classes. With
     * 8 threads at a 256 MiB cap, sizes 16 B-128 KiB, 8-slot slabs of these classes left 0.119 of the cap free
     * in thread caches at the first refusal, 0.085 with these (asked 0.77 -> 0.79-0.80). The price is a refill
     * after 2-8 blocks of these sizes instead of 4-12, each a few hundred bytes of work beside the 8 KiB or more
     * that the caller writes.
     */
    static int slabPages(int sizeClass) {
        long slot = SizeClasses.size(sizeClass);
        if (slot < 8 * 1024) {
            long wanted = (slot * 8 + PAGE_BYTES - 1) >>> PAGE_SHIFT;
            return (int) Math.min(4, Long.highestOneBit(Math.max(1, wanted * 2 - 1)));
        }
        for (int pages = 1; ; pages *= 2) {
            long bytes = (long) pages * PAGE_BYTES;
            long slots = bytes / slot;
            if (pages == 4 || (slots >= 2 && (bytes - slots * slot) * 8 <= bytes)) {
                return pages;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Slabs

    /** Steps of long walks between two hand-overs of the lock ({@link #letWaitersIn}). */
    static final int STEPS_PER_HAND_OVER = 32;
    /** Steps since the last hand-over (lock holder only). */
    private int stepsSinceHandOver;

    /**
     * Lock held, in a long walk (thousands of slabs after a thread with a big cache died), between two
     * self-contained steps: every {@value #STEPS_PER_HAND_OVER} steps, lets threads waiting for the lock in, so
     * that the purge never stalls an allocation for more than that many steps (a few microseconds). Not after
     * every step: with threads always waiting (8 threads on 2 cores, each dying after 20,000 allocations) a
     * hand-over per slab let the reclaim of dead threads' caches fall behind their deaths, and 4 MB of live
     * blocks held the whole 1 GiB cap in dead caches' empty slabs until allocations were refused.
     */
    void letWaitersIn() {
        if (++stepsSinceHandOver >= STEPS_PER_HAND_OVER && lock.hasQueuedThreads()) {
            stepsSinceHandOver = 0;
            lock.unlock();
            // The lock is not fair: re-locking at once would beat the woken waiter to it, and a parked thread takes
            // tens of microseconds to run again, longer on a busy or virtualised machine. With a short spin here
            // the purge still barged in ahead of waiters step after step. So step aside, giving up the CPU, until
            // a waiter has the lock, then queue behind it.
            long giveUpAt = System.nanoTime() + HAND_OVER_NANOS;
            while (lock.hasQueuedThreads() && !lock.isLocked() && System.nanoTime() < giveUpAt) {
                Thread.yield();
            }
            lock.lock();
        }
    }

    /**
     * A slab of {@code sizeClass} with a free slot, owned by {@code cache} from now on: a partial slab if one
     * is queued (after dead threads' slabs are queued, if threads came since the last reclaim), else a new one;
     * null if a new one would pass the cap (room made first) or finds no run of pages: the caller places the
     * block elsewhere (a slab is 64-256 KiB, the block a fraction of it) or refuses it.
     */
    Slab refill(ThreadCache cache, int sizeClass, long requested) {
        lock.lock();
        try {
            Slab slab = adoptPartial(cache, sizeClass);
            if (slab == null && registry.reclaimDeadIfThreadsCame()) {
                slab = adoptPartial(cache, sizeClass); // a dead thread's slab, before the heap grows
            }
            if (slab != null) {
                return slab;
            }
            int count = slabPages(sizeClass);
            int page = tryTakePages(count, 31 - Integer.numberOfLeadingZeros(count), SpanKind.SLAB);
            if (page < 0) {
                return null;
            }
            slab = new Slab(page, count, sizeClass, (int) SizeClasses.size(sizeClass));
            if (newSlabFill != 0) {
                memory.asSlice(slab.offset(), slab.byteSize()).fill(newSlabFill);
                slab.requested = new int[slab.slotCount];
            }
            slab.heapIndex = slabs.size();
            slabs.add(slab);
            map(slab);
            slab.adoptBy(cache);
            cache.addOwned(slab);
            return slab;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Lock held: a queued partial slab of the class with a free slot (perhaps on its remote list: the caller
     * collects it, outside the lock), now owned by {@code cache}; or null.
     */
    private Slab adoptPartial(ThreadCache cache, int sizeClass) {
        Slab slab;
        while ((slab = partial[sizeClass].poll()) != null) {
            slab.adoptBy(cache);
            if (slab.hasFree()) {
                cache.addOwned(slab);
                return slab;
            }
            detach(slab); // nothing free after all: leave it for its remote frees
        }
        return null;
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
    void detach(Slab slab) {
        if (slab.detach()) {
            partial[slab.sizeClass].add(slab);
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
     * The calling thread's own cache, or a locked shared cache: its empty slabs go back now, current ones
     * included; with {@code everything}, the partly used ones too, detached and queued for any thread, as a dead
     * thread's are (the caller's later frees into them are remote frees). A thread cache is trimmed under its
     * slow-path flag, so that the purger, which lets this walk wait for the heap lock between slabs, skips it.
     */
    void trimCache(ThreadCache cache, boolean everything) {
        boolean own = cache.thread != null;
        if (own) {
            cache.enterSlowPath();
        }
        try {
            lock.lock();
            try {
                registry.releaseSlabs(cache, !everything);
            } finally {
                lock.unlock();
            }
        } finally {
            if (own) {
                cache.exitSlowPath();
            }
        }
    }

    /**
     * The owner of a thread cache, in a slow path for class {@code refilling}, at its first slow path in a new
     * purge tick: the classes it stopped using ({@link ThreadCache#coldClass}) give their slabs back, empty ones
     * to the page layer, partly used ones detached for any thread (the owner's later frees into them are remote
     * frees). Takes the heap lock only if a class is cold.
     */
    void releaseColdClasses(ThreadCache cache, int refilling) {
        cache.lookedAtEpoch = epoch; // racy read: a stale tick only delays the next look
        boolean locked = false;
        try {
            for (int c = 0; c < cache.classes(); c++) {
                if (cache.coldClass(c) && c != refilling) {
                    if (!locked) {
                        lock.lock();
                        locked = true;
                    }
                    registry.releaseClass(cache, c, false);
                }
            }
        } finally {
            if (locked) {
                lock.unlock();
            }
        }
    }

    /** Lock held: the slab's pages go back to the page layer. */
    void release(Slab slab) {
        slab.markReleased();
        retiredAllocations[slab.sizeClass] += slab.allocations;
        Slab last = slabs.removeLast();
        if (last != slab) {
            slabs.set(slab.heapIndex, last);
            last.heapIndex = slab.heapIndex;
        }
        unmap(slab);
        givePages(slab.firstPage, slab.pageCount, SpanKind.SLAB);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Huge blocks

    long allocateHuge(long byteSize, long alignment) {
        int pages = (int) ((byteSize + PAGE_BYTES - 1) >>> PAGE_SHIFT);
        lock.lock();
        try {
            int page = takeAlignedPages(pages, alignment, byteSize);
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

    /**
     * Lock held: a committed run of {@code pages} whose address is a multiple of {@code alignment}. The buddy
     * aligns runs within the range; where the range's start is not aligned that far (a caller's region is
     * aligned to a page only), a longer run is taken and its ends given back.
     */
    private int takeAlignedPages(int pages, long alignment, long requested) {
        long base = memory.address();
        if (alignment <= PAGE_BYTES || (base & (alignment - 1)) == 0) {
            int alignOrder = Math.max(0, 63 - Long.numberOfLeadingZeros(alignment) - PAGE_SHIFT);
            return takePages(pages, alignOrder, requested, SpanKind.HUGE);
        }
        int slack = (int) (alignment >>> PAGE_SHIFT) - 1;
        int run = takePages(pages + slack, 0, requested, SpanKind.HUGE);
        long runStart = base + ((long) run << PAGE_SHIFT);
        int lead = (int) ((((runStart + alignment - 1) & -alignment) - runStart) >>> PAGE_SHIFT);
        if (lead > 0) {
            givePages(run, lead, SpanKind.HUGE);
        }
        if (slack > lead) {
            givePages(run + lead + pages, slack - lead, SpanKind.HUGE);
        }
        return run + lead;
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
            givePages(span.firstPage, span.pageCount, SpanKind.HUGE);
            return true;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Pages and the cap

    /**
     * Lock held: a run of pages for a span, within the cap. Slabs and huge blocks are committed here, whole;
     * a medium chunk commits its pages as its blocks are written ({@link MediumHeap}), each time through
     * {@link #commitWithinCap}. If the run or the cap's room is missing, the heap first {@linkplain #makeRoom
     * makes room} and tries once more; then it refuses, saying which of the two it was.
     *
     * @throws OffHeapOutOfMemoryException at the cap, or with no run of free pages left
     */
    int takePages(int count, int alignOrder, long requested, SpanKind kind) {
        int page = tryTakePages(count, alignOrder, kind);
        if (page < 0) {
            throw page == NO_RUN ? noRun(requested, count) : capReached(requested, count);
        }
        return page;
    }

    /** {@link #takePages}, with {@link #NO_RUN} or {@link #OVER_CAP} instead of a refusal. */
    private int tryTakePages(int count, int alignOrder, SpanKind kind) {
        boolean commits = kind.commitsWhole;
        for (boolean roomMade = false; ; ) {
            int page = pages.allocatePages(count, alignOrder, kind == SpanKind.SLAB);
            if (page < 0 && purgesInFlight > 0) {
                purgeDone.awaitUninterruptibly(); // the pages being decommitted come back in a moment
                continue;
            }
            if (page >= 0) {
                if (!commits || fitsCap(pages.uncommittedIn(page, count))) {
                    if (commits) {
                        pages.commit(page, count);
                    }
                    spanPages += count;
                    spanEvent(kind, count, true);
                    warnNearCap();
                    return page;
                }
                pages.freeRange(page, count, epoch); // over the cap: give the run back untouched
                if (purgesInFlight > 0) {
                    purgeDone.awaitUninterruptibly(); // a purge holds committed pages it is handing back
                    continue;
                }
            }
            if (roomMade) {
                return page < 0 ? NO_RUN : OVER_CAP;
            }
            makeRoom();
            roomMade = true;
        }
    }

    /**
     * Lock held: commits the run of a medium chunk's pages if that stays within the cap, making room first if it
     * must; {@code edgeBytes} of them were not written and stay handed back ({@link MediumChunk}'s edges).
     *
     * @return false, nothing changed, if it would not fit even then
     */
    boolean commitWithinCap(int page, int count, long edgeBytes) {
        long more = pages.uncommittedIn(page, count) * PAGE_BYTES - edgeBytes;
        if (!roomFor(more)) {
            return false;
        }
        edgesDecommitted(edgeBytes); // first: see committedBytes()
        pages.commit(page, count);
        warnNearCap();
        return true;
    }

    /** Without a lock, racy: whether committing {@code morePages} would keep the committed pages within the cap. */
    boolean fitsCapUnlocked(long morePages) {
        return !range.canDecommit() || fitsCap(morePages);
    }

    /** Whether committing {@code morePages} keeps the committed pages within the cap. */
    private boolean fitsCap(long morePages) {
        return fitsCapBytes(morePages * PAGE_BYTES);
    }

    private boolean fitsCapBytes(long moreBytes) {
        return pages.committedPages() * PAGE_BYTES - edgeBytes + moreBytes <= capPages * PAGE_BYTES;
    }

    /**
     * Lock held: whether {@code bytes} more can be committed within the cap, making room first if they cannot;
     * for a medium chunk's edges written again ({@link #edgesRecommitted}).
     */
    boolean roomFor(long bytes) {
        if (fitsCapBytes(bytes)) {
            return true;
        }
        makeRoom();
        return fitsCapBytes(bytes);
    }

    /** Lock held: a medium chunk handed back {@code bytes} of edges of its committed pages. */
    void edgesDecommitted(long bytes) {
        edgeBytes += bytes;
    }

    /** Lock held: {@code bytes} of edges are committed again (written), or their pages counted out whole. */
    void edgesRecommitted(long bytes) {
        edgeBytes -= bytes;
    }

    /** Every medium lock held (they guard each change): what {@link #edgesDecommitted} counts. */
    long edgeBytes() {
        return edgeBytes;
    }

    /**
     * Without a lock, cheap (two volatile reads): whether a slab of {@code sizeClass} could not be committed now
     * without making room. The owner of a cache then looks through its own slabs before asking for one.
     */
    boolean atCapFor(int sizeClass) {
        return range.canDecommit() && !fitsCap(slabPages(sizeClass));
    }

    /**
     * Heap lock held, at the cap or short of a run: takes back everything that needs no owner's help, in the
     * order of what it costs. Dead threads' caches are reclaimed; empty queued slabs, the live caches' empty
     * non-current slabs and spares, and the shared caches' empty slabs go back; the medium stash goes back to its
     * chunks and empty chunks go back (if the medium lock can be had without waiting: the lock order forbids
     * waiting for it here); then every free page still committed, in the buddy and in the medium chunks' free
     * space, is handed back to the OS now, so that committed memory is what the spans hold.
     */
    private void makeRoom() {
        releaseEmpty();
        registry.trimLive(true);
        registry.trimShared();
        if (!range.canDecommit()) {
            return;
        }
        for (int i = 0; i < mediums.count(); i++) {
            MediumHeap medium = mediums.arena(i);
            if (medium.lock.tryLock()) {
                try {
                    medium.drainAndReleaseEmpty(Integer.MAX_VALUE);
                    medium.decommitFreeSpaceNow();
                } finally {
                    medium.lock.unlock();
                }
            }
        }
        // At the cap the madvise calls run under the lock: an allocation waiting here wants exactly these pages.
        long[] blocks = pages.takePurgeable(Integer.MAX_VALUE);
        decommit(blocks);
        purgedBytes += pages.returnPurged(blocks, epoch) * PAGE_BYTES;
    }

    /** Hands the buddy blocks of {@link PageLayer#takePurgeable} ({@code page << 8 | order}) back to the OS. */
    private void decommit(long[] blocks) {
        for (long block : blocks) {
            range.decommit((block >>> 8) << PAGE_SHIFT, (1L << (block & 0xff)) << PAGE_SHIFT);
        }
    }

    private void warnNearCap() {
        if (!warnedNearCap && committedBytes() > maxBytes / 10 * 9) {
            warnedNearCap = true;
            LOG.warn("OffHeapAllocator '{}' is above 90% of its cap: {} of maxBytes {} committed", name,
                    committedBytes(), maxBytes);
        }
    }

    /** The refusal at the cap for a medium block (room was made); takes the heap lock for the figures. */
    OffHeapOutOfMemoryException capReachedUnlocked(long requested) {
        lock.lock();
        try {
            return capReached(requested, 0);
        } finally {
            lock.unlock();
        }
    }

    /** Lock held, room made: the refusal at the cap ({@link Refusals#capReached}), counted. */
    private OffHeapOutOfMemoryException capReached(long requested, int count) {
        refusals++;
        return Refusals.capReached(this, requested, count);
    }

    /** Lock held, room made: the refusal for want of a run of pages ({@link Refusals#noRun}), counted. */
    private OffHeapOutOfMemoryException noRun(long requested, int count) {
        refusals++;
        return Refusals.noRun(this, requested, count);
    }

    void givePages(int page, int count, SpanKind kind) {
        pages.freeRange(page, count, epoch);
        spanPages -= count;
        spanEvent(kind, count, false);
        if (warnedNearCap && committedBytes() < maxBytes / 10 * 8) {
            warnedNearCap = false;
        }
    }

    private void spanEvent(SpanKind kind, int pages, boolean acquired) {
        SpanEvent event = new SpanEvent();
        if (event.isEnabled()) {
            event.allocator = name;
            event.kind = kind.label;
            event.bytes = pages * PAGE_BYTES;
            event.acquired = acquired;
            event.commit();
        }
    }

    void map(Span span) {
        for (int p = span.firstPage; p < span.firstPage + span.pageCount; p++) {
            pageMap[p] = span;
        }
    }

    void unmap(Span span) {
        for (int p = span.firstPage; p < span.firstPage + span.pageCount; p++) {
            pageMap[p] = null;
        }
    }

    /** Lock held: reclaims dead threads' caches, gives back queued slabs that hold nothing. */
    private void releaseEmpty() {
        registry.reclaimDead();
        for (ArrayDeque<Slab> queue : partial) {
            for (int n = queue.size(); n > 0 && !queue.isEmpty(); n--) {
                Slab slab = queue.pollFirst();
                if (slab.allFree()) {
                    release(slab);
                } else {
                    queue.addLast(slab);
                }
                letWaitersIn();
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
            registry.trimShared();
            registry.trimLive(everything);
            releaseEmpty();
        } finally {
            lock.unlock();
        }
        // The medium chunks, under their own lock, and never while this purge holds buddy blocks out of the free
        // lists (purgesInFlight): an allocation holding the medium lock may be waiting for them to come back.
        for (int i = 0; i < mediums.count(); i++) {
            MediumHeap medium = mediums.arena(i);
            medium.lock.lock();
            try {
                medium.drainAndReleaseEmpty(epochLimit); // what was stashed before this tick began
            } finally {
                medium.lock.unlock();
            }
        }
        if (!range.canDecommit()) {
            return 0;
        }
        List<List<MediumChunk>> chunks = new ArrayList<>();
        boolean anyChunk = false;
        for (int i = 0; i < mediums.count(); i++) {
            List<MediumChunk> taken = mediums.arena(i).takePurgeable(epochLimit);
            chunks.add(taken);
            anyChunk |= !taken.isEmpty();
        }
        long[] blocks;
        lock.lock();
        try {
            blocks = pages.takePurgeable(epochLimit);
            if (blocks.length > 0) {
                purgesInFlight++;
            }
        } finally {
            lock.unlock();
        }
        if (blocks.length == 0 && !anyChunk && !everything) {
            return 0;
        }
        // The madvise calls, microseconds each and hundreds at a time, run without the locks: allocations go on.
        decommit(blocks);
        for (int i = 0; i < mediums.count(); i++) {
            mediums.arena(i).decommit(chunks.get(i));
        }
        long bytes = 0;
        if (blocks.length > 0) {
            lock.lock();
            try {
                bytes += pages.returnPurged(blocks, epoch) * PAGE_BYTES;
                purgesInFlight--;
                purgeDone.signalAll();
            } finally {
                lock.unlock();
            }
        }
        for (int i = 0; i < mediums.count(); i++) {
            bytes += mediums.arena(i).returnPurged(chunks.get(i));
        }
        if (everything) {
            for (int i = 0; i < mediums.count(); i++) {
                bytes += mediums.arena(i).decommitEdgesNow(); // trim(): by the sub-page too, as at the cap
            }
        }
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

    // ---------------------------------------------------------------------------------------------------------
    // Figures and accessors for the verifier and the statistics

    /**
     * Heap lock held: the largest block that could be allocated now: a buddy block within the cap's headroom, or
     * a medium one (looked at only if the medium lock can be had).
     */
    long largestFreeLocked() {
        long largest = Math.min(pages.largestFreeBytes(), headroomBytes());
        for (int i = 0; i < mediums.count(); i++) {
            MediumHeap medium = mediums.arena(i);
            if (medium.lock.tryLock()) {
                try {
                    largest = Math.max(largest, medium.largestFreeBlockBytes());
                } finally {
                    medium.lock.unlock();
                }
            }
        }
        return largest;
    }

    /**
     * Bytes committed now, read without a lock: cheap enough to poll. A range that cannot give pages back (an
     * arena, a caller's region) counts as committed whole.
     */
    long committedBytes() {
        if (!range.canDecommit()) {
            return rangeBytes;
        }
        // A change of both moves the edges first where the figure falls (pages committed with edges), the pages
        // first where it rises (pages decommitted whole, their edges dropped): each step between reads lower. So a
        // read of both is never higher than the figure at some moment, unless the edges changed meanwhile.
        while (true) {
            long edges = edgeBytes;
            long committed = pages.committedPages() * PAGE_BYTES - edges;
            if (edges == edgeBytes) {
                return committed;
            }
        }
    }

    /**
     * {@code maxBytes} minus what the cap counts: the bytes committed, or for a fixed range (committed whole from
     * the start) the bytes in spans. Without a lock (racy for a fixed range).
     */
    long headroomBytes() {
        long counted = range.canDecommit() ? committedBytes() : spanPages * PAGE_BYTES;
        return Math.max(0, maxBytes - counted);
    }

    int cacheCount() {
        lock.lock();
        try {
            return registry.size();
        } finally {
            lock.unlock();
        }
    }

    long purgedBytes() {
        return purgedBytes;
    }

    long purges() {
        return purges;
    }

    long refusals() {
        return refusals;
    }

    /** The page layer (heap lock held). */
    PageLayer pages() {
        return pages;
    }

    /** The purge tick, for the epochs of freed pages and stashed blocks. */
    int epoch() {
        return epoch;
    }

    /** Heap lock held. */
    List<Slab> slabs() {
        return slabs;
    }

    /** Heap lock held. */
    List<HugeSpan> hugeSpans() {
        return hugeSpans;
    }

    /** Heap lock held: pages in spans. */
    long spanPages() {
        return spanPages;
    }

    /** Heap lock held: whether a purge holds free blocks out of the buddy right now. */
    boolean purgeInFlight() {
        return purgesInFlight > 0;
    }

    /** Heap lock held: huge blocks live, their bytes, and allocations of every kind but slabs' live ones. */
    long hugeLiveBytes() {
        return hugeLiveBytes;
    }

    /** Heap lock held: allocations made from slabs already released, huge ones, and medium ones. */
    long retiredAndHugeAllocations() {
        long allocations = hugeAllocations;
        for (long retired : retiredAllocations) {
            allocations += retired;
        }
        return allocations;
    }
}
