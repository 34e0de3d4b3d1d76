package dev.offheap.allocator.offheap;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The front end's cache: per small size class, the slabs it owns, one of them current.
 *
 * <p>Two kinds, one class:
 * <ul>
 *   <li>a <b>thread cache</b> ({@code thread != null}) belongs to one platform thread, which alone touches it,
 *       with plain accesses and no lock; its slabs name that thread as {@link Slab#ownerThread}, so the
 *       thread's frees into any of them are local pushes;</li>
 *   <li>a <b>shared cache</b> ({@code thread == null}) serves virtual threads (and every thread when thread
 *       caching is off); it is used under its {@link #lock}, and all frees into its slabs are remote frees.</li>
 * </ul>
 *
 * <h2>Per class</h2>
 * <pre>
 *   current[c]      the slab allocations pop from
 *   owned[c]        every slab of class c this cache owns, current included (slab.ownedIndex is its place)
 *   available[c]    owned slabs that got a local free while full: a stack through Slab.nextAvailable
 *   spare[c]        at most one owned, non-current slab kept although empty (hysteresis)
 *   remoteHint[c]   set (opaque) by remote freers: some owned slab of class c has remote frees to collect
 * </pre>
 * A full slab stays owned: the owner's frees into it stay local, and the first one files it as available.
 * When the current slab runs dry the owner takes, in order: its remote frees, an available slab, a slab whose
 * remote frees the hint points at, and only then a slab from the global heap.
 */
final class ThreadCache {
    private static final VarHandle HINT = MethodHandles.arrayElementVarHandle(boolean[].class);

    /** The owning platform thread, or null for a shared cache. */
    final Thread thread;
    /** Guards a shared cache; unused by a thread cache. */
    final ReentrantLock lock;
    /** One slab per small size class; {@link Slab#EMPTY} until the first allocation of that class. */
    final Slab[] current;
    final Slab[][] owned;
    final int[] ownedCount;
    final Slab[] available;
    final Slab[] spare;
    private final boolean[] remoteHint;

    ThreadCache(Thread thread, int classes) {
        this.thread = thread;
        this.lock = thread == null ? new ReentrantLock() : null;
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
            current[c] = Slab.EMPTY;
        }
    }

    /** Owner: files a full owned slab that just got a free slot. */
    void pushAvailable(Slab slab) {
        if (!slab.inAvailable) {
            slab.inAvailable = true;
            slab.nextAvailable = available[slab.sizeClass];
            available[slab.sizeClass] = slab;
        }
    }

    /** Owner: the next available slab still owned here with a free slot, or null. */
    Slab popAvailable(int sizeClass, MemorySegment memory) {
        Slab slab;
        while ((slab = available[sizeClass]) != null) {
            available[sizeClass] = slab.nextAvailable;
            slab.nextAvailable = null;
            slab.inAvailable = false;
            if (slab.owner == this && slab.state == Slab.OWNED) {
                slab.collectRemote(memory);
                if (slab.freeTop > 0) {
                    return slab;
                }
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
     * Owner: if remote frees were hinted for the class, collects them from every owned slab, files the slabs
     * that got free slots as available, and returns one of them, or null.
     */
    Slab collectHinted(int sizeClass, MemorySegment memory) {
        if (!(boolean) HINT.getOpaque(remoteHint, sizeClass)) {
            return null;
        }
        HINT.setOpaque(remoteHint, sizeClass, false);
        for (int i = 0; i < ownedCount[sizeClass]; i++) {
            Slab slab = owned[sizeClass][i];
            if (slab.remote() != 0 && slab.collectRemote(memory) > 0 && slab != current[sizeClass]) {
                pushAvailable(slab);
            }
        }
        return popAvailable(sizeClass, memory);
    }

    @Override
    public String toString() {
        return thread == null ? "shared cache" : "cache of " + thread.getName();
    }
}
