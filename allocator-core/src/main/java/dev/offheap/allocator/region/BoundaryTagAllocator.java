package dev.offheap.allocator.region;

import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.HeapCorruptionException;
import dev.offheap.allocator.internal.Checks;

import java.lang.foreign.MemorySegment;

import static dev.offheap.allocator.internal.Checks.hex;
import static dev.offheap.allocator.region.BoundaryTagLayout.ALLOCATED;
import static dev.offheap.allocator.region.BoundaryTagLayout.CHECK;
import static dev.offheap.allocator.region.BoundaryTagLayout.FLAGS;
import static dev.offheap.allocator.region.BoundaryTagLayout.FREED;
import static dev.offheap.allocator.region.BoundaryTagLayout.FOOTER_FROM_END;
import static dev.offheap.allocator.region.BoundaryTagLayout.FREE_BLOCK_TAGS;
import static dev.offheap.allocator.region.BoundaryTagLayout.MIN_BLOCK;
import static dev.offheap.allocator.region.BoundaryTagLayout.NEXT_FREE;
import static dev.offheap.allocator.region.BoundaryTagLayout.OVERHEAD;
import static dev.offheap.allocator.region.BoundaryTagLayout.PAYLOAD;
import static dev.offheap.allocator.region.BoundaryTagLayout.PREV_FREE;

/**
 * The boundary-tag heap shared by the implicit, explicit and segregated free-list allocators; they differ
 * only in how free blocks are found ({@link #findFit}, {@link #insertFree}, {@link #removeFree}).
 *
 * <p>Not thread-safe.
 *
 * <h2>Layout</h2>
 * <pre>
 *   heap: | header (RegionHeaderLayout + list heads) | block | block | block | ... | block |
 *         0                                          firstBlock                      heapEnd
 * </pre>
 * Blocks tile {@code [firstBlock, heapEnd)} exactly; each is laid out as {@link BoundaryTagLayout} shows.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>{@code sum(block sizes) == heapEnd - firstBlock}: blocks tile the heap;</li>
 *   <li>no two free blocks are adjacent (free coalesces at once), so every free block is as large as it can be;</li>
 *   <li>{@code footer(b) == header(b)} and {@code check(b) == mix(b, header(b))} for every block;</li>
 *   <li>{@code FREE_BYTES == sum(sizes of free blocks)}; every free block is in exactly one free list.</li>
 * </ul>
 *
 * <h2>Allocate</h2>
 * block size {@code = max(MIN_BLOCK, alignUp(size + OVERHEAD, 16))}; find a free block that fits
 * (with the leading gap an alignment needs); cut off the gap as a free block if any, and the tail if it is at
 * least {@code MIN_BLOCK}; write header, check and footer.
 *
 * <h2>Free</h2>
 * Check the header (check word, allocated flag, footer): O(1) rejection of foreign, interior and freed
 * addresses. Mark it free; merge with the right neighbour if free (its header is right after our footer) and
 * with the left one if free (its footer is right before our header); put the result in a free list.
 */
abstract sealed class BoundaryTagAllocator extends RegionAllocator
        permits ImplicitListAllocator, ExplicitListAllocator, SegregatedListAllocator {

    /** The offset of the first block. */
    final long firstBlock;
    /** The offset just past the last block. */
    final long heapEnd;
    final long maxPayload;

    BoundaryTagAllocator(MemorySegment region, long magic, long headerBytes, String displayName) {
        super(region, magic, displayName);
        this.firstBlock = Checks.alignUp(headerBytes, MIN_ALIGNMENT);
        this.heapEnd = heapSize & ~(MIN_ALIGNMENT - 1);
        this.maxPayload = heapEnd - firstBlock - OVERHEAD;
        heap.asSlice(RegionHeaderLayout.SPECIFIC, firstBlock - RegionHeaderLayout.SPECIFIC).fill((byte) 0);
        writeBlock(firstBlock, heapEnd - firstBlock, false);
        addFreeBytes(heapEnd - firstBlock);
        insertFree(firstBlock, heapEnd - firstBlock);
    }

    // ---------------------------------------------------------------------------------------------------------
    // The free-block index, one per allocator

    /** The first free block that {@linkplain #fits fits}, or -1. */
    abstract long findFit(long blockSize, long alignment);

    /** Files free {@code block} of {@code size} bytes (its header says so: the caller has the size at hand). */
    abstract void insertFree(long block, long size);

    /** Takes free {@code block} of {@code size} bytes out of the index. */
    abstract void removeFree(long block, long size);

    // ---------------------------------------------------------------------------------------------------------
    // Allocator

    @Override
    public final long allocate(long byteSize, long byteAlignment) {
        long address = tryAllocate(byteSize, byteAlignment);
        if (address == 0) {
            throw outOfMemory(byteSize, byteAlignment);
        }
        return address;
    }

    /**
     * As {@link #allocate(long, long)}, but returns 0 instead of throwing when no free block fits: for callers
     * that try several heaps in turn and would pay for an exception each time.
     */
    public final long tryAllocate(long byteSize, long byteAlignment) {
        ensureOpenToAllocate(byteSize);
        long alignment = Checks.requireAlignment(byteSize, byteAlignment, maxAlignment(), this);
        Checks.requireSize(byteSize, maxPayload, this);
        long need = blockSizeFor(byteSize);
        long block = findFit(need, alignment);
        if (block < 0) {
            return 0;
        }
        block = place(block, need, alignment);
        countAllocation(sizeOf(block) - OVERHEAD);
        return heapAddress + block + PAYLOAD;
    }

    @Override
    public final void free(long address) {
        freeReturningUsable(address);
    }

    /**
     * Everything {@link #free} checks, without freeing: a live block starts at {@code address} and the tags a free
     * would read around it are intact; its usable bytes. For a caller that keeps freed blocks for reuse and must
     * reject what a free would reject, when it would; {@code call} names the caller's operation in the message.
     */
    public final long checkFreeable(String call, long address) {
        ensureOpen(call, address);
        long block = liveBlock(call, address);
        long size = sizeOf(block);
        requireIntactNeighbours(call, address, block, size);
        return size - OVERHEAD;
    }

    /** As {@link #free}; returns the usable bytes the block had, for a caller that tracks where memory was freed. */
    public final long freeReturningUsable(long address) {
        ensureOpen("free", address);
        long block = liveBlock("free", address);
        long size = sizeOf(block);
        requireIntactNeighbours("free", address, block, size);
        countFree(size - OVERHEAD);
        addFreeBytes(size);
        coalesceAndInsert(block, size);
        return size - OVERHEAD;
    }

    /**
     * Claims the free of the live block at {@code address} without the caller's lock: what {@link #free} checks
     * (the block's tags and its neighbours'), then one compare-and-set marks its header {@link
     * BoundaryTagLayout#FREED}. The block stays allocated in the heap, freed to every call that needs a live block,
     * until {@link #freeClaimed} gives it to the free lists or {@link #reuseFreed} hands it out again. Of two frees
     * of one block, at any moment, one claims it and the other throws {@link DoubleFreeException}. Without the
     * caller's lock a neighbour being rewritten may read as broken: such a caller calls again under its lock
     * before it believes a {@link HeapCorruptionException} (nothing was changed). Native memory only (the
     * compare-and-set needs atomic access).
     *
     * @return the block's usable bytes
     */
    public final long claimFree(String call, long address) {
        ensureOpen(call, address);
        long block = liveBlock(call, address);
        long word = getLong(block);
        requireIntactNeighbours(call, address, block, word & ~FLAGS);
        if ((word & (ALLOCATED | FREED)) != ALLOCATED || !casLong(block, word, word | FREED)) {
            liveBlock(call, address); // the block was freed meanwhile: throws DoubleFreeException
            throw new DoubleFreeException(address, call + "(" + hex(address) + "): the block was freed by another"
                    + " thread at the same time (double free)");
        }
        return (word & ~FLAGS) - OVERHEAD;
    }

    /**
     * A block that {@link #claimFree} claimed, handed out again as it is, without the caller's lock: checked as
     * {@link #claimFree} checks it (a write after its free over its tags or a neighbour's is caught here; a
     * {@link HeapCorruptionException} changes nothing, and may be a neighbour being rewritten, as there), then the
     * mark is cleared. The caller owns the claim: no other thread can reuse or free the block meanwhile.
     *
     * @return the block's usable bytes
     */
    public final long reuseFreed(String call, long address) {
        ensureOpen(call, address);
        long block = checkedBlock(call, address, true);
        long word = getLong(block);
        requireIntactNeighbours(call, address, block, word & ~FLAGS);
        putLong(block, word & ~FREED);
        return (word & ~FLAGS) - OVERHEAD;
    }

    /**
     * Checks what {@link #free} checks of a block ({@code claimed}: one that {@link #claimFree} claimed, else a live
     * one): its own tags, then the next block's header and the footer of the block before it. Reads only. Without
     * the caller's lock a neighbour being rewritten may read as broken: such a caller checks again under its lock
     * before it believes a {@link HeapCorruptionException}.
     *
     * @return the block's usable bytes
     */
    public final long checkAround(String call, long address, boolean claimed) {
        ensureOpen(call, address);
        long block = checkedBlock(call, address, claimed);
        long size = sizeOf(block);
        requireIntactNeighbours(call, address, block, size);
        return size - OVERHEAD;
    }

    /** {@link #freeReturningUsable} for a block that {@link #claimFree} claimed (the caller's lock held). */
    public final long freeClaimed(String call, long address) {
        ensureOpen(call, address);
        long block = checkedBlock(call, address, true);
        long size = sizeOf(block);
        requireIntactNeighbours(call, address, block, size);
        countFree(size - OVERHEAD);
        addFreeBytes(size);
        coalesceAndInsert(block, size);
        return size - OVERHEAD;
    }

    @Override
    public final long reallocate(long address, long newByteSize) {
        ensureOpen("reallocate", address);
        long block = liveBlock("reallocate", address);
        Checks.requireResize(address, newByteSize, maxPayload, this);
        long size = sizeOf(block);
        requireIntactNeighbours("reallocate", address, block, size);
        long need = blockSizeFor(newByteSize);
        if (need <= size) {
            shrinkInPlace(block, size, need);
            return address;
        }
        long next = block + size;
        if (next < heapEnd && !isAllocated(next) && size + sizeOf(next) >= need) {
            long nextSize = sizeOf(next);
            removeFree(next, nextSize);
            addFreeBytes(-nextSize);
            putLong(next + CHECK, 0);
            writeBlock(block, size + nextSize, true);
            countResize(size - OVERHEAD, size + nextSize - OVERHEAD);
            shrinkInPlace(block, size + nextSize, need);
            return address;
        }
        return moveBlock(address, size - OVERHEAD, newByteSize);
    }

    @Override
    public final long usableSize(long address) {
        return usableSize("usableSize", address);
    }

    /** {@link #usableSize(long)}, the exception naming {@code call}. Reads only the block's own tags. */
    public final long usableSize(String call, long address) {
        ensureOpen(call, address);
        return sizeOf(liveBlock(call, address)) - OVERHEAD;
    }

    /**
     * Where the allocation that returned {@code address} may have written: from the footer of a free block split
     * off before it to the tags of one split off after it ({@link #writtenEnd}). Nothing outside was written
     * except tags that were there already. For a caller that tracks which pages hold data (a heap over reserved
     * memory that hands free pages back to the OS).
     */
    public final long writtenStart(long address) {
        return address - PAYLOAD - FOOTER_FROM_END;
    }

    /** The end of what the allocation that returned {@code address} may have written; see {@link #writtenStart}. */
    public final long writtenEnd(long address) {
        return address - PAYLOAD + sizeOf(liveBlock("writtenEnd", address)) + FREE_BLOCK_TAGS;
    }

    @Override
    public long maxAlignment() {
        return 1L << 20;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Blocks

    static long blockSizeFor(long byteSize) {
        return Math.max(MIN_BLOCK, Checks.alignUp(byteSize + OVERHEAD, MIN_ALIGNMENT));
    }

    final long sizeOf(long block) {
        return getLong(block) & ~FLAGS;
    }

    final boolean isAllocated(long block) {
        return (getLong(block) & ALLOCATED) != 0;
    }

    /**
     * The size of {@code block} for a walk over the heap (the purge's, the statistics', a first fit's), its
     * header checked first: a write past the end of the block before it may have overwritten it, and a walk that
     * trusted a size of 0 would never end (with the caller's lock held), another size would walk into the middle
     * of blocks.
     *
     * @throws HeapCorruptionException if the header's check word or size is wrong
     */
    final long walkedSize(String call, long block) {
        long word = getLong(block);
        long size = word & ~FLAGS;
        if (getLong(block + CHECK) != check(block, word) || size < MIN_BLOCK || block + size > heapEnd) {
            throw new HeapCorruptionException(call + ": the block at " + hex(heapAddress + block + PAYLOAD) + " ("
                    + this + ") has an overwritten header: something wrote past the end of the block before it");
        }
        return size;
    }

    final void writeBlock(long block, long size, boolean allocated) {
        long word = size | (allocated ? ALLOCATED : 0);
        putLong(block, word);
        putLong(block + CHECK, check(block, word));
        putLong(block + size - FOOTER_FROM_END, word);
    }

    private long check(long block, long word) {
        return ((block + 1) * 0x9E3779B97F4A7C15L) ^ (word & ~FREED) ^ salt();
    }

    /** The bytes to skip before {@code block} so that its payload is aligned: 0, or a valid free block. */
    final long leadingGap(long block, long alignment) {
        if (alignment <= MIN_ALIGNMENT) {
            return 0;
        }
        long payload = heapAddress + block + PAYLOAD;
        long gap = Checks.alignUp(payload, alignment) - payload;
        while (gap != 0 && gap < MIN_BLOCK) {
            gap += alignment;
        }
        return gap;
    }

    /** Whether free {@code block} can hold a block of {@code blockSize} at {@code alignment}. */
    final boolean fits(long block, long blockSize, long alignment) {
        return leadingGap(block, alignment) + blockSize <= sizeOf(block);
    }

    /** Takes free {@code block} out of its list and carves the allocation from it; returns the new block. */
    private long place(long block, long need, long alignment) {
        long size = sizeOf(block);
        removeFree(block, size);
        long gap = leadingGap(block, alignment);
        if (gap > 0) {
            writeBlock(block, gap, false);
            insertFree(block, gap);
            block += gap;
            size -= gap;
        }
        long rest = size - need;
        if (rest >= MIN_BLOCK) {
            writeBlock(block, need, true);
            writeBlock(block + need, rest, false);
            insertFree(block + need, rest);
            addFreeBytes(-need);
        } else {
            writeBlock(block, size, true);
            addFreeBytes(-size);
        }
        return block;
    }

    /** Cuts the tail off an allocated block when it is large enough to be a block of its own. */
    private void shrinkInPlace(long block, long size, long need) {
        long rest = size - need;
        if (rest >= MIN_BLOCK) {
            writeBlock(block, need, true);
            countResize(size - OVERHEAD, need - OVERHEAD);
            addFreeBytes(rest);
            coalesceAndInsert(block + need, rest);
        }
    }

    /** Marks {@code block} free, merges it with free neighbours and files the result. */
    private void coalesceAndInsert(long block, long size) {
        long next = block + size;
        if (next < heapEnd && !isAllocated(next)) {
            long nextSize = sizeOf(next);
            removeFree(next, nextSize);
            size += nextSize;
            putLong(next + CHECK, 0);
        }
        if (block > firstBlock) {
            long leftFooter = getLong(block - FOOTER_FROM_END);
            if ((leftFooter & ALLOCATED) == 0) {
                long left = block - (leftFooter & ~FLAGS);
                long leftSize = sizeOf(left);
                removeFree(left, leftSize);
                size += leftSize;
                putLong(block + CHECK, 0);
                block = left;
            }
        }
        writeBlock(block, size, false);
        insertFree(block, size); // not read back from the header just written: at the far end of a merge, a miss
    }

    // ---------------------------------------------------------------------------------------------------------
    // Doubly linked free lists through the free blocks' payload, for the explicit and segregated allocators.
    // A list is named by the header offset that holds its first block's offset (0: empty).

    /** Pushes {@code block} at the front of the list whose head is at {@code headField}. */
    final void pushFree(long headField, long block) {
        long first = getLong(headField);
        putLong(block + NEXT_FREE, first);
        putLong(block + PREV_FREE, 0);
        if (first != 0) {
            putLong(first + PREV_FREE, block);
        }
        putLong(headField, block);
    }

    /** Unlinks {@code block} from the list whose head is at {@code headField}. */
    final void unlinkFree(long headField, long block) {
        long next = getLong(block + NEXT_FREE);
        long prev = getLong(block + PREV_FREE);
        if (prev == 0) {
            putLong(headField, next);
        } else {
            putLong(prev + NEXT_FREE, next);
        }
        if (next != 0) {
            putLong(next + PREV_FREE, prev);
        }
    }

    /** The first block of the list at {@code headField} that fits, or -1. */
    final long firstFit(long headField, long blockSize, long alignment) {
        for (long block = getLong(headField); block != 0; block = getLong(block + NEXT_FREE)) {
            if (fits(block, blockSize, alignment)) {
                return block;
            }
        }
        return -1;
    }

    /**
     * Checks the tags that a free or a resize of {@code block} will read: the right neighbour's header and the
     * left neighbour's footer and header. A write past the end of the left block or before this one shows
     * here, and is reported before anything changes, instead of steering a coalesce through garbage.
     */
    private void requireIntactNeighbours(String call, long address, long block, long size) {
        long next = block + size;
        if (next < heapEnd) {
            long word = getLong(next);
            long nextSize = word & ~FLAGS;
            if (getLong(next + CHECK) != check(next, word) || nextSize < MIN_BLOCK || next + nextSize > heapEnd) {
                throw new HeapCorruptionException(call + "(" + hex(address) + "): the header of the next block, at "
                        + hex(heapAddress + next + PAYLOAD) + ", was overwritten: something wrote past the end of"
                        + " this block");
            }
        }
        if (block > firstBlock) {
            long footer = getLong(block - FOOTER_FROM_END);
            long leftSize = footer & ~FLAGS;
            long left = block - leftSize;
            if (leftSize < MIN_BLOCK || left < firstBlock || (getLong(left) & ~FREED) != footer
                    || getLong(left + CHECK) != check(left, footer)) {
                throw new HeapCorruptionException(call + "(" + hex(address) + "): the footer of the block before it"
                        + " was overwritten: something wrote past the end of that block, or before this one");
            }
        }
    }

    /**
     * The block whose payload starts at {@code address}, after checking that it is one and is allocated (and not
     * {@link BoundaryTagLayout#FREED}). Reads only the block's own tags; throws before anything changes.
     */
    final long liveBlock(String call, long address) {
        return checkedBlock(call, address, false);
    }

    /**
     * The block whose payload starts at {@code address}: its header's check word and size, its flags (allocated;
     * {@link BoundaryTagLayout#FREED} as {@code freed} says) and its footer. Reads only the block's own tags.
     */
    private long checkedBlock(String call, long address, boolean freed) {
        long payload = address - heapAddress;
        if (payload < firstBlock + PAYLOAD || payload >= heapEnd) {
            throw outside(call, address, firstBlock + PAYLOAD, heapEnd);
        }
        if ((payload & (MIN_ALIGNMENT - 1)) != 0) {
            throw invalid(call, address, "misaligned; every block starts on a 16-byte boundary");
        }
        long block = payload - PAYLOAD;
        long word = getLong(block);
        long size = word & ~FLAGS;
        if (getLong(block + CHECK) != check(block, word) || size < MIN_BLOCK || block + size > heapEnd) {
            throw invalid(call, address, "no block starts there (an address inside a block, or never returned)");
        }
        if ((word & ALLOCATED) == 0 || (word & FREED) != 0 && !freed) {
            throw new DoubleFreeException(address, call + "(" + hex(address) + "): the block was already freed"
                    + " (double free or use after free)");
        }
        if ((word & FREED) == 0 && freed) {
            throw new IllegalStateException(call + "(" + hex(address) + "): the block's free was never claimed");
        }
        long footer = getLong(block + size - FOOTER_FROM_END);
        if (footer != (word & ~FREED)) {
            throw new HeapCorruptionException(call + "(" + hex(address) + "): the footer of this " + (size - OVERHEAD)
                    + "-byte block was overwritten (found " + hex(footer) + ", expected " + hex(word & ~FREED)
                    + "): something wrote past the end of the block");
        }
        return block;
    }

    /** Receives one live block: its address and usable bytes. */
    @FunctionalInterface
    public interface LiveBlockVisitor {
        void visit(long address, long usableBytes);
    }

    /** Calls {@code visitor} for every live block, in address order: O(all blocks), for reports, not hot paths. */
    public final void forEachLiveBlock(LiveBlockVisitor visitor) {
        ensureOpen("forEachLiveBlock()");
        for (long block = firstBlock, size; block < heapEnd; block += size) {
            size = walkedSize("forEachLiveBlock()", block);
            if ((getLong(block) & (ALLOCATED | FREED)) == ALLOCATED) { // a FREED block was freed by its caller
                visitor.visit(heapAddress + block + PAYLOAD, size - OVERHEAD);
            }
        }
    }

    /** Receives the stretch {@code [fromAddress, toAddress)} of a free block that holds none of the allocator's data. */
    @FunctionalInterface
    public interface FreeSpaceVisitor {
        void visit(long fromAddress, long toAddress);
    }

    /**
     * Calls {@code visitor} for every free block with the bytes of it that the allocator neither needs nor reads
     * while the block stays free: all but its header, check, links and footer. Their contents may be discarded
     * (a heap over reserved memory hands such pages back to the OS, and they read as zero afterwards): allocation
     * writes new tags there and never reads old ones. In address order; O(all blocks), for the caller's lock.
     */
    public final void forEachFreeSpace(FreeSpaceVisitor visitor) {
        ensureOpen("forEachFreeSpace()");
        for (long block = firstBlock, size; block < heapEnd; block += size) {
            size = walkedSize("forEachFreeSpace()", block);
            if (!isAllocated(block)) {
                visitor.visit(heapAddress + block + FREE_BLOCK_TAGS, heapAddress + block + size - FOOTER_FROM_END);
            }
        }
    }

    /**
     * Walks every block and checks the invariants above that a walk can see: each header's check word and its
     * footer, sizes that tile the heap exactly, no two adjacent free blocks, the free bytes and live blocks the
     * header counts. O(blocks); for tests and debugging.
     *
     * @throws HeapCorruptionException naming the first block that breaks one, and how
     */
    public final void verify() {
        ensureOpen("verify()");
        long freeBytes = 0;
        long live = 0;
        boolean previousFree = false;
        long block = firstBlock;
        while (block < heapEnd) {
            long word = getLong(block);
            long size = word & ~FLAGS;
            String where = "verify(): the block at " + hex(heapAddress + block + PAYLOAD) + " (" + this + ")";
            if (getLong(block + CHECK) != check(block, word)) {
                throw new HeapCorruptionException(where + ": its header was overwritten (check word does not"
                        + " match); something wrote past the end of the block before it, or before this one");
            }
            if (size < MIN_BLOCK || block + size > heapEnd) {
                throw new HeapCorruptionException(where + ": its size " + size + " does not fit the heap");
            }
            if (getLong(block + size - FOOTER_FROM_END) != (word & ~FREED)) {
                throw new HeapCorruptionException(where + ": its footer differs from its header; something wrote"
                        + " past the end of this block");
            }
            boolean allocated = (word & ALLOCATED) != 0;
            if (!allocated && previousFree) {
                throw new HeapCorruptionException(where + ": free next to a free block (a coalesce was missed)");
            }
            if (allocated) {
                live++;
            } else {
                freeBytes += size;
            }
            previousFree = !allocated;
            block += size;
        }
        if (block != heapEnd) {
            throw new HeapCorruptionException("verify(): " + this + ": blocks end at " + block + ", not at " + heapEnd);
        }
        if (live != liveBlocks()) {
            throw new HeapCorruptionException("verify(): " + this + ": " + live + " allocated blocks, the header counts "
                    + liveBlocks());
        }
        long counted = stats().freeBytes();
        if (freeBytes != counted) {
            throw new HeapCorruptionException("verify(): " + this + ": free blocks hold " + freeBytes
                    + " bytes, the header counts " + counted);
        }
        verifyFreeIndex();
    }

    /** Checks what the free-block index keeps beside its lists, if anything; part of {@link #verify()}. */
    void verifyFreeIndex() {
    }

    /** Walks every block: O(blocks). For stats and messages, not for allocation. */
    @Override
    long largestFreeBlock() {
        long largest = 0;
        for (long block = firstBlock, size; block < heapEnd; block += size) {
            size = walkedSize("stats()", block);
            if (!isAllocated(block)) {
                largest = Math.max(largest, size - OVERHEAD);
            }
        }
        return largest;
    }
}
