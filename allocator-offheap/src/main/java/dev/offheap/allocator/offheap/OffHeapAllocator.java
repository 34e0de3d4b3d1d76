package dev.offheap.allocator.offheap;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.AllocatorClosedException;
import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.SizeClasses;
import dev.offheap.allocator.internal.Checks;
import dev.offheap.allocator.offheap.jfr.LargeAllocationEvent;

import javax.management.ObjectName;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static dev.offheap.allocator.internal.Checks.hex;
import static dev.offheap.allocator.offheap.GlobalHeap.MEDIUM_MAX;
import static dev.offheap.allocator.offheap.GlobalHeap.SMALL_CLASSES;
import static dev.offheap.allocator.offheap.GlobalHeap.SMALL_MAX;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_SHIFT;

/**
 * The production allocator: thread-safe, with per-thread slab caches in front of a locked global heap.
 *
 * <pre>{@code
 * try (OffHeapAllocator allocator = OffHeapAllocator.create()) {       // 4 GiB cap, reserved address space
 *     long address = allocator.allocate(200);
 *     allocator.segment(address).setString(0, "hello");
 *     allocator.free(address);                                        // from any thread
 * }
 * }</pre>
 *
 * <h2>Glossary</h2>
 * <dl>
 *   <dt>range</dt><dd>the one contiguous piece of memory the allocator owns, from its {@link MemorySource}:
 *       reserved address space (committed as touched) or a caller's region</dd>
 *   <dt>page</dt><dd>64 KiB of the range; the unit of the global heap ({@link PageBuddy})</dd>
 *   <dt>span</dt><dd>a run of pages with one use: a slab, a medium chunk, or a huge block ({@link Span})</dd>
 *   <dt>page map</dt><dd>{@code Span[]} by page index: an address's metadata is
 *       {@code pageMap[(address - base) >>> 16]}, arithmetic and one load, never a hash lookup</dd>
 *   <dt>size class</dt><dd>{@link SizeClasses}: 16-byte steps to 128, then 4 per doubling</dd>
 *   <dt>slab</dt><dd>a span cut into slots of one small class (to 64 KiB), owned by one cache ({@link Slab})</dd>
 *   <dt>cache</dt><dd>one current slab per class: a platform thread's own, or one of a few shared ones that
 *       virtual threads use under a try-lock ({@link ThreadCache}, {@link SharedCaches})</dd>
 *   <dt>local / remote free</dt><dd>a free by the slab's owning thread, or into a shared cache's slab under
 *       its lock (a CAS on the slot's live byte, a plain push) / by any other thread
 *       (one CAS onto the slab's remote list, taken whole by the owner when it runs dry)</dd>
 *   <dt>medium chunk</dt><dd>a 4 MiB span holding blocks of 64 KiB to 1 MiB in segregated free lists with
 *       boundary-tag coalescing ({@link MediumChunk})</dd>
 *   <dt>huge block</dt><dd>over 1 MiB: a run of whole pages straight from the buddy, rounded to 64 KiB</dd>
 * </dl>
 *
 * <h2>Layout</h2>
 * <pre>
 *   reserved range (about 4 x maxBytes of address space, aligned to 4 MiB), two areas (PageLayer):
 *   | slab | slab | slab | free pages ........ | medium chunk (4 MiB) ....... | huge block .... | free ... |
 *   page:  0      1      2                      split                           split+64
 *   pageMap: [slabA, slabB, slabC, null, ..., null, chunk, ..., chunk, huge, ..., huge, null, ..., null]
 *   a caller's region or an arena: one area over the whole range
 *
 *   slab (64-256 KiB: 8 slots or more below 8 KiB, 2-8 from there: GlobalHeap.slabPages), state in Java:
 *   | slot 0 | slot 1 | slot 2 | ... | slot n-1 | waste |     live[]: 1 byte per slot, freeStack[]: 2 bytes
 *     a remotely freed slot holds a link: (next + 1) ^ key    (SlabLayout)
 * </pre>
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>committed bytes {@code <= maxBytes} at every moment, checked before a page is committed
 *       ({@link GlobalHeap#takePages}, {@link GlobalHeap#commitWithinCap}); committed = may be resident: in a
 *       slab or a huge block, written in a medium chunk, or free and not yet handed back to the OS. Counted in
 *       64 KiB pages, less the OS pages of medium chunks' free space handed back inside pages that also hold
 *       blocks (a chunk's edges). Memory in thread caches counts, since it lies in slabs. A fixed range is
 *       committed whole: there the cap is its size, and pages in spans are what is checked;</li>
 *   <li>every page is in exactly one span or free in the buddy; {@code pageMap[p] == span} for each page of a
 *       span, null for free pages;</li>
 *   <li>per slab: {@code live slots + freeTop + |remote list| == slotCount} (see {@link Slab});</li>
 *   <li>a block is live iff its slot's {@code live} byte is 1 (slabs), its boundary tag says allocated (medium),
 *       or its span is mapped (huge): double and foreign frees are rejected in O(1) before anything changes.</li>
 * </ul>
 *
 * <h2>Allocate</h2>
 * <ol>
 *   <li>size &lt;= 64 KiB on a platform thread: class = {@code SizeClasses.index(size)}; the thread's cache's
 *       slab for it: pop its free stack (a {@code char[]} of slot indexes, out of band); set {@code live}. No lock,
 *       no atomic, no object ({@link #allocate(long)} fits on a screen).</li>
 *   <li>stack empty (slow path, {@link #refillAndPop}): take its remote frees in one {@code getAndSet}; else
 *       switch to another owned slab that gathered a few free slots while full (the cache's available stack),
 *       or whose remote frees a freer hinted (collected first now and then, so that they are reused while the
 *       stack has slabs too); else get one from the heap: a queued partial slab (a dead thread's), or a new
 *       span from the buddy. Full slabs stay owned, so the thread's frees into them stay local. At the cap, where
 *       no slab fits, the block alone goes into a medium chunk ({@link #allocateBesideSlabs}).</li>
 *   <li>virtual threads (and thread caching off): the same on a shared cache, under its try-lock.</li>
 *   <li>64 KiB to 1 MiB: first fit in the medium chunks of the thread's arena, under its lock, then in the other
 *       arenas'; a new chunk if none fits ({@link MediumArenas}).</li>
 *   <li>over 1 MiB: a run of pages from the buddy, under the heap lock.</li>
 * </ol>
 *
 * <h2>Free</h2>
 * <ol>
 *   <li>page map &rarr; span. A slab owned by the calling thread: CAS {@code live} 1 &rarr; 0 (a failed CAS is a
 *       double free, also when another thread frees the block at the same moment), push the slot on the free
 *       stack ({@link #free(long)}, no lock, no access to the block's memory). A slab that
 *       was full is filed as available once it has {@link Slab#availableAt} free slots; one that became empty is
 *       kept as the class's spare or given back.</li>
 *   <li>a shared cache's slab whose lock the freeing thread took last and finds free: as the owner's free,
 *       under that lock ({@link ThreadCache#freeIntoShared}: a virtual thread's pair is two try-locks and the
 *       slot's CAS, no remote list to collect).</li>
 *   <li>a slab owned by anyone else, or by nobody: CAS {@code live} 1 &rarr; 0, then CAS-push on the remote
 *       list; hint the owner, or, if the slab was detached, queue it for adoption (once). Also on the fast path,
 *       with no lock; a failed CAS goes to the slow path, which says what the address was (a double free,
 *       never allocated).</li>
 *   <li>medium: CAS on the block's header (its free claimed: of two frees one is refused), then CAS into an empty
 *       slot of the arena's stash, no lock; with the stash full, into the chunk under its arena's lock. Huge:
 *       under the heap lock.</li>
 * </ol>
 *
 * <h2>Memory going back</h2>
 * The purge, every {@code decayMillis / 2} and on {@link #trim()}: see {@link GlobalHeap}.
 *
 * <p><b>Threads.</b> Every method is thread-safe. A block may be freed by any thread.
 */
public final class OffHeapAllocator implements Allocator {

    /** The largest alignment {@link #allocate(long, long)} gives. */
    public static final long MAX_ALIGNMENT = 4L << 20;

    private static final int CACHE_TABLE_MASK = 1023;
    /**
     * {@link #refillAndPop}'s answers to a shared cache's holder, acted on once it has let the cache go, so that a
     * virtual thread never waits for the heap holding a cache that others would pop from: the heap lock is busy
     * (wait for it, then start again), or no slab can be had (the block goes beside the slabs). Addresses are
     * positive.
     */
    private static final long WAIT_FOR_HEAP = -1;
    private static final long BESIDE_SLABS = -2;

    private final String name;
    /** Package-private for tests that hold its lock. */
    final GlobalHeap heap;
    private final MemorySegment memory;
    private final long base;
    private final long rangeBytes;
    private final Span[] pageMap;
    private final boolean threadCaching;
    /**
     * Thread caching on, debug mode and leak detection off, and not closed: the fast paths apply (they check
     * nothing else). One volatile read where {@code closed} and a final flag took two; close() clears it first.
     */
    private volatile boolean fastPaths;
    /** Debug mode's canaries, poison and quarantine; null when debug mode is off. */
    private final DebugChecks debug;
    private final boolean poison;
    /** {@link #freeReleased} as the quarantine's callback, made once: a method reference per free would allocate. */
    private final DebugChecks.SlotFree releaseChecked = this::freeReleased;
    private final long largeAllocationThreshold;
    /** Allocation stacks of live blocks; null when leak detection is off. */
    private final LeakTracker leaks;
    private final ThreadLocal<ThreadCache> threadCaches;
    /**
     * The fast way to a thread's cache, cheaper than a ThreadLocal lookup: by {@code threadId & CACHE_TABLE_MASK},
     * checked against the cache's thread. Slots are written racily by their threads; a reader that sees another
     * thread's cache (its fields are final, so it is seen whole) falls back to {@link #threadCaches}.
     */
    private final ThreadCache[] cacheByThreadId = new ThreadCache[CACHE_TABLE_MASK + 1];
    /** Package-private for tests that look at its locks. */
    final SharedCaches sharedCaches;
    private final AllocatorMBean mbean;
    private final Lifecycle lifecycle;
    private volatile boolean closed;
    /** What {@link #stats()} returns once closed; null before. */
    private volatile AllocatorStats finalStats;
    /** The snapshot {@link #recentStats()} shares. */
    private volatile TimedStats recentStats;

    private OffHeapAllocator(OffHeapAllocatorConfig config) {
        this.name = config.name();
        MemorySource.Range range = config.memorySource().open(config.maxBytes());
        this.heap = new GlobalHeap(name, range, config.maxBytes(), config.debugLevel() > 0 ? DebugChecks.POISON : 0);
        this.memory = heap.memory;
        this.base = memory.address();
        this.rangeBytes = heap.rangeBytes;
        this.pageMap = heap.pageMap;
        this.threadCaching = config.threadCaching();
        this.poison = config.debugLevel() > 0;
        this.fastPaths = threadCaching && !poison && config.leakDetection() == LeakDetection.OFF;
        this.debug = poison ? new DebugChecks(memory, pageMap) : null;
        this.largeAllocationThreshold = config.largeAllocationThresholdBytes();
        this.leaks = config.leakDetection() == LeakDetection.OFF ? null
                : new LeakTracker(config.leakDetection(), config.leakSampleOneIn());
        this.threadCaches = ThreadLocal.withInitial(() -> {
            ThreadCache cache = new ThreadCache(Thread.currentThread(), SMALL_CLASSES);
            heap.registry.register(cache);
            return cache;
        });
        this.sharedCaches = new SharedCaches(2 * Runtime.getRuntime().availableProcessors(), stripe -> {
            ThreadCache cache = new ThreadCache(null, SMALL_CLASSES);
            heap.registry.register(cache);
            return cache;
        });
        this.mbean = config.jmx() ? AllocatorMBean.register(heap, this::recentStats) : null;
        this.lifecycle = new Lifecycle(this, heap, config.decayMillis(), mbean);
        Lifecycle.logCreated(config, heap);
    }

    /** An allocator with the default configuration (see {@link OffHeapAllocatorConfig}). */
    public static OffHeapAllocator create() {
        return create(new OffHeapAllocatorConfig());
    }

    /** An allocator with {@code config}, which is {@linkplain OffHeapAllocatorConfig#conclude() concluded}. */
    public static OffHeapAllocator create(OffHeapAllocatorConfig config) {
        return new OffHeapAllocator(config.conclude());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Allocate

    @Override
    public long allocate(long byteSize) {
        if (byteSize >= 0 && byteSize <= SMALL_MAX && fastPaths) {
            Thread thread = Thread.currentThread();
            if (!thread.isVirtual()) {
                int sizeClass = SizeClasses.index(byteSize);
                ThreadCache cache = cacheByThreadId[(int) thread.threadId() & CACHE_TABLE_MASK];
                if (cache == null || cache.thread != thread) {
                    cache = threadCache(thread);
                }
                long address = pop(cache.current[sizeClass]);
                return address != 0 ? address : refillAndPop(cache, sizeClass, byteSize);
            }
            return allocateShared(SizeClasses.index(byteSize), byteSize);
        }
        return allocateSlow(byteSize, MIN_ALIGNMENT);
    }

    /**
     * A virtual thread's small allocation (or any thread's when thread caching is off): a locked shared cache. The
     * cache's lock is never held while waiting for another lock (see {@link #WAIT_FOR_HEAP}): a virtual thread
     * that parks there would keep the cache from the others while it has no carrier.
     */
    private long allocateShared(int sizeClass, long byteSize) {
        while (true) {
            ThreadCache shared = sharedCaches.acquire();
            long address;
            try {
                address = pop(shared.current[sizeClass]);
                if (address == 0) {
                    address = refillAndPop(shared, sizeClass, byteSize);
                }
            } finally {
                shared.lock.unlock();
            }
            if (address > 0) {
                return address;
            } else if (address == BESIDE_SLABS) {
                return allocateBesideSlabs(sizeClass, byteSize);
            }
            heap.lock.lock(); // WAIT_FOR_HEAP, holding nothing; then a pop may find what another thread brought
            heap.lock.unlock();
        }
    }

    /** Takes a slot from the slab's free stack; 0 if it is empty. Owner only. */
    private long pop(Slab slab) {
        int top = slab.freeTop - 1;
        if (top < 0) {
            return 0;
        }
        int slot = slab.freeStack[top];
        slab.freeTop = top;
        if (poison) {
            debug.checkPoison(slab, slot);
        }
        slab.live[slot] = 1;
        slab.allocations++;
        return base + slab.slotOffset(slot);
    }

    /**
     * Slow path of a small allocation: the current slab's stack is empty. Owner only (or a shared cache, locked).
     * In order: the slab's own remote frees; an owned slab that gathered free slots while full (now and then
     * after the remote frees hinted for the class are collected: {@link ThreadCache#collectDue}); owned slabs
     * whose remote frees were hinted; a slab from the global heap; at the cap, a medium chunk for the block alone.
     * The exhausted slab stays owned.
     */
    private long refillAndPop(ThreadCache cache, int sizeClass, long byteSize) {
        Slab slab = cache.current[sizeClass];
        if (slab != Slab.EMPTY && slab.collectRemote(memory) > 0) { // the purger never touches a current slab
            return pop(slab);
        }
        cache.enterSlowPath();
        try {
            if (cache.thread != null && cache.lookedAtEpoch != heap.epoch()) {
                heap.releaseColdClasses(cache, sizeClass); // once a purge tick: the classes it stopped using
            }
            if (cache.collectDue(sizeClass)) {
                cache.collectHinted(sizeClass, memory);
            }
            Slab next = cache.popAvailable(sizeClass, memory);
            if (next == null) {
                cache.collectHinted(sizeClass, memory);
                next = cache.popAvailable(sizeClass, memory);
            }
            if (next == null && heap.atCapFor(sizeClass)) {
                next = cache.anyOwnedWithFree(sizeClass, memory); // the cap: this thread's own frees come first
            }
            if (next == null) {
                boolean shared = cache.thread == null;
                if (shared && !heap.lock.tryLock()) {
                    return WAIT_FOR_HEAP;
                }
                try {
                    next = heap.refill(cache, sizeClass, byteSize); // reentrant: held already if shared
                } finally {
                    if (shared) {
                        heap.lock.unlock();
                    }
                }
                if (next != null) {
                    next.collectRemote(memory); // an adopted slab's, taken here rather than under the heap lock
                }
            }
            if (next != null) {
                cache.takeAsCurrent(sizeClass, next);
                return pop(next);
            }
        } finally {
            cache.exitSlowPath();
        }
        return cache.thread == null ? BESIDE_SLABS : allocateBesideSlabs(sizeClass, byteSize);
    }

    /**
     * A small block for which no slab can be had within the cap (or no run of pages: a fixed range): a new slab is
     * 64-256 KiB, the block a fraction of it, so it goes into a medium chunk, where it needs only its own bytes
     * committed, at its class's alignment (what a slot would have had). Refused only if no chunk can place it
     * there either. With 8 threads filling a 256 MiB cap, the first refusal was often a small block while more
     * than its size was left under the cap (it needed a 256 KiB slab).
     */
    private long allocateBesideSlabs(int sizeClass, long byteSize) {
        long address = heap.mediums.allocate(Math.max(byteSize, 1), Long.lowestOneBit(SizeClasses.size(sizeClass)),
                heap.mediums.home());
        if (address == 0) {
            throw heap.capReachedUnlocked(byteSize); // a range too small for a chunk that could hold it
        }
        return address;
    }

    @Override
    public long allocate(long byteSize, long byteAlignment) {
        if (byteAlignment > 0 && byteAlignment <= MIN_ALIGNMENT && (byteAlignment & (byteAlignment - 1)) == 0) {
            return allocate(byteSize);
        }
        return allocateSlow(byteSize, byteAlignment);
    }

    private long allocateSlow(long byteSize, long byteAlignment) {
        long address = allocateUntracked(byteSize, byteAlignment);
        if (leaks != null) {
            leaks.allocated(address);
        }
        return address;
    }

    private long allocateUntracked(long byteSize, long byteAlignment) {
        if (debug != null) {
            try {
                return allocateChecked(byteSize, byteAlignment);
            } catch (OffHeapOutOfMemoryException full) {
                if (debug.quarantined() == 0) {
                    throw full;
                }
                debug.flush(releaseChecked); // the quarantine must never be why memory runs out
            }
        }
        return allocateChecked(byteSize, byteAlignment);
    }

    private long allocateChecked(long byteSize, long byteAlignment) {
        ensureOpenToAllocate(byteSize);
        long alignment = Checks.requireAlignment(byteSize, byteAlignment, MAX_ALIGNMENT, this);
        Checks.requireSize(byteSize, heap.maxBytes, this);
        if (byteSize >= largeAllocationThreshold) {
            LargeAllocationEvent event = new LargeAllocationEvent();
            if (event.isEnabled()) {
                event.allocator = name;
                event.bytes = byteSize;
                event.commit();
            }
        }
        long slotWanted = poison ? DebugChecks.slotWanted(byteSize) : byteSize;
        if (slotWanted <= SMALL_MAX) {
            int sizeClass = SizeClasses.index(slotWanted);
            while (sizeClass < SMALL_CLASSES && Long.lowestOneBit(SizeClasses.size(sizeClass)) < alignment) {
                sizeClass++; // a slot of this class is aligned to the largest power of two dividing its size
            }
            if (sizeClass < SMALL_CLASSES) {
                long address = allocateSmall(sizeClass, byteSize);
                if (poison) {
                    debug.armCanary(address, byteSize);
                }
                return address;
            }
        }
        if (byteSize <= MEDIUM_MAX && alignment <= PAGE_BYTES) {
            long address = heap.mediums.allocate(Math.max(byteSize, SMALL_MAX + 1), alignment, heap.mediums.home());
            if (address != 0) {
                return address;
            }
        }
        return heap.allocateHuge(byteSize, alignment);
    }

    /**
     * The calling platform thread's cache, found the slow way ({@link ThreadLocal}) and put in the table by
     * thread id, where the fast path looks first. Two live threads whose ids collide take turns in the slot.
     */
    private ThreadCache threadCache(Thread thread) {
        ThreadCache cache = threadCaches.get();
        cacheByThreadId[(int) thread.threadId() & CACHE_TABLE_MASK] = cache;
        return cache;
    }

    private long allocateSmall(int sizeClass, long byteSize) {
        Thread thread = Thread.currentThread();
        if (threadCaching && !thread.isVirtual()) {
            ThreadCache cache = threadCache(thread);
            long address = pop(cache.current[sizeClass]);
            return address != 0 ? address : refillAndPop(cache, sizeClass, byteSize);
        }
        return allocateShared(sizeClass, byteSize);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Free

    @Override
    public void free(long address) {
        long offset = address - base;
        // fastPaths (volatile) is read before the slab's fields: after a volatile read the JIT loads them again.
        if (offset >= 0 && offset < rangeBytes && fastPaths) {
            if (pageMap[(int) (offset >>> PAGE_SHIFT)] instanceof Slab slab) {
                int slot = slab.slotAt(offset - slab.offset());
                if (slot >= 0) {
                    Thread thread = Thread.currentThread();
                    if (slab.ownerThread == thread) {
                        if (slab.claimLocalFree(slot)) {
                            freeClaimed(slab, slot, thread);
                            return;
                        }
                    } else if (slab.ownerThread == null
                            ? ThreadCache.freeIntoShared(slab, slot, heap) : slab.tryFreeRemote(slot, heap)) {
                        return; // a shared cache's slab (or a detached one); another thread's
                    }
                }
            }
        }
        freeSlow(address);
        if (leaks != null) {
            leaks.freed(address); // only once the free went through: a rejected one changes nothing
        }
    }

    /**
     * The owner's free, its slot claimed (FREEING): push the slot, no lock, no access to the block; or, if the
     * purger took the slab from this thread meanwhile, free it as a remote free.
     */
    private void freeClaimed(Slab slab, int slot, Thread thread) {
        // The slot is released before afterLocalFree: its slow path may wait for the purger, which waits for that.
        int top = slab.pushClaimed(slot, thread, memory);
        if (top < 0) {
            slab.afterRemoteFree(heap);
        } else if (!slab.isCurrent && (top == slab.availableAt || top == slab.slotCount)) {
            ThreadCache.afterLocalFree(slab, top, heap);
        }
    }

    private void freeSlow(long address) {
        ensureOpen("free", address);
        Span span = heap.addresses.spanOf("free", address);
        long offset = address - base;
        switch (span) {
            case Slab slab -> {
                int slot = heap.addresses.liveSlot("free", slab, address);
                if (poison) {
                    debug.quarantine(slab, slot, address, releaseChecked);
                    return;
                }
                freeReleased(slab, slot, address);
            }
            case MediumChunk chunk -> chunk.arena.free(chunk, address);
            case HugeSpan huge -> {
                if (offset != huge.offset() || !heap.freeHuge(huge)) {
                    throw heap.addresses.invalid("free", address, "no block starts there (inside a huge block of "
                            + huge.byteSize() + " bytes at " + hex(base + huge.offset()) + ")");
                }
            }
        }
    }

    /**
     * A live slot whose free was checked: the owner claims it (CAS) and pushes it, anyone else frees it remotely
     * (CAS); a racing free of the same block by the other side makes this one a double free.
     */
    private void freeReleased(Slab slab, int slot, long address) {
        Thread thread = Thread.currentThread();
        if (slab.ownerThread != thread) {
            slab.freeRemote(slot, address, heap);
        } else if (slab.claimLocalFree(slot)) {
            freeClaimed(slab, slot, thread);
        } else {
            throw heap.addresses.doubleFree("free", address);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Verify, reallocate, sizes, views

    /**
     * Walks the whole heap and checks every invariant the design documents (see {@link GlobalHeap}, {@link Slab},
     * {@link PageBuddy} and the boundary-tag allocators of the medium chunks): page map against spans and free
     * pages, each slab's slot accounting, each chunk's tags; in debug mode also every small block's canary and
     * the poison of free and quarantined blocks. O(heap); for tests and staging. Slabs that other live threads
     * own are being used without a lock, so only their blocks' canaries are checked; call it when the others
     * are quiet for a full check.
     *
     * @throws dev.offheap.allocator.HeapCorruptionException naming the first broken invariant, precisely
     */
    public void verify() {
        ensureOpen("verify()");
        HeapVerifier.verify(heap, Thread.currentThread());
    }

    @Override
    public long reallocate(long address, long newByteSize) {
        ensureOpen("reallocate", address);
        Span span = heap.addresses.spanOf("reallocate", address);
        Checks.requireResize(address, newByteSize, heap.maxBytes, this);
        long usable;
        switch (span) {
            case Slab slab -> {
                int slot = heap.addresses.liveSlot("reallocate", slab, address);
                usable = slab.requested != null ? slab.requested[slot] : slab.slotBytes;
                if (!poison && newByteSize <= usable && newByteSize > usable / 2) {
                    return address; // in debug mode a resize always moves, so the canary follows the new size
                }
            }
            case MediumChunk chunk -> {
                long resized = chunk.arena.reallocate(chunk, address, newByteSize);
                if (resized != 0) {
                    return resized;
                }
                usable = chunk.arena.usableSize("reallocate", chunk, address);
            }
            case HugeSpan huge -> {
                heap.addresses.hugeStart("reallocate", huge, address);
                usable = huge.byteSize();
                if (newByteSize <= usable && newByteSize > usable / 2) {
                    return address;
                }
            }
        }
        long moved = allocate(newByteSize);
        MemorySegment.copy(memory, address - base, memory, moved - base, Math.min(usable, newByteSize));
        free(address);
        return moved;
    }

    @Override
    public long usableSize(long address) {
        return usableSize("usableSize", address);
    }

    /** The usable size of a live block, the errors naming {@code call}. */
    private long usableSize(String call, long address) {
        ensureOpen(call, address);
        return switch (heap.addresses.spanOf(call, address)) {
            case Slab slab -> {
                int slot = heap.addresses.liveSlot(call, slab, address);
                yield slab.requested != null ? slab.requested[slot] : slab.slotBytes;
            }
            case MediumChunk chunk -> chunk.arena.usableSize(call, chunk, address);
            case HugeSpan huge -> {
                heap.addresses.hugeStart(call, huge, address);
                yield huge.byteSize();
            }
        };
    }

    @Override
    public MemorySegment segment(long address) {
        return memory.asSlice(address - base, usableSize("segment", address));
    }

    /**
     * The allocator's whole range as one segment: every block it hands out lies inside, at
     * {@code address - range().address()}. For structures built on the allocator that read blocks by offset
     * without making a segment per access (the off-heap cache reads entries this way, optimistically, and
     * validates afterwards). Accesses are bounds-checked to the range, which stays mapped until
     * {@link #close()}; after close they throw {@link IllegalStateException}. Memory outside live blocks
     * belongs to the allocator: write only into blocks you own.
     */
    public MemorySegment range() {
        ensureOpen("range()");
        return memory;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Maintenance, stats, close

    /**
     * Gives memory back now: the calling thread's empty slabs (its current ones included), the shared caches'
     * and every other live thread's empty slabs and spares go back to the heap, dead threads' caches are
     * reclaimed, empty slabs and chunks go back to the page layer, and every free page to the OS.
     *
     * <p>Another live thread keeps its current slab of each size class it used, up to one slab (64-256 KiB) per
     * class: its allocations pop from them with no lock, no atomic and no fence, so no other thread can know that
     * it is not using one at this instant. A thread about to stay idle gives them back with
     * {@link #releaseThreadCache()}.
     *
     * @return bytes handed back to the OS
     */
    public long trim() {
        ensureOpen("trim()");
        if (debug != null) {
            debug.flush(releaseChecked);
        }
        if (threadCaching && !Thread.currentThread().isVirtual()) {
            heap.trimCache(threadCache(Thread.currentThread()), false);
        }
        sharedCaches.trim(heap);
        return heap.purge(true);
    }

    /**
     * The calling platform thread gives back everything its cache holds: empty slabs go back to the heap, partly
     * used ones (current ones included) are handed over for any thread to allocate from, as a dead thread's are.
     * Its blocks stay valid; freeing them later costs it one CAS each, as a free from another thread does. For
     * a pool thread about to stay idle (a worker that found its queue empty, an event loop going to sleep):
     * jemalloc's {@code thread.tcache.flush} and Netty's {@code trimCurrentThreadCache()} do the same. A virtual
     * thread, or an allocator without thread caching, has no cache of its own: nothing happens.
     *
     * @return the free bytes the thread's cache held (its {@link AllocatorStats#threadCachedBytes() share}), now
     *     in the heap
     */
    public long releaseThreadCache() {
        ensureOpen("releaseThreadCache()");
        Thread thread = Thread.currentThread();
        if (!threadCaching || thread.isVirtual()) {
            return 0;
        }
        ThreadCache cache = threadCache(thread);
        long cached = cache.cachedBytes();
        heap.trimCache(cache, true);
        return cached;
    }

    /**
     * Every block still allocated, with its allocation stack where {@link LeakDetection} recorded one: what a
     * leak report needs. A snapshot: blocks that other threads allocate or free meanwhile may or may not be in
     * it. O(all blocks and slots).
     */
    public List<LiveBlock> liveBlocks() {
        ensureOpen("liveBlocks()");
        return HeapStats.liveBlocks(heap, leaks);
    }

    /**
     * A human-readable report: totals, then blocks, bytes, slabs and free slots per size class. Also the
     * {@code Report} attribute of the allocator's MBean.
     */
    public String report() {
        return stats().report("OffHeapAllocator '" + name + "'");
    }

    /**
     * The name under which the allocator's {@link OffHeapAllocatorMXBean} is registered, or null: JMX is off (the
     * default) or refused.
     */
    public ObjectName mbeanName() {
        return mbean == null ? null : mbean.objectName();
    }

    /** The name given in the configuration. */
    public String name() {
        return name;
    }

    /** Caches in use: one per platform thread that allocated, plus the shared ones. */
    public int cacheCount() {
        return heap.cacheCount();
    }

    /** Bytes handed back to the OS since creation. */
    public long purgedBytes() {
        return heap.purgedBytes();
    }

    /** Slabs the purge took out of live threads' caches since creation (package-private: for tests). */
    long slabsTakenFromLiveCaches() {
        return heap.registry.slabsTakenFromLiveCaches();
    }

    /** Slow paths the calling platform thread's cache took (package-private: for tests). */
    long slowPathsOfCallingThread() {
        return threadCaches.get().slowPaths();
    }

    /** The cap on committed memory: {@code maxBytes} (for a caller's region or an arena, its size if smaller). */
    public long maxBytes() {
        return heap.maxBytes;
    }

    /** What may still be committed before the cap, read without a lock and without a walk; 0 once closed. */
    public long headroomBytes() {
        return closed ? 0 : heap.headroomBytes();
    }

    /** Allocations refused with {@link dev.offheap.allocator.OffHeapOutOfMemoryException} since creation. */
    public long refusals() {
        return heap.refusals();
    }

    /** Purges that handed memory back to the OS since creation. */
    public long purgeCount() {
        return heap.purges();
    }

    /** Bytes committed now, as {@link #stats()} reports them, without a lock or a walk; 0 once closed. */
    public long committedBytes() {
        return closed ? 0 : heap.committedBytes();
    }

    /**
     * A snapshot of the counters. Figures kept by other threads' caches are read without stopping them, so a
     * snapshot taken while threads allocate is approximate; one taken at rest is exact. After {@link #close()}:
     * the counters as they were at close ({@code liveBlocks}: the blocks never freed) and every byte figure 0, since
     * the memory is gone.
     */
    @Override
    public AllocatorStats stats() {
        AllocatorStats atClose = finalStats;
        if (atClose != null) {
            return atClose;
        }
        AllocatorStats stats = HeapStats.snapshot(heap, false);
        return debug == null ? stats : debug.withQuarantineFreed(stats);
    }

    /**
     * {@link #stats()} at most {@value #RECENT_STATS_NANOS} ns old, one snapshot shared by every caller: for
     * monitoring that polls (the MBean's getters, Micrometer's gauges), so that polling walks the heap and takes
     * its locks at most once a second, however many figures are read and however often. Once closed, the final
     * figures at once.
     */
    public AllocatorStats recentStats() {
        TimedStats last = recentStats;
        long now = System.nanoTime();
        if (finalStats != null || last == null || now - last.takenAt() > RECENT_STATS_NANOS) {
            last = new TimedStats(stats(), now); // two pollers at once may both walk: no lock for a rare case
            recentStats = last;
        }
        return last.stats();
    }

    /** How long one {@link #recentStats()} snapshot serves. */
    static final long RECENT_STATS_NANOS = 1_000_000_000L;

    private record TimedStats(AllocatorStats stats, long takenAt) {
    }

    /**
     * Releases all memory now (unmaps the reservation, or leaves a caller's region to the caller): every view
     * from {@link #segment(long)} becomes inaccessible and every later call throws
     * {@link AllocatorClosedException}. An allocator that becomes unreachable without being closed is released
     * the same way by a cleaner, with a warning in the log.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        heap.lock.lock();
        try {
            if (closed) {
                return;
            }
            if (leaks != null) {
                LeakTracker.report(name, liveBlocks());
            }
            fastPaths = false;
            AllocatorStats last = stats();
            // The memory goes: every byte figure is 0 from now on; the counters stay, liveBlocks the blocks leaked.
            finalStats = new AllocatorStats(0, 0, 0, 0, 0, 0, last.liveBlocks(), last.allocations(), last.frees(),
                    List.of());
            closed = true;
            lifecycle.closeOrDefer();
        } finally {
            heap.lock.unlock();
        }
    }

    /** Registers a {@link RawAddressHolder}; it stays registered for the allocator's life. */
    public void addRawAddressHolder(RawAddressHolder holder) {
        lifecycle.addRawAddressHolder(holder);
    }

    /**
     * A {@link RawAddressHolder} released its last raw address: if {@link #close()} kept the memory mapped for
     * it and no holder holds any now, the memory is released. Any thread; a no-op otherwise.
     */
    public void rawAddressesReleased() {
        heap.lock.lock();
        try {
            lifecycle.releaseIfDeferred();
        } finally {
            heap.lock.unlock();
        }
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    private void ensureOpen(String call) {
        if (closed) {
            throw new AllocatorClosedException(call + ": OffHeapAllocator '" + name + "' is closed");
        }
    }

    private void ensureOpenToAllocate(long byteSize) {
        if (closed) {
            throw new AllocatorClosedException("allocate(" + byteSize + "): OffHeapAllocator '" + name + "' is closed");
        }
    }

    private void ensureOpen(String call, long address) {
        if (closed) {
            throw new AllocatorClosedException(call + "(" + hex(address) + "): OffHeapAllocator '" + name
                    + "' is closed");
        }
    }

    @Override
    public String toString() {
        return "OffHeapAllocator '" + name + "'";
    }
}
