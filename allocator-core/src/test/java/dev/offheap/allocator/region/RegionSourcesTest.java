package dev.offheap.allocator.region;

import dev.offheap.allocator.Allocator;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where a region allocator's memory may come from, and what it refuses. */
class RegionSourcesTest {

    private static final List<Function<MemorySegment, Allocator>> OVER_SEGMENT = List.of(
            BumpAllocator::over, ImplicitListAllocator::over, ExplicitListAllocator::over,
            SegregatedListAllocator::over, BuddyAllocator::over, region -> SlabAllocator.over(region, 64));
    private static final List<Function<ByteBuffer, Allocator>> OVER_BUFFER = List.of(
            BumpAllocator::over, ImplicitListAllocator::over, ExplicitListAllocator::over,
            SegregatedListAllocator::over, BuddyAllocator::over, buffer -> SlabAllocator.over(buffer, 64));

    @Test
    void everyAllocatorWorksOverADirectBufferAndStaysInside() {
        for (Function<ByteBuffer, Allocator> factory : OVER_BUFFER) {
            ByteBuffer buffer = ByteBuffer.allocateDirect(64 * 1024);
            long start = MemorySegment.ofBuffer(buffer).address();
            try (Allocator allocator = factory.apply(buffer)) {
                for (int i = 0; i < 100; i++) {
                    long address = allocator.allocate(40);
                    assertTrue(address >= start && address + allocator.usableSize(address) <= start + buffer.capacity(),
                            allocator + " handed out memory outside the buffer");
                    allocator.segment(address).set(ValueLayout.JAVA_LONG, 0, i);
                }
            }
        }
    }

    @Test
    void everyAllocatorWorksOverAnUnalignedSegment() {
        for (Function<MemorySegment, Allocator> factory : OVER_SEGMENT) {
            MemorySegment region = Arena.ofAuto().allocate(64 * 1024 + 5, 8).asSlice(5);
            try (Allocator allocator = factory.apply(region)) {
                long address = allocator.allocate(16);
                assertEquals(0, address % 16);
                assertTrue(address >= region.address() && address + 16 <= region.address() + region.byteSize());
            }
        }
    }

    @Test
    void heapMemoryIsRefused() {
        for (Function<MemorySegment, Allocator> factory : OVER_SEGMENT) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> factory.apply(MemorySegment.ofArray(new byte[64 * 1024])));
            assertTrue(e.getMessage().contains("heap segment"), e.getMessage());
        }
        for (Function<ByteBuffer, Allocator> factory : OVER_BUFFER) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> factory.apply(ByteBuffer.allocate(64 * 1024)));
            assertTrue(e.getMessage().contains("allocateDirect"), e.getMessage());
        }
    }

    @Test
    void tooSmallAndReadOnlyRegionsAreRefused() {
        for (Function<MemorySegment, Allocator> factory : OVER_SEGMENT) {
            IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                    () -> factory.apply(Arena.ofAuto().allocate(100)));
            assertTrue(small.getMessage().contains("at least"), small.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> factory.apply(Arena.ofAuto().allocate(64 * 1024).asReadOnly()));
        }
    }

    @Test
    void theRegionIsTheWholeState() {
        // Two allocators over two halves of one segment never touch each other's half.
        MemorySegment whole = Arena.ofAuto().allocate(128 * 1024, 16);
        try (Allocator left = ExplicitListAllocator.over(whole.asSlice(0, 64 * 1024));
             Allocator right = BuddyAllocator.over(whole.asSlice(64 * 1024))) {
            long a = left.allocate(1000);
            long b = right.allocate(1000);
            assertTrue(a < whole.address() + 64 * 1024);
            assertTrue(b >= whole.address() + 64 * 1024);
        }
    }
}
