package dev.offheap.allocator.offheap;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.SizeClasses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The budget: {@code maxBytes} is usable to the end, never exceeded, and freeing makes room again. */
class CapTest {

    private static final long MIB = 1L << 20;

    private static long size(SplittableRandom random) {
        int kind = random.nextInt(1000);
        long from = kind < 970 ? 1 : kind < 998 ? 64 << 10 : 1 << 20;
        long to = kind < 970 ? 16 << 10 : kind < 998 ? 1 << 20 : 4 << 20;
        return (long) Math.exp(Math.log(from) + random.nextDouble() * (Math.log(to) - Math.log(from)));
    }

    @Test
    void committedNeverExceedsTheCapUnderThreadsAtTheCap() throws Exception {
        long cap = 24 * MIB;
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("cap-threads")
                .maxBytes(cap).decayMillis(100))) {
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicLong peak = new AtomicLong();
            AtomicLong refusals = new AtomicLong();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread sampler = Thread.ofPlatform().start(() -> {
                while (running.get()) {
                    peak.accumulateAndGet(allocator.committedBytes(), Math::max);
                }
            });
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int seed = t;
                workers.add(Thread.ofPlatform().start(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    long[] held = new long[256];
                    try {
                        for (int i = 0; i < 30_000; i++) {
                            int slot = random.nextInt(held.length);
                            if (held[slot] != 0) {
                                allocator.free(held[slot]);
                                held[slot] = 0;
                            }
                            try {
                                held[slot] = allocator.allocate(size(random));
                            } catch (OffHeapOutOfMemoryException full) {
                                refusals.incrementAndGet();
                            }
                        }
                        for (long address : held) {
                            if (address != 0) {
                                allocator.free(address);
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            for (Thread worker : workers) {
                worker.join();
            }
            running.set(false);
            sampler.join();
            assertNull(failure.get());
            assertTrue(refusals.get() > 0, "the workload must reach the cap to test it");
            assertTrue(peak.get() <= cap, "committed " + peak.get() + " > maxBytes " + cap);
            assertTrue(allocator.stats().committedBytes() <= cap);
            allocator.verify();
        }
    }

    @Test
    void underAMixOfSmallMediumAndHugeBlocksEveryRefusalIsTheCap() {
        long cap = 64 * MIB;
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("cap-mix")
                .maxBytes(cap).decayMillis(-1))) {
            SplittableRandom random = new SplittableRandom(7);
            List<long[]> live = new ArrayList<>();
            long asked = 0;
            int refusals = 0;
            for (int step = 0; step < 200_000 && refusals < 50; step++) {
                if (!live.isEmpty() && random.nextBoolean()) {
                    long[] victim = live.set(random.nextInt(live.size()), live.getLast());
                    live.removeLast();
                    allocator.free(victim[0]);
                    asked -= victim[1];
                }
                long size = size(random);
                try {
                    live.add(new long[] {allocator.allocate(size), size});
                    asked += size;
                } catch (OffHeapOutOfMemoryException full) {
                    refusals++;
                    assertTrue(full.getMessage().contains("is at its cap"), full.getMessage());
                    assertTrue(full.getMessage().contains("maxBytes " + cap), full.getMessage());
                    // At the cap, what is asked is most of the cap: class rounding and free slots in slabs aside.
                    assertTrue(asked > cap * 3 / 4, "refused with " + asked + " bytes asked of " + cap);
                }
                assertTrue(allocator.committedBytes() <= cap);
            }
            assertTrue(refusals > 0, "the workload must reach the cap");
            for (long[] block : live) {
                allocator.free(block[0]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {64, 1024, 200_000, 3 << 20})
    void aFreeOfTheRequestedSizeAtTheCapLetsTheNextAllocationThrough(long size) {
        for (boolean randomOrder : new boolean[] {false, true}) {
            try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig()
                    .name("cap-room").maxBytes(16 * MIB).decayMillis(-1))) {
                List<Long> blocks = new ArrayList<>();
                while (true) {
                    try {
                        blocks.add(allocator.allocate(size));
                    } catch (OffHeapOutOfMemoryException full) {
                        break;
                    }
                }
                if (randomOrder) {
                    Collections.shuffle(blocks, new java.util.Random(size));
                }
                for (int i = 0; i < 20; i++) {
                    allocator.free(blocks.removeLast());
                    long again = allocator.allocate(size); // must not throw: a block of this size was just freed
                    blocks.add(again);
                }
                assertTrue(allocator.committedBytes() <= 16 * MIB);
                allocator.verify();
            }
        }
    }

    /**
     * The cap filled with 72 KiB medium blocks: a freed one leaves a hole that seldom holds a whole 64 KiB page, yet
     * a smaller block of another kind (a small one, which would need a new slab of 64-256 KiB) must get through:
     * the hole's free sub-pages go back to the OS and the block is placed beside the slabs if no slab fits.
     */
    @Test
    void aFreedMediumBlockAtTheCapMakesRoomForASmallerBlockOfAnyKind() {
        long cap = 16 * MIB;
        long[] smaller = {1000, 40_000, 60_000, 20_000, 64, 70_000};
        for (boolean randomOrder : new boolean[] {false, true}) {
            try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig()
                    .name("cap-kinds").maxBytes(cap).decayMillis(-1))) {
                List<Long> blocks = new ArrayList<>();
                while (true) {
                    try {
                        blocks.add(allocator.allocate(72 << 10));
                    } catch (OffHeapOutOfMemoryException full) {
                        break;
                    }
                }
                if (randomOrder) {
                    Collections.shuffle(blocks, new java.util.Random(72));
                }
                List<Long> placed = new ArrayList<>();
                for (int i = 0; i < 24; i++) {
                    allocator.free(blocks.removeLast());
                    long size = smaller[i % smaller.length];
                    placed.add(allocator.allocate(size)); // must not throw: a larger block was just freed
                    assertTrue(allocator.committedBytes() <= cap, "committed " + allocator.committedBytes());
                }
                allocator.verify();
                for (long address : placed) {
                    allocator.free(address);
                }
                allocator.verify();
            }
        }
    }

    /**
     * Holes of 72 KiB between medium blocks seldom hold a whole 64 KiB page: with whole pages only, about 56 KiB
     * of each stayed committed on average. {@code trim()} hands their free space back by the OS's page, so what
     * stays committed is the live blocks, the chunks' headers and at most two partly used sub-pages a hole.
     */
    @Test
    void trimHandsBackTheFreeSpaceOfPartlyUsedPagesByTheOsPage() {
        long block = 72 << 10;
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig()
                .name("edges").maxBytes(16 * MIB).decayMillis(-1))) {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                blocks.add(allocator.allocate(block));
            }
            int holes = 0;
            for (int i = 0; i < blocks.size(); i += 2) {
                allocator.free(blocks.get(i));
                holes++;
            }
            allocator.trim();
            long live = (blocks.size() - holes) * block;
            long chunks = 200 * block / (4 * MIB) + 1;
            long kept = allocator.committedBytes() - live;
            long subPage = NativeMemory.OS_PAGE_BYTES;
            assertTrue(kept <= holes * 2 * subPage + chunks * subPage + 64 * 1024,
                    "committed " + allocator.committedBytes() + " with " + live + " bytes live beside " + holes
                            + " holes: " + kept + " bytes of free space kept");
            allocator.verify();
            for (int i = 1; i < blocks.size(); i += 2) {
                blocks.set(i, allocator.reallocate(blocks.get(i), block + 40_000)); // over the edges: recommitted
            }
            assertTrue(allocator.committedBytes() <= 16 * MIB);
            allocator.verify();
        }
    }

    /**
     * A live thread that stopped allocating a class (4 KiB blocks, once) while it goes on with others gives that
     * class's slabs back at its first slow path a purge tick or more later, its current slab included (only the
     * owner can give that up): the partly used one is queued, and another thread that needs 4 KiB blocks adopts
     * it instead of taking a new slab.
     */
    @Test
    void aClassALiveThreadStoppedUsingGoesToTheThreadThatNeedsIt() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("cold-class")
                .maxBytes(64 * MIB).decayMillis(100))) {
            int coldClass = SizeClasses.index(4096);
            long[] kept = new long[1];
            CountDownLatch done = new CountDownLatch(1);
            CountDownLatch finish = new CountDownLatch(1);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread worker = Thread.ofPlatform().start(() -> {
                try {
                    kept[0] = allocator.allocate(4096); // its slab of 4 KiB blocks: current, 1 block live
                    long until = System.nanoTime() + 600_000_000L; // a dozen purge ticks
                    long[] small = new long[2_000];
                    while (System.nanoTime() < until) { // 64 B blocks only, with a refill every 1,024
                        for (int i = 0; i < small.length; i++) {
                            small[i] = allocator.allocate(64);
                        }
                        for (long address : small) {
                            allocator.free(address);
                        }
                        Thread.sleep(5);
                    }
                    done.countDown();
                    finish.await(); // alive, idle
                    allocator.free(kept[0]);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    done.countDown();
                }
            });
            assertTrue(done.await(30, TimeUnit.SECONDS));
            long mine = allocator.allocate(4096);
            long slabs = allocator.stats().sizeClasses().stream().filter(c -> c.classIndex() == coldClass)
                    .mapToLong(AllocatorStats.SizeClassStats::slabs).sum();
            finish.countDown();
            worker.join();
            assertNull(failure.get());
            assertEquals(1, slabs, "the worker's slab of 4 KiB blocks was adopted, not a new one taken");
            allocator.free(mine);
            allocator.verify();
        }
    }

    @Test
    void trimFromAnotherThreadTakesBackAnIdleThreadsEmptySlabsAndSpare() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("cap-idle")
                .maxBytes(256 * MIB).decayMillis(-1))) {
            long[] blocks = new long[4_000];
            CountDownLatch allocated = new CountDownLatch(1);
            CountDownLatch finish = new CountDownLatch(1);
            Thread idle = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < blocks.length; i++) {
                    blocks[i] = allocator.allocate(1024);
                }
                for (int i = 0; i < blocks.length / 2; i++) {
                    allocator.free(blocks[i]); // its own frees: the first slab it empties stays as its spare
                }
                allocated.countDown();
                try {
                    finish.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            allocated.await();
            for (int i = blocks.length / 2; i < blocks.length; i++) {
                allocator.free(blocks[i]); // remote frees: the rest of its slabs empty, and it never runs again
            }
            long before = allocator.stats().threadCachedBytes();
            allocator.trim();
            long after = allocator.stats().threadCachedBytes();
            finish.countDown();
            idle.join();
            // The idle thread keeps only its current slab (64 KiB of 1 KiB slots): the spare goes back too.
            assertTrue(before >= 2_000 * 1024L, "thread-cached before the trim: " + before);
            assertTrue(after <= 64 * 1024, "thread-cached after the trim: " + after);
        }
    }

    @Test
    void anIdleThreadsPartlyUsedSlabsGoToTheThreadThatAllocates() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("cap-idle")
                .maxBytes(256 * MIB).decayMillis(100))) {
            int blocks = 4096; // 1 KiB blocks: 64 per slab, 64 slabs
            long[] addresses = new long[blocks];
            CountDownLatch holed = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(1);
            Thread idle = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < blocks; i++) {
                    addresses[i] = allocator.allocate(1024);
                }
                for (int i = 0; i < blocks; i += 2) {
                    allocator.free(addresses[i]); // every slab half empty, none empty
                }
                holed.countDown();
                try {
                    done.await(); // alive, and idle: no allocation, no free
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                for (int i = 1; i < blocks; i += 2) {
                    allocator.free(addresses[i]); // its own blocks, in slabs it no longer owns: remote frees
                }
            });
            holed.await();
            long committed = allocator.committedBytes();
            long holes = allocator.stats().threadCachedBytes(); // 2 MiB: half of every slab
            for (long giveUpAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                 allocator.stats().threadCachedBytes() > holes / 8 && System.nanoTime() < giveUpAt; ) {
                Thread.sleep(20); // purge ticks every 50 ms: after two with no slow path, the thread counts as idle
            }
            long[] mine = new long[blocks / 2 - 64]; // the holes of all its slabs but the current one
            Thread taker = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < mine.length; i++) {
                    mine[i] = allocator.allocate(1024);
                }
            });
            taker.join();
            assertTrue(allocator.committedBytes() <= committed, "the holes of the idle thread's slabs were not reused:"
                    + " committed " + committed + " -> " + allocator.committedBytes());
            done.countDown();
            idle.join();
            for (long address : mine) {
                allocator.free(address);
            }
            allocator.verify();
            assertEquals(0, allocator.stats().allocatedBytes());
        }
    }

    @Test
    void aThreadThatReleasesItsCacheKeepsNothingAndItsBlocksStayValid() throws Exception {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("cap-release")
                .maxBytes(256 * MIB).decayMillis(-1))) {
            int classes = GlobalHeap.SMALL_CLASSES;
            long[] kept = new long[classes];
            AtomicLong cachedBefore = new AtomicLong();
            AtomicLong released = new AtomicLong();
            AtomicLong cachedAfter = new AtomicLong();
            Thread worker = Thread.ofPlatform().start(() -> {
                for (int c = 0; c < classes; c++) {
                    long size = dev.offheap.allocator.SizeClasses.size(c);
                    kept[c] = allocator.allocate(size);
                    allocator.free(allocator.allocate(size)); // a partly used current slab in every class
                    allocator.segment(kept[c]).fill((byte) c);
                }
                cachedBefore.set(allocator.stats().threadCachedBytes());
                released.set(allocator.releaseThreadCache());
                cachedAfter.set(allocator.stats().threadCachedBytes());
            });
            worker.join();
            long oneSlabLessABlockPerClass = 0;
            for (int c = 0; c < classes; c++) {
                long size = dev.offheap.allocator.SizeClasses.size(c);
                oneSlabLessABlockPerClass += (GlobalHeap.slabPages(c) * PageBuddy.PAGE_BYTES / size - 1) * size;
            }
            assertEquals(oneSlabLessABlockPerClass, cachedBefore.get(), "thread-cached before");
            assertEquals(cachedBefore.get(), released.get(), "what releaseThreadCache() says it gave back");
            assertEquals(0, cachedAfter.get(), "thread-cached after releaseThreadCache()");

            // Another thread allocates from the handed-over slabs: nothing new is committed.
            long committed = allocator.committedBytes();
            long[] other = new long[classes];
            Thread taker = Thread.ofPlatform().start(() -> {
                for (int c = 0; c < classes; c++) {
                    other[c] = allocator.allocate(dev.offheap.allocator.SizeClasses.size(c));
                }
            });
            taker.join();
            assertEquals(committed, allocator.committedBytes(), "the other thread took new slabs");

            // The worker's blocks kept their contents, and free as any block does (from this thread too).
            for (int c = 0; c < classes; c++) {
                MemorySegment block = allocator.segment(kept[c]);
                assertEquals((byte) c, block.get(java.lang.foreign.ValueLayout.JAVA_BYTE, block.byteSize() - 1));
                allocator.free(kept[c]);
                allocator.free(other[c]);
            }
            allocator.verify();
            allocator.trim();
            assertEquals(0, allocator.stats().allocatedBytes());
            assertEquals(0, allocator.committedBytes(), "every slab went back once its blocks were freed");
        }
    }

    @Test
    void aCallersRegionIsUsedWholeAtPageAlignment() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment mib = arena.allocate(MIB, 64 << 10);
            try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("region-1m")
                    .memorySource(MemorySource.of(mib)).maxBytes(MIB))) {
                assertEquals(MIB, allocator.range().byteSize());
                assertEquals(mib.address(), allocator.range().address());
            }
            // 8 MiB starting 2 MiB past a 4 MiB boundary: all of it, and a 4 MiB-aligned block still aligned.
            MemorySegment big = arena.allocate(16 * MIB, 4 * MIB);
            MemorySegment offset = big.asSlice(2 * MIB, 8 * MIB);
            try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("region-8m")
                    .memorySource(MemorySource.of(offset)).maxBytes(8 * MIB))) {
                assertEquals(8 * MIB, allocator.range().byteSize());
                long aligned = allocator.allocate(2 * MIB, 4 * MIB);
                assertEquals(0, aligned % (4 * MIB));
                allocator.free(aligned);
                assertEquals(8 * MIB, allocator.stats().committedBytes());
            }
            MemorySegment tiny = arena.allocate(192 << 10, 64 << 10);
            IllegalArgumentException tooSmall = assertThrows(IllegalArgumentException.class,
                    () -> OffHeapAllocator.create(new OffHeapAllocatorConfig().name("region-tiny")
                            .memorySource(MemorySource.of(tiny)).maxBytes(MIB)));
            assertTrue(tooSmall.getMessage().contains("needs at least 262144"), tooSmall.getMessage());
        }
    }

    /** Creates an allocator over reserved address space; run in a child JVM that denies native access. */
    public static final class CreateReserved {
        public static void main(String[] args) {
            OffHeapAllocator.create(new OffHeapAllocatorConfig().name("no-native").maxBytes(64 * MIB)).close();
            System.out.println("created");
        }
    }

    @Test
    void withoutNativeAccessCreationFailsAndNamesTheFlag() throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process child = new ProcessBuilder(java, "--illegal-native-access=deny", "-cp",
                System.getProperty("java.class.path"), CreateReserved.class.getName()).redirectErrorStream(true)
                .start();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        assertNotEquals(0, child.exitValue(), output);
        assertTrue(output.contains("--enable-native-access=ALL-UNNAMED"), output);
        assertTrue(output.contains("MemorySource.arena()"), output);
        assertTrue(!output.contains("created"), output);
    }
}
