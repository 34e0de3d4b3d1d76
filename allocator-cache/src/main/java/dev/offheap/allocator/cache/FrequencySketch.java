package dev.offheap.allocator.cache;

/**
 * TinyLFU's popularity estimate: a count-min sketch of 4-bit counters, four per key, halved every
 * {@code 10 x counters / 16} increments so that old popularity fades. Not thread-safe: a segment uses it under
 * its write lock.
 *
 * <p>Width: a power of two of longs, 16 counters each, sized from the expected entries of the segment. A key's
 * four counters are in four longs chosen by four rehashes of its 64-bit hash; its estimate is their minimum.
 */
final class FrequencySketch {
    private static final long[] SEEDS = {0xc3a5c85c97cb3127L, 0xb492b66fbe98f273L, 0x9ae16a3b2f90404fL,
            0xcbf29ce484222325L};
    private static final long ONE_MASK = 0x7777777777777777L;

    private final long[] table;
    private final int mask;
    private final int sampleSize;
    private int additions;

    FrequencySketch(long expectedEntries) {
        int longs = Integer.highestOneBit((int) Math.clamp(expectedEntries, 16, 1 << 22) - 1) << 1;
        this.table = new long[longs];
        this.mask = longs - 1;
        this.sampleSize = 10 * longs;
    }

    /** The entries it is sized for: one long of 16 counters each. */
    int capacity() {
        return table.length;
    }

    /** The estimated number of recent occurrences of {@code hash}, 0 to 15. */
    int frequency(long hash) {
        int frequency = 15;
        for (int i = 0; i < 4; i++) {
            long h = rehash(hash, i);
            int shift = (int) (h >>> 60) << 2;
            frequency = Math.min(frequency, (int) (table[(int) h & mask] >>> shift) & 15);
        }
        return frequency;
    }

    /** Counts one occurrence of {@code hash}; every {@code sampleSize} counts, halves all counters. */
    void increment(long hash) {
        boolean added = false;
        for (int i = 0; i < 4; i++) {
            long h = rehash(hash, i);
            int index = (int) h & mask;
            int shift = (int) (h >>> 60) << 2;
            if (((table[index] >>> shift) & 15) != 15) {
                table[index] += 1L << shift;
                added = true;
            }
        }
        if (added && ++additions == sampleSize) {
            halve();
        }
    }

    private void halve() {
        for (int i = 0; i < table.length; i++) {
            table[i] = (table[i] >>> 1) & ONE_MASK;
        }
        additions >>>= 1;
    }

    private static long rehash(long hash, int i) {
        long h = (hash + SEEDS[i]) * 0x9E3779B97F4A7C15L;
        return h ^ (h >>> 29);
    }
}
