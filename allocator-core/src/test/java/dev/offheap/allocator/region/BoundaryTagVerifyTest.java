package dev.offheap.allocator.region;

import dev.offheap.allocator.HeapCorruptionException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link BoundaryTagAllocator#verify()}: silent on a healthy heap, precise on a damaged one; free space is disposable. */
class BoundaryTagVerifyTest {

    private static BoundaryTagAllocator create(String design, MemorySegment region) {
        return switch (design) {
            case "implicit" -> ImplicitListAllocator.over(region);
            case "explicit" -> ExplicitListAllocator.over(region);
            default -> SegregatedListAllocator.over(region);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"implicit", "explicit", "segregated"})
    void aHealthyHeapVerifiesAfterEveryStepOfRandomWork(String design) {
        BoundaryTagAllocator allocator = create(design, Arena.ofAuto().allocate(1 << 20, 16));
        SplittableRandom random = new SplittableRandom(7);
        List<Long> live = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            if (live.isEmpty() || random.nextInt(3) > 0) {
                live.add(allocator.allocate(random.nextLong(1, 2_000)));
            } else {
                allocator.free(live.remove(random.nextInt(live.size())));
            }
            allocator.verify();
        }
    }

    /**
     * What {@link BoundaryTagAllocator#forEachFreeSpace} hands out may be thrown away (the production allocator
     * gives those pages back to the OS): overwriting all of it, again and again during random work, damages
     * neither a live block nor the heap's tags.
     */
    @ParameterizedTest
    @ValueSource(strings = {"implicit", "explicit", "segregated"})
    void freeSpaceCanBeOverwrittenWithoutDamagingTheHeapOrALiveBlock(String design) {
        BoundaryTagAllocator allocator = create(design, Arena.ofAuto().allocate(4 << 20, 16));
        SplittableRandom random = new SplittableRandom(11);
        List<Long> live = new ArrayList<>();
        long[] discarded = new long[1];
        for (int i = 0; i < 2_000; i++) {
            if (live.isEmpty() || random.nextInt(3) > 0) {
                long address = allocator.allocate(random.nextLong(1, 4_000));
                block(allocator, address).fill((byte) address);
                live.add(address);
            } else {
                allocator.free(live.remove(random.nextInt(live.size())));
            }
            allocator.forEachFreeSpace((from, to) -> {
                assertTrue(from <= to, "a stretch that ends before it starts");
                MemorySegment.ofAddress(from).reinterpret(to - from).fill((byte) 0xA5);
                discarded[0] += to - from;
            });
            allocator.verify();
            for (long address : live) {
                MemorySegment block = block(allocator, address);
                assertEquals(-1, block.mismatch(MemorySegment.ofArray(new byte[(int) block.byteSize()])
                        .fill((byte) address)), "live block at 0x" + Long.toHexString(address) + " changed");
            }
        }
        assertTrue(discarded[0] > 0, "no free space was ever visited");
    }

    /**
     * {@link BoundaryTagAllocator#writtenStart}/{@code writtenEnd} bound what an allocation wrote: every byte that
     * was free space before it and is not after it lies in that range, the block's payload included (aligned
     * allocations too, whose leading gap becomes a free block of its own).
     */
    @ParameterizedTest
    @ValueSource(strings = {"implicit", "explicit", "segregated"})
    void anAllocationWritesFreeSpaceOnlyWhereWrittenStartAndEndSay(String design) {
        BoundaryTagAllocator allocator = create(design, Arena.ofAuto().allocate(4 << 20, 1 << 16));
        SplittableRandom random = new SplittableRandom(13);
        List<Long> live = new ArrayList<>();
        int checked = 0;
        for (int i = 0; i < 1_000; i++) {
            if (live.isEmpty() || random.nextInt(3) > 0) {
                List<long[]> before = freeSpace(allocator);
                long alignment = 16L << random.nextInt(9);
                long address = allocator.allocate(random.nextLong(1, 20_000), alignment);
                long start = allocator.writtenStart(address);
                long end = allocator.writtenEnd(address);
                assertTrue(start < address && address + allocator.usableSize(address) <= end, "payload outside");
                List<long[]> after = freeSpace(allocator);
                for (long[] was : before) {
                    long from = was[0];
                    for (long[] still : after) { // both in address order; what lies between the stretches left
                        if (still[1] <= from || still[0] >= was[1]) {
                            continue;
                        }
                        assertLostWithin(from, Math.max(from, still[0]), start, end);
                        from = Math.max(from, still[1]);
                    }
                    assertLostWithin(from, was[1], start, end);
                }
                live.add(address);
                checked++;
            } else {
                allocator.free(live.remove(random.nextInt(live.size())));
            }
        }
        assertTrue(checked > 500, "too few allocations checked: " + checked);
    }

    private static void assertLostWithin(long from, long to, long start, long end) {
        assertTrue(from >= to || (from >= start && to <= end), "free space [0x" + Long.toHexString(from) + ", 0x"
                + Long.toHexString(to) + ") was written outside [0x" + Long.toHexString(start) + ", 0x"
                + Long.toHexString(end) + ")");
    }

    private static List<long[]> freeSpace(BoundaryTagAllocator allocator) {
        List<long[]> stretches = new ArrayList<>();
        allocator.forEachFreeSpace((from, to) -> stretches.add(new long[] {from, to}));
        return stretches;
    }

    private static MemorySegment block(BoundaryTagAllocator allocator, long address) {
        return MemorySegment.ofAddress(address).reinterpret(allocator.usableSize(address));
    }

    @ParameterizedTest
    @ValueSource(strings = {"implicit", "explicit", "segregated"})
    void aWritePastABlockIsReportedAtTheBlockItDamaged(String design) {
        BoundaryTagAllocator allocator = create(design, Arena.ofAuto().allocate(1 << 20, 16));
        long first = allocator.allocate(100);
        long second = allocator.allocate(100);
        MemorySegment.ofAddress(first).reinterpret(allocator.usableSize(first) + 1).fill((byte) 0x5A);
        HeapCorruptionException e = assertThrows(HeapCorruptionException.class, allocator::verify);
        assertTrue(e.getMessage().contains("verify(): the block at 0x" + Long.toHexString(first))
                || e.getMessage().contains("verify(): the block at 0x" + Long.toHexString(second)), e.getMessage());
    }

    /**
     * A write of zeros past a block's end leaves the next header reading size 0: a walk that trusted it (the
     * purge's over free space, the statistics', a first fit over the implicit list) never ended, holding its
     * caller's lock. Every walk checks the header before it steps over the block.
     */
    @ParameterizedTest
    @ValueSource(strings = {"implicit", "explicit", "segregated"})
    void aWalkOverAZeroedHeaderThrowsInsteadOfLoopingForever(String design) {
        BoundaryTagAllocator allocator = create(design, Arena.ofAuto().allocate(1 << 20, 16));
        long first = allocator.allocate(100);
        long second = allocator.allocate(100);
        MemorySegment.ofAddress(first).reinterpret(second - first).fill((byte) 0); // into the second's header
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            assertThrows(HeapCorruptionException.class, () -> allocator.forEachFreeSpace((from, to) -> { }));
            assertThrows(HeapCorruptionException.class, () -> allocator.forEachLiveBlock((address, bytes) -> { }));
        });
        if (design.equals("implicit")) { // its statistics and its first fit walk the heap; the others keep lists
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                assertThrows(HeapCorruptionException.class, allocator::stats);
                assertThrows(HeapCorruptionException.class, () -> allocator.allocate(100));
            });
        }
    }
}
