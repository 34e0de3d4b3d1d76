package dev.offheap.allocator.bench;

import java.util.SplittableRandom;

/**
 * YCSB's scrambled Zipfian key chooser ({@code ScrambledZipfianGenerator}): Zipfian popularity (theta 0.99)
 * over a huge item space, spread over {@code [0, items)} by an FNV-1a hash so that the popular keys are not
 * neighbours. Constants as in YCSB: 10^10 items with their precomputed zeta. Not thread-safe: one per thread.
 */
final class ScrambledZipfian {
    private static final long ITEM_COUNT = 10_000_000_000L;
    private static final double ZETAN = 26.46902820178302;
    private static final double THETA = 0.99;

    private final long items;
    private final SplittableRandom random;
    private final double alpha = 1.0 / (1.0 - THETA);
    private final double eta;
    private final double halfPowTheta = 1.0 + Math.pow(0.5, THETA);

    ScrambledZipfian(long items, long seed) {
        this.items = items;
        this.random = new SplittableRandom(seed);
        double zeta2theta = 1.0 + Math.pow(0.5, THETA);
        this.eta = (1 - Math.pow(2.0 / ITEM_COUNT, 1 - THETA)) / (1 - zeta2theta / ZETAN);
    }

    long next() {
        return Long.remainderUnsigned(fnv64(zipfian()), items);
    }

    private long zipfian() {
        double u = random.nextDouble();
        double uz = u * ZETAN;
        if (uz < 1.0) {
            return 0;
        }
        if (uz < halfPowTheta) {
            return 1;
        }
        return (long) (ITEM_COUNT * Math.pow(eta * u - eta + 1, alpha));
    }

    /** YCSB's FNV-1a over the value's 8 bytes, made non-negative. */
    static long fnv64(long value) {
        long hash = 0xCBF29CE484222325L;
        for (int i = 0; i < 8; i++) {
            hash ^= value & 0xff;
            hash *= 1099511628211L;
            value >>>= 8;
        }
        return Math.abs(hash);
    }

    /** The next double in [0, 1) from the same stream (read or write choice). */
    double nextDouble() {
        return random.nextDouble();
    }
}
