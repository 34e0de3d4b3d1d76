package dev.offheap.allocator.bench;

import dev.offheap.allocator.Allocator;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.offheap.MemorySource;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import dev.offheap.allocator.region.BuddyAllocator;
import dev.offheap.allocator.region.BumpAllocator;
import dev.offheap.allocator.region.ExplicitListAllocator;
import dev.offheap.allocator.region.ImplicitListAllocator;
import dev.offheap.allocator.region.SegregatedListAllocator;
import dev.offheap.allocator.region.SlabAllocator;

import java.lang.foreign.Arena;
import java.lang.foreign.SegmentAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * Workload 8, the first seed article's comparison table, measured: every design on one fixed workload.
 *
 * <p>The workload: {@value #BLOCKS} blocks of uniform random sizes in [16, 512] bytes in a 64 MiB heap.
 * <ul>
 *   <li><b>allocation</b>: ns per allocate, filling the empty heap;</li>
 *   <li><b>free</b> (the article's "coalescing"): ns per free, freeing every block in random order;</li>
 *   <li><b>internal fragmentation</b>: {@code 1 - requested / usable} over the live blocks;</li>
 *   <li><b>external fragmentation</b>: in a full 8 MiB heap with every other block freed, the share of the
 *       freed bytes that fresh blocks of the same size mix cannot use again;</li>
 * </ul>
 * Each is the median of {@value #ROUNDS} rounds after {@value #WARMUP_ROUNDS} warm-up rounds on a fresh
 * allocator, each design in a JVM of its own ({@link #main}: the harness starts one per design), so that no design
 * is timed through a call site the JIT made megamorphic with the designs before it. The slab holds one size, so
 * it gets 512-byte slots; the bump allocator gives memory back only from the top, so random-order frees reclaim
 * it only at the end and none of its holes can be used again.
 */
final class SeedTable {
    static final int BLOCKS = 20_000;
    static final int ROUNDS = 5;
    static final int WARMUP_ROUNDS = 3;
    private static final long REGION = 64L << 20;
    private static final long SMALL_REGION = 8L << 20;

    record Row(String design, double allocateNs, double freeNs, double internal, double external) {
        String line() {
            return String.format(Locale.ROOT, "RESULT seed design=%s allocateNs=%.4f freeNs=%.4f internal=%.6f"
                    + " external=%.6f", design, allocateNs, freeNs, internal, external);
        }
    }

    /** Measures the designs named (a design, or {@code arena-slicing}), each printed as a RESULT line. */
    public static void main(String[] args) {
        for (String design : args) {
            System.out.println((design.equals("arena-slicing") ? measureSlicing() : measure(design)).line());
        }
    }

    static List<String> designs() {
        return List.of("bump", "implicit", "explicit", "segregated", "buddy", "slab", "offheap");
    }

    static Allocator create(String design, long regionBytes) {
        Supplier<java.lang.foreign.MemorySegment> region =
                () -> MemorySource.reserved().open(regionBytes).segment().asSlice(0, regionBytes);
        return switch (design) {
            case "bump" -> BumpAllocator.over(region.get());
            case "implicit" -> ImplicitListAllocator.over(region.get());
            case "explicit" -> ExplicitListAllocator.over(region.get());
            case "segregated" -> SegregatedListAllocator.over(region.get());
            case "buddy" -> BuddyAllocator.over(region.get());
            case "slab" -> SlabAllocator.over(region.get(), 512);
            case "offheap" -> OffHeapAllocator.create(new OffHeapAllocatorConfig().name("seed").maxBytes(regionBytes)
                    .decayMillis(-1));
            default -> throw new IllegalArgumentException("unknown design '" + design + "'");
        };
    }

    /**
     * Runs the rounds on one allocator: the warm-up rounds warm the JIT and fault the memory in (their figures
     * are dropped), so the figures are the allocator's, not the kernel's page faults. Every round frees all it
     * allocated, so each starts from an empty heap.
     */
    static Row measure(String design) {
        double[] allocate = new double[ROUNDS];
        double[] free = new double[ROUNDS];
        double internal = 0;
        try (Allocator allocator = create(design, REGION)) {
            for (int round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
                SplittableRandom random = new SplittableRandom(round + WARMUP_ROUNDS);
                long[] sizes = new long[BLOCKS];
                for (int i = 0; i < BLOCKS; i++) {
                    sizes[i] = random.nextLong(16, 513);
                }
                int[] order = shuffled(random);
                long[] blocks = new long[BLOCKS];
                long start = System.nanoTime();
                for (int i = 0; i < BLOCKS; i++) {
                    blocks[i] = allocator.allocate(sizes[i]);
                }
                long allocated = System.nanoTime();
                long requested = 0;
                long usable = 0;
                for (int i = 0; i < BLOCKS; i++) {
                    requested += sizes[i];
                    usable += allocator.usableSize(blocks[i]);
                }
                internal = 1 - (double) requested / usable;
                long freeStart = System.nanoTime();
                for (int i : order) {
                    allocator.free(blocks[i]);
                }
                long freed = System.nanoTime();
                if (round >= 0) {
                    allocate[round] = (allocated - start) / (double) BLOCKS;
                    free[round] = (freed - freeStart) / (double) BLOCKS;
                }
            }
        }
        return new Row(design, median(allocate), median(free), internal, externalFragmentation(design));
    }

    /**
     * The JDK's own bump allocator: {@code SegmentAllocator.slicingAllocator} over one arena allocation. It has
     * no free (its memory goes back when the arena closes), so only allocation is measured; nothing freed can
     * be reused, so its external fragmentation is total, like the bump allocator's.
     */
    static Row measureSlicing() {
        double[] allocate = new double[ROUNDS];
        double internal = 0;
        for (int round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
            SplittableRandom random = new SplittableRandom(round + WARMUP_ROUNDS);
            long[] sizes = new long[BLOCKS];
            for (int i = 0; i < BLOCKS; i++) {
                sizes[i] = random.nextLong(16, 513);
            }
            try (Arena arena = Arena.ofConfined()) {
                SegmentAllocator slicing = SegmentAllocator.slicingAllocator(arena.allocate(REGION, 16));
                long first = 0;
                long last = 0;
                long start = System.nanoTime();
                for (int i = 0; i < BLOCKS; i++) {
                    last = slicing.allocate(sizes[i], 16).address();
                    if (i == 0) {
                        first = last;
                    }
                }
                long elapsed = System.nanoTime() - start;
                long requested = 0;
                for (long size : sizes) {
                    requested += size;
                }
                internal = 1 - (double) requested / (last + sizes[BLOCKS - 1] - first);
                if (round >= 0) {
                    allocate[round] = elapsed / (double) BLOCKS;
                }
            }
        }
        return new Row("arena-slicing", median(allocate), Double.NaN, internal, 1.0);
    }

    /**
     * Fill a small heap until it is full, free every other block, then fill it again with fresh sizes from the
     * same distribution: {@code 1 - bytes placed / bytes freed} is the share of freed memory the workload could
     * not use again. 0: every hole was reusable; 1: none was (a bump heap).
     */
    private static double externalFragmentation(String design) {
        SplittableRandom random = new SplittableRandom(99);
        try (Allocator allocator = create(design, SMALL_REGION)) {
            List<long[]> blocks = new ArrayList<>();
            fill(allocator, random, blocks);
            long freed = 0;
            for (int i = 0; i < blocks.size(); i += 2) {
                allocator.free(blocks.get(i)[0]);
                freed += blocks.get(i)[1];
            }
            List<long[]> refill = new ArrayList<>();
            long placed = fill(allocator, random, refill);
            return Math.max(0, 1 - (double) placed / freed);
        }
    }

    /** Allocates random sizes until the heap says no; returns the bytes asked for and placed. */
    private static long fill(Allocator allocator, SplittableRandom random, List<long[]> blocks) {
        long placed = 0;
        int misses = 0;
        while (misses < 64) {
            long size = random.nextLong(16, 513);
            try {
                blocks.add(new long[] {allocator.allocate(size), size});
                placed += size;
            } catch (OffHeapOutOfMemoryException full) {
                misses++; // a smaller size may still fit: stop only after many misses in a row
            }
        }
        return placed;
    }

    private static int[] shuffled(SplittableRandom random) {
        int[] order = new int[BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            order[i] = i;
        }
        for (int i = BLOCKS - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    static String format(double value) {
        return String.format(Locale.ROOT, "%.1f", value);
    }
}
