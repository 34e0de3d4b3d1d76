package dev.offheap.allocator.offheap;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The front end's cache: per small size class, the slabs it owns, one of them current.
 *
 * <p>Two kinds, one class:
 * <ul>
 *   <li>a <b>thread cache</b> ({@code thread != null}) belongs to one platform thread, which alone touches it,
 *       with plain accesses and no lock; its slabs name that thread as {@link Slab#ownerThread}, so the
 *       thread's frees into any of them are local pushes;</li>
 *   <li>a <b>shared cache</b> ({@code thread == null}) serves virtual threads (and every thread when thread
 *       caching is off); it is used under its {@link #lock} (a {@link StripeLock}). A free into its slab by the
 *       thread that took the lock last takes it again, if it is free right now, and frees as the owner does
 *       ({@link #freeIntoShared}); any other free into it is a remote free.</li>
 * </ul>
 *
 * <h2>Per class</h2>
 * <pre>
 *   current[c]      the slab allocations pop from
 *   owned[c]        every slab of class c this cache owns, current included (slab.ownedIndex is its place)
 *   available[c]    owned slabs that gathered Slab.availableAt local frees while full: a stack through
 *                   Slab.nextAvailable
 *   spare[c]        at most one owned, non-current slab kept although empty (hysteresis)
 *   remoteHint[c]   set (opaque) by remote freers: some owned slab of class c has remote frees to collect
 * </pre>
 * A full slab stays owned: the owner's frees into it stay local, and the {@code availableAt}-th one files it as
 * available (not the first: then scattered frees would make the owner switch slabs on every allocation).
 * When the current slab runs dry the owner takes, in order: its remote frees, an available slab, a slab whose
 * remote frees the hint points at, and only then a slab from the global heap.
 *
 * <h2>Trimming a live thread's cache</h2>
 * An idle thread must not keep memory that other threads freed into its slabs. The purger may take from a
 * live thread's cache an owned slab that is not current and has no live block (after its remote frees), and,
 * if the thread took no slow path since the last purge, the spare too. The owner's fast paths cannot touch such
 * a slab (it pops only from the current slab, and frees only live blocks); its slow paths can, so they and the
 * purger exclude each other with {@link #slowPath}, a flag the owner sets by CAS and the purger only tries:
 * <pre>
 *   owner:  refill, or a free that empties a slab:  CAS slowPath 0 -> 1 (spins while the purger holds it) ... 0
 *   purger: per slab:  CAS slowPath 0 -> 1 or skip the cache this tick;  check, collect, release;  0
 * </pre>
 * The purger reads {@code freeTop} of a non-current slab without the owner's synchronization: the owner only
 * raises it there (local frees), so a stale value shows a live block that is gone, and the slab waits a tick.
 * A current slab is never the purger's: the owner pops from it with no fence, so only the owner can give it up
 * ({@code OffHeapAllocator.trim()} from the owner, {@code releaseThreadCache()}), holding its own flag. The owner
 * also gives up on its own the classes it stopped using: once a purge tick, in a slow path, a class whose current
 * slab took no allocation since the owner's previous look (a tick or more ago) has all its slabs released or
 * detached for other threads ({@link #coldClass}, {@code GlobalHeap.releaseColdClasses}); a thread that keeps
 * allocating 64 B blocks no longer keeps the 4 KiB slab it used once at startup. A thread that allocates
 * nothing at all keeps its current slabs until it does, calls {@code releaseThreadCache()} or dies.
 *
 * <p>From an idle thread (no slow path since the last purge; or any thread on {@code trim()} and at the cap) the
 * purger also takes partly used non-current slabs and detaches them for any thread ({@link #takePartlyUsed}): in
 * the harness's cache workload, a pool thread idle through a one-thread phase otherwise kept the slots the other
 * thread's evictions freed in its slabs, and the working thread took new slabs instead. The owner may be
 * freeing into such a slab at that moment, with a plain push, so the two hand over through the slot's live byte:
 * <pre>
 *   owner's free (every slab):  CAS live 1 -> FREEING;  volatile read ownerThread == me ? push, live = 0 (release)
 *                                                                                    : a remote free instead
 *   purger (trim flag held):    volatile write ownerThread = null;  wait until no live byte is FREEING;  detach
 * </pre>
 * Either the owner sees the null, or the purger sees its FREEING and waits for the push (jcstress
 * {@code OwnerFreeVsRevokeTest}). The current slab goes through it too: the owner's first, plain read of
 * {@code ownerThread} may be stale, and by then the slab may be another thread's current one. The price: a
 * volatile read and a release store on every local free, plain instructions on x86.
 */
final class ThreadCache {
    private static final VarHandle HINT = MethodHandles.arrayElementVarHandle(boolean[].class);
    private static final VarHandle SLOW_PATH;

    static {
        try {
            SLOW_PATH = MethodHandles.lookup().findVarHandle(ThreadCache.class, "slowPath", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The owning platform thread, or null for a shared cache. */
    final Thread thread;
    /** Guards a shared cache; unused by a thread cache. */
    final StripeLock lock;
    /** One slab per small size class; {@link Slab#EMPTY} until the first allocation of that class. */
    final Slab[] current;
    private final Slab[][] owned;
    private final int[] ownedCount;
    private final Slab[] available;
    private final Slab[] spare;
    private final boolean[] remoteHint;
    /** Refills of each class since its remote frees were last collected ({@link #collectDue}). */
    private final int[] refillsSinceCollect;
    /** 1 while the owner is in a slow path or the purger trims this cache; see the class comment. */
    private volatile int slowPath;
    /** Slow paths the owner took (owner writes, the purger reads racily to tell an idle thread). */
    private int slowPaths;
    /** {@link #slowPaths} at the last purge (heap lock holder only). */
    private int slowPathsAtLastPurge;
    /** The current slabs' allocations summed at the last purge (heap lock holder only). */
    private long allocationsAtLastPurge;
    /** The purge tick at the owner's last look for cold classes ({@link #coldClass}); owner only. */
    int lookedAtEpoch = -1;
    /**
     * A shared cache: the id of the thread that took its lock last, written only when it changes, so that a
     * consumer reading it (freeing a producer's blocks) shares the line rather than pulling it on every block.
     */
    private long lastTaker = -1;
    /** Per class, the current slab and its allocations at that look; owner only. */
    private final Slab[] lookedAtSlab;
    private final long[] lookedAtAllocations;

    ThreadCache(Thread thread, int classes) {
        this.thread = thread;
        this.lock = thread == null ? new StripeLock() : null;
        this.current = new Slab[classes];
        Arrays.fill(current, Slab.EMPTY);
        this.owned = new Slab[classes][];
        for (int c = 0; c < classes; c++) {
            owned[c] = new Slab[4];
        }
        this.ownedCount = new int[classes];
        this.available = new Slab[classes];
        this.spare = new Slab[classes];
        this.remoteHint = new boolean[classes];
        this.refillsSinceCollect = new int[classes];
        this.lookedAtSlab = new Slab[classes];
        this.lookedAtAllocations = new long[classes];
    }

    /** Owner: enters a slow path, waiting (briefly: one slab's release) if the purger is trimming the cache. */
    void enterSlowPath() {
        for (int spins = 0; !SLOW_PATH.compareAndSet(this, 0, 1); spins++) {
            if (spins < 100) {
                Thread.onSpinWait();
            } else {
                Thread.yield(); // the purger holding the flag was descheduled: let it finish its step
            }
        }
        slowPaths++;
    }

    /** Owner or purger: leaves a slow path or a trim step. */
    void exitSlowPath() {
        SLOW_PATH.setRelease(this, 0);
    }

    /** Purger: enters a trim step unless the owner is in a slow path (then it is busy, not idle). */
    boolean tryEnterToTrim() {
        return SLOW_PATH.compareAndSet(this, 0, 1);
    }

    /**
     * Owner, in a slow path, once a purge tick: whether class {@code c} has a current slab that took no allocation
     * since the last look (a tick or more ago), so that its slabs can go back (see the class comment); remembers
     * the class's current slab for the next look.
     */
    boolean coldClass(int c) {
        Slab slab = current[c];
        boolean cold = slab != Slab.EMPTY && slab == lookedAtSlab[c] && slab.allocations == lookedAtAllocations[c];
        lookedAtSlab[c] = slab;
        lookedAtAllocations[c] = slab.allocations;
        return cold;
    }

    /** Slow paths the owner took so far (racy when read by another thread). */
    int slowPaths() {
        return slowPaths;
    }

    /**
     * Heap lock holder (the purge): whether the owner took no slow path and allocated nothing since the last call,
     * so that it may be idle; remembers both counts for the next call. Not slow paths alone: a busy thread whose
     * blocks fit its current slabs takes none, and taking its partly used slabs would turn its frees into them
     * into remote frees for nothing. Racy reads of the owner's counters: a stale one only delays or hastens the
     * heuristic; the hand-over itself is safe either way ({@link Slab#revokeOwner}).
     */
    boolean idleSinceLastPurge() {
        int now = slowPaths;
        long allocations = 0;
        for (Slab slab : current) {
            allocations += slab.allocations;
        }
        boolean idle = now == slowPathsAtLastPurge && allocations == allocationsAtLastPurge;
        slowPathsAtLastPurge = now;
        allocationsAtLastPurge = allocations;
        return idle;
    }

    /** Owner: the free bytes of the slabs it owns, remote frees not yet collected included. */
    long cachedBytes() {
        long bytes = 0;
        for (int c = 0; c < current.length; c++) {
            for (int i = 0; i < ownedCount[c]; i++) {
                Slab slab = owned[c][i];
                bytes += (long) (slab.freeTop + slab.remoteCount()) * slab.slotBytes;
            }
        }
        return bytes;
    }

    /** The number of size classes. */
    int classes() {
        return current.length;
    }

    /** How many slabs of class {@code c} the cache owns (owner, or heap lock holder for a dead owner). */
    int ownedCount(int c) {
        return ownedCount[c];
    }

    /** Class {@code c}'s spare slab, or null. */
    Slab spare(int c) {
        return spare[c];
    }

    /** The {@code i}-th owned slab of class {@code c}. */
    Slab ownedAt(int c, int i) {
        return owned[c][i];
    }

    /** Whether the owner is gone, so its slabs must be reclaimed. Pairs with the thread's termination. */
    boolean ownerDied() {
        return thread != null && !thread.isAlive();
    }

    /** Owner: records a slab it now owns. */
    void addOwned(Slab slab) {
        int c = slab.sizeClass;
        if (ownedCount[c] == owned[c].length) {
            owned[c] = Arrays.copyOf(owned[c], ownedCount[c] * 2);
        }
        slab.ownedIndex = ownedCount[c];
        owned[c][ownedCount[c]++] = slab;
    }

    /** Owner (or lock holder of a dead owner's cache): forgets a slab. Its place in the available stack is
     *  left to be skipped when popped. */
    void removeOwned(Slab slab) {
        int c = slab.sizeClass;
        Slab last = owned[c][--ownedCount[c]];
        owned[c][slab.ownedIndex] = last;
        last.ownedIndex = slab.ownedIndex;
        owned[c][ownedCount[c]] = null;
        if (spare[c] == slab) {
            spare[c] = null;
        }
        if (current[c] == slab) {
            setCurrent(c, Slab.EMPTY);
        }
    }

    /**
     * Owner, in a slow path: the slab it found for class {@code c} (which may have been the spare) becomes current.
     */
    void takeAsCurrent(int c, Slab slab) {
        if (spare[c] == slab) {
            spare[c] = null;
        }
        setCurrent(c, slab);
    }

    /** Owner (or a shared cache's lock holder): {@code slab} becomes class {@code c}'s current slab. */
    void setCurrent(int c, Slab slab) {
        Slab previous = current[c];
        if (previous != Slab.EMPTY) {
            previous.isCurrent = false;
        }
        if (slab != Slab.EMPTY) {
            slab.isCurrent = true;
        }
        current[c] = slab;
    }

    /**
     * Owner, in a slow path, after its own free emptied a non-current slab: keeps it as the class's spare if
     * there is none.
     *
     * @return true if the caller must give the slab back; false if it is the spare now, or the purger took it
     *     first (its last block was freed just before the purger looked)
     */
    boolean keepEmptied(Slab slab) {
        if (slab.owner != this) {
            return false;
        }
        int c = slab.sizeClass;
        if (spare[c] == null) {
            spare[c] = slab;
            return false;
        }
        return spare[c] != slab;
    }

    /**
     * Purger, holding the trim flag: takes {@code owned[sizeClass][index]} out of the cache if the owner cannot
     * be using it (not current, no live block after its remote frees; not the spare unless the thread is idle).
     *
     * @return the slab, no longer owned, for the caller to give back; or null
     */
    Slab takeUnused(int sizeClass, int index, boolean idle, MemorySegment memory) {
        Slab slab = owned[sizeClass][index];
        if (slab == current[sizeClass] || (!idle && slab == spare[sizeClass]) || slab.liveBlocks() != 0) {
            return null;
        }
        slab.collectRemote(memory);
        removeOwned(slab);
        slab.disown();
        return slab;
    }

    /**
     * Purger, holding the trim flag of an idle thread's cache (or at the cap, or on {@code trim()}): takes
     * {@code owned[sizeClass][index]} out of the cache if it is partly used and not current, for any thread to
     * allocate from: the thread's frees into it become remote frees ({@link Slab#revokeOwner}). Not the current
     * slab: the owner pops from it with no fence.
     *
     * @return the slab, no longer owned, for the caller to detach; or null
     */
    Slab takePartlyUsed(int sizeClass, int index) {
        Slab slab = owned[sizeClass][index];
        if (slab == current[sizeClass] || slab == spare[sizeClass]) {
            return null;
        }
        // Racy (the owner may be pushing a free right now), so a heuristic only; and nothing here touches the free
        // stack before the revocation: only after it does the owner stop pushing on it.
        int free = slab.freeTop + slab.remoteCount();
        if (free == 0 || free >= slab.slotCount || !slab.revokeOwner(thread)) {
            return null; // full: nothing for others; empty: takeUnused's; a free in progress: next time
        }
        removeOwned(slab);
        return slab;
    }

    /**
     * A free into a slab no thread owns: a shared cache's (a virtual thread's block, or any block when thread
     * caching is off) or a detached one. If the calling thread took the slab's shared cache's lock last (it
     * allocated there: a virtual thread's pair) and the lock is free right now, the free is that cache's own,
     * under its lock: one CAS on the slot (a racing remote free of the block still fails), no remote list to
     * collect later. Otherwise, or if the slab left the cache meanwhile, a remote free: a consumer freeing a
     * producer's blocks under the lock would pull the lock's line and the slab's stack to its core and back on
     * every block (producer/consumer on virtual threads: 54-62 blocks/us that way, 58-104 with remote frees,
     * which the producer collects in batches). The last taker is a hint, read racily: a wrong one costs a remote
     * free or a look under the lock, never a wrong free.
     *
     * @return false if the slot is not live (the caller's slow path says why), nothing changed
     */
    static boolean freeIntoShared(Slab slab, int slot, GlobalHeap heap) {
        ThreadCache shared = slab.owner; // racy: checked again under the lock, which every change of it holds
        if (shared == null || shared.lock == null || shared.lastTaker != Thread.currentThread().threadId()
                || !shared.lock.tryLock()) {
            return slab.tryFreeRemote(slot, heap);
        }
        try {
            if (slab.owner != shared) {
                return slab.tryFreeRemote(slot, heap);
            }
            if (!slab.claimLocalFree(slot)) {
                return false;
            }
            int top = slab.pushLocal(slot);
            slab.finishLocalFree(slot);
            if (!slab.isCurrent && (top == slab.availableAt || top == slab.slotCount)) {
                shared.afterFree(slab, top, heap);
            }
            return true;
        } finally {
            shared.lock.unlock();
        }
    }

    /**
     * The owner, after a local free into a slab that is not current, when its stack reached
     * {@link Slab#availableAt} slots (file it as available) or full (keep it as the class's one spare, or give it
     * back to {@code heap}). Rare.
     */
    static void afterLocalFree(Slab slab, int freeTop, GlobalHeap heap) {
        ThreadCache cache = slab.owner;
        if (cache == null || !slab.stillOwnedBy(Thread.currentThread()) || cache.current[slab.sizeClass] == slab) {
            // null: the purger released the slab (found empty just now) or is detaching it; another thread's cache:
            // the purger took it from this thread after this free's push, and that thread adopted it
            return;
        }
        cache.afterFree(slab, freeTop, heap);
    }

    /** A shared cache, its lock just taken by the thread of id {@code threadId}. */
    void takenBy(long threadId) {
        if (lastTaker != threadId) {
            lastTaker = threadId;
        }
    }

    /**
     * The owner of {@code slab} (or a shared cache's lock holder), the slab not current: {@link #afterLocalFree}'s
     * filing, once the free stack reached {@link Slab#availableAt} or full.
     */
    void afterFree(Slab slab, int freeTop, GlobalHeap heap) {
        if (freeTop == slab.availableAt) {
            pushAvailable(slab); // the purger may release the slab meanwhile: popAvailable skips it then
        }
        if (freeTop == slab.slotCount) {
            enterSlowPath();
            try {
                if (keepEmptied(slab) && (thread != null || heap.lock.tryLock())) {
                    // A shared cache's holder never waits for the heap (see OffHeapAllocator.allocateShared): if
                    // the lock is busy, the empty slab stays owned until the purge's trimShared gives it back.
                    try {
                        heap.releaseOwned(this, slab);
                    } finally {
                        if (thread == null) {
                            heap.lock.unlock();
                        }
                    }
                }
            } finally {
                exitSlowPath();
            }
        }
    }

    /** Owner: files an owned slab that was full and just gathered {@link Slab#availableAt} free slots. */
    void pushAvailable(Slab slab) {
        if (slab.enterAvailable()) {
            slab.nextAvailable = available[slab.sizeClass];
            available[slab.sizeClass] = slab;
        }
    }

    /**
     * Owner, refilling: whether remote frees should be collected before an available slab is taken, so that slabs
     * other threads' frees holed are reused too (taken only when no slab was available, they piled up in slabs
     * the owner never went back to). Once in {@code owned / 8} refills of the class, so that the walk over its
     * slabs costs a refill O(8), amortized (a walk on every refill halved the producer/consumer workload).
     */
    boolean collectDue(int sizeClass) {
        if (++refillsSinceCollect[sizeClass] <= ownedCount[sizeClass] >> 3) {
            return false;
        }
        refillsSinceCollect[sizeClass] = 0;
        return true;
    }

    /**
     * Owner (or lock holder of a dead owner's cache), before its partly used slabs of class {@code c} are handed
     * to other caches: empties the class's available stack. Another cache that adopts one of them may file it in
     * its own stack once this one's pop has cleared {@code inAvailable}; with no synchronization between the two,
     * this pop's write of the slab's link could land after that filing and cut the other stack short.
     */
    void forgetAvailable(int c) {
        while (available[c] != null) {
            unlinkFirstAvailable(c);
        }
    }

    /**
     * Owner: takes the top slab off class {@code c}'s available stack. A slab the purger took from this cache
     * ({@link Slab#revokeOwner}) may belong to another cache by now, which files it in its own stack once
     * {@code inAvailable} reads false: so its link is read first and never written, then the flag is released.
     */
    private Slab unlinkFirstAvailable(int c) {
        Slab slab = available[c];
        available[c] = slab.nextAvailable;
        if (slab.owner == this) {
            slab.nextAvailable = null;
        }
        slab.leaveAvailable();
        return slab;
    }

    /** Owner: the next available slab still owned here with a free slot, or null. */
    Slab popAvailable(int sizeClass, MemorySegment memory) {
        Slab slab;
        while (available[sizeClass] != null) {
            slab = unlinkFirstAvailable(sizeClass);
            if (slab.owner == this && slab.state == Slab.OWNED) {
                slab.collectRemote(memory);
                if (slab.freeTop > 0) {
                    return slab;
                }
            }
        }
        return null;
    }

    /**
     * Owner, at the cap: any owned slab of the class with a free slot, its remote frees collected first, or null.
     * Below the cap a full slab waits for {@link Slab#availableAt} frees before the owner switches to it; at the
     * cap one free is enough, so that a thread's own frees make room for its next allocation. O(owned slabs).
     */
    Slab anyOwnedWithFree(int sizeClass, MemorySegment memory) {
        for (int i = 0; i < ownedCount[sizeClass]; i++) {
            Slab slab = owned[sizeClass][i];
            slab.collectRemote(memory);
            if (slab.freeTop > 0) {
                return slab;
            }
        }
        return null;
    }

    /** Any thread, after a remote free into a slab of this cache: the owner will look at its slabs. */
    void hintRemoteFree(int sizeClass) {
        if (!(boolean) HINT.getOpaque(remoteHint, sizeClass)) {
            HINT.setOpaque(remoteHint, sizeClass, true);
        }
    }

    /**
     * Owner, in a slow path: if remote frees were hinted for the class, collects them from every owned slab and
     * files the slabs that got free slots as available. O(owned slabs of the class), when hinted.
     */
    void collectHinted(int sizeClass, MemorySegment memory) {
        if (!(boolean) HINT.getOpaque(remoteHint, sizeClass)) {
            return;
        }
        HINT.setOpaque(remoteHint, sizeClass, false);
        refillsSinceCollect[sizeClass] = 0;
        for (int i = 0; i < ownedCount[sizeClass]; i++) {
            Slab slab = owned[sizeClass][i];
            if (slab.remote() != 0 && slab.collectRemote(memory) > 0 && slab != current[sizeClass]) {
                pushAvailable(slab);
            }
        }
    }

    @Override
    public String toString() {
        return thread == null ? "shared cache" : "cache of " + thread.getName();
    }
}
