package dev.offheap.allocator.region;

import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.internal.Checks;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import static dev.offheap.allocator.internal.Checks.hex;

/**
 * A slab (pool) allocator over a caller's region: the region is cut into equal slots of one size, handed
 * out and taken back in O(1). No splitting, no coalescing, no per-block header.
 *
 * <p>Not thread-safe: one thread at a time.
 *
 * <h2>Layout</h2>
 * <pre>
 *   heap: | header | live bitmap (1 bit per slot) | pad | slot 0 | slot 1 | ... | slot n-1 |
 *         0        BITMAP                               slotsStart
 *
 *   header adds: SLOT_BYTES | SLOT_COUNT | FREE_HEAD | NEVER_USED
 *   free slot:   | next free slot index + 1 (0: none) | ...
 * </pre>
 * Slots below {@code NEVER_USED} have been handed out at least once; the rest were never touched, so a fresh
 * slab does not write the whole region to build its free list.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>bit {@code i} of the bitmap is set iff slot {@code i} is live: double and foreign frees are caught
 *       exactly;</li>
 *   <li>{@code live + |free list| + (SLOT_COUNT - NEVER_USED) == SLOT_COUNT}.</li>
 * </ul>
 *
 * <h2>Cost</h2>
 * allocate O(1) (pop the free list or bump {@code NEVER_USED}); free O(1) (check the bit, push); one bit of
 * metadata per slot; a request smaller than the slot wastes the difference.
 */
public final class SlabAllocator extends RegionAllocator {

    private static final long MAGIC = 0x534c4142414c4c43L; // "SLABALLC"
    private static final long SLOT_BYTES = RegionHeaderLayout.SPECIFIC;
    private static final long SLOT_COUNT = SLOT_BYTES + 8;
    private static final long FREE_HEAD = SLOT_COUNT + 8;
    private static final long NEVER_USED = FREE_HEAD + 8;
    private static final long BITMAP = NEVER_USED + 8;

    private final long slotBytes;
    private final long slotCount;
    private final long slotsStart;
    private final long slotAlignment;

    private SlabAllocator(MemorySegment region, long slotByteSize) {
        super(region, MAGIC);
        if (slotByteSize <= 0 || slotByteSize > heapSize / 2) {
            throw new IllegalArgumentException("SlabAllocator with " + slotByteSize + "-byte slots over " + heapSize
                    + " bytes: the slot size must be between 1 and half the region (" + heapSize / 2 + ")");
        }
        this.slotBytes = Checks.alignUp(slotByteSize, MIN_ALIGNMENT);
        this.slotAlignment = Math.min(Long.lowestOneBit(slotBytes), 4096);
        // Each slot costs its bytes plus one bit; the bitmap is rounded to whole words.
        long count = ((heapSize - BITMAP - slotAlignment - 8) * 8) / (slotBytes * 8 + 1);
        this.slotCount = count;
        long bitmapEnd = BITMAP + ((count + 63) / 64) * 8;
        this.slotsStart = Checks.alignUp(heapAddress + bitmapEnd, slotAlignment) - heapAddress;
        heap.asSlice(RegionHeaderLayout.SPECIFIC, bitmapEnd - RegionHeaderLayout.SPECIFIC).fill((byte) 0);
        putLong(SLOT_BYTES, slotBytes);
        putLong(SLOT_COUNT, slotCount);
        putLong(RegionHeaderLayout.FREE_BYTES, slotCount * slotBytes);
    }

    /**
     * An allocator of {@code slotByteSize}-byte blocks (rounded up to 16) over native {@code region}, which it
     * formats; the region's previous contents are lost.
     */
    public static SlabAllocator over(MemorySegment region, long slotByteSize) {
        return new SlabAllocator(region, slotByteSize);
    }

    /** An allocator of {@code slotByteSize}-byte blocks over a direct buffer's memory, which it formats. */
    public static SlabAllocator over(ByteBuffer directBuffer, long slotByteSize) {
        return new SlabAllocator(regionOf(directBuffer), slotByteSize);
    }

    /** The size of every block, in bytes. */
    public long slotByteSize() {
        return slotBytes;
    }

    @Override
    public long allocate(long byteSize, long byteAlignment) {
        ensureOpenToAllocate(byteSize);
        Checks.requireAlignment(byteSize, byteAlignment, maxAlignment(), this);
        Checks.requireSize(byteSize, slotBytes, this);
        long slot = getLong(FREE_HEAD) - 1;
        if (slot >= 0) {
            putLong(FREE_HEAD, getLong(slotOffset(slot)));
        } else {
            slot = getLong(NEVER_USED);
            if (slot == slotCount) {
                throw outOfMemory(byteSize, byteAlignment);
            }
            putLong(NEVER_USED, slot + 1);
        }
        flipLive(slot);
        addFreeBytes(-slotBytes);
        countAllocation(slotBytes);
        return heapAddress + slotOffset(slot);
    }

    @Override
    public void free(long address) {
        ensureOpen("free", address);
        long slot = liveSlot("free", address);
        flipLive(slot);
        putLong(slotOffset(slot), getLong(FREE_HEAD));
        putLong(FREE_HEAD, slot + 1);
        addFreeBytes(slotBytes);
        countFree(slotBytes);
    }

    /** Keeps the block in place when the new size fits the slot; a larger size can never be held. */
    @Override
    public long reallocate(long address, long newByteSize) {
        ensureOpen("reallocate", address);
        liveSlot("reallocate", address);
        Checks.requireResize(address, newByteSize, slotBytes, this);
        return address;
    }

    @Override
    public long usableSize(long address) {
        ensureOpen("usableSize", address);
        liveSlot("usableSize", address);
        return slotBytes;
    }

    /** Slots are aligned to the largest power of two that divides the slot size, up to 4 KiB. */
    @Override
    public long maxAlignment() {
        return slotAlignment;
    }

    @Override
    long largestFreeBlock() {
        return getLong(FREE_HEAD) != 0 || getLong(NEVER_USED) < slotCount ? slotBytes : 0;
    }

    private long slotOffset(long slot) {
        return slotsStart + slot * slotBytes;
    }

    private void flipLive(long slot) {
        long word = BITMAP + (slot >>> 6) * 8;
        putLong(word, getLong(word) ^ (1L << slot));
    }

    private long liveSlot(String call, long address) {
        long offset = address - heapAddress - slotsStart;
        long end = slotCount * slotBytes;
        if (offset < 0 || offset >= end) {
            throw outside(call, address, slotsStart, slotsStart + end);
        }
        long slot = offset / slotBytes;
        if (slot * slotBytes != offset) {
            throw invalid(call, address, "not the start of a slot (slots are " + slotBytes + " bytes from "
                    + hex(heapAddress + slotsStart) + ")");
        }
        if ((getLong(BITMAP + (slot >>> 6) * 8) & (1L << slot)) == 0) {
            if (slot >= getLong(NEVER_USED)) {
                throw invalid(call, address, "that slot was never handed out");
            }
            throw new DoubleFreeException(address, call + "(" + hex(address) + "): the block was already freed"
                    + " (double free or use after free)");
        }
        return slot;
    }
}
