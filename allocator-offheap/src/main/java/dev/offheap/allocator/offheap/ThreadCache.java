package dev.offheap.allocator.offheap;

import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The front end's cache: one current slab per small size class.
 *
 * <p>Two kinds, one class:
 * <ul>
 *   <li>a <b>thread cache</b> ({@code thread != null}) belongs to one platform thread, which alone touches it,
 *       with plain accesses and no lock; its slabs name that thread as {@link Slab#ownerThread}, so the
 *       thread's frees into them are local pushes;</li>
 *   <li>a <b>shared cache</b> ({@code thread == null}) serves virtual threads (and every thread when thread
 *       caching is off); it is used under its {@link #lock}, and all frees into its slabs are remote frees.</li>
 * </ul>
 * The global heap keeps every cache in a registry, to reclaim a dead thread's slabs and to count stats.
 */
final class ThreadCache {
    /** The owning platform thread, or null for a shared cache. */
    final Thread thread;
    /** Guards a shared cache; unused by a thread cache. */
    final ReentrantLock lock;
    /** One slab per small size class; {@link Slab#EMPTY} until the first allocation of that class. */
    final Slab[] current;

    ThreadCache(Thread thread, int classes) {
        this.thread = thread;
        this.lock = thread == null ? new ReentrantLock() : null;
        this.current = new Slab[classes];
        Arrays.fill(current, Slab.EMPTY);
    }

    boolean isShared() {
        return thread == null;
    }

    /** Whether the owner is gone, so its slabs must be reclaimed. Pairs with the thread's termination. */
    boolean ownerDied() {
        return thread != null && !thread.isAlive();
    }

    @Override
    public String toString() {
        return thread == null ? "shared cache" : "cache of " + thread.getName();
    }
}
