package dev.offheap.allocator.offheap;

import dev.offheap.allocator.HeapCorruptionException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Live blocks are listed as data, with the allocation stacks that the leak-detection level records. */
class LeakDetectionTest {

    @Test
    void paranoidRecordsEveryAllocationStack() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("leaks")
                .maxBytes(64L << 20).leakDetection(LeakDetection.PARANOID))) {
            long small = allocator.allocate(100);
            long medium = allocator.allocate(100_000);
            long huge = allocator.allocate(3L << 20);
            allocator.free(medium);
            List<LiveBlock> live = allocator.liveBlocks();
            assertEquals(2, live.size(), live.toString());
            assertTrue(live.stream().anyMatch(b -> b.address() == small && b.usableBytes() >= 100));
            assertTrue(live.stream().anyMatch(b -> b.address() == huge && b.usableBytes() >= 3L << 20));
            for (LiveBlock block : live) {
                assertTrue(block.allocationStack().stream()
                        .anyMatch(f -> f.getMethodName().equals("paranoidRecordsEveryAllocationStack")),
                        "the stack names the test method: " + block.allocationStack());
            }
            allocator.free(small);
            allocator.free(huge);
            assertEquals(List.of(), allocator.liveBlocks());
        }
    }

    @Test
    void sampledRecordsAboutOneInSixtyFour() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("sampled")
                .maxBytes(64L << 20).leakDetection(LeakDetection.SAMPLED))) {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 6400; i++) {
                blocks.add(allocator.allocate(48));
            }
            List<LiveBlock> live = allocator.liveBlocks();
            assertEquals(6400, live.size());
            long withStacks = live.stream().filter(b -> !b.allocationStack().isEmpty()).count();
            assertTrue(withStacks > 40 && withStacks < 250, withStacks + " of 6400 sampled");
            blocks.forEach(allocator::free);
        }
    }

    @Test
    void theSamplingRateIsConfigurable() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("sampled-8")
                .maxBytes(64L << 20).leakDetection(LeakDetection.SAMPLED).leakSampleOneIn(8))) {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 6400; i++) {
                blocks.add(allocator.allocate(48));
            }
            long withStacks = allocator.liveBlocks().stream().filter(b -> !b.allocationStack().isEmpty()).count();
            assertTrue(withStacks > 600 && withStacks < 1000, withStacks + " of 6400 sampled at 1 in 8");
            blocks.forEach(allocator::free);
        }
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> OffHeapAllocator.create(new OffHeapAllocatorConfig().leakSampleOneIn(0)));
        assertTrue(e.getMessage().contains("leakSampleOneIn(0)"), e.getMessage());
    }

    @Test
    void offStillListsLiveBlocksWithoutStacks() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("no-leaks")
                .maxBytes(16L << 20))) {
            long address = allocator.allocate(5000);
            List<LiveBlock> live = allocator.liveBlocks();
            assertEquals(1, live.size());
            assertEquals(address, live.getFirst().address());
            assertTrue(live.getFirst().allocationStack().isEmpty());
        }
    }

    @Test
    void aRejectedFreeKeepsTheBlocksStack() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("rejected")
                .maxBytes(64L << 20).leakDetection(LeakDetection.PARANOID))) {
            long first = allocator.allocate(100_000);
            long second = allocator.allocate(100_000);
            // A raw write one byte past the first block damages the tag the second block's free reads.
            MemorySegment.ofAddress(first).reinterpret(allocator.usableSize(first) + 1).fill((byte) 0x5A);
            assertThrows(HeapCorruptionException.class, () -> allocator.free(second));
            LiveBlock kept = allocator.liveBlocks().stream().filter(b -> b.address() == second).findFirst()
                    .orElseThrow();
            assertTrue(!kept.allocationStack().isEmpty(), "the refused free dropped the block's stack");
        }
    }
}
