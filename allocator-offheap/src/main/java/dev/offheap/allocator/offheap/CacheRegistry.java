package dev.offheap.allocator.offheap;

import java.util.ArrayList;

/**
 * Every cache of one allocator, thread caches and shared caches alike: what lets the heap reclaim a dead
 * thread's slabs, trim a live thread's unused ones, and add up the figures. Guarded by the heap lock: every
 * method but {@link #register} expects the caller to hold it.
 *
 * <h2>What it does with the caches</h2>
 * <ul>
 *   <li><b>dead threads</b> ({@link #reclaimDead}): every slab of the cache goes back to the heap: empty ones
 *       are released, partly used ones detached and queued for adoption by other caches (their remote frees
 *       are not lost: see {@link Slab#detach()});</li>
 *   <li><b>live threads</b> ({@link #trimLive}): the slabs a thread holds but cannot be using, taken under the
 *       cache's trim flag ({@link ThreadCache#tryEnterToTrim()}), one slab per step;</li>
 *   <li><b>shared caches</b> ({@link #trimShared}): their empty slabs, under the cache's try-lock.</li>
 * </ul>
 * Registration reclaims dead caches whenever {@code max(16, size / 8)} caches were added since the last time (the
 * walk costs a registration O(8) checks, amortized), so thread churn keeps it near the number of live threads
 * even without the purger; and the first slab the heap would take new pages for after a registration reclaims
 * them first ({@link #reclaimDeadIfThreadsCame}), so a thread that replaced one takes its slabs. Not when the
 * registry doubles, as before: with 8 threads on 2 cores each ending after 20,000 allocations, threads still
 * finishing at each reclaim kept the registry large, the threshold rose with it, and dead caches' empty slabs
 * filled the 1 GiB cap while 4 MB was live.
 */
final class CacheRegistry {

    private final GlobalHeap heap;
    private final ArrayList<ThreadCache> caches = new ArrayList<>();
    private int reclaimAtCount = 16;
    /** A cache was registered since the last {@link #reclaimDead}. */
    private boolean registeredSinceReclaim;
    /** Slabs the purge took out of live threads' caches ({@link #trimLive}). */
    private long slabsTakenFromLiveCaches;

    CacheRegistry(GlobalHeap heap) {
        this.heap = heap;
    }

    /** Adds a cache, first reclaiming dead threads' caches if enough were added since the last time. */
    void register(ThreadCache cache) {
        heap.lock.lock();
        try {
            if (caches.size() >= reclaimAtCount) {
                reclaimDead();
                reclaimAtCount = caches.size() + Math.max(16, caches.size() / 8);
            }
            caches.add(cache);
            registeredSinceReclaim = true;
        } finally {
            heap.lock.unlock();
        }
    }

    /**
     * Lock held, before the heap takes new pages for a slab: if a thread came since the last reclaim (threads are
     * coming and going: the ones it replaced may have died), reclaims the dead threads' caches, so that their
     * partly used slabs are queued before the heap grows. Once per registration: a pool whose threads stay pays
     * nothing. Without it a pool that replaced its 2 threads every 1.5 million allocations (the harness's churn
     * workload) took fresh slabs while the old threads' slabs waited for the purge tick: 2.6x the live bytes at
     * the peak.
     *
     * @return whether any dead cache was reclaimed
     */
    boolean reclaimDeadIfThreadsCame() {
        if (!registeredSinceReclaim) {
            return false;
        }
        return reclaimDead();
    }

    /** Lock held: gives back the slabs of every cache whose thread has died; whether there was one. */
    boolean reclaimDead() {
        registeredSinceReclaim = false;
        ArrayList<ThreadCache> dead = new ArrayList<>();
        caches.removeIf(cache -> cache.ownerDied() && dead.add(cache));
        // Out of the registry first: the walk below lets waiting threads in between slabs, and nobody else
        // reaches a dead thread's cache (remote freers only touch its slabs).
        for (ThreadCache cache : dead) {
            releaseSlabs(cache, false);
        }
        return !dead.isEmpty();
    }

    /**
     * Lock held: gives back the slabs of a cache whose thread died, or that its thread gives up whole
     * ({@code onlyEmpty} false: partly used ones are detached and queued for other caches), or the empty slabs of
     * a cache being trimmed. Current slabs included: the caller is the owner, or the owner is dead.
     */
    void releaseSlabs(ThreadCache cache, boolean onlyEmpty) {
        for (int c = 0; c < cache.classes(); c++) {
            releaseClass(cache, c, onlyEmpty);
        }
    }

    /** Lock held: {@link #releaseSlabs} for the slabs of class {@code c} alone. */
    void releaseClass(ThreadCache cache, int c, boolean onlyEmpty) {
        if (!onlyEmpty) {
            cache.forgetAvailable(c); // its partly used slabs go to other caches, which link them in theirs
        }
        for (int i = cache.ownedCount(c) - 1; i >= 0; i--) {
            Slab slab = cache.ownedAt(c, i);
            if (slab.allFree()) { // its remote list is not walked: the whole slab goes back
                cache.removeOwned(slab);
                heap.release(slab);
            } else if (!onlyEmpty) {
                cache.removeOwned(slab);
                heap.detach(slab);
            }
            heap.letWaitersIn();
            i = Math.min(i, cache.ownedCount(c));
        }
    }

    /**
     * Lock held: takes from live threads' caches the slabs they hold but cannot use soon: owned, not current,
     * no live block (after their remote frees); the spare too if the thread took no slow path since the last
     * purge, or every spare when {@code now} (a {@code trim()}, or the cap: the thread's next slow path takes a
     * slab from the heap again if it needs one). A producer whose blocks all went to other threads, then idle,
     * keeps only its current slabs. One slab per step, each under the cache's
     * {@link ThreadCache#tryEnterToTrim() trim flag}; a cache whose owner is in a slow path is left for the next
     * purge.
     */
    void trimLive(boolean now) {
        nextCache:
        for (ThreadCache cache : caches.toArray(ThreadCache[]::new)) { // a copy: the walk lets registrations in
            if (cache.thread == null || cache.ownerDied()) {
                continue;
            }
            boolean idle = now || cache.idleSinceLastPurge();
            for (int c = 0; c < cache.classes(); c++) {
                for (int i = Integer.MAX_VALUE; ; i--) {
                    if (!cache.tryEnterToTrim()) {
                        continue nextCache; // the owner is in a slow path: busy, not idle
                    }
                    try {
                        i = Math.min(i, cache.ownedCount(c) - 1); // the owner changes the list between steps
                        if (i < 0) {
                            break;
                        }
                        Slab slab = cache.takeUnused(c, i, idle, heap.memory);
                        if (slab != null) {
                            heap.release(slab);
                            slabsTakenFromLiveCaches++;
                        } else if (idle && (slab = cache.takePartlyUsed(c, i)) != null) {
                            heap.detach(slab); // queued for whichever thread needs a slab of its class next
                            slabsTakenFromLiveCaches++;
                        }
                    } finally {
                        cache.exitSlowPath();
                    }
                    heap.letWaitersIn();
                }
            }
        }
    }

    /**
     * Lock held: gives back the empty slabs of the shared caches that are not in use right now (try-lock, so
     * an allocating virtual thread is never waited for).
     */
    void trimShared() {
        for (ThreadCache cache : caches.toArray(ThreadCache[]::new)) { // a copy: the walk lets registrations in
            if (cache.thread == null && cache.lock.tryLock()) {
                try {
                    releaseSlabs(cache, true);
                } finally {
                    cache.lock.unlock();
                }
            }
        }
    }

    /** Lock held. */
    int size() {
        return caches.size();
    }

    long slabsTakenFromLiveCaches() {
        return slabsTakenFromLiveCaches;
    }
}
