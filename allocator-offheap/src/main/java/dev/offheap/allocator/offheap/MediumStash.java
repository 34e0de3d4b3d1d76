package dev.offheap.allocator.offheap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.function.LongFunction;

import static dev.offheap.allocator.internal.Checks.hex;

/**
 * Medium blocks that were freed but not yet given back to their chunk: the next medium allocation of about their
 * size takes one as it is, without the medium lock, the region allocator's split, coalesce and tag writes. One per
 * arena, shared by its threads, lock-free: four slots, each empty (0) or one entry, taken and filled by
 * compare-and-set.
 *
 * <pre>
 *   entry    bits 63..20  offset / 16         (of the block in the range: 16-byte aligned, below 2^47)
 *            bit  19      purge epoch &amp; 1   (when it was stashed: see drain)
 *            bits 18..0   usable bytes / 8    (a stashed block is at most a 4 MiB chunk)
 *
 *   stashed  a block of one of the arena's chunks, allocated there, its header marked FREED ({@code claimFree})
 *   count &lt;= MAX_BLOCKS;   bytes &lt;= MAX_BYTES + one block (the bound is checked by each offer, not atomically)
 * </pre>
 * A free claims the block first (one compare-and-set on its header: of two frees, one wins, the other is a double
 * free), then fills an empty slot; an allocation empties a slot whose block fits ({@code asked <= usable <= asked +
 * asked / 8}, at the alignment asked), then checks the block's tags and clears the mark. A block is in at most one
 * slot, and only one thread takes it out: the compare-and-set on the slot decides. Every call that needs a live
 * block reads the mark and sees a freed one. Entries go back to their chunk (under the medium lock) at the first
 * purge tick after the one they were stashed in (so an idle heap keeps none for long), at once when the heap is
 * short of pages or the arena would take a new chunk (the stash never makes it grow), and on trim.
 */
final class MediumStash {
    static final int MAX_BLOCKS = 4;
    static final long MAX_BYTES = 2L << 20;

    private static final VarHandle SLOTS = MethodHandles.arrayElementVarHandle(long[].class);
    /** The slots start a cache line into the array and a line of padding follows the takes counter: no other
     *  arena's stash, and no other object, shares their line. */
    private static final int FIRST = 8;
    private static final int END = FIRST + MAX_BLOCKS;
    /** Index of the count of blocks taken out for allocations, on the slots' line (written with them). */
    private static final int TAKES = END;
    private static final int EPOCH_BIT = 19;
    private static final long USABLE_MASK = (1L << EPOCH_BIT) - 1;

    private final long[] slots = new long[TAKES + 1 + 8];

    static long entry(long offset, long usable, int epoch) {
        assert (offset & 15) == 0 && (usable & 7) == 0 && usable >>> 3 <= USABLE_MASK : hex(offset) + " " + usable;
        return offset >>> 4 << (EPOCH_BIT + 1) | (long) (epoch & 1) << EPOCH_BIT | usable >>> 3;
    }

    static long offsetOf(long entry) {
        return entry >>> (EPOCH_BIT + 1) << 4;
    }

    static long usableOf(long entry) {
        return (entry & USABLE_MASK) << 3;
    }

    /**
     * Keeps a block its caller freed and claimed, if there is room; false: the caller gives it to its chunk.
     * Lock-free.
     */
    boolean offer(long offset, long usable, int epoch) {
        long bytes = usable;
        int empty = -1;
        for (int i = FIRST; i < END; i++) {
            long entry = slots[i];
            if (entry == 0) {
                empty = empty < 0 ? i : empty;
            } else {
                bytes += usableOf(entry);
            }
        }
        if (empty < 0 || bytes > MAX_BYTES) {
            return false;
        }
        long entry = entry(offset, usable, epoch);
        for (int i = empty; i < END; i++) {
            if (SLOTS.compareAndSet(slots, i, 0L, entry)) {
                return true;
            }
        }
        return false;
    }

    /**
     * A stashed block for an allocation of {@code byteSize} at {@code alignment}, taken out (its mark and tags are
     * the caller's to check): its entry; 0 if none fits. Lock-free. (The range is 64 KiB-aligned, so an offset's
     * alignment is the address's.)
     */
    long take(long byteSize, long alignment) {
        for (int i = FIRST; i < END; i++) {
            long entry = slots[i];
            long usable = usableOf(entry);
            if (entry != 0 && usable >= byteSize && usable - byteSize <= byteSize >>> 3
                    && (offsetOf(entry) & (alignment - 1)) == 0 && SLOTS.compareAndSet(slots, i, entry, 0L)) {
                SLOTS.getAndAdd(slots, TAKES, 1L);
                return entry;
            }
        }
        return 0;
    }

    /**
     * Puts back a block that {@link #take} handed out and its caller could not use (its tags were found broken):
     * the stash as it was, if a slot is still empty.
     */
    boolean putBack(long entry) {
        SLOTS.getAndAdd(slots, TAKES, -1L);
        for (int i = FIRST; i < END; i++) {
            if (SLOTS.compareAndSet(slots, i, 0L, entry)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Takes out the entries stashed in epoch {@code epochLimit} or before ({@link Integer#MAX_VALUE}: all) and
     * gives each to {@code toChunk}. The epoch is known by its lowest bit only: the caller drains at every purge
     * tick with the epoch before the tick's, so an entry stays at most two ticks.
     */
    void drain(int epochLimit, ChunkFree toChunk) {
        for (int i = FIRST; i < END; i++) {
            long entry = slots[i];
            boolean current = epochLimit != Integer.MAX_VALUE && (entry >>> EPOCH_BIT & 1) == ((epochLimit + 1) & 1);
            if (entry != 0 && !current && SLOTS.compareAndSet(slots, i, entry, 0L)) {
                toChunk.free(offsetOf(entry));
            }
        }
    }

    /** Gives a block taken out of the stash back to its chunk (medium lock held). */
    @FunctionalInterface
    interface ChunkFree {
        void free(long offset);
    }

    /** Stashed blocks now (racy while other threads free and allocate: each slot read once). */
    int count() {
        int count = 0;
        for (int i = FIRST; i < END; i++) {
            count += slots[i] != 0 ? 1 : 0;
        }
        return count;
    }

    /** Their usable bytes (racy, as {@link #count}). */
    long bytes() {
        long bytes = 0;
        for (int i = FIRST; i < END; i++) {
            bytes += usableOf(slots[i]);
        }
        return bytes;
    }

    /** Blocks taken out for allocations since creation. */
    long takes() {
        return (long) SLOTS.getVolatile(slots, TAKES);
    }

    /**
     * The first broken invariant of the class comment, or null: each entry a claimed block of a chunk of this
     * arena, of the size recorded ({@code problem} answers for one block: null, or what is wrong), none twice. An
     * entry that changes while it is checked (taken meanwhile) is not reported.
     */
    String verify(LongFunction<String> problem) {
        for (int i = FIRST; i < END; i++) {
            long entry = slots[i];
            if (entry == 0) {
                continue;
            }
            String wrong = problem.apply(entry);
            if (wrong != null && slots[i] == entry) {
                return "the stashed block at range offset " + hex(offsetOf(entry)) + ": " + wrong;
            }
            for (int j = FIRST; j < i; j++) {
                if (slots[j] == entry && slots[i] == entry) {
                    return "the block at range offset " + hex(offsetOf(entry)) + " is stashed twice";
                }
            }
        }
        return null;
    }
}
