package dev.offheap.allocator.offheap;

import dev.offheap.allocator.HeapCorruptionException;
import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.region.SegregatedListAllocator;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_SHIFT;

/**
 * The medium blocks (over {@link GlobalHeap#SMALL_MAX}, to {@link GlobalHeap#MEDIUM_MAX}): 4 MiB
 * {@link MediumChunk}s taken from the page layer, each a {@link SegregatedListAllocator} over its span, and the
 * {@link MediumStash} of freed blocks kept for the next allocation of about their size. The chunks are guarded by
 * {@link #lock} (the medium lock: one per heap, and the allocator has one heap per arena, see
 * {@link MediumArenas}); the stash is lock-free, and a free or an allocation that it serves takes no lock.
 *
 * <h2>Why a lock of its own</h2>
 * Medium blocks never wait behind the heap lock's long holders: the purge's walks over slabs and free pages, and
 * slab refills. Lock order: the medium locks (in arena order, where more than one is held), then the heap lock
 * (taken here only to take, give, commit or decommit pages); code that holds the heap lock only ever
 * {@code tryLock}s a medium lock, and code that holds one medium lock only {@code tryLock}s another.
 *
 * <h2>Allocate</h2>
 * <ol>
 *   <li>the stash, without the lock: a freed block at most an eighth larger than asked, taken as it is, its tags
 *       and its neighbours' checked as a free checks them;</li>
 *   <li>under the lock from here: first fit in the chunks, newest first, skipping (without reading the chunk)
 *       those whose free blocks are all too small ({@link SegregatedListAllocator#mightFit});</li>
 *   <li>the stash goes back to its chunks and the chunks are asked again: the stash never makes the heap grow;</li>
 *   <li>a new chunk from the page layer.</li>
 * </ol>
 * <h2>Free</h2>
 * Without the lock: the block's tags and its neighbours' are checked (a neighbour that reads as broken is read
 * again under the lock before the free is refused: another thread may be rewriting it), its free claimed by one
 * compare-and-set on its header ({@code claimFree}: of two frees of the block, one is refused), and it goes into
 * the stash; if the stash is full, into its chunk under the lock.
 *
 * <p>A new chunk commits only what is written in it: pages that were not committed start clean
 * ({@link MediumChunk#cleanPages}), and each allocation commits the clean pages it wrote.
 *
 * <h2>Purge</h2>
 * The pages of a live chunk that lie wholly in its free space and were freed before the purge's epoch limit go
 * back to the OS: marked {@link MediumChunk#purging} under the lock, a chunk at a time, decommitted without it
 * (the chunk takes no allocation, resize or release meanwhile; frees go on, they write tags at block edges only),
 * then marked clean.
 */
final class MediumHeap {

    /** {@link #allocateInChunks}: a chunk could hold the block, but not within the cap. */
    private static final long OVER_CAP = -1;
    /** Pages of a medium chunk (4 MiB), fewer when the range is smaller. */
    static final int CHUNK_ORDER = 6;
    /** {@link #subShift} when edges are not handed back: a sub-page is the whole page. */
    private static final int SUB_PAGES_OFF = PAGE_SHIFT;

    /** The medium lock; see the class comment for the order. */
    final ReentrantLock lock = new ReentrantLock();
    private final GlobalHeap heap;
    private final int chunkOrder;
    /** log2 of the range's decommit granule (a sub-page: 4 KiB with the OS's pages); {@link #SUB_PAGES_OFF}
     *  where it cannot hand back less than a page. */
    private final int subShift;
    private final ArrayList<MediumChunk> chunks = new ArrayList<>();
    /** Medium blocks freed but kept for the next allocation of their size. */
    private final MediumStash stash = new MediumStash();
    private long allocations;

    MediumHeap(GlobalHeap heap, int maxOrder) {
        this.heap = heap;
        this.chunkOrder = Math.min(CHUNK_ORDER, maxOrder);
        this.subShift = heap.range.canDecommit()
                ? Long.numberOfTrailingZeros(heap.range.decommitGranule()) : SUB_PAGES_OFF;
    }

    /**
     * A medium block, or 0 if {@code byteSize} is too large for a chunk of this heap, or if it would take a new
     * chunk and {@code mayGrow} is false (or the chunks could hold it only past the cap: the caller tries the
     * other arenas, then this one again, growing).
     */
    long allocate(long byteSize, long alignment, boolean mayGrow) {
        long chunkPages = 1L << chunkOrder;
        if (byteSize + alignment + 4096 > chunkPages * PAGE_BYTES) {
            return 0;
        }
        long reused = takeStashed(byteSize, alignment);
        if (reused != 0) {
            return reused;
        }
        lock.lock();
        try {
            return allocateLocked(byteSize, alignment, mayGrow, (int) chunkPages);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Without the lock: a block from the stash, its tags and its neighbours' checked, handed out again; 0 if none
     * fits.
     *
     * @throws dev.offheap.allocator.HeapCorruptionException if the block or a neighbour was written over after
     *     the block was freed (the block stays stashed)
     */
    private long takeStashed(long byteSize, long alignment) {
        long entry = stash.take(byteSize, alignment);
        if (entry == 0) {
            return 0;
        }
        long offset = MediumStash.offsetOf(entry);
        long address = heap.memory.address() + offset;
        MediumChunk chunk = (MediumChunk) heap.pageMap[(int) (offset >>> PAGE_SHIFT)];
        try {
            chunk.blocks.reuseFreed("allocate", address);
        } catch (HeapCorruptionException maybeRewritten) {
            reuseFreedLocked(entry, chunk, address);
        } catch (RuntimeException broken) { // its own tags: no other thread writes them
            stash.putBack(entry);
            throw broken;
        }
        return address;
    }

    /**
     * A neighbour of a stashed block read as broken without the lock (another thread may have been rewriting it):
     * the block is checked again under the lock; if it is broken, it goes back into the stash and the exception
     * stands.
     */
    private void reuseFreedLocked(long entry, MediumChunk chunk, long address) {
        lock.lock();
        try {
            chunk.blocks.reuseFreed("allocate", address);
        } catch (RuntimeException broken) {
            stash.putBack(entry);
            throw broken;
        } finally {
            lock.unlock();
        }
    }

    /** Medium lock held, the stash missed: {@link #allocate}'s chunks and growth. */
    private long allocateLocked(long byteSize, long alignment, boolean mayGrow, int chunkPages) {
        long address = allocateInChunks(byteSize, alignment);
        if (address == 0 && stash.count() > 0) {
            stash.drain(Integer.MAX_VALUE, this::freeStashed);
            address = allocateInChunks(byteSize, alignment);
        }
        if (!mayGrow) {
            return address == OVER_CAP ? 0 : address;
        }
        if (address == OVER_CAP) {
            throw heap.capReachedUnlocked(byteSize);
        }
        if (address != 0) {
            return address;
        }
        MediumChunk chunk = newChunk(chunkPages, byteSize);
        address = chunk.blocks.tryAllocate(byteSize, alignment);
        // A new chunk's region header and end tag were written too, not only the block and its tags.
        if (!commitNewChunk(chunk, address)) {
            discard(chunk);
            throw heap.capReachedUnlocked(byteSize);
        }
        allocations++;
        return address;
    }

    /**
     * Another arena's allocation that found no room at home: a block from this arena's stash or chunks if one fits
     * within the cap; else 0. Never grows; waits for the lock only if {@code wait} (the caller holds no medium
     * lock), else gives up if it is busy.
     */
    long allocateIfRoom(long byteSize, long alignment, boolean wait) {
        long reused = takeStashed(byteSize, alignment);
        if (reused != 0) {
            return reused;
        }
        if (wait) {
            lock.lock();
        } else if (!lock.tryLock()) {
            return 0;
        }
        try {
            return allocateLocked(byteSize, alignment, false, 1 << chunkOrder);
        } finally {
            lock.unlock();
        }
    }

    /** Medium lock held: a new chunk from the page layer, mapped and listed. */
    private MediumChunk newChunk(int chunkPages, long requested) {
        heap.lock.lock();
        try {
            int page = heap.takePages(chunkPages, chunkOrder, requested, GlobalHeap.SpanKind.MEDIUM);
            MediumChunk chunk = new MediumChunk(page, chunkPages, SegregatedListAllocator.over(heap.memory.asSlice(
                    (long) page << PAGE_SHIFT, (long) chunkPages << PAGE_SHIFT), "OffHeapAllocator '" + heap.name
                    + "'"), heap.epoch(), this);
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

    /**
     * Medium lock held: a block from the chunks the heap has, newest first; 0 if none can hold it;
     * {@link #OVER_CAP} if some could, but only by committing pages past the cap (room made first).
     */
    private long allocateInChunks(long byteSize, long alignment) {
        boolean overCap = false;
        for (int i = chunks.size() - 1; i >= 0; i--) {
            MediumChunk chunk = chunks.get(i);
            if (chunk.purging != 0 || !chunk.blocks.mightFit(byteSize)) {
                continue; // purging: its free pages are being handed back without the lock
            }
            long address = chunk.blocks.tryAllocate(byteSize, alignment);
            if (address != 0) {
                if (recommitWritten(chunk, address)) {
                    allocations++;
                    return address;
                }
                undo(chunk, address); // another chunk may hold it in pages already committed
                overCap = true;
                i = Math.min(i, chunks.size()); // making room may have released empty chunks
            }
        }
        return overCap ? OVER_CAP : 0;
    }

    /**
     * Medium lock held: a chunk just taken whose pages could not be committed within the cap goes back at once,
     * its whole span handed back to the OS (its header pages were written but not counted).
     */
    private void discard(MediumChunk chunk) {
        chunks.remove(chunk);
        chunk.blocks.close();
        heap.range.decommit(chunk.offset(), chunk.byteSize());
        heap.lock.lock();
        try {
            heap.pages().decommitted(chunk.firstPage, chunk.pageCount);
            heap.edgesRecommitted((long) chunk.clearEdgesOfPages(-1L, subShift) << subShift);
            heap.unmap(chunk);
            heap.givePages(chunk.firstPage, chunk.pageCount, GlobalHeap.SpanKind.MEDIUM);
        } finally {
            heap.lock.unlock();
        }
    }

    /** Medium lock held: resizes in the chunk, or 0 if the chunk cannot hold the new size (the caller moves it). */
    private static long resizeInChunk(MediumChunk chunk, long address, long newByteSize) {
        try {
            return chunk.blocks.reallocate(address, newByteSize);
        } catch (OffHeapOutOfMemoryException full) {
            return 0;
        }
    }

    /**
     * Medium lock held: takes back a block just placed whose pages could not be committed within the cap. The
     * free space is as it was; the pages the placement wrote (its tags) are handed back to the OS again.
     */
    private void undo(MediumChunk chunk, long address) {
        long from = offsetIn(chunk, chunk.blocks.writtenStart(address));
        long to = offsetIn(chunk, chunk.blocks.writtenEnd(address));
        long written = pagesOf(chunk, from, to) & chunk.cleanPages;
        chunk.blocks.freeReturningUsable(address);
        decommitRuns(chunk, written);
        if (chunk.edgeCount != 0) {
            // edges the placement wrote tags into and that were not counted as committed again: back to the OS
            long stop = Math.min(to, chunk.byteSize()); // the last block's tags reach past the chunk's end
            for (int s = (int) (Math.max(0, from) >>> subShift); (long) s << subShift < stop; s++) {
                if (chunk.isEdge(s)) {
                    heap.range.decommit(chunk.offset() + ((long) s << subShift), 1L << subShift);
                }
            }
        }
    }

    /**
     * Frees a medium block, without the lock if the {@link MediumStash} has room (the block stays allocated in its
     * chunk, marked freed), else in its chunk under the lock. Either way checked first, as a free in the chunk
     * checks it, and claimed: of two frees of one block, the second is a double free even if they race.
     */
    void free(MediumChunk chunk, long address) {
        long usable;
        try {
            usable = chunk.blocks.claimFree("free", address);
        } catch (HeapCorruptionException maybeRewritten) { // a neighbour may have been rewritten meanwhile
            lock.lock();
            try {
                usable = chunk.blocks.claimFree("free", address);
            } finally {
                lock.unlock();
            }
        }
        long offset = address - heap.memory.address();
        if (!stash.offer(offset, usable, heap.epoch())) {
            lock.lock();
            try {
                freeStashed(offset);
            } finally {
                lock.unlock();
            }
        }
    }

    /** Medium lock held: a claimed block (stashed, or freed with the stash full) goes into its chunk's free lists. */
    private void freeStashed(long offset) {
        long address = heap.memory.address() + offset;
        MediumChunk chunk = (MediumChunk) heap.pageMap[(int) (offset >>> PAGE_SHIFT)];
        long usable = chunk.blocks.freeClaimed("free", address);
        long first = (offset >>> PAGE_SHIFT) - chunk.firstPage;
        long last = (offset + usable - 1 >>> PAGE_SHIFT) - chunk.firstPage;
        int epoch = heap.epoch();
        for (long p = first; p <= last; p++) {
            chunk.freedEpoch[(int) p] = epoch; // its pages wait a whole purge tick before they go back
        }
    }

    /**
     * After an allocation that returned {@code address}: the clean pages it may have written count as committed
     * again, within the cap. Only those pages can have stopped being clean, so the chunk's free space is not
     * walked (that walk was a third of a 128 KiB allocate+free pair in a new chunk).
     *
     * @return false if they would not fit under the cap even after making room
     */
    private boolean recommitWritten(MediumChunk chunk, long address) {
        if (chunk.cleanPages == 0 && chunk.edgeCount == 0) {
            return true;
        }
        long from = offsetIn(chunk, chunk.blocks.writtenStart(address));
        long to = offsetIn(chunk, chunk.blocks.writtenEnd(address));
        return commitWithinCap(chunk, pagesOf(chunk, from, to), from, to) && recommitEdges(chunk, from, to);
    }

    /**
     * Medium lock held: the edges an allocation wrote over ({@code [from, to)}, chunk offsets) count as committed
     * again, within the cap (the heap makes room if it must).
     *
     * @return false, nothing changed, if they would not fit even then
     */
    private boolean recommitEdges(MediumChunk chunk, long from, long to) {
        if (chunk.edgeCount == 0) {
            return true;
        }
        int written = chunk.edgesIn(from, to, subShift);
        if (written == 0) {
            return true;
        }
        heap.lock.lock();
        try {
            if (!heap.roomFor((long) written << subShift)) {
                return false;
            }
            heap.edgesRecommitted((long) chunk.clearEdgesIn(from, to, subShift) << subShift);
            return true;
        } finally {
            heap.lock.unlock();
        }
    }

    /**
     * Medium lock held, a new chunk's first block placed: the pages written count as committed, within the cap:
     * the region header and the block from the chunk's start (the block was the first fit in the chunk's one free
     * block, after the header), and the free block's footer in the chunk's last bytes. Their other sub-pages
     * were never touched and become edges.
     */
    private boolean commitNewChunk(MediumChunk chunk, long address) {
        long written = chunk.cleanPages & ~chunk.pagesInFreeSpace(heap.memory.address());
        long blockEnd = offsetIn(chunk, chunk.blocks.writtenEnd(address));
        long headPages = pagesOf(chunk, 0, blockEnd);
        return commitWithinCap(chunk, written & headPages, 0, blockEnd)
                && commitWithinCap(chunk, written & ~headPages, chunk.byteSize() - 1, chunk.byteSize());
    }

    /**
     * Medium lock held: the chunk's clean pages among {@code written} count as committed again, within the cap
     * (the heap makes room if it must), but not their sub-pages outside {@code [from, to)} (chunk offsets: what
     * was written): those were free space in a clean page, untouched, and become edges.
     *
     * @return false if they would not fit even then; runs committed before the one that did not fit stay
     *     committed (they were written), the rest stay clean
     */
    private boolean commitWithinCap(MediumChunk chunk, long written, long from, long to) {
        if ((written & chunk.cleanPages) == 0) {
            return true;
        }
        heap.lock.lock();
        try {
            for (long due = written & chunk.cleanPages; due != 0; due &= ~runAt(due)) {
                long run = runAt(due);
                // the run's sub-pages before the one that holds byte `from`, and from the one after byte `to - 1`
                int first = Long.numberOfTrailingZeros(run) << (PAGE_SHIFT - subShift);
                int end = first + (Long.bitCount(run) << (PAGE_SHIFT - subShift));
                int writtenFirst = Math.clamp(from >> subShift, first, end);
                int writtenEnd = Math.clamp((to + (1L << subShift) - 1) >> subShift, writtenFirst, end);
                int unwritten = subShift == SUB_PAGES_OFF ? 0 : writtenFirst - first + end - writtenEnd;
                if (!heap.commitWithinCap(firstPageOf(chunk, run), Long.bitCount(run), (long) unwritten << subShift)) {
                    return false;
                }
                chunk.cleanPages &= ~run;
                if (unwritten != 0) {
                    chunk.markEdges(first, writtenFirst, subShift);
                    chunk.markEdges(writtenEnd, end, subShift);
                }
            }
            return true;
        } finally {
            heap.lock.unlock();
        }
    }

    /** The chunk's pages that overlap its bytes {@code [from, to)} (chunk offsets), as page bits. */
    private static long pagesOf(MediumChunk chunk, long from, long to) {
        long first = Math.max(0, from >> PAGE_SHIFT);
        long last = Math.min(chunk.pageCount - 1, to - 1 >> PAGE_SHIFT);
        return last - first + 1 == Long.SIZE ? -1L : ((1L << (last - first + 1)) - 1) << first;
    }

    /** An address in the chunk as an offset from the chunk's start. */
    private long offsetIn(MediumChunk chunk, long address) {
        return address - heap.memory.address() - chunk.offset();
    }

    /**
     * Medium and heap locks held, at the cap: every page of every chunk that lies wholly in free space and is
     * still committed goes back to the OS now, and becomes clean.
     */
    void decommitFreeSpaceNow() {
        for (MediumChunk chunk : chunks) {
            if (chunk.purging != 0) {
                continue; // a purge is handing back its pages without the lock
            }
            long due = chunk.pagesInFreeSpace(heap.memory.address()) & ~chunk.cleanPages;
            decommitRuns(chunk, due);
            countDecommitted(chunk, due);
            heap.edgesRecommitted((long) chunk.clearEdgesOfPages(due, subShift) << subShift);
            chunk.cleanPages |= due;
            if (subShift != SUB_PAGES_OFF) {
                decommitEdges(chunk);
            }
        }
    }

    /**
     * On {@code trim()}, after the purge: every chunk's free space in pages that also hold blocks goes back to the
     * OS by the sub-page ({@link #decommitEdges}). Takes the medium lock, and the heap lock only to count.
     *
     * @return bytes handed back
     */
    long decommitEdgesNow() {
        if (subShift == SUB_PAGES_OFF) {
            return 0;
        }
        long bytes = 0;
        lock.lock();
        try {
            for (MediumChunk chunk : chunks) {
                if (chunk.purging == 0) {
                    bytes += decommitEdges(chunk);
                }
            }
        } finally {
            lock.unlock();
        }
        return bytes;
    }

    /**
     * Medium lock held, the chunk's whole free pages clean: hands back, by the sub-page, the free space of its
     * other pages (the edges of its holes), each run of sub-pages that are not edges yet in one call, without the
     * heap lock (taken only to count them). O(free blocks) walk; the calls only for edges not handed back before.
     *
     * @return bytes handed back
     */
    private long decommitEdges(MediumChunk chunk) {
        long chunkAddress = heap.memory.address() + chunk.offset();
        long subBytes = 1L << subShift;
        int pageShift = PAGE_SHIFT - subShift;
        int[] added = new int[1];
        chunk.blocks.forEachFreeSpace((from, to) -> {
            int end = (int) ((to - chunkAddress) >>> subShift);
            for (int s = (int) ((from - chunkAddress + subBytes - 1) >>> subShift); s < end; ) {
                int run = s;
                while (run < end && (chunk.cleanPages & 1L << (run >>> pageShift)) == 0 && !chunk.isEdge(run)) {
                    run++;
                }
                if (run > s) {
                    heap.range.decommit(chunk.offset() + ((long) s << subShift), (long) (run - s) << subShift);
                    chunk.markEdges(s, run, subShift);
                    added[0] += run - s;
                    s = run;
                } else {
                    s++;
                }
            }
        });
        long bytes = (long) added[0] << subShift;
        heap.lock.lock();
        try {
            heap.edgesDecommitted(bytes);
        } finally {
            heap.lock.unlock();
        }
        return bytes;
    }

    /** Without the lock: a live block's own tags, which only a call on the block itself writes. */
    long usableSize(String call, MediumChunk chunk, long address) {
        return chunk.blocks.usableSize(call, address);
    }

    /** Resizes within the chunk if it can (in place when the next block is free); 0 if it must move out. */
    long reallocate(MediumChunk chunk, long address, long newByteSize) {
        lock.lock();
        try {
            if (newByteSize > GlobalHeap.MEDIUM_MAX || newByteSize <= GlobalHeap.SMALL_MAX || chunk.purging != 0) {
                return 0;
            }
            if (chunk.cleanPages == 0 && chunk.edgeCount == 0) {
                return resizeInChunk(chunk, address, newByteSize);
            }
            // The resize may write over clean pages: at most the new block's and two for tags. Checked and
            // committed under the heap lock, so that nothing commits in between; near the cap the caller moves
            // the block instead, and that allocation is checked against the cap exactly.
            heap.lock.lock();
            try {
                if (!heap.fitsCapUnlocked((newByteSize >>> PAGE_SHIFT) + 2)) {
                    return 0;
                }
                long resized = resizeInChunk(chunk, address, newByteSize);
                long written = chunk.cleanPages & ~chunk.pagesInFreeSpace(heap.memory.address());
                for (long due = written; due != 0; due &= ~runAt(due)) {
                    long run = runAt(due);
                    heap.pages().commit(firstPageOf(chunk, run), Long.bitCount(run));
                }
                chunk.cleanPages &= ~written;
                heap.edgesRecommitted((long) chunk.keepEdgesInFreeSpace(heap.memory.address(), subShift) << subShift);
                return resized;
            } finally {
                heap.lock.unlock();
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
        stash.drain(epochLimit, this::freeStashed);
        for (MediumChunk chunk : chunks.toArray(new MediumChunk[0])) {
            if (chunk.blocks.liveBlocks() == 0 && chunk.purging == 0) {
                chunks.remove(chunk);
                chunk.blocks.close();
                heap.lock.lock();
                try {
                    dropEdges(chunk);
                    heap.unmap(chunk);
                    heap.givePages(chunk.firstPage, chunk.pageCount, GlobalHeap.SpanKind.MEDIUM);
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
            decommitRuns(chunk, chunk.purging);
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
                    countDecommitted(chunk, chunk.purging);
                    heap.edgesRecommitted((long) chunk.clearEdgesOfPages(chunk.purging, subShift) << subShift);
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

    /**
     * Medium and heap locks held, the chunk going back to the page layer, which counts pages whole: its pages
     * that hold edges are handed back whole first, so that the committed count never rises for nothing.
     */
    private void dropEdges(MediumChunk chunk) {
        long pagesWithEdges = chunk.pagesWithEdges(subShift);
        decommitRuns(chunk, pagesWithEdges);
        countDecommitted(chunk, pagesWithEdges);
        heap.edgesRecommitted((long) chunk.clearEdgesOfPages(pagesWithEdges, subShift) << subShift);
    }

    /** Hands the chunk's pages in {@code pageBits} back to the OS, a run of consecutive pages per call. */
    private void decommitRuns(MediumChunk chunk, long pageBits) {
        for (long due = pageBits; due != 0; due &= ~runAt(due)) {
            long run = runAt(due);
            heap.range.decommit((long) firstPageOf(chunk, run) << PAGE_SHIFT, (long) Long.bitCount(run) << PAGE_SHIFT);
        }
    }

    /** Heap lock held: the page layer counts the chunk's pages in {@code pageBits} as decommitted. */
    private void countDecommitted(MediumChunk chunk, long pageBits) {
        for (long due = pageBits; due != 0; due &= ~runAt(due)) {
            long run = runAt(due);
            heap.pages().decommitted(firstPageOf(chunk, run), Long.bitCount(run));
        }
    }

    /** The page (over the whole range) where a run of the chunk's pages, given as a mask, starts. */
    private static int firstPageOf(MediumChunk chunk, long run) {
        return chunk.firstPage + Long.numberOfTrailingZeros(run);
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

    /** Allocations since creation: from the chunks (medium lock held) and from the stash. */
    long allocations() {
        return allocations + stash.takes();
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
