package dev.offheap.allocator.offheap;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.SizeClasses;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What only the production allocator promises, beyond the contract suite. */
class OffHeapAllocatorTest {

    @Test
    void alignmentsUpTo4MiBAreHonouredForEverySizeRange() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("align")
                .maxBytes(256L << 20))) {
            for (long alignment = 16; alignment <= OffHeapAllocator.MAX_ALIGNMENT; alignment <<= 1) {
                for (long size : new long[] {24, 5000, 100_000, 3 << 20}) {
                    long address = allocator.allocate(size, alignment);
                    assertEquals(0, address % alignment, "allocate(" + size + ", " + alignment + ")");
                    assertTrue(allocator.usableSize(address) >= size);
                    allocator.segment(address).fill((byte) 7);
                    allocator.free(address);
                }
            }
            IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class,
                    () -> allocator.allocate(64, OffHeapAllocator.MAX_ALIGNMENT * 2));
            assertTrue(tooLarge.getMessage().contains("at most " + OffHeapAllocator.MAX_ALIGNMENT), tooLarge.getMessage());
        }
    }

    /**
     * Random replacement among many live blocks (every free lands in some full slab): the owner must not switch
     * slabs on every allocation, and the free slots it leaves in full slabs for a while must not grow the heap.
     */
    @Test
    void scatteredFreesDoNotMakeTheOwnerSwitchSlabsOnEveryAllocation() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("scattered")
                .maxBytes(64L << 20).decayMillis(-1))) {
            int live = 8192;
            long size = 256;
            long[] blocks = new long[live];
            for (int i = 0; i < live; i++) {
                blocks[i] = allocator.allocate(size);
            }
            long slowPathsBefore = allocator.slowPathsOfCallingThread();
            int replacements = 100_000;
            SplittableRandom random = new SplittableRandom(7);
            for (int n = 0; n < replacements; n++) {
                int i = random.nextInt(live);
                allocator.free(blocks[i]);
                blocks[i] = allocator.allocate(size);
            }
            long switches = allocator.slowPathsOfCallingThread() - slowPathsBefore;
            assertTrue(switches < replacements / 4, switches + " slow paths in " + replacements + " replacements");
            long liveBytes = live * size;
            long committed = allocator.stats().committedBytes();
            assertTrue(committed <= liveBytes + liveBytes / 16 + (4L << 16), "committed " + committed
                    + " bytes for " + liveBytes + " live bytes in 64 KiB slabs");
            for (long block : blocks) {
                allocator.free(block);
            }
        }
    }

    /**
     * A new 4 MiB medium chunk counts as committed the pages written in it (its header, the blocks), not all 64:
     * the others were never touched, so they hold no memory.
     */
    @Test
    void aNewMediumChunkCountsOnlyThePagesWrittenInItAsCommitted() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("medium-fresh")
                .maxBytes(64L << 20).decayMillis(-1))) {
            long size = 100_000;
            long first = allocator.allocate(size);
            allocator.segment(first).fill((byte) 1);
            long one = allocator.stats().committedBytes();
            assertTrue(one >= size && one <= 4 * PageBuddy.PAGE_BYTES, "one 100,000-byte block (over at most three"
                    + " pages, the chunk's header on the first) committed " + one + " bytes");
            long second = allocator.allocate(size);
            allocator.segment(second).fill((byte) 2);
            long two = allocator.stats().committedBytes();
            assertTrue(two >= 2 * size && two <= one + 3 * PageBuddy.PAGE_BYTES, "a second block took " + one
                    + " to " + two + " committed bytes");
            AllocatorStats stats = allocator.stats();
            assertTrue(stats.allocatedBytes() + stats.freeBytes() <= stats.committedBytes(), stats.toString());
            allocator.verify();
            assertEquals(-1, allocator.segment(first).asSlice(0, size).mismatch(filled(size, (byte) 1)));
            assertEquals(-1, allocator.segment(second).asSlice(0, size).mismatch(filled(size, (byte) 2)));
            allocator.free(first);
            allocator.free(second);
            allocator.verify();
        }
    }

    /**
     * One block left in a medium chunk must not keep the whole chunk resident: trim() hands back the pages of
     * its free space, the survivor keeps its contents, and the chunk serves new blocks over those pages.
     */
    @Test
    void aMediumChunkHandsBackItsFreeSpaceWhileABlockLivesInIt() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("medium-purge")
                .maxBytes(64L << 20).decayMillis(-1))) {
            long size = 150_000;
            long[] blocks = new long[24]; // 3.4 MiB: one 4 MiB chunk
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = allocator.allocate(size);
                allocator.segment(blocks[i]).fill((byte) i);
            }
            long survivor = blocks[11];
            for (int i = 0; i < blocks.length; i++) {
                if (blocks[i] != survivor) {
                    allocator.free(blocks[i]);
                }
            }
            long before = allocator.stats().committedBytes();
            allocator.trim();
            AllocatorStats after = allocator.stats();
            assertTrue(before >= 24 * size, "the chunk's pages were committed: " + before);
            assertTrue(after.committedBytes() <= 1L << 20, "one 150,000-byte block keeps " + after.committedBytes()
                    + " bytes committed after trim()");
            assertTrue(after.allocatedBytes() + after.freeBytes() + after.threadCachedBytes() <= after.committedBytes(),
                    after.toString());
            allocator.verify();
            assertEquals(-1, allocator.segment(survivor).asSlice(0, size).mismatch(filled(size, (byte) 11)), "the survivor changed");

            for (int i = 0; i < blocks.length; i++) {
                if (blocks[i] != survivor) {
                    blocks[i] = allocator.allocate(size);
                    allocator.segment(blocks[i]).fill((byte) (i + 100));
                }
            }
            allocator.verify();
            assertTrue(allocator.stats().committedBytes() >= 24 * size, "the pages in use again count as committed");
            for (int i = 0; i < blocks.length; i++) {
                byte expected = blocks[i] == survivor ? 11 : (byte) (i + 100);
                assertEquals(-1, allocator.segment(blocks[i]).asSlice(0, size).mismatch(filled(size, expected)), "block " + i);
                allocator.free(blocks[i]);
            }
        }
    }

    private static MemorySegment filled(long size, byte value) {
        return MemorySegment.ofArray(new byte[(int) size]).fill(value);
    }

    @Test
    void mediumBlocksGrowInPlaceWhenTheNextBlockIsFree() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("grow")
                .maxBytes(64L << 20))) {
            long address = allocator.allocate(100_000);
            long grown = allocator.reallocate(address, 300_000);
            assertEquals(address, grown, "the chunk had room right after the block");
            assertTrue(allocator.usableSize(grown) >= 300_000);
            allocator.free(grown);
        }
    }

    @Test
    void statsAddUpAndCountPerSizeClass() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("stats")
                .maxBytes(64L << 20))) {
            List<Long> blocks = smallMediumAndHuge(allocator);
            AllocatorStats stats = allocator.stats();
            assertEquals(1002, stats.liveBlocks());
            assertTrue(stats.allocatedBytes() >= 1000 * 64 + 200_000 + (2 << 20));
            assertTrue(stats.allocatedBytes() + stats.threadCachedBytes() + stats.freeBytes()
                    <= stats.committedBytes(), stats.toString());
            assertTrue(stats.committedBytes() <= stats.reservedBytes());
            AllocatorStats.SizeClassStats class64 = stats.sizeClasses().stream()
                    .filter(c -> c.blockBytes() == 64).findFirst().orElseThrow();
            assertEquals(1000, class64.liveBlocks());
            assertEquals(SizeClasses.index(64), class64.classIndex());
            assertTrue(stats.fragmentation() >= 1.0);
            blocks.forEach(allocator::free);
            allocator.trim();
            AllocatorStats empty = allocator.stats();
            assertEquals(0, empty.liveBlocks());
            assertEquals(0, empty.allocatedBytes());
            assertEquals(1002, empty.allocations());
            assertEquals(1002, empty.frees());
        }
    }

    @Test
    void committedBytesIsTheFigureStatsReportsAndZeroOnceClosed() {
        OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("committed")
                .maxBytes(64L << 20).decayMillis(-1));
        assertEquals(allocator.stats().committedBytes(), allocator.committedBytes());
        List<Long> blocks = smallMediumAndHuge(allocator);
        long committed = allocator.committedBytes();
        assertTrue(committed >= 1000 * 64 + 200_000 + (2 << 20), "committed " + committed);
        assertEquals(allocator.stats().committedBytes(), committed);
        blocks.forEach(allocator::free);
        allocator.trim();
        assertTrue(allocator.committedBytes() < committed, "trim() gave pages back: " + allocator.committedBytes());
        assertEquals(allocator.stats().committedBytes(), allocator.committedBytes());
        allocator.close();
        assertEquals(0, allocator.committedBytes());
    }

    /** 1,000 blocks of 64 B, one medium block of 200,000 B, one huge block of 2 MiB. */
    private static List<Long> smallMediumAndHuge(OffHeapAllocator allocator) {
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            blocks.add(allocator.allocate(64));
        }
        blocks.add(allocator.allocate(200_000));
        blocks.add(allocator.allocate(2 << 20));
        return blocks;
    }

    @Test
    void theCapMessageSaysWhatWasAskedTheCapAndTheUsage() {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("capped")
                .maxBytes(4L << 20))) {
            IllegalArgumentException never = assertThrows(IllegalArgumentException.class,
                    () -> allocator.allocate((4L << 20) + 1));
            assertTrue(never.getMessage().contains("can ever hold"), never.getMessage());
        }
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("capped")
                .maxBytes(4L << 20))) {
            long first = allocator.allocate(3L << 20);
            OffHeapOutOfMemoryException e = assertThrows(OffHeapOutOfMemoryException.class,
                    () -> allocator.allocate(2L << 20));
            assertTrue(e.getMessage().contains("allocate(2097152)"), e.getMessage());
            assertTrue(e.getMessage().contains("maxBytes 4194304"), e.getMessage());
            assertEquals(2L << 20, e.requestedBytes());
            allocator.free(first);
            allocator.free(allocator.allocate(2L << 20)); // usable again
        }
    }

    @Test
    void badConfigurationIsRejectedWithTheSettingNamed() {
        IllegalArgumentException cap = assertThrows(IllegalArgumentException.class,
                () -> OffHeapAllocator.create(new OffHeapAllocatorConfig().maxBytes(1000)));
        assertTrue(cap.getMessage().startsWith("maxBytes(1000)"), cap.getMessage());
        IllegalArgumentException decay = assertThrows(IllegalArgumentException.class,
                () -> OffHeapAllocator.create(new OffHeapAllocatorConfig().decayMillis(-5)));
        assertTrue(decay.getMessage().startsWith("decayMillis(-5)"), decay.getMessage());
        IllegalArgumentException debug = assertThrows(IllegalArgumentException.class,
                () -> OffHeapAllocator.create(new OffHeapAllocatorConfig().debugLevel(7)));
        assertTrue(debug.getMessage().startsWith("debugLevel(7)"), debug.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> MemorySource.of(MemorySegment.ofArray(new byte[1 << 20])));
        assertThrows(IllegalArgumentException.class,
                () -> MemorySource.of(java.nio.ByteBuffer.allocate(1 << 20)));
    }

    @Test
    void aConfigurationIsAValueThatNothingChanges() {
        OffHeapAllocatorConfig template = new OffHeapAllocatorConfig().maxBytes(16L << 20).decayMillis(-1);
        OffHeapAllocatorConfig named = template.name("from-template");
        assertNull(template.name(), "a setting changed the configuration it was called on");
        assertEquals("from-template", named.name());
        assertEquals(16L << 20, named.maxBytes(), "a setting lost the others");
        assertEquals(-1, named.decayMillis());
        try (OffHeapAllocator a = OffHeapAllocator.create(template);
                OffHeapAllocator b = OffHeapAllocator.create(template)) {
            assertNull(template.name(), "create() filled in the caller's configuration");
            assertTrue(a.name().startsWith("offheap-") && b.name().startsWith("offheap-"), a.name());
            assertNotEquals(a.name(), b.name(), "two allocators from one template share a name");
            assertEquals(16L << 20, a.maxBytes());
        }
    }

    @Test
    void everyBlockOfARegionSourceLiesInTheRegion() {
        MemorySegment region = Arena.ofAuto().allocate(32L << 20, 4096);
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("inside")
                .maxBytes(32L << 20).memorySource(MemorySource.of(region)))) {
            List<Long> blocks = new ArrayList<>();
            long[] sizes = {16, 300, 20_000, 200_000, 3 << 20};
            for (int i = 0; i < 200; i++) {
                long size = sizes[i % sizes.length];
                try {
                    long address = allocator.allocate(size);
                    assertTrue(address >= region.address()
                            && address + allocator.usableSize(address) <= region.address() + region.byteSize(),
                            "block outside the region");
                    blocks.add(address);
                } catch (OffHeapOutOfMemoryException full) {
                    break;
                }
            }
            assertTrue(blocks.size() > 10);
            blocks.forEach(allocator::free);
        }
    }

    @Test
    void closingMakesEveryViewInaccessibleInsteadOfDangling() {
        OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("views")
                .maxBytes(16L << 20));
        MemorySegment view = allocator.segment(allocator.allocate(100));
        view.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 42);
        allocator.close();
        assertThrows(IllegalStateException.class, () -> view.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0));
        assertEquals(0, allocator.stats().committedBytes());
    }

    @Test
    void anMBeanShowsTheFiguresWhileOpenAndIsGoneAfterClose() throws Exception {
        javax.management.MBeanServer server = java.lang.management.ManagementFactory.getPlatformMBeanServer();
        javax.management.ObjectName name;
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("jmx")
                .maxBytes(16L << 20).jmx(true));
             OffHeapAllocator twin = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("jmx")
                     .maxBytes(16L << 20).jmx(true))) {
            name = allocator.mbeanName();
            assertTrue(server.isRegistered(name));
            assertEquals("jmx", name.getKeyProperty("name"), "name=<name>, as README shows it: " + name);
            assertTrue(!name.equals(twin.mbeanName()), "a second allocator of the same name gets its own MBean");
            long address = allocator.allocate(1000);
            assertEquals(1L, server.getAttribute(name, "LiveBlocks"));
            assertEquals(allocator.stats().allocatedBytes(), server.getAttribute(name, "AllocatedBytes"));
            assertEquals(16L << 20, server.getAttribute(name, "MaxBytes"));
            assertTrue((Long) server.getAttribute(name, "HeadroomBytes") < 16L << 20);
            String report = (String) server.getAttribute(name, "Report");
            assertTrue(report.contains("1,024") && report.contains("live blocks"), report);
            assertEquals(report, allocator.report());
            allocator.free(address);
        }
        assertTrue(!server.isRegistered(name), "unregistered on close");
    }

    @Test
    void figuresKeepTheirWordAfterCloseAndWithNothingLive() {
        OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("final-figures")
                .maxBytes(16L << 20));
        long kept = allocator.allocate(100);
        long freed = allocator.allocate(5000);
        allocator.free(freed);
        dev.offheap.allocator.DoubleFreeException e = assertThrows(dev.offheap.allocator.DoubleFreeException.class,
                () -> allocator.segment(freed));
        assertTrue(e.getMessage().startsWith("segment("), e.getMessage());
        allocator.free(kept);
        assertTrue(allocator.report().contains("fragmentation n/a"), allocator.report()); // nothing live
        allocator.allocate(100); // leaked on purpose
        allocator.close();
        AllocatorStats after = allocator.stats();
        assertEquals(0, after.reservedBytes());
        assertEquals(0, after.committedBytes());
        assertEquals(0, after.allocatedBytes() + after.threadCachedBytes() + after.freeBytes());
        assertEquals(1, after.liveBlocks(), "the block never freed");
        assertEquals(3, after.allocations());
        assertEquals(2, after.frees());
    }

    @Test
    void byDefaultNoMBeanIsRegisteredAndStatsStillWork() throws Exception {
        javax.management.MBeanServer server = java.lang.management.ManagementFactory.getPlatformMBeanServer();
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("no-jmx")
                .maxBytes(16L << 20))) {
            assertEquals(null, allocator.mbeanName());
            assertEquals(0, server.queryNames(new javax.management.ObjectName(
                    "dev.offheap.allocator:type=OffHeapAllocator,name=no-jmx"), null).size());
            long address = allocator.allocate(1000);
            assertEquals(1L, allocator.stats().liveBlocks());
            allocator.free(address);
        }
    }

    /** verify() is silent on a healthy heap after mixed work, with and without debug mode. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 1})
    void aHealthyHeapVerifies(int debugLevel) {
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("verify")
                .maxBytes(64L << 20).debugLevel(debugLevel))) {
            java.util.SplittableRandom random = new java.util.SplittableRandom(3);
            java.util.List<Long> live = new java.util.ArrayList<>();
            for (int i = 0; i < 20_000; i++) {
                if (live.size() < 300 && random.nextInt(3) > 0 || live.isEmpty()) {
                    int dice = random.nextInt(100);
                    long size = dice < 90 ? random.nextLong(1, 1024) : dice < 99 ? random.nextLong(1024, 200_000)
                            : random.nextLong(1 << 20, 3 << 20);
                    live.add(allocator.allocate(size));
                } else {
                    allocator.free(live.remove(random.nextInt(live.size())));
                }
                if (i % 2_000 == 0) {
                    allocator.verify();
                }
            }
            allocator.verify();
            for (long address : live) {
                allocator.free(address);
            }
            allocator.trim();
            allocator.verify();
            org.junit.jupiter.api.Assertions.assertEquals(0, allocator.stats().liveBlocks());
        }
    }
}
