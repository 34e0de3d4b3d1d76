package dev.offheap.allocator.cache;

import java.lang.foreign.MemorySegment;

import static dev.offheap.allocator.cache.EntryLayout.NEXT;
import static dev.offheap.allocator.cache.EntryLayout.PREV;
import static dev.offheap.allocator.cache.EntryLayout.QUEUE;
import static dev.offheap.allocator.cache.EntryLayout.WEIGHT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A segment's three LRU queues (window, probation, protected: {@link CacheSegment#WINDOW} and the others),
 * intrusive: linked through the entries' own headers ({@link EntryLayout#PREV}, {@link EntryLayout#NEXT},
 * {@link EntryLayout#QUEUE}), so no Java object per entry. Head is the most recent end, tail the least recent.
 * Each queue keeps its weight and count, the policy's bounds. Not thread-safe: the segment's write lock guards it.
 *
 * <pre>
 *   head[q] -&gt; entry &lt;-&gt; entry &lt;-&gt; ... &lt;-&gt; entry &lt;- tail[q]      entry.QUEUE == q, or -1 when in none
 *   weight[q] == sum of its entries' WEIGHT,   count[q] == its entries
 * </pre>
 */
final class AccessQueues {

    private final MemorySegment range;
    private final long base;
    private final long[] head = new long[3];
    private final long[] tail = new long[3];
    private final long[] weight = new long[3];
    private final long[] count = new long[3];

    AccessQueues(MemorySegment range) {
        this.range = range;
        this.base = range.address();
    }

    long head(int queue) {
        return head[queue];
    }

    long tail(int queue) {
        return tail[queue];
    }

    long weight(int queue) {
        return weight[queue];
    }

    long count(int queue) {
        return count[queue];
    }

    /** The next entry toward the tail (less recent), or 0. */
    long next(long address) {
        return range.get(JAVA_LONG_UNALIGNED, address - base + NEXT);
    }

    /** The previous entry toward the head (more recent), or 0. */
    long prev(long address) {
        return range.get(JAVA_LONG_UNALIGNED, address - base + PREV);
    }

    /** The queue the entry is in, or -1. */
    int queueOf(long address) {
        return range.get(JAVA_INT_UNALIGNED, address - base + QUEUE);
    }

    /** Puts the entry at the head (most recent end) of {@code queue}. */
    void linkFirst(int queue, long address) {
        long first = head[queue];
        setLink(address, PREV, 0);
        setLink(address, NEXT, first);
        range.set(JAVA_INT_UNALIGNED, address - base + QUEUE, queue);
        if (first != 0) {
            setLink(first, PREV, address);
        } else {
            tail[queue] = address;
        }
        head[queue] = address;
        weight[queue] += weightOf(address);
        count[queue]++;
    }

    /** Takes the entry out of its queue; a no-op for one in none (queue -1: written, not yet linked). */
    void unlink(long address) {
        int queue = queueOf(address);
        if (queue < 0) {
            return;
        }
        long prev = prev(address);
        long next = next(address);
        if (prev != 0) {
            setLink(prev, NEXT, next);
        } else {
            head[queue] = next;
        }
        if (next != 0) {
            setLink(next, PREV, prev);
        } else {
            tail[queue] = prev;
        }
        weight[queue] -= weightOf(address);
        count[queue]--;
        range.set(JAVA_INT_UNALIGNED, address - base + QUEUE, -1);
    }

    /** Forgets every entry (their blocks were freed, or went with the allocator). */
    void clear() {
        for (int q = 0; q < head.length; q++) {
            head[q] = tail[q] = weight[q] = count[q] = 0;
        }
    }

    private void setLink(long address, long field, long value) {
        range.set(JAVA_LONG_UNALIGNED, address - base + field, value);
    }

    private long weightOf(long address) {
        return range.get(JAVA_INT_UNALIGNED, address - base + WEIGHT);
    }
}
