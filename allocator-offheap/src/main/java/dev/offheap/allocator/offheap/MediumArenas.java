package dev.offheap.allocator.offheap;

import dev.offheap.allocator.OffHeapOutOfMemoryException;

import java.util.ArrayList;
import java.util.List;

/**
 * The medium heaps ({@link MediumHeap}), one lock each, that threads spread over, as Netty spreads its threads
 * over arenas: with one medium lock, two threads replacing medium blocks in a shared allocator took 900-1,400 ns
 * a replacement each against about 300 ns alone, while glibc took 350-420 ns either way ({@code
 * SharedMediumBenchmark}, the sizemix workload's 2-thread row, in a JMH A/B: 916 ns with one lock, 296-302 with
 * the arenas).
 *
 * <pre>
 *   arenas   a power of two: min(cores, cap / 8 chunks, 16), rounded down, at least 1 (each has chunks to fill)
 *   home     thread id &amp; (arenas - 1): threads made one after another (a pool's) get different arenas, and a
 *            thread's home never changes (a home taken from its cache once it had one moved a thread that
 *            allocated medium blocks first to another arena, whose stash then missed: +7 ns a 128 KiB pair)
 *   chunk    belongs to the arena that made it ({@link MediumChunk#arena}): a free goes to that arena's lock
 * </pre>
 * An allocation tries its home arena's chunks, then every other arena's (each only if its lock is free, never
 * waiting: one arena's lock is never held while another's is awaited), and only then lets the home arena take a
 * new chunk; refused at the cap, it asks the other arenas once more, waiting for their locks. So an arena grows
 * only when no arena has room, and near the cap a block goes wherever one fits: the cap counts the heap's
 * committed pages, not an arena's. Lock order: the arenas' locks in their order (only the statistics and the
 * verifier hold more than one, taken in that order), then the heap lock.
 */
final class MediumArenas {
    private final MediumHeap[] arenas;
    private final int mask;

    MediumArenas(GlobalHeap heap, int maxOrder, long capPages) {
        int chunkPages = 1 << Math.min(MediumHeap.CHUNK_ORDER, maxOrder);
        long byCap = capPages / (8L * chunkPages);
        int count = Integer.highestOneBit((int) Math.clamp(
                Math.min(Runtime.getRuntime().availableProcessors(), byCap), 1, 16));
        this.arenas = new MediumHeap[count];
        this.mask = count - 1;
        for (int i = 0; i < count; i++) {
            arenas[i] = new MediumHeap(heap, maxOrder);
        }
    }

    /** The calling thread's home arena. */
    int home() {
        return (int) Thread.currentThread().threadId() & mask;
    }

    /**
     * A medium block of {@code byteSize} at {@code alignment} from arena {@code home} first; 0 if too large for a
     * chunk.
     *
     * @throws dev.offheap.allocator.OffHeapOutOfMemoryException at the cap
     */
    long allocate(long byteSize, long alignment, int home) {
        MediumHeap first = arenas[home];
        if (arenas.length == 1) {
            return first.allocate(byteSize, alignment, true);
        }
        long address = first.allocate(byteSize, alignment, false);
        return address != 0 ? address : allocateElsewhere(byteSize, alignment, home);
    }

    /** Slow path of {@link #allocate}: no room in the home arena without a new chunk. Kept apart so that the
     *  fast path inlines into the caller. */
    private long allocateElsewhere(long byteSize, long alignment, int home) {
        for (int i = 1; i < arenas.length; i++) {
            long address = arenas[(home + i) % arenas.length].allocateIfRoom(byteSize, alignment, false);
            if (address != 0) {
                return address;
            }
        }
        try {
            return arenas[home].allocate(byteSize, alignment, true);
        } catch (OffHeapOutOfMemoryException refused) {
            // At the cap: before the refusal stands, every other arena is asked again, waiting for its lock this
            // time (none is held here), so that a block is refused only if no arena can place it.
            for (int i = 1; i < arenas.length; i++) {
                long address = arenas[(home + i) % arenas.length].allocateIfRoom(byteSize, alignment, true);
                if (address != 0) {
                    return address;
                }
            }
            throw refused;
        }
    }

    int count() {
        return arenas.length;
    }

    MediumHeap arena(int index) {
        return arenas[index];
    }

    /** Takes every arena's lock, in order (statistics, verifier). */
    void lockAll() {
        for (MediumHeap arena : arenas) {
            arena.lock.lock();
        }
    }

    void unlockAll() {
        for (int i = arenas.length - 1; i >= 0; i--) {
            arenas[i].lock.unlock();
        }
    }

    /** Every arena's lock held: all chunks. */
    List<MediumChunk> chunks() {
        List<MediumChunk> all = new ArrayList<>();
        for (MediumHeap arena : arenas) {
            all.addAll(arena.chunks());
        }
        return all;
    }
}
