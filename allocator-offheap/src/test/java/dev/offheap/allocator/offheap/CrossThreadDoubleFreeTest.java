package dev.offheap.allocator.offheap;

import dev.offheap.allocator.InvalidAddressException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A block freed at the same moment by its owning thread and by another (a double free across threads): exactly
 * one free goes through and the other throws, and the block is never handed out twice. Before the owner's free
 * took the live byte by CAS this loop corrupted the heap within a few thousand rounds (both frees passed; a later
 * allocation threw HeapCorruptionException: the slot was on the owner's free stack and on the remote list).
 * Medium blocks are freed without a lock into the stash, or under the lock into their chunk when the stash is
 * full: both claim the block by one compare-and-set on its header first. (A medium block freed into its chunk may
 * coalesce: the second free then finds no block there, an {@link InvalidAddressException}; a double free in the
 * stash or in a slab is a {@code DoubleFreeException}, a kind of it.)
 */
class CrossThreadDoubleFreeTest {

    private static final int ROUNDS = 20_000;

    /** Burns a few hundred nanoseconds at most: the offset that makes the two frees meet. */
    private static void spin(int iterations) {
        for (int i = 0; i < iterations; i++) {
            Thread.onSpinWait();
        }
    }

    @ParameterizedTest(name = "{0}-byte blocks, medium stash full: {1}, owner a virtual thread: {2}")
    @CsvSource({"64, false, false", "100000, false, false", "100000, true, false", "64, false, true"})
    void aRacingDoubleFreeNeverHandsTheBlockOutTwice(long size, boolean stashFull, boolean virtualOwner)
            throws Exception {
        // A virtual owner allocates from a shared cache and frees into it under the cache's lock; the other
        // thread's free of the same block then takes the lock too, or, when it finds the lock held, is remote.
        if (virtualOwner) {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            Thread.ofVirtual().start(() -> {
                try {
                    race(size, stashFull);
                } catch (Throwable e) {
                    thrown.set(e);
                }
            }).join();
            if (thrown.get() instanceof Error error) {
                throw error;
            } else if (thrown.get() != null) {
                throw new AssertionError(thrown.get());
            }
        } else {
            race(size, stashFull);
        }
    }

    private static void race(long size, boolean stashFull) throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("race-free")
                .maxBytes(64L << 20).decayMillis(-1))) {
            AtomicLong shared = new AtomicLong();
            AtomicInteger round = new AtomicInteger();
            AtomicInteger otherDone = new AtomicInteger();
            AtomicInteger bothPassed = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            boolean[] otherPassed = new boolean[1];
            Thread other = Thread.ofPlatform().start(() -> {
                for (int r = 1; r <= ROUNDS && failure.get() == null && round.get() != Integer.MAX_VALUE; r++) {
                    while (round.get() < r) {
                        Thread.onSpinWait();
                    }
                    spin(r * 31 % 97); // the two frees land at slightly different moments, round after round
                    try {
                        allocator.free(shared.get());
                        otherPassed[0] = true;
                    } catch (InvalidAddressException expected) {
                        otherPassed[0] = false;
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                    otherDone.set(r);
                }
            });
            long[] held = new long[size <= 4096 ? 64 : 8];
            long[] fillers = new long[MediumStash.MAX_BLOCKS];
            int rounds = size <= 4096 ? ROUNDS : ROUNDS / 4;
            try {
                for (int r = 1; r <= rounds && failure.get() == null; r++) {
                    shared.set(allocator.allocate(size));
                    if (stashFull) { // blocks too large to serve `size`: the frees of this round go into the chunk
                        for (int i = 0; i < fillers.length; i++) {
                            fillers[i] = allocator.allocate(size * 3 / 2);
                        }
                        for (long filler : fillers) {
                            allocator.free(filler);
                        }
                    }
                    round.set(r); // both free it now
                    spin(r % 211);
                    boolean ownerPassed;
                    try {
                        allocator.free(shared.get());
                        ownerPassed = true;
                    } catch (InvalidAddressException expected) {
                        ownerPassed = false;
                    }
                    while (otherDone.get() < r) {
                        Thread.onSpinWait();
                    }
                    if (ownerPassed && otherPassed[0]) {
                        bothPassed.incrementAndGet();
                    }
                    // The owner allocates on: every block it gets must be distinct (a slot on its free stack and
                    // on the remote list would come back twice).
                    Set<Long> live = new HashSet<>();
                    for (int i = 0; i < held.length; i++) {
                        held[i] = allocator.allocate(size);
                        assertTrue(live.add(held[i]), "block handed out twice in round " + r);
                    }
                    for (long block : held) {
                        allocator.free(block);
                    }
                }
            } finally {
                round.set(Integer.MAX_VALUE);
                other.join();
            }
            assertNull(failure.get());
            assertEquals(0, bothPassed.get(), "rounds in which both frees went through");
            allocator.verify();
        }
    }
}
