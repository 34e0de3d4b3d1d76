package dev.offheap.allocator.offheap;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.HeapCorruptionException;
import dev.offheap.allocator.internal.Checks;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link MediumStash}: freed medium blocks kept for reuse are freed blocks to every caller, and go back. */
class MediumStashTest {

    private static OffHeapAllocator create(long decayMillis) {
        return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("stash").maxBytes(64L << 20)
                .decayMillis(decayMillis));
    }

    @Test
    void aFreedMediumBlockIsHandedOutAgainOnlyForAnAllocationOfAboutItsSize() {
        try (OffHeapAllocator allocator = create(-1)) {
            long block = allocator.allocate(100_000);
            allocator.free(block);
            assertNotEquals(block, allocator.allocate(70_000), "a block 40% too large is not reused");
            assertEquals(block, allocator.allocate(99_000), "the stashed block fits within an eighth");
            allocator.verify();
        }
    }

    @Test
    void aStashedBlockIsAFreedBlockToEveryCallAndChangesNothingWhenMisused() {
        try (OffHeapAllocator allocator = create(-1)) {
            long kept = allocator.allocate(200_000);
            long block = allocator.allocate(100_000);
            AllocatorStats live = allocator.stats();
            allocator.free(block);
            AllocatorStats freed = allocator.stats();
            assertEquals(live.liveBlocks() - 1, freed.liveBlocks());
            assertEquals(allocator.usableSize(kept), freed.allocatedBytes(), "only the kept block is allocated");
            assertThrows(DoubleFreeException.class, () -> allocator.free(block));
            assertThrows(DoubleFreeException.class, () -> allocator.usableSize(block));
            assertThrows(DoubleFreeException.class, () -> allocator.segment(block));
            assertThrows(DoubleFreeException.class, () -> allocator.reallocate(block, 300_000));
            assertTrue(allocator.liveBlocks().stream().noneMatch(b -> b.address() == block), "listed as live");
            AllocatorStats after = allocator.stats();
            assertEquals(freed.liveBlocks(), after.liveBlocks());
            assertEquals(freed.allocatedBytes(), after.allocatedBytes());
            allocator.verify();
            assertEquals(block, allocator.allocate(100_000), "the misuse did not lose the stashed block");
        }
    }

    /** A write after free that hits the tags of a stashed block is reported by the allocation that would reuse it. */
    @Test
    void aStashedBlockWhoseTagsWereOverwrittenIsReportedByTheAllocationAndStaysStashed() {
        try (OffHeapAllocator allocator = create(-1)) {
            long block = allocator.allocate(100_000);
            long usable = allocator.usableSize(block);
            allocator.free(block);
            AllocatorStats before = allocator.stats();
            // the footer sits right after the usable bytes: a write just past the freed block's end
            MemorySegment.ofAddress(block + usable).reinterpret(Long.BYTES).set(ValueLayout.JAVA_LONG, 0, 0xBADL);
            HeapCorruptionException e = assertThrows(HeapCorruptionException.class, () -> allocator.allocate(99_000));
            assertTrue(e.getMessage().startsWith("allocate(" + Checks.hex(block) + ")"), e.getMessage());
            AllocatorStats after = allocator.stats();
            assertEquals(before.liveBlocks(), after.liveBlocks(), "nothing was taken");
            assertEquals(before.allocatedBytes(), after.allocatedBytes());
        }
    }

    @Test
    void theStashGoesBackBeforeTheHeapTakesANewChunk() {
        try (OffHeapAllocator allocator = create(-1)) {
            long a = allocator.allocate(900_000);
            long b = allocator.allocate(900_000);
            long c = allocator.allocate(900_000);
            long d = allocator.allocate(900_000);
            assertTrue(a < b && b < c && c < d && d - a < 4 << 20, "four neighbours in one 4 MiB chunk");
            allocator.free(a);
            allocator.free(b); // both stashed: no room left in the chunk for 1 MB unless they coalesce
            long big = allocator.allocate(1_000_000);
            assertTrue(big >= a && big < c, "1 MB went to a new chunk instead of where a and b were: "
                    + Long.toHexString(big));
            allocator.verify();
        }
    }

    @Test
    void trimGivesAStashedBlockBackAndWithItTheChunk() {
        try (OffHeapAllocator allocator = create(-1)) {
            long block = allocator.allocate(100_000);
            allocator.segment(block).fill((byte) 1);
            allocator.free(block);
            assertTrue(allocator.committedBytes() >= 100_000, "the chunk holds the stashed block");
            allocator.trim();
            assertEquals(0, allocator.committedBytes(), "the empty chunk went back");
            assertNotEquals(0, allocator.allocate(100_000));
            allocator.verify();
        }
    }

    @Test
    void thePurgerGivesAStashedBlockBackWithoutATrim() throws InterruptedException {
        try (OffHeapAllocator allocator = create(0)) {
            long block = allocator.allocate(100_000);
            allocator.segment(block).fill((byte) 1);
            allocator.free(block);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (allocator.committedBytes() != 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, allocator.committedBytes(), "a stashed block kept its chunk for 10 s of purge ticks");
        }
    }
}
