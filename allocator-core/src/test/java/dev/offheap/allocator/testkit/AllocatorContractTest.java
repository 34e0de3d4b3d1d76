package dev.offheap.allocator.testkit;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.AllocatorClosedException;
import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.InvalidAddressException;
import dev.offheap.allocator.OffHeapOutOfMemoryException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The contract every {@link Allocator} keeps, run against each implementation (in the manner of JCTools'
 * {@code QueueSanityTest}). A subclass says how to make one allocator and which optional behaviours it has.
 *
 * <p>Every block the tests allocate is filled with a pattern derived from its address and checked before it
 * is freed, so overlapping blocks, lost contents, or a rejected call that touched a live block all fail.
 */
public abstract class AllocatorContractTest {

    /** The capacity the tests ask for: large enough for hundreds of blocks, small enough to fill quickly. */
    protected static final long CAPACITY = 1 << 20;

    protected Allocator allocator;
    /** Live blocks: address to the size asked for. */
    private final Map<Long, Long> live = new LinkedHashMap<>();

    /** A new allocator that can hold about {@code capacityBytes} bytes. */
    protected abstract Allocator create(long capacityBytes);

    /** The largest block the tests may ask for; a slab holds only its slot size. */
    protected long maxBlockBytes() {
        return 64 * 1024;
    }

    /** Whether any freed block is reused (a bump allocator reuses only the most recent ones). */
    protected boolean reusesAnyFreedBlock() {
        return true;
    }

    /** Whether, after everything is freed, one block of almost the whole capacity can be allocated again. */
    protected boolean coalesces() {
        return true;
    }

    /** Whether this allocator has a fixed region and so can be filled up by a test. */
    protected boolean canBeExhausted() {
        return true;
    }

    /**
     * Called after a test freed every block and before it looks at the largest free block: allocators that
     * keep freed memory in caches give it back here.
     */
    protected void settle() {
    }

    @BeforeEach
    void createAllocator() {
        allocator = create(CAPACITY);
    }

    @AfterEach
    void closeAllocator() {
        allocator.close();
    }

    // -------------------------------------------------------------------------------------------------------
    // Helpers

    protected long allocateFilled(long size) {
        long address = allocator.allocate(size);
        fill(address, size);
        return address;
    }

    protected void fill(long address, long size) {
        MemorySegment block = allocator.segment(address);
        for (long i = 0; i < size; i++) {
            block.set(ValueLayout.JAVA_BYTE, i, pattern(address, i));
        }
        live.put(address, size);
    }

    protected void verify(long address) {
        long size = live.get(address);
        MemorySegment block = allocator.segment(address);
        for (long i = 0; i < size; i++) {
            if (block.get(ValueLayout.JAVA_BYTE, i) != pattern(address, i)) {
                throw new AssertionError("block " + Long.toHexString(address) + " of " + size
                        + " bytes changed at byte " + i);
            }
        }
    }

    protected void verifyAll() {
        live.keySet().forEach(this::verify);
    }

    protected void freeVerified(long address) {
        verify(address);
        live.remove(address);
        allocator.free(address);
    }

    private static byte pattern(long address, long i) {
        return (byte) ((address >>> 4) * 31 + i * 7);
    }

    /** Asserts that {@code call} throws {@code type} and leaves every live block and the counters as they were. */
    protected <T extends Throwable> T assertRejected(Class<T> type, Executable call) {
        AllocatorStats before = allocator.stats();
        T thrown = assertThrows(type, call);
        assertEquals(before, allocator.stats(), "a rejected call changed the counters");
        verifyAll();
        return thrown;
    }

    // -------------------------------------------------------------------------------------------------------
    // Allocation

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 7, 15, 16, 17, 31, 48, 100, 128, 129, 1000, 4096, 10_000})
    void blocksAreAlignedNonZeroAndLargeEnough(long size) {
        assumeTrue(size <= maxBlockBytes(),
                () -> "blocks of this allocator are at most " + maxBlockBytes() + " bytes");
        for (int i = 0; i < 8; i++) {
            long address = allocateFilled(size);
            assertNotEquals(0, address);
            assertEquals(0, address % Allocator.MIN_ALIGNMENT, "address " + Long.toHexString(address));
            assertTrue(allocator.usableSize(address) >= size, "usable size below the size asked for");
            assertEquals(allocator.usableSize(address), allocator.segment(address).byteSize());
        }
        verifyAll();
    }

    @Test
    void alignedAllocationsHonourTheAlignment() {
        long maxAlignment = Math.min(4096, maxSupportedAlignment());
        for (long alignment = 1; alignment <= maxAlignment; alignment <<= 1) {
            long size = Math.min(maxBlockBytes(), 24);
            long address = allocator.allocate(size, alignment);
            assertEquals(0, address % Math.max(alignment, Allocator.MIN_ALIGNMENT),
                    "allocate(" + size + ", " + alignment + ") gave " + Long.toHexString(address));
            fill(address, size);
        }
        verifyAll();
    }

    /** The largest alignment to test; allocators that support less say so. */
    protected long maxSupportedAlignment() {
        return 4096;
    }

    @Test
    void blocksDoNotOverlap() {
        SplittableRandom random = new SplittableRandom(42);
        List<Long> addresses = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            addresses.add(allocateFilled(random.nextLong(1, Math.min(2000, maxBlockBytes()) + 1)));
        }
        verifyAll();
        addresses.sort(Long::compare);
        for (int i = 1; i < addresses.size(); i++) {
            long previous = addresses.get(i - 1);
            assertTrue(previous + allocator.usableSize(previous) <= addresses.get(i),
                    "blocks at " + Long.toHexString(previous) + " and " + Long.toHexString(addresses.get(i))
                            + " overlap");
        }
    }

    @Test
    void segmentIsBoundedToTheUsableBytes() {
        long address = allocator.allocate(Math.min(100, maxBlockBytes()));
        MemorySegment block = allocator.segment(address);
        assertEquals(address, block.address());
        block.set(ValueLayout.JAVA_BYTE, block.byteSize() - 1, (byte) 1);
        assertThrows(IndexOutOfBoundsException.class, () -> block.get(ValueLayout.JAVA_BYTE, block.byteSize()));
        assertThrows(IndexOutOfBoundsException.class, () -> block.get(ValueLayout.JAVA_BYTE, -1));
    }

    // -------------------------------------------------------------------------------------------------------
    // Reallocation

    @Test
    void reallocateKeepsTheContents() {
        long max = maxBlockBytes();
        long size = Math.min(40, max);
        long address = allocateFilled(size);
        long[] sizes = {Math.min(300, max), Math.min(5000, max), Math.min(20, max), Math.min(1, max), max};
        for (long newSize : sizes) {
            long kept = Math.min(size, newSize);
            live.remove(address);
            long moved = allocator.reallocate(address, newSize);
            MemorySegment block = allocator.segment(moved);
            assertTrue(block.byteSize() >= newSize);
            for (long i = 0; i < kept; i++) {
                assertEquals(pattern(address, i), block.get(ValueLayout.JAVA_BYTE, i), "byte " + i + " after "
                        + size + " -> " + newSize);
            }
            address = moved;
            size = newSize;
            fill(address, size);
        }
        verifyAll();
    }

    @Test
    void reallocateLeavesOtherBlocksAlone() {
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            blocks.add(allocateFilled(Math.min(64, maxBlockBytes())));
        }
        for (int i = 0; i < blocks.size(); i += 2) {
            long address = blocks.get(i);
            live.remove(address);
            fill(allocator.reallocate(address, Math.min(64 + 16 * i, maxBlockBytes())),
                    Math.min(64 + 16 * i, maxBlockBytes()));
        }
        verifyAll();
    }

    // -------------------------------------------------------------------------------------------------------
    // Reuse, exhaustion, coalescing

    @Test
    void freedMemoryIsReused() {
        long size = Math.min(1000, maxBlockBytes());
        long total = 0;
        while (total < 20 * CAPACITY) {
            long address = allocateFilled(size);
            freeVerified(address);
            total += size;
        }
        assertEquals(0, allocator.stats().liveBlocks());
    }

    @Test
    void exhaustionThrowsAndTheAllocatorRecovers() {
        assumeTrue(canBeExhausted(), "this allocator cannot be exhausted in a test");
        long size = Math.min(64, maxBlockBytes());
        List<Long> blocks = new ArrayList<>();
        OffHeapOutOfMemoryException full = null;
        while (full == null) {
            try {
                blocks.add(allocateFilled(size));
            } catch (OffHeapOutOfMemoryException e) {
                full = e;
            }
            assertTrue(blocks.size() < CAPACITY, "never ran out");
        }
        assertEquals(size, full.requestedBytes());
        assertTrue(full.getMessage().contains("allocate(" + size + ")"), full.getMessage());
        verifyAll();
        int filled = blocks.size();
        for (int i = blocks.size() - 1; i >= 0; i--) {
            freeVerified(blocks.get(i));
        }
        assertEquals(0, allocator.stats().liveBlocks());
        for (int i = 0; i < filled; i++) {
            allocateFilled(size);
        }
        verifyAll();
    }

    @Test
    void afterFreeingEverythingAlmostTheWholeCapacityIsOneBlock() {
        assumeTrue(coalesces(), "this allocator does not coalesce free blocks");
        long initialLargest = allocator.stats().largestFreeBlockBytes();
        SplittableRandom random = new SplittableRandom(7);
        List<Long> blocks = new ArrayList<>();
        try {
            while (true) {
                blocks.add(allocateFilled(random.nextLong(1, Math.min(3000, maxBlockBytes()))));
            }
        } catch (OffHeapOutOfMemoryException expected) {
            // Full: now free in a scrambled order, so that coalescing has to work both ways.
        }
        for (int i = 0; i < blocks.size(); i++) {
            int j = random.nextInt(i, blocks.size());
            long swap = blocks.get(i);
            blocks.set(i, blocks.get(j));
            blocks.set(j, swap);
        }
        blocks.forEach(this::freeVerified);
        settle();
        long largest = allocator.stats().largestFreeBlockBytes();
        assertEquals(initialLargest, largest, "the largest free block after freeing everything");
        assertTrue(largest >= CAPACITY / 2, "largest free block " + largest);
        allocateFilled(largest);
    }

    // -------------------------------------------------------------------------------------------------------
    // Bad input: a clear error, nothing changed

    @Test
    void negativeAndImpossibleSizesAreRejected() {
        allocateFilled(Math.min(32, maxBlockBytes()));
        IllegalArgumentException negative = assertRejected(IllegalArgumentException.class,
                () -> allocator.allocate(-1));
        assertTrue(negative.getMessage().contains("allocate(-1)"), negative.getMessage());
        assertTrue(negative.getMessage().contains("negative"), negative.getMessage());
        IllegalArgumentException huge = assertRejected(IllegalArgumentException.class,
                () -> allocator.allocate(Long.MAX_VALUE / 2));
        assertTrue(huge.getMessage().contains(String.valueOf(Long.MAX_VALUE / 2)), huge.getMessage());
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 3, 24, -16, Long.MIN_VALUE})
    void alignmentsThatAreNotPowersOfTwoAreRejected(long alignment) {
        allocateFilled(Math.min(32, maxBlockBytes()));
        IllegalArgumentException e = assertRejected(IllegalArgumentException.class,
                () -> allocator.allocate(16, alignment));
        assertTrue(e.getMessage().contains("power of two"), e.getMessage());
    }

    @Test
    void addressesItNeverReturnedAreRejected() {
        long address = allocateFilled(Math.min(256, maxBlockBytes()));
        long[] foreign = {0, 16, -16, address + 16, address + 8, address + 1, address - 16, address + (1L << 40)};
        for (long bad : foreign) {
            InvalidAddressException e = assertRejected(InvalidAddressException.class, () -> allocator.free(bad));
            assertEquals(bad, e.address());
            assertTrue(e.getMessage().contains(Long.toHexString(bad)), e.getMessage());
            assertRejected(InvalidAddressException.class, () -> allocator.usableSize(bad));
            assertRejected(InvalidAddressException.class, () -> allocator.reallocate(bad, 32));
            assertRejected(InvalidAddressException.class, () -> allocator.segment(bad));
        }
    }

    @Test
    void doubleFreeIsRejected() {
        long keep = allocateFilled(Math.min(64, maxBlockBytes()));
        long address = allocateFilled(Math.min(64, maxBlockBytes()));
        long after = allocateFilled(Math.min(64, maxBlockBytes()));
        freeVerified(address);
        // A free may merge the block away; what matters is that the second free is refused and nothing changes.
        InvalidAddressException e = assertRejected(InvalidAddressException.class, () -> allocator.free(address));
        assertTrue(e.getMessage().contains(Long.toHexString(address)), e.getMessage());
        verify(keep);
        verify(after);
    }

    @Test
    void doubleFreeOfABlockWithLiveNeighboursIsNamedAsSuch() {
        long left = allocateFilled(Math.min(64, maxBlockBytes()));
        long address = allocateFilled(Math.min(64, maxBlockBytes()));
        long right = allocateFilled(Math.min(64, maxBlockBytes()));
        freeVerified(address);
        if (reusesAnyFreedBlock()) {
            DoubleFreeException e = assertRejected(DoubleFreeException.class, () -> allocator.free(address));
            assertTrue(e.getMessage().contains("already freed"), e.getMessage());
        }
        verify(left);
        verify(right);
    }

    @Test
    void everyCallAfterCloseThrows() {
        long address = allocator.allocate(Math.min(64, maxBlockBytes()));
        allocator.close();
        assertThrows(AllocatorClosedException.class, () -> allocator.allocate(16));
        assertThrows(AllocatorClosedException.class, () -> allocator.allocate(16, 64));
        assertThrows(AllocatorClosedException.class, () -> allocator.free(address));
        assertThrows(AllocatorClosedException.class, () -> allocator.reallocate(address, 32));
        assertThrows(AllocatorClosedException.class, () -> allocator.usableSize(address));
        AllocatorClosedException e = assertThrows(AllocatorClosedException.class, () -> allocator.segment(address));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        allocator.close(); // a second close does nothing
        AllocatorStats last = allocator.stats(); // works after close: the final figures, memory figures 0
        assertEquals(1, last.liveBlocks(), "the block never freed");
        assertEquals(last.allocations() - last.liveBlocks(), last.frees());
        assertEquals(0, last.committedBytes() + last.reservedBytes() + last.allocatedBytes()
                + last.threadCachedBytes() + last.freeBytes() + last.largestFreeBlockBytes());
    }

    @Test
    void statsCountLiveBlocksAndBytes() {
        AllocatorStats empty = allocator.stats();
        long a = allocateFilled(Math.min(100, maxBlockBytes()));
        long b = allocateFilled(Math.min(200, maxBlockBytes()));
        AllocatorStats two = allocator.stats();
        assertEquals(empty.liveBlocks() + 2, two.liveBlocks());
        assertEquals(empty.allocatedBytes() + allocator.usableSize(a) + allocator.usableSize(b), two.allocatedBytes());
        assertEquals(empty.allocations() + 2, two.allocations());
        assertTrue(two.committedBytes() >= two.allocatedBytes() + two.freeBytes());
        freeVerified(a);
        freeVerified(b);
        AllocatorStats after = allocator.stats();
        assertEquals(empty.liveBlocks(), after.liveBlocks());
        assertEquals(empty.allocatedBytes(), after.allocatedBytes());
        assertEquals(empty.frees() + 2, after.frees());
    }
}
