package dev.offheap.allocator.region;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SegregatedListAllocator#mightFit}: never false when an allocation would succeed (a heap of regions
 * that skips a region on its word loses nothing), false when no free block is large enough.
 */
class SegregatedListMightFitTest {

    @Test
    void neverFalseWhenAnAllocationWouldSucceedAndFalseWhenNoFreeBlockIsLargeEnough() {
        SegregatedListAllocator allocator = SegregatedListAllocator.over(Arena.ofAuto().allocate(1 << 20, 16));
        SplittableRandom random = new SplittableRandom(5);
        List<Long> live = new ArrayList<>();
        int falseAnswers = 0;
        for (int i = 0; i < 3_000; i++) {
            long probe = 1L << random.nextInt(1, 19);
            probe += random.nextLong(probe);
            boolean might = allocator.mightFit(probe);
            long address = allocator.tryAllocate(probe, 16);
            if (address != 0) {
                assertTrue(might, "mightFit(" + probe + ") was false, yet the allocation succeeded");
                allocator.free(address);
            } else if (!might) {
                falseAnswers++;
                assertTrue(allocator.stats().largestFreeBlockBytes() < probe,
                        "mightFit(" + probe + ") false with a free block of "
                                + allocator.stats().largestFreeBlockBytes() + " bytes");
            }
            if (live.isEmpty() || random.nextInt(5) > 1) {
                long block = allocator.tryAllocate(random.nextLong(1, 40_000), 16);
                if (block != 0) {
                    live.add(block);
                }
            } else {
                allocator.free(live.remove(random.nextInt(live.size())));
            }
            allocator.verify();
        }
        assertTrue(falseAnswers > 0, "the heap filled up: some probes cannot have fit");
    }

    @Test
    void aFullHeapMightFitNothingAndAnEmptyOneEverySizeItHolds() {
        SegregatedListAllocator allocator = SegregatedListAllocator.over(Arena.ofAuto().allocate(64 << 10, 16));
        long largest = allocator.stats().largestFreeBlockBytes();
        assertTrue(allocator.mightFit(1));
        assertTrue(allocator.mightFit(largest));
        assertFalse(allocator.mightFit(largest + 1));
        assertFalse(allocator.mightFit(-1));
        List<Long> live = new ArrayList<>();
        for (long block = allocator.tryAllocate(1, 16); block != 0; block = allocator.tryAllocate(1, 16)) {
            live.add(block);
        }
        assertEquals(0, allocator.stats().freeBytes(), "one-byte blocks use up every byte");
        assertFalse(allocator.mightFit(1));
        allocator.free(live.get(live.size() / 2));
        assertTrue(allocator.mightFit(1));
        allocator.verify();
    }
}
