package dev.offheap.allocator.offheap;

import dev.offheap.allocator.OffHeapOutOfMemoryException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Medium chunks hand back the free space of partly used pages by the OS's page, at the cap and on {@code trim()}
 * (the chunk's edges). Memory handed back reads as zero: so every live block is filled with its own byte and
 * checked whole before it is freed or resized, while a random mix of medium and small blocks is allocated,
 * resized and freed at a small cap, with trims between; the heap verifies its edge accounting after each trim.
 */
class MediumEdgesTest {

    private static final long CAP = 8L << 20;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void liveBlocksKeepTheirBytesWhileFreeSpaceGoesBackBySubPage(long seed) {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig()
                .name("edges-" + seed).maxBytes(CAP).decayMillis(-1))) {
            SplittableRandom random = new SplittableRandom(seed);
            List<long[]> live = new ArrayList<>(); // {address, size, fill byte}
            int refusals = 0;
            for (int step = 0; step < 4_000; step++) {
                int action = random.nextInt(10);
                if (action < 5 || live.isEmpty()) {
                    long size = random.nextInt(10) < 7 ? random.nextLong(65 << 10, 300 << 10)
                            : random.nextLong(1, 64 << 10);
                    try {
                        long address = allocator.allocate(size);
                        long[] block = {address, size, random.nextInt(1, 256)};
                        fill(allocator, block);
                        live.add(block);
                    } catch (OffHeapOutOfMemoryException atCap) {
                        refusals++;
                    }
                } else if (action < 8) {
                    long[] block = live.set(random.nextInt(live.size()), live.getLast());
                    live.removeLast();
                    check(allocator, block, block[1]);
                    allocator.free(block[0]);
                } else {
                    long[] block = live.get(random.nextInt(live.size()));
                    long newSize = random.nextLong(65 << 10, 400 << 10);
                    check(allocator, block, block[1]);
                    try {
                        block[0] = allocator.reallocate(block[0], newSize);
                        check(allocator, block, Math.min(block[1], newSize)); // the bytes it had moved with it
                        block[1] = newSize;
                        fill(allocator, block);
                    } catch (OffHeapOutOfMemoryException atCap) {
                        refusals++; // the block is unchanged
                    }
                }
                assertTrue(allocator.committedBytes() <= CAP, "committed " + allocator.committedBytes());
                if (step % 250 == 249) {
                    allocator.trim();
                    allocator.verify();
                }
            }
            assertTrue(refusals > 0, "the workload must reach the cap, where edges are handed back");
            for (long[] block : live) {
                check(allocator, block, block[1]);
                allocator.free(block[0]);
            }
            allocator.verify();
        }
    }

    private static void fill(OffHeapAllocator allocator, long[] block) {
        allocator.segment(block[0]).asSlice(0, block[1]).fill((byte) block[2]);
    }

    private static void check(OffHeapAllocator allocator, long[] block, long bytes) {
        MemorySegment segment = allocator.segment(block[0]);
        for (long i = 0; i < bytes; i += 509) { // every 509th byte: one in each 4 KiB sub-page and more
            assertEquals((byte) block[2], segment.get(ValueLayout.JAVA_BYTE, i), "byte " + i + " of a block of "
                    + block[1]);
        }
        assertEquals((byte) block[2], segment.get(ValueLayout.JAVA_BYTE, bytes - 1));
    }
}
