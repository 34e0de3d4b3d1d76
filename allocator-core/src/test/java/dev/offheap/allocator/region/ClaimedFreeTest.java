package dev.offheap.allocator.region;

import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.HeapCorruptionException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A free claimed without a lock ({@link BoundaryTagAllocator#claimFree}): the block is freed to every call that
 * needs a live one, allocated to the heap's walks, and of two frees only one claims it.
 */
class ClaimedFreeTest {

    private static SegregatedListAllocator heap() {
        return SegregatedListAllocator.over(Arena.ofAuto().allocate(1 << 20, 16));
    }

    @Test
    void aClaimedBlockIsFreedToEveryCallThatNeedsALiveBlockAndStaysAllocatedInTheHeap() {
        SegregatedListAllocator heap = heap();
        long kept = heap.allocate(1000);
        long block = heap.allocate(5000);
        long usable = heap.usableSize(block);
        assertEquals(usable, heap.claimFree("free", block));
        assertThrows(DoubleFreeException.class, () -> heap.free(block));
        assertThrows(DoubleFreeException.class, () -> heap.claimFree("free", block));
        assertThrows(DoubleFreeException.class, () -> heap.usableSize(block));
        assertThrows(DoubleFreeException.class, () -> heap.reallocate(block, 9000));
        List<Long> visited = new ArrayList<>();
        heap.forEachLiveBlock((address, bytes) -> visited.add(address));
        assertEquals(List.of(kept), visited, "a claimed block is not live to the caller");
        assertEquals(2, heap.liveBlocks(), "but it is allocated in the heap until it is given back");
        heap.verify(); // the mark is in the header only: check word and footer still agree
        heap.checkAround("verify", block, true);
    }

    @Test
    void aClaimedBlockIsReusedAsItIsOrGivenBackToTheFreeLists() {
        SegregatedListAllocator heap = heap();
        long block = heap.allocate(5000);
        heap.claimFree("free", block);
        long other = heap.allocate(5000);
        assertNotEquals(block, other, "a claimed block is not in the free lists");
        heap.free(other);
        heap.reuseFreed("allocate", block);
        assertTrue(heap.usableSize(block) >= 5000, "live again, as it was");
        assertThrows(IllegalStateException.class, () -> heap.freeClaimed("free", block), "not claimed now");
        heap.claimFree("free", block);
        heap.freeClaimed("free", block);
        assertThrows(DoubleFreeException.class, () -> heap.freeClaimed("free", block));
        assertEquals(0, heap.liveBlocks());
        heap.verify();
    }

    @Test
    void aWriteOverAClaimedBlocksFooterIsReportedAndChangesNothing() {
        SegregatedListAllocator heap = heap();
        long block = heap.allocate(5000);
        long usable = heap.claimFree("free", block);
        MemorySegment.ofAddress(block + usable).reinterpret(Long.BYTES).set(ValueLayout.JAVA_LONG, 0, 0xBADL);
        assertThrows(HeapCorruptionException.class, () -> heap.reuseFreed("allocate", block));
        assertThrows(HeapCorruptionException.class, () -> heap.freeClaimed("free", block));
        assertThrows(DoubleFreeException.class, () -> heap.claimFree("free", block), "still claimed");
    }

    @Test
    void ofTwoThreadsFreeingOneBlockAtOnceExactlyOneClaimsIt() throws Exception {
        SegregatedListAllocator heap = heap();
        CyclicBarrier start = new CyclicBarrier(2);
        AtomicInteger claims = new AtomicInteger();
        long[] block = new long[1];
        int rounds = 20_000;
        Runnable freer = () -> {
            for (int round = 0; round < rounds; round++) {
                await(start); // the block of this round is allocated
                try {
                    heap.claimFree("free", block[0]);
                    claims.incrementAndGet();
                } catch (DoubleFreeException refused) {
                    // the other thread claimed it
                }
                await(start); // both done: the main thread checks and allocates the next
            }
        };
        Thread other = Thread.ofPlatform().start(freer);
        for (int round = 0; round < rounds; round++) {
            block[0] = heap.allocate(5000);
            claims.set(0);
            await(start);
            try {
                heap.claimFree("free", block[0]);
                claims.incrementAndGet();
            } catch (DoubleFreeException refused) {
                // the other thread claimed it
            }
            await(start);
            assertEquals(1, claims.get(), "round " + round + ": claims of one block");
            heap.freeClaimed("free", block[0]);
        }
        other.join();
        assertEquals(0, heap.liveBlocks());
        heap.verify();
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
