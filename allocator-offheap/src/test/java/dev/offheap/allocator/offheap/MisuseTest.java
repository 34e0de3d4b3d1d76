package dev.offheap.allocator.offheap;

import dev.offheap.allocator.AllocatorClosedException;
import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.HeapCorruptionException;
import dev.offheap.allocator.InvalidAddressException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The misuse cases of mimalloc-bench's security suite, written for this API: which are caught always, and
 * which only in debug mode. README's table of them comes from these tests; what is not caught is said there,
 * not pretended here.
 */
class MisuseTest {

    private static OffHeapAllocator create(int debugLevel) {
        return OffHeapAllocator.create(new OffHeapAllocatorConfig().name("misuse").maxBytes(64L << 20)
                .debugLevel(debugLevel));
    }

    /** Writes through a raw address, as code that bypasses {@code segment()} would. */
    private static void rawWrite(long address, long length) {
        MemorySegment.ofAddress(address).reinterpret(length).fill((byte) 0x5A);
    }

    @Test
    void doubleInvalidUnalignedAndInteriorFreesAreAlwaysCaught() {
        try (OffHeapAllocator allocator = create(0)) {
            long small = allocator.allocate(64);
            long medium = allocator.allocate(100_000);
            allocator.free(small);
            assertThrows(DoubleFreeException.class, () -> allocator.free(small));
            assertThrows(InvalidAddressException.class, () -> allocator.free(medium + 8));
            assertThrows(InvalidAddressException.class, () -> allocator.free(medium + 4096));
            assertThrows(InvalidAddressException.class, () -> allocator.free(12345));
            allocator.free(medium);
            assertThrows(DoubleFreeException.class, () -> allocator.free(medium));
        }
    }

    @Test
    void overflowThroughASegmentIsAlwaysCaughtBeforeItHappens() {
        try (OffHeapAllocator allocator = create(0)) {
            long address = allocator.allocate(64);
            MemorySegment block = allocator.segment(address);
            assertThrows(IndexOutOfBoundsException.class, () -> block.set(ValueLayout.JAVA_BYTE, block.byteSize(), (byte) 1));
            assertThrows(IndexOutOfBoundsException.class, () -> block.set(ValueLayout.JAVA_BYTE, -1, (byte) 1));
        }
    }

    @Test
    void rawOverflowOfAMediumBlockBy1Or32BytesIsCaughtAtFreeOfEitherBlock() {
        for (int overflow : new int[] {1, 32}) {
            try (OffHeapAllocator allocator = create(0)) {
                long address = allocator.allocate(100_000);
                long next = allocator.allocate(100_000);
                rawWrite(address, allocator.usableSize(address) + overflow);
                HeapCorruptionException own = assertThrows(HeapCorruptionException.class,
                        () -> allocator.free(address));
                assertTrue(own.getMessage().contains("past the end"), own.getMessage());
                // Freeing the neighbour reads the damaged tags too: reported, never followed. By 1 byte the
                // neighbour's header is intact and the damaged footer before it is named; by 32 bytes its header
                // itself is gone, so it no longer looks like a block at all.
                RuntimeException neighbour = assertThrows(RuntimeException.class, () -> allocator.free(next));
                assertTrue(overflow == 1 ? neighbour instanceof HeapCorruptionException
                        : neighbour instanceof InvalidAddressException, neighbour.toString());
            }
        }
    }

    /**
     * Zeros written past a medium block's end leave the next block's header reading size 0: the walks over a
     * chunk (the purge's, trim()'s, the statistics') report it instead of stepping by 0 forever with the medium
     * lock held, which stalled every thread that then needed a medium block.
     */
    @Test
    void zerosWrittenOverAMediumBlocksNeighbourAreReportedByTheWalksNeverLoopedOn() {
        try (OffHeapAllocator allocator = create(0)) {
            long address = allocator.allocate(100_000);
            long next = allocator.allocate(100_000);
            MemorySegment.ofAddress(address).reinterpret(next - address).fill((byte) 0);
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                HeapCorruptionException trim = assertThrows(HeapCorruptionException.class, allocator::trim);
                assertTrue(trim.getMessage().contains("overwritten header"), trim.getMessage());
                assertThrows(HeapCorruptionException.class, allocator::verify);
            });
        }
    }

    @Test
    void rawWriteAfterFreeOfASmallBlockIsCaughtWhileQuarantinedInDebugMode() {
        try (OffHeapAllocator allocator = create(1)) {
            long address = allocator.allocate(64);
            allocator.free(address);
            assertTrue(allocator.allocate(64) != address, "a freed block is not handed out again at once");
            rawWrite(address + 8, 8);
            HeapCorruptionException byVerify = assertThrows(HeapCorruptionException.class, allocator::verify);
            assertTrue(byVerify.getMessage().contains("block at 0x" + Long.toHexString(address)
                    + " was written after it was freed"), byVerify.getMessage());
            HeapCorruptionException leaving = assertThrows(HeapCorruptionException.class, allocator::trim);
            assertTrue(leaving.getMessage().contains("in the debug quarantine"), leaving.getMessage());
        }
    }

    @Test
    void aWriteAfterFreeIsCaughtWhenTheBlockLeavesTheQuarantine() {
        try (OffHeapAllocator allocator = create(1)) {
            long victim = allocator.allocate(64);
            allocator.free(victim);
            rawWrite(victim + 16, 1);
            HeapCorruptionException e = assertThrows(HeapCorruptionException.class, () -> {
                for (int i = 0; i < Quarantine.MAX_BLOCKS; i++) {
                    allocator.free(allocator.allocate(64));
                }
            });
            assertTrue(e.getMessage().contains(Long.toHexString(victim)), e.getMessage());
        }
    }

    @Test
    void aDoubleFreeOfAQuarantinedBlockIsCaught() {
        try (OffHeapAllocator allocator = create(1)) {
            long address = allocator.allocate(64);
            allocator.free(address);
            assertThrows(DoubleFreeException.class, () -> allocator.free(address));
        }
    }

    @Test
    void rawOverflowOfASmallBlockBy1Or32BytesIsCaughtAtFreeInDebugMode() {
        for (int overflow : new int[] {1, 32}) {
            try (OffHeapAllocator allocator = create(1)) {
                long address = allocator.allocate(100);
                assertTrue(allocator.usableSize(address) == 100, "debug mode hands out exactly what was asked");
                rawWrite(address, 100 + overflow);
                HeapCorruptionException e = assertThrows(HeapCorruptionException.class, () -> allocator.free(address));
                assertTrue(e.getMessage().contains("written past its end"), e.getMessage());
                assertThrows(HeapCorruptionException.class, allocator::verify);
            }
        }
    }

    @Test
    void rawUnderflowIsCaughtAtTheCanaryOfTheBlockBeforeInDebugMode() {
        try (OffHeapAllocator allocator = create(1)) {
            long first = allocator.allocate(100);
            long second = allocator.allocate(100);
            assertTrue(second > first, "slots of a new slab go out in address order");
            rawWrite(second - 1, 1);
            HeapCorruptionException e = assertThrows(HeapCorruptionException.class, allocator::verify);
            assertTrue(e.getMessage().contains("block at 0x" + Long.toHexString(first)), e.getMessage());
            assertThrows(HeapCorruptionException.class, () -> allocator.free(first));
            allocator.free(second);
        }
    }

    @Test
    void verifyNamesADamagedMediumBlockEvenWithoutDebugMode() {
        try (OffHeapAllocator allocator = create(0)) {
            long address = allocator.allocate(100_000);
            allocator.allocate(100_000);
            allocator.verify();
            rawWrite(address, allocator.usableSize(address) + 1);
            HeapCorruptionException e = assertThrows(HeapCorruptionException.class, allocator::verify);
            assertTrue(e.getMessage().startsWith("verify(): the block at"), e.getMessage());
        }
    }

    @Test
    void useAfterCloseIsAlwaysCaught() {
        OffHeapAllocator allocator = create(0);
        long address = allocator.allocate(64);
        MemorySegment block = allocator.segment(address);
        allocator.close();
        assertThrows(AllocatorClosedException.class, () -> allocator.free(address));
        assertThrows(AllocatorClosedException.class, () -> allocator.allocate(64));
        assertThrows(IllegalStateException.class, () -> block.get(ValueLayout.JAVA_BYTE, 0));
    }
}
