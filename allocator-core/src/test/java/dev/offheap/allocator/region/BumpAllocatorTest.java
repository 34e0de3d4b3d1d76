package dev.offheap.allocator.region;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** What only the bump allocator does: LIFO reclaim and reset. */
class BumpAllocatorTest {

    @Test
    void freeingTheMostRecentBlockReclaimsItAndFreedBlocksBelowIt() {
        try (BumpAllocator bump = BumpAllocator.over(Arena.ofAuto().allocate(64 * 1024))) {
            long first = bump.allocate(100);
            long second = bump.allocate(100);
            long third = bump.allocate(100);
            long freeWithThree = bump.stats().freeBytes();
            bump.free(second);
            assertEquals(freeWithThree, bump.stats().freeBytes(), "a block below the top is not reclaimed yet");
            bump.free(third);
            assertEquals(second, bump.allocate(100), "freeing the top popped the freed block below it too");
            assertNotEquals(first, second);
        }
    }

    @Test
    void resetEmptiesTheRegion() {
        try (BumpAllocator bump = BumpAllocator.over(Arena.ofAuto().allocate(64 * 1024))) {
            long first = bump.allocate(1000);
            bump.allocate(1000);
            long empty = bump.stats().freeBytes() + 2 * (1000 + 16 + 8);
            bump.reset();
            assertEquals(0, bump.stats().liveBlocks());
            assertEquals(0, bump.stats().allocatedBytes());
            assertEquals(first, bump.allocate(1000));
            assertEquals(empty - 1008 - 16, bump.stats().freeBytes() );
        }
    }
}
