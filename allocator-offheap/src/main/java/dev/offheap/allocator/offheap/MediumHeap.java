package dev.offheap.allocator.offheap;

import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.region.SegregatedListAllocator;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

import static dev.offheap.allocator.internal.Checks.hex;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_SHIFT;

/**
 * The medium blocks (over {@link GlobalHeap#SMALL_MAX}, to {@link GlobalHeap#MEDIUM_MAX}): 4 MiB
 * {@link MediumChunk}s taken from the page layer, each a {@link SegregatedListAllocator} over its span, and the
 * {@link MediumStash} of freed blocks kept for the next allocation of about their size. Everything here is
 * guarded by {@link #lock} (the medium lock).
 *
 * <h2>Why a lock of its own</h2>
 * Medium blocks never wait behind the heap lock's long holders: the purge's walks over slabs and free pages, and
 * slab refills. Lock order: the medium lock, then the heap lock (taken here only to take, give, commit or
 * decommit pages); code that holds the heap lock only ever {@code tryLock}s the medium lock.
 *
 * <h2>Allocate</h2>
 * <ol>
 *   <li>the stash: a freed block at most an eighth larger than asked, taken as it is;</li>
 *   <li>first fit in the chunks, newest first, skipping (without reading the chunk) those whose free blocks are
 *       all too small ({@link SegregatedListAllocator#mightFit});</li>
 *   <li>the stash goes back to its chunks and the chunks are asked again: the stash never makes the heap grow;</li>
 *   <li>a new chunk from the page layer.</li>
 * </ol>
 * A new chunk commits only what is written in it: pages that were not committed start clean
 * ({@link MediumChunk#cleanPages}), and each allocation commits the clean pages it wrote.
 *
 * <h2>Purge</h2>
 * The pages of a live chunk that lie wholly in its free space and were freed before the purge's epoch limit go
 * back to the OS: marked {@link MediumChunk#purging} under the lock, a chunk at a time, decommitted without it
 * (the chunk takes no allocation, resize or release meanwhile; frees go on, they write tags at block edges only),
 * then marked clean.
 */
final class MediumHeap {

    /** Pages of a medium chunk (4 MiB), fewer when the range is smaller. */
    private static final int CHUNK_ORDER = 6;

    private static final String MEDIUM = "medium chunk";

    /** The medium lock; see the class comment for the order. */
    final ReentrantLock lock = new ReentrantLock();
    private final GlobalHeap heap;
    private final int chunkOrder;
    private final ArrayList<MediumChunk> chunks = new ArrayList<>();
    /** Medium blocks freed but kept for the next allocation of their size. */
    private final MediumStash stash = new MediumStash();
    private long allocations;

    MediumHeap(GlobalHeap heap, int maxOrder) {
        this.heap = heap;
        this.chunkOrder = Math.min(CHUNK_ORDER, maxOrder);
    }

    /** A medium block, or 0 if {@code byteSize} is too large for a chunk of this heap. */
    long allocate(long byteSize, long alignment) {
        long chunkPages = 1L << chunkOrder;
        if (byteSize + alignment + 4096 > chunkPages * PAGE_BYTES) {
            return 0;
        }
        lock.lock();
        try {
            long reused = stash.take(byteSize, alignment);
            if (reused != 0) {
                allocations++;
                return reused;
            }
            long address = allocateInChunks(byteSize, alignment);
            if (address == 0 && stash.count() > 0) {
                stash.drain(Integer.MAX_VALUE, this::freeInChunk);
                address = allocateInChunks(byteSize, alignment);
            }
            if (address != 0) {
                return address;
            }
            MediumChunk chunk = newChunk((int) chunkPages, byteSize);
            address = chunk.blocks.tryAllocate(byteSize, alignment);
            allocations++;
            recommitWritten(chunk);
            return address;
        } finally {
            lock.unlock();
        }
    }

    /** Medium lock held: a new chunk from the page layer, mapped and listed. */
    private MediumChunk newChunk(int chunkPages, long requested) {
        heap.lock.lock();
        try {
            int page = heap.takePages(chunkPages, chunkOrder, requested, MEDIUM);
            MediumChunk chunk = new MediumChunk(page, chunkPages, SegregatedListAllocator.over(heap.memory.asSlice(
                    (long) page << PAGE_SHIFT, (long) chunkPages << PAGE_SHIFT), "OffHeapAllocator '" + heap.name
                    + "'"), heap.epoch());
            if (heap.range.canDecommit()) {
                // Pages not committed (never used, or handed back since) start as clean free space: a new chunk
                // commits only what is written in it, the region header and the blocks (recommitWritten), not
                // 4 MiB for one block.
                chunk.cleanPages = heap.pages().uncommittedBits(page, chunkPages);
            } else {
                heap.pages().commit(page, chunkPages);
            }
            heap.map(chunk);
            chunks.add(chunk);
            return chunk;
        } finally {
            heap.lock.unlock();
        }
    }

    /** Medium lock held: a block from the chunks the heap has, newest first; 0 if none can hold it. */
    private long allocateInChunks(long byteSize, long alignment) {
        for (int i = chunks.size() - 1; i >= 0; i--) {
            MediumChunk chunk = chunks.get(i);
            if (chunk.purging != 0 || !chunk.blocks.mightFit(byteSize)) {
                continue; // purging: its free pages are being handed back without the lock
            }
            long address = chunk.blocks.tryAllocate(byteSize, alignment);
            if (address != 0) {
                allocations++;
                recommitWritten(chunk, address);
                return address;
            }
        }
        return 0;
    }

    /**
     * Frees a medium block: into the {@link MediumStash} if there is room (it stays allocated in its chunk),
     * else in its chunk. Either way it is checked first: a live block of the chunk, not stashed already.
     */
    void free(MediumChunk chunk, long address) {
        lock.lock();
        try {
            requireNotStashed("free", address);
            if (stash.count() < MediumStash.MAX_BLOCKS) {
                // What a free in the chunk would reject, rejected; a full stash leaves the checks to that free.
                long usable = chunk.blocks.checkFreeable("free", address);
                if (stash.offer(chunk, address, usable, heap.epoch())) {
                    return;
                }
            }
            freeInChunk(chunk, address);
        } finally {
            lock.unlock();
        }
    }

    /** Medium lock held: frees a live block in its chunk. */
    private void freeInChunk(MediumChunk chunk, long address) {
        long usable = chunk.blocks.freeReturningUsable(address);
        long base = heap.memory.address();
        long first = (address - base >>> PAGE_SHIFT) - chunk.firstPage;
        long last = (address + usable - 1 - base >>> PAGE_SHIFT) - chunk.firstPage;
        int epoch = heap.epoch();
        for (long p = first; p <= last; p++) {
            chunk.freedEpoch[(int) p] = epoch; // its pages wait a whole purge tick before they go back
        }
    }

    /** Medium lock held: a stashed block is a freed one to every call that needs a live block. */
    private void requireNotStashed(String call, long address) {
        if (stash.holds(address)) {
            throw new DoubleFreeException(address, call + "(" + hex(address) + "): the block was already freed"
                    + " (double free or use after free)");
        }
    }

    /**
     * After an allocation or resize in a chunk: its clean pages that are no longer wholly free space (the block
     * took them, or the tags of the rest of a split free block landed there) count as committed again.
     */
    private void recommitWritten(MediumChunk chunk) {
        if (chunk.cleanPages != 0) {
            recommit(chunk, chunk.cleanPages & ~chunk.pagesInFreeSpace(heap.memory.address()));
        }
    }

    /**
     * As {@link #recommitWritten(MediumChunk)} after an allocation that returned {@code address}: only the pages
     * it may have written can have stopped being clean, so the chunk's free space is not walked (that walk was a
     * third of a 128 KiB allocate+free pair in a new chunk).
     */
    private void recommitWritten(MediumChunk chunk, long address) {
        if (chunk.cleanPages != 0) {
            long chunkAddress = heap.memory.address() + chunk.offset();
            long start = chunk.blocks.writtenStart(address) - chunkAddress;
            long end = chunk.blocks.writtenEnd(address) - chunkAddress;
            long first = Math.max(0, start >> PAGE_SHIFT);
            long last = Math.min(chunk.pageCount - 1, end - 1 >> PAGE_SHIFT);
            long pages = last - first + 1 == Long.SIZE ? -1L : ((1L << (last - first + 1)) - 1) << first;
            recommit(chunk, chunk.cleanPages & pages);
        }
    }

    /** Medium lock held: the chunk's clean pages in {@code written} count as committed again. */
    private void recommit(MediumChunk chunk, long written) {
        if (written == 0) {
            return;
        }
        heap.lock.lock();
        try {
            for (long bits = written; bits != 0; bits &= bits - 1) {
                heap.pages().commit(chunk.firstPage + Long.numberOfTrailingZeros(bits), 1);
            }
        } finally {
            heap.lock.unlock();
        }
        chunk.cleanPages &= ~written;
    }

    long usableSize(String call, MediumChunk chunk, long address) {
        lock.lock();
        try {
            requireNotStashed(call, address);
            return chunk.blocks.usableSize(address);
        } finally {
            lock.unlock();
        }
    }

    /** Resizes within the chunk if it can (in place when the next block is free); 0 if it must move out. */
    long reallocate(MediumChunk chunk, long address, long newByteSize) {
        lock.lock();
        try {
            requireNotStashed("reallocate", address);
            if (newByteSize > GlobalHeap.MEDIUM_MAX || newByteSize <= GlobalHeap.SMALL_MAX || chunk.purging != 0) {
                return 0;
            }
            try {
                long resized = chunk.blocks.reallocate(address, newByteSize);
                recommitWritten(chunk);
                return resized;
            } catch (OffHeapOutOfMemoryException full) {
                return 0; // the chunk is full: the caller moves the block elsewhere
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Medium lock held: the stashed blocks freed in epoch {@code epochLimit} or before go back to their chunks,
     * then the chunks that hold nothing go back to the page layer.
     */
    void drainAndReleaseEmpty(int epochLimit) {
        stash.drain(epochLimit, this::freeInChunk);
        for (MediumChunk chunk : chunks.toArray(new MediumChunk[0])) {
            if (chunk.blocks.liveBlocks() == 0 && chunk.purging == 0) {
                chunks.remove(chunk);
                chunk.blocks.close();
                heap.lock.lock();
                try {
                    heap.unmap(chunk);
                    heap.givePages(chunk.firstPage, chunk.pageCount, MEDIUM);
                } finally {
                    heap.lock.unlock();
                }
            }
        }
    }

    /**
     * Marks as {@link MediumChunk#purging} the pages of live chunks that lie wholly in free space and were last
     * freed before {@code epochLimit}. Takes the medium lock a chunk at a time.
     *
     * @return the chunks with pages to decommit
     */
    List<MediumChunk> takePurgeable(int epochLimit) {
        MediumChunk[] all;
        lock.lock();
        try {
            all = chunks.toArray(new MediumChunk[0]);
        } finally {
            lock.unlock();
        }
        List<MediumChunk> taken = new ArrayList<>();
        for (MediumChunk chunk : all) {
            lock.lock();
            try {
                if (heap.pageMap[chunk.firstPage] != chunk || chunk.purging != 0) {
                    continue; // given back meanwhile, or another purge (a trim) is handing back its pages
                }
                long due = chunk.pagesInFreeSpace(heap.memory.address()) & ~chunk.cleanPages;
                for (long rest = due; rest != 0; rest &= rest - 1) {
                    int p = Long.numberOfTrailingZeros(rest);
                    if (chunk.freedEpoch[p] >= epochLimit) {
                        due &= ~(1L << p);
                    }
                }
                if (due != 0) {
                    chunk.purging = due;
                    taken.add(chunk);
                }
            } finally {
                lock.unlock();
            }
        }
        return taken;
    }

    /** Without a lock: hands the {@link MediumChunk#purging} pages of {@code taken} back to the OS. */
    void decommit(List<MediumChunk> taken) {
        for (MediumChunk chunk : taken) {
            for (long due = chunk.purging; due != 0; due &= ~runAt(due)) {
                long run = runAt(due);
                heap.range.decommit((long) (chunk.firstPage + Long.numberOfTrailingZeros(run)) << PAGE_SHIFT,
                        (long) Long.bitCount(run) << PAGE_SHIFT);
            }
        }
    }

    /**
     * The chunks' purged pages are clean now; they serve allocations again. Medium lock a chunk at a time.
     *
     * @return bytes handed back
     */
    long returnPurged(List<MediumChunk> taken) {
        long bytes = 0;
        for (MediumChunk chunk : taken) {
            lock.lock();
            try {
                heap.lock.lock();
                try {
                    for (long due = chunk.purging; due != 0; due &= ~runAt(due)) {
                        long run = runAt(due);
                        heap.pages().decommitted(chunk.firstPage + Long.numberOfTrailingZeros(run),
                                Long.bitCount(run));
                    }
                } finally {
                    heap.lock.unlock();
                }
                chunk.cleanPages |= chunk.purging;
                bytes += (long) Long.bitCount(chunk.purging) << PAGE_SHIFT;
                chunk.purging = 0;
            } finally {
                lock.unlock();
            }
        }
        return bytes;
    }

    /** The lowest run of consecutive set bits of {@code bits} (not 0), as a mask. */
    private static long runAt(long bits) {
        return bits & ~(bits + (bits & -bits)); // adding the lowest set bit carries through the run and clears it
    }

    // ---------------------------------------------------------------------------------------------------------
    // For the verifier and the statistics (medium lock held)

    List<MediumChunk> chunks() {
        return chunks;
    }

    MediumStash stash() {
        return stash;
    }

    long allocations() {
        return allocations;
    }

    /** Medium lock held: the largest free block in any chunk. */
    long largestFreeBlockBytes() {
        long largest = 0;
        for (MediumChunk chunk : chunks) {
            largest = Math.max(largest, chunk.blocks.largestFreeBlockBytes());
        }
        return largest;
    }
}
