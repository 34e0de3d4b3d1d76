package dev.offheap.allocator.offheap;

import dev.offheap.allocator.HeapCorruptionException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ThreadLocalRandom;

import static dev.offheap.allocator.internal.Checks.hex;

/**
 * A span cut into equal slots of one size class, owned by one cache at a time.
 *
 * <h2>Where each slot is</h2>
 * A slot is exactly one of: live (handed out), on the <b>free stack</b> (an out-of-band array of slot
 * indexes, owner only, plain accesses), or on the <b>remote free list</b> (linked through the slots' own
 * memory, pushed by any thread with one CAS, taken whole by the owner when its stack runs dry). Invariant:
 * <pre>
 *   live slots + freeTop + |remote list| == slotCount
 *   live[s] == 1  iff  slot s is live;  2: freed, in debug mode's quarantine (counted as live);
 *   3: freed by another thread, on the remote list;  0: on the free stack
 * </pre>
 * The free stack lives in Java, not in the slots: the owner's allocate and free touch no block memory at all,
 * and a write after free cannot corrupt it. Only the remote list (see {@link SlabLayout}) is in the slots.
 *
 * <h2>Ownership states</h2>
 * <pre>
 *   OWNED --(lock holder: owner died)--> DETACHED --(first remote free, or the detacher if a slot is free: CAS)--> QUEUED
 *     ^                                                                                                           |
 *     `-------------------------(a cache adopts it from the heap's partial list, under the lock)------------------'
 *   an owned empty slab beyond the one spare, an owned non-current slab with no live block (the purger, see
 *   ThreadCache), or a queued slab with no live slot --(lock holder)--> RELEASED
 *
 * A full slab stays OWNED: the owner's frees into it stay local, and remote frees hint the owner
 * ({@link ThreadCache#hintRemoteFree}).
 * </pre>
 * The owner's fields ({@code freeStack, freeTop, allocations}) are touched only by the owner, or by
 * the lock holder while the slab is QUEUED or its owner is dead, or by the purger holding the owning cache's
 * trim flag once the slab has no live block (then the owner has nothing to free into it). Detaching is a
 * Dekker handshake: the detacher writes {@code state = DETACHED} then reads {@code remote}; a remote freer
 * CASes {@code remote} then reads {@code state}. Both are sequentially consistent, so at least one sees the
 * other and a freed slot is never stranded in a slab nobody will look at.
 *
 * <h2>Memory ordering</h2>
 * A remote freer writes the slot's link (plain) then publishes it with the CAS on {@code remote} (volatile);
 * the owner's {@code getAndSet} on {@code remote} (volatile) pairs with it before reading the links.
 * {@code live[s]} leaves 1 only by a CAS: 1 &rarr; 4 (FREEING) by the owner's free ({@link #claimLocalFree}; then
 * 4 &rarr; 0 once pushed, see {@link #revokeOwner}), 1 &rarr; 3 by a
 * remote freer's ({@link #pushRemote}), so of two frees of one block, by the owner and by another thread at the
 * same moment, exactly one gets through and the other is a double free. (With a plain check and write on the
 * owner's side, both could pass, and the slot would sit on the free stack and on the remote list at once:
 * handed out twice. The CAS costs about 0.6-0.9 ns on a 64 B pair of about 10 ns, measured with
 * {@code PairBenchmark}.) The owner writes 0 &rarr; 1 (allocate) and 3 &rarr; 0 (collect) plain: no other thread
 * writes a slot in those states. A remote freer got the address from the allocating thread through some
 * happens-before edge, so it sees the 1.
 */
final class Slab extends Span {

    /** {@code live[s]}: handed out. */
    static final byte LIVE_SLOT = 1;
    /** {@code live[s]} in debug mode: freed, waiting in the {@link Quarantine}; still not allocatable. */
    static final byte QUARANTINED = 2;
    /** {@code live[s]}: freed by a thread that does not own the slab, on the remote list until collected. */
    static final byte REMOTE_FREED = 3;
    /** {@code live[s]}: the owner's free in progress: claimed, not yet on the free stack (see {@link #revokeOwner}). */
    static final byte FREEING = 4;
    /** How long {@link #revokeOwner} waits for an owner's free in progress before it gives the slab back. */
    private static final int REVOKE_SPINS = 1_000;

    static final int OWNED = 0;
    static final int DETACHED = 1;
    static final int QUEUED = 2;
    static final int RELEASED = 3;

    /** Shift of the reciprocal used to divide by the slot size; see {@link #slotAt(long)}. */
    private static final int RECIPROCAL_SHIFT = 40;

    private static final VarHandle REMOTE;
    private static final VarHandle STATE;
    private static final VarHandle OWNER_THREAD;
    private static final VarHandle IN_AVAILABLE;
    static final VarHandle LIVE = MethodHandles.arrayElementVarHandle(byte[].class);

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            REMOTE = lookup.findVarHandle(Slab.class, "remote", long.class);
            STATE = lookup.findVarHandle(Slab.class, "state", int.class);
            OWNER_THREAD = lookup.findVarHandle(Slab.class, "ownerThread", Thread.class);
            IN_AVAILABLE = lookup.findVarHandle(Slab.class, "inAvailable", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The sentinel every cache starts with: no slots, so the first allocation takes the slow path. */
    static final Slab EMPTY = new Slab();

    final int sizeClass;
    final int slotBytes;
    final int slotCount;
    /**
     * How many local frees a full, non-current slab gathers before it is filed as available, so that the owner
     * switches to it for several allocations, not one: {@code max(1, min(8, slotCount / 16))}. Scattered frees
     * (random replacement among many live blocks) made the owner switch slabs on every allocation with 1
     * (ReplaceBenchmark, 2 forks, 3 interleaved rounds: 30-39 ns per replacement, against 22-28 with this); the
     * price is at most {@code availableAt - 1} free slots per full slab left unused until more frees come, at
     * most 1/16 of it.
     */
    final int availableAt;
    final long reciprocal;
    final int key;
    final byte[] live;
    /** Debug mode only (else null): each live slot's requested size; the bytes after it hold the canary. */
    int[] requested;

    // Owner-only (see the class comment).
    /** Free slot indexes, {@code [0, freeTop)}; popped from the top, lowest addresses first when new. */
    final char[] freeStack;
    int freeTop;
    long allocations;
    /**
     * The owning platform thread, or null (shared cache, detached, queued). Read plain by the owner's free as a
     * first check, then again (volatile) once the slot is claimed: the purger may take a non-current slab from a
     * live owner ({@link #revokeOwner}), which writes null here (volatile) before it looks for frees in progress.
     */
    Thread ownerThread;
    /** The owning cache; null when not owned. Plain: read by remote freers only to hint it. */
    ThreadCache owner;
    /** Position in the heap's list of slabs (lock holder only). */
    int heapIndex;
    /** Position in the owning cache's list of this class (owner only). */
    int ownedIndex;
    /**
     * True while this is its cache's current slab of its class (owner only; a copy of
     * {@code owner.current[sizeClass] == this}): a local free that empties the current slab, as every free does
     * when a thread holds one block of a class at a time, then skips {@code afterLocalFree}'s four dependent loads.
     */
    boolean isCurrent;
    /** The owning cache's stack of slabs that gathered {@link #availableAt} free slots while full (owner only). */
    Slab nextAvailable;
    boolean inAvailable;

    /** The remote free list: {@code (count << 32) | (first slot + 1)}, 0 when empty. */
    volatile long remote;
    volatile int state;

    Slab(int firstPage, int pageCount, int sizeClass, int slotBytes) {
        super(firstPage, pageCount);
        this.sizeClass = sizeClass;
        this.slotBytes = slotBytes;
        this.slotCount = (int) (byteSize() / slotBytes);
        this.availableAt = Math.max(1, Math.min(8, slotCount / 16));
        this.reciprocal = ((1L << RECIPROCAL_SHIFT) + slotBytes - 1) / slotBytes;
        this.key = ThreadLocalRandom.current().nextInt() | 1;
        this.live = new byte[slotCount];
        this.freeStack = new char[slotCount];
        for (int i = 0; i < slotCount; i++) {
            freeStack[i] = (char) (slotCount - 1 - i);
        }
        this.freeTop = slotCount;
    }

    private Slab() {
        super(0, 0);
        this.sizeClass = -1;
        this.slotBytes = 16;
        this.slotCount = 0;
        this.availableAt = 1;
        this.reciprocal = 0;
        this.key = 0;
        this.live = new byte[0];
        this.freeStack = new char[0];
        this.state = RELEASED;
    }

    /**
     * The slot that starts at {@code offsetInSlab}, or -1 if no slot starts there. Division by a
     * multiplication: with {@code m = ceil(2^40 / d)}, {@code (x m) >> 40 == x / d} for every
     * {@code x < 2^18} and {@code d < 2^17}, since the error term {@code x (m d - 2^40) < x d < 2^40}.
     */
    int slotAt(long offsetInSlab) {
        int slot = (int) ((offsetInSlab * reciprocal) >>> RECIPROCAL_SHIFT);
        return (long) slot * slotBytes == offsetInSlab && slot < slotCount ? slot : -1;
    }

    long slotOffset(int slot) {
        return offset() + (long) slot * slotBytes;
    }

    private boolean casState(int expected, int next) {
        return STATE.compareAndSet(this, expected, next);
    }

    long remote() {
        return remote;
    }

    /**
     * The owner's free, after {@link #claimLocalFree}: push the slot; no access to the block.
     *
     * @return the new {@code freeTop}
     */
    int pushLocal(int slot) {
        int top = freeTop;
        freeStack[top++] = (char) slot;
        freeTop = top;
        return top;
    }

    /** Pending remote frees, for stats (racy by nature). */
    int remoteCount() {
        return (int) (remote >>> 32);
    }

    /**
     * Any thread but the owner: gives back {@code slot} with one CAS.
     *
     * @return false if the slot is not live (a double free), with nothing changed
     */
    boolean pushRemote(MemorySegment memory, int slot) {
        if (!LIVE.compareAndSet(live, slot, LIVE_SLOT, REMOTE_FREED)) {
            return false;
        }
        linkRemote(memory, slot);
        return true;
    }

    /** Links {@code slot}, already marked REMOTE_FREED, onto the remote list (one CAS, retried). */
    private void linkRemote(MemorySegment memory, int slot) {
        long link = slotOffset(slot) + SlabLayout.NEXT;
        long head;
        do {
            head = remote;
            memory.set(ValueLayout.JAVA_INT, link, (int) head ^ key);
        } while (!REMOTE.compareAndSet(this, head, (((head >>> 32) + 1) << 32) | (slot + 1)));
    }

    /**
     * The owner's free, its slot claimed ({@link #claimLocalFree}): if {@code thread} still owns the slab
     * ({@link #stillOwnedBy}), pushes the slot and releases it ({@link #finishLocalFree}); else the purger took the
     * slab meanwhile, and the slot goes on the remote list as another thread's free would.
     *
     * @return the free stack's new top, or -1 if the slot went on the remote list (the caller then calls
     *     {@link #afterRemoteFree})
     */
    int pushClaimed(int slot, Thread thread, MemorySegment memory) {
        if (!stillOwnedBy(thread)) {
            LIVE.setVolatile(live, slot, REMOTE_FREED);
            linkRemote(memory, slot);
            return -1;
        }
        int top = pushLocal(slot);
        finishLocalFree(slot);
        return top;
    }

    /**
     * A free by a thread that does not own the slab: {@link #pushRemote} (one CAS); then the slab is queued in
     * {@code heap} if it was detached, or its owner is hinted that a slab of this class has remote frees.
     *
     * @throws dev.offheap.allocator.DoubleFreeException if the slot is not live, nothing changed
     */
    void freeRemote(int slot, long address, GlobalHeap heap) {
        if (!tryFreeRemote(slot, heap)) {
            throw heap.addresses.doubleFree("free", address);
        }
    }

    /**
     * {@link #freeRemote} without the error: false, nothing changed, if the slot is not live (the caller's slow
     * path then says why: never allocated, freed already, or a double free racing this one).
     */
    boolean tryFreeRemote(int slot, GlobalHeap heap) {
        if (!pushRemote(heap.memory, slot)) {
            return false;
        }
        afterRemoteFree(heap);
        return true;
    }

    /** After a remote free: queue the slab if it was detached, else hint its owner. */
    void afterRemoteFree(GlobalHeap heap) {
        if (claimForQueue()) {
            heap.enqueuePartial(this);
        } else {
            ThreadCache cache = owner;
            if (cache != null) {
                cache.hintRemoteFree(sizeClass);
            }
        }
    }

    /**
     * The owner (or the lock holder of an unowned slab): moves every remote free to the free stack, taking the
     * whole list with one {@code getAndSet}.
     *
     * @return how many were collected
     */
    int collectRemote(MemorySegment memory) {
        if (remote == 0) {
            // Nothing to take: a plain read, not an atomic exchange. A push that lands just after is taken by a
            // later collect, which the pusher asks for (its hint to the owner, or the queue for a detached slab).
            return 0;
        }
        long head = (long) REMOTE.getAndSet(this, 0L);
        int count = 0;
        for (int next = (int) head; next != 0; count++) {
            int slot = next - 1;
            if (live[slot] != REMOTE_FREED) {
                throw corrupted(slot, "it is on the remote-free list but its state is " + live[slot]);
            }
            next = memory.get(ValueLayout.JAVA_INT, slotOffset(slot) + SlabLayout.NEXT) ^ key;
            if (next < 0 || next > slotCount || freeTop == slotCount) {
                throw corrupted(slot, "its remote-free link reads " + next);
            }
            live[slot] = 0;
            freeStack[freeTop++] = (char) slot;
        }
        return count;
    }

    /** Whether no slot is live (remote frees collected). */
    boolean isEmpty() {
        return freeTop == slotCount;
    }

    /**
     * Whether no slot is live, counting the remote frees not collected, without walking their list: for the heap
     * lock holder deciding about a slab whose owner is gone (or not using it), which then releases it whole. A
     * stale count only says "not yet": a slab with no live slot gets no more frees.
     */
    boolean allFree() {
        return freeTop + remoteCount() == slotCount;
    }

    /** Whether a slot is free now or will be once remote frees are collected. */
    boolean hasFree() {
        return freeTop > 0 || remote != 0;
    }

    /**
     * The heap lock holder: {@code cache} owns the slab from now on. Its remote frees are left for the new owner
     * to take outside the lock (a dead thread's slab may hold hundreds, each a read of the slot's memory).
     */
    void adoptBy(ThreadCache cache) {
        ownerThread = cache.thread;
        owner = cache;
        state = OWNED;
    }

    /**
     * The purger, holding the owning cache's trim flag, the slab having no live block: the cache no longer owns
     * it; the caller releases it.
     */
    void disown() {
        ownerThread = null;
        owner = null;
    }

    /** The heap lock holder: the slab's pages go back to the page layer; nobody owns it or frees into it. */
    void markReleased() {
        state = RELEASED;
        ownerThread = null;
        owner = null;
    }

    /**
     * The lock holder, the slab's owner dead (or the slab adopted with nothing free): gives the slab up
     * (DETACHED), then looks for free slots, the remote list included: the Dekker handshake with
     * {@link #claimForQueue()}. Exactly one of the two queues a slab that has a free slot.
     *
     * @return true if the caller must queue the slab for adoption
     */
    boolean detach() {
        ownerThread = null;
        owner = null;
        state = DETACHED;
        return hasFree() && casState(DETACHED, QUEUED);
    }

    /**
     * A remote freer, after {@link #pushRemote}: if the slab is detached, claims the right to queue it for
     * adoption. Exactly one freer (and never the owner taking it back) wins.
     *
     * @return true if the caller must queue the slab
     */
    boolean claimForQueue() {
        return state == DETACHED && casState(DETACHED, QUEUED);
    }

    HeapCorruptionException corrupted(int slot, String what) {
        return new HeapCorruptionException("slab of " + slotBytes + "-byte blocks: the free block at range offset "
                + hex(slotOffset(slot)) + " was written after it was freed (" + what + ")");
    }

    /**
     * The owner's free of a slot, first step: its {@code live} byte from 1 to FREEING with one CAS, so that a remote
     * free of the same block at the same moment fails (see the class comment); then {@link #stillOwnedBy},
     * {@link #pushLocal} and {@link #finishLocalFree}. Every slab, the current one too: the owner's first, plain
     * read of {@code ownerThread} may be stale, and the slab it reads {@code isCurrent} of may be another thread's
     * current slab by then, adopted after the purger took it ({@link #revokeOwner}).
     *
     * @return false if the slot is not live (a double free), with nothing changed
     */
    boolean claimLocalFree(int slot) {
        return LIVE.compareAndSet(live, slot, LIVE_SLOT, FREEING);
    }

    /**
     * The owner, after {@link #claimLocalFree}: whether it still owns the slab, so that its push may go on. A
     * volatile read after the claim's CAS, against {@link #revokeOwner}'s volatile write before its volatile reads
     * of {@code live}: either this sees the revocation, or the revoker sees the claim and waits for
     * {@link #finishLocalFree}.
     */
    boolean stillOwnedBy(Thread thread) {
        return OWNER_THREAD.getVolatile(this) == thread;
    }

    /** The owner, its slot pushed: FREEING -> 0 (release: the push is visible to a revoker that sees the 0). */
    void finishLocalFree(int slot) {
        LIVE.setRelease(live, slot, (byte) 0);
    }

    /**
     * The purger, holding the owning cache's trim flag (so no owner slow path runs), the slab not current: takes it
     * from its live owner's fast path. After this the owner's frees into it are remote frees, and its free stack
     * changes no more, so it can be detached as a dead thread's slab is. Waits for an owner's free in progress
     * (FREEING: between its claim and its push) to end; if one lasts (the owner descheduled mid-free), gives the
     * slab back to its owner and returns false.
     */
    boolean revokeOwner(Thread thread) {
        OWNER_THREAD.setVolatile(this, (Thread) null);
        for (int spins = 0; freeInProgress(); spins++) {
            if (spins == REVOKE_SPINS) {
                OWNER_THREAD.setVolatile(this, thread);
                return false;
            }
            Thread.onSpinWait();
        }
        return true;
    }

    private boolean freeInProgress() {
        for (int slot = 0; slot < slotCount; slot++) {
            if ((byte) LIVE.getVolatile(live, slot) == FREEING) {
                return true;
            }
        }
        return false;
    }

    /**
     * A cache files the slab in its available stack: true if it may (the slab was in none), with one CAS. Not a
     * plain check and write: a slab the purger took from one thread ({@link #revokeOwner}) may be filed by that
     * thread's late free and by the thread that adopted it at once, and only one may write its link. The CAS
     * pairs with {@link #leaveAvailable}'s release: the winner sees the previous holder done with the link.
     */
    boolean enterAvailable() {
        return IN_AVAILABLE.compareAndSet(this, false, true);
    }

    /** The cache whose available stack held the slab has read its link: others may file it now (release). */
    void leaveAvailable() {
        IN_AVAILABLE.setRelease(this, false);
    }

    /** Live blocks (racy when read by others; for stats). */
    long liveBlocks() {
        return slotCount - freeTop - remoteCount();
    }
}
