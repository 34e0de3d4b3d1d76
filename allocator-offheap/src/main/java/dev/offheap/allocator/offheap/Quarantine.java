package dev.offheap.allocator.offheap;

import java.util.function.LongConsumer;

/**
 * Debug mode: freed small blocks wait here, poisoned and still marked taken
 * ({@link Slab#QUARANTINED}), before they can be handed out again. A write after free then has the whole
 * quarantine time to land in poison, and is found when the block leaves (or by {@code verify()}), instead of
 * silently corrupting the next owner's data. FIFO, bounded by {@value #MAX_BLOCKS} blocks and
 * {@value #MAX_BYTES} bytes. Thread-safe (a monitor; debug mode only).
 */
final class Quarantine {
    static final int MAX_BLOCKS = 1024;
    static final long MAX_BYTES = 4L << 20;

    private final long[] addresses = new long[MAX_BLOCKS];
    private final int[] sizes = new int[MAX_BLOCKS];
    private int first;
    private int count;
    private long bytes;

    synchronized void add(long address, int blockBytes) {
        int last = (first + count) % MAX_BLOCKS;
        addresses[last] = address;
        sizes[last] = blockBytes;
        count++;
        bytes += blockBytes;
    }

    /** The oldest block if the quarantine is over a bound (the caller releases it), else 0. */
    synchronized long pollExcess() {
        return count >= MAX_BLOCKS || bytes > MAX_BYTES ? poll() : 0;
    }

    /** The oldest block, or 0 when empty. */
    synchronized long poll() {
        if (count == 0) {
            return 0;
        }
        long address = addresses[first];
        bytes -= sizes[first];
        first = (first + 1) % MAX_BLOCKS;
        count--;
        return address;
    }

    synchronized int count() {
        return count;
    }

    synchronized long bytes() {
        return bytes;
    }

    synchronized void forEach(LongConsumer visitor) {
        for (int i = 0; i < count; i++) {
            visitor.accept(addresses[(first + i) % MAX_BLOCKS]);
        }
    }
}
