package dev.offheap.allocator.bench;

import java.util.SplittableRandom;
import java.util.function.ToLongFunction;

/**
 * Workload 3's loop state: {@value #LIVE} live blocks of one peer, replaced at random along a fixed sequence of
 * 65,536 slots and sizes (drawn once, so that the measured step draws nothing). One per thread.
 */
final class Replacements {
    static final int LIVE = 128;

    private final long[] blocks = new long[LIVE];
    private final long[] sizes = new long[1 << 16];
    private final int[] order = new int[1 << 16];
    private int next;

    /** Draws the sequence from {@code seed} with {@code size}, then allocates the first {@value #LIVE} blocks. */
    Replacements(Peer peer, long seed, ToLongFunction<SplittableRandom> size) {
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = size.applyAsLong(random);
            order[i] = random.nextInt(LIVE);
        }
        for (int i = 0; i < LIVE; i++) {
            blocks[i] = peer.allocate(sizes[i]);
        }
    }

    /** A medium size: every size from 64 KiB to 1 MiB, log-uniform. */
    static long medium(SplittableRandom random) {
        return (long) Math.pow(2, random.nextDouble(16, 20)) + 1;
    }

    /** One step: frees the next slot's block and puts a new one there, first and last byte written. */
    long replace(Peer peer) {
        int n = next++ & (sizes.length - 1);
        int i = order[n];
        long size = sizes[n];
        peer.free(blocks[i]);
        long block = peer.allocate(size);
        peer.touch(block, size);
        blocks[i] = block;
        return block;
    }

    void freeAll(Peer peer) {
        peer.freeAll(blocks);
    }
}
