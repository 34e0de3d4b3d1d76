package dev.offheap.allocator.offheap;

import java.util.function.Predicate;

import static dev.offheap.allocator.internal.Checks.hex;

/**
 * Medium blocks that were freed but not yet given back to their chunk: the next medium allocation of about their
 * size takes one as it is, without the region allocator's split, coalesce and tag writes. Guarded by the heap's
 * medium lock, like the chunks.
 *
 * <p>A stashed block stays allocated in its chunk; every call that needs a live block (free, usableSize, segment,
 * reallocate) and every walk over live blocks asks {@link #holds} and sees it as freed:
 * <pre>
 *   entries [0, count): address, usable bytes, chunk, and the purge epoch of the free; the newest on top
 *   count &lt;= MAX_BLOCKS,   bytes == sum of usable &lt;= MAX_BYTES   (a medium block is at most 1 MiB and a tag)
 * </pre>
 * A hit must fit: {@code asked <= usable <= asked + asked / 8}, at the alignment asked, and its tags must still be
 * intact. Entries go back to their chunk at the first purge after the epoch they were stashed in (so an idle heap
 * keeps none for long), at once when the heap is short of pages or the medium heap would take a new chunk (the
 * stash never makes it grow), and on trim. What it costs: stashed blocks do not coalesce with their neighbours
 * while stashed, so the chunks' free space is more cut up (peak committed memory on the traces, TraceReplay: -4% to
 * +10% with 4 blocks, more with 8).
 */
final class MediumStash {
    static final int MAX_BLOCKS = 4;
    static final long MAX_BYTES = 2L << 20;

    /** Gives a block back to its chunk (medium lock held). */
    @FunctionalInterface
    interface ChunkFree {
        void free(MediumChunk chunk, long address);
    }

    private final long[] addresses = new long[MAX_BLOCKS];
    private final long[] usables = new long[MAX_BLOCKS];
    private final MediumChunk[] chunks = new MediumChunk[MAX_BLOCKS];
    private final int[] epochs = new int[MAX_BLOCKS];
    private int count;
    private long bytes;

    /** Whether the block at {@code address} is stashed: freed, to every caller. At most four compares. */
    boolean holds(long address) {
        for (int i = 0; i < count; i++) {
            if (addresses[i] == address) {
                return true;
            }
        }
        return false;
    }

    /** Keeps a live block that its caller frees, if there is room; false: the caller frees it in its chunk. */
    boolean offer(MediumChunk chunk, long address, long usable, int epoch) {
        if (count == MAX_BLOCKS || bytes + usable > MAX_BYTES) {
            return false;
        }
        addresses[count] = address;
        usables[count] = usable;
        chunks[count] = chunk;
        epochs[count] = epoch;
        count++;
        bytes += usable;
        return true;
    }

    /**
     * A stashed block for an allocation of {@code byteSize} at {@code alignment}, taken out; 0 if none fits.
     *
     * @throws dev.offheap.allocator.HeapCorruptionException or {@link dev.offheap.allocator.InvalidAddressException}
     *     if the block's tags or its neighbours' were overwritten while it waited (checked as a free would check
     *     them), the stash unchanged
     */
    long take(long byteSize, long alignment) {
        for (int i = count - 1; i >= 0; i--) {
            long usable = usables[i];
            if (usable >= byteSize && usable - byteSize <= byteSize >>> 3 && (addresses[i] & (alignment - 1)) == 0) {
                long address = addresses[i];
                chunks[i].blocks.checkFreeable("allocate", address);
                remove(i);
                return address;
            }
        }
        return 0;
    }

    /** Gives back to their chunks the entries stashed in epoch {@code epochLimit} or before. */
    void drain(int epochLimit, ChunkFree chunkFree) {
        for (int i = count - 1; i >= 0; i--) {
            if (epochs[i] <= epochLimit) {
                MediumChunk chunk = chunks[i];
                long address = addresses[i];
                remove(i);
                chunkFree.free(chunk, address);
            }
        }
    }

    private void remove(int i) {
        bytes -= usables[i];
        count--;
        System.arraycopy(addresses, i + 1, addresses, i, count - i);
        System.arraycopy(usables, i + 1, usables, i, count - i);
        System.arraycopy(chunks, i + 1, chunks, i, count - i);
        System.arraycopy(epochs, i + 1, epochs, i, count - i);
        chunks[count] = null;
    }

    int count() {
        return count;
    }

    long bytes() {
        return bytes;
    }

    /**
     * The first broken invariant of the class comment, or null: each entry a live block of a chunk the heap
     * still holds ({@code held}), of the size recorded, none twice, and the bytes adding up.
     */
    String verify(Predicate<MediumChunk> held) {
        long sum = 0;
        for (int i = 0; i < count; i++) {
            long address = addresses[i];
            if (!held.test(chunks[i])) {
                return "the stashed block at " + hex(address) + " lies in a chunk the heap no longer holds";
            }
            if (chunks[i].blocks.usableSize(address) != usables[i]) {
                return "the stashed block at " + hex(address) + " is no longer " + usables[i] + " bytes";
            }
            for (int j = 0; j < i; j++) {
                if (addresses[j] == address) {
                    return "the block at " + hex(address) + " is stashed twice";
                }
            }
            sum += usables[i];
        }
        return sum == bytes ? null : "the stash holds " + sum + " bytes, its count says " + bytes;
    }
}
