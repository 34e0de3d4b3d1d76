package dev.offheap.allocator.region;

import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.internal.Checks;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import static dev.offheap.allocator.internal.Checks.hex;

/**
 * A bump (monotonic) allocator over a caller's region: allocation advances a pointer; {@link #free} gives
 * memory back only from the top, so freeing in LIFO order (a stack, a request's scratch memory) reclaims it
 * all, and {@link #reset()} empties the whole region at once.
 *
 * <p>Not thread-safe: one thread at a time.
 *
 * <h2>Layout</h2>
 * <pre>
 *   heap:  | header | block | block | ... | block | free ......................... |
 *          0        firstBlock                    TOP                              heapEnd
 *
 *   block: +-------------------+ 0
 *          | size | FREED      |  size of the whole block, header included
 *          +-------------------+ 8
 *          | link              |  previous block's offset, xor mix(block, size, salt)
 *          +-------------------+ 16
 *          | payload ...       |
 *          +-------------------+ size
 * </pre>
 * The header adds {@code TOP} (first free byte) and {@code LAST} (the most recent block, 0 if none).
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>blocks tile {@code [firstBlock, TOP)}; {@code LAST} is the block that ends at {@code TOP};</li>
 *   <li>{@code LAST} is never FREED: freed blocks at the top are popped at once;</li>
 *   <li>a block's link decodes to its left neighbour, whose end is the block's start: that proves a header,
 *       so interior and foreign addresses are rejected in O(1).</li>
 * </ul>
 *
 * <h2>Cost</h2>
 * allocate O(1); free O(1) amortised (each block is popped once); reset O(1); 16 bytes a block.
 */
public final class BumpAllocator extends RegionAllocator {

    private static final long MAGIC = 0x42554d50414c4c43L; // "BUMPALLC"
    private static final long TOP = RegionHeaderLayout.SPECIFIC;
    private static final long LAST = TOP + 8;
    private static final long HEADER_BYTES = LAST + 8;

    private static final long LINK = 8;
    private static final long PAYLOAD = 16;
    private static final long FREED = 1;

    private final long firstBlock;
    private final long heapEnd;

    private BumpAllocator(MemorySegment region) {
        super(region, MAGIC);
        this.firstBlock = Checks.alignUp(HEADER_BYTES, MIN_ALIGNMENT);
        this.heapEnd = heapSize & ~(MIN_ALIGNMENT - 1);
        resetHeader();
    }

    /** An allocator over native {@code region}, which it formats; the region's previous contents are lost. */
    public static BumpAllocator over(MemorySegment region) {
        return new BumpAllocator(region);
    }

    /** An allocator over a direct buffer's memory, which it formats. */
    public static BumpAllocator over(ByteBuffer directBuffer) {
        return new BumpAllocator(regionOf(directBuffer));
    }

    /** Frees every block at once: the pointer goes back to the start. Every address handed out becomes invalid. */
    public void reset() {
        ensureOpen("reset()");
        long live = getLong(RegionHeaderLayout.LIVE_BLOCKS);
        putLong(RegionHeaderLayout.FREES, getLong(RegionHeaderLayout.FREES) + live);
        putLong(RegionHeaderLayout.LIVE_BLOCKS, 0);
        putLong(RegionHeaderLayout.ALLOCATED_BYTES, 0);
        resetHeader();
    }

    private void resetHeader() {
        putLong(TOP, firstBlock);
        putLong(LAST, 0);
        putLong(RegionHeaderLayout.FREE_BYTES, heapEnd - firstBlock);
    }

    @Override
    public long allocate(long byteSize, long byteAlignment) {
        ensureOpenToAllocate(byteSize);
        long alignment = Checks.requireAlignment(byteSize, byteAlignment, maxAlignment(), this);
        Checks.requireSize(byteSize, heapEnd - firstBlock - PAYLOAD, this);
        long top = getLong(TOP);
        long block = top;
        if (alignment > MIN_ALIGNMENT) {
            // The skipped bytes become part of the previous block (or a padding block if there is none).
            // Both are 16-byte aligned, so a gap is at least 16 bytes: room for a header.
            block = Checks.alignUp(heapAddress + top + PAYLOAD, alignment) - PAYLOAD - heapAddress;
        }
        long size = Checks.alignUp(Math.max(byteSize, 1), MIN_ALIGNMENT) + PAYLOAD;
        if (block + size > heapEnd) {
            throw outOfMemory(byteSize, byteAlignment);
        }
        long last = getLong(LAST);
        if (block != top) {
            if (last == 0) {
                writeBlock(top, block - top, 0, FREED); // padding before the first block, never live
                last = top;
            } else {
                long lastSize = sizeOf(last);
                writeBlock(last, block - last, linkedBlock(last, lastSize), getLong(last) & FREED);
                countResize(lastSize - PAYLOAD, block - last - PAYLOAD);
            }
        }
        writeBlock(block, size, last, 0);
        putLong(TOP, block + size);
        putLong(LAST, block);
        putLong(RegionHeaderLayout.FREE_BYTES, heapEnd - block - size);
        countAllocation(size - PAYLOAD);
        return heapAddress + block + PAYLOAD;
    }

    @Override
    public void free(long address) {
        ensureOpen("free", address);
        long block = liveBlock("free", address);
        long size = sizeOf(block);
        countFree(size - PAYLOAD);
        writeBlock(block, size, linkedBlock(block, size), FREED);
        if (block == getLong(LAST)) {
            popFreedBlocks();
        }
    }

    /** Moves TOP down over every freed block at the top. */
    private void popFreedBlocks() {
        long last = getLong(LAST);
        while (last != 0 && (getLong(last) & FREED) != 0) {
            putLong(TOP, last);
            last = linkedBlock(last, sizeOf(last));
        }
        putLong(LAST, last);
        putLong(RegionHeaderLayout.FREE_BYTES, heapEnd - getLong(TOP));
    }

    @Override
    public long reallocate(long address, long newByteSize) {
        ensureOpen("reallocate", address);
        long block = liveBlock("reallocate", address);
        Checks.requireResize(address, newByteSize, heapEnd - firstBlock - PAYLOAD, this);
        long size = sizeOf(block);
        long newSize = Checks.alignUp(Math.max(newByteSize, 1), MIN_ALIGNMENT) + PAYLOAD;
        if (block == getLong(LAST) && block + newSize <= heapEnd) {
            // The top block grows or shrinks in place.
            writeBlock(block, newSize, linkedBlock(block, size), 0);
            putLong(TOP, block + newSize);
            putLong(RegionHeaderLayout.FREE_BYTES, heapEnd - block - newSize);
            countResize(size - PAYLOAD, newSize - PAYLOAD);
            return address;
        }
        if (newSize <= size) {
            return address;
        }
        return moveBlock(address, size - PAYLOAD, newByteSize);
    }

    @Override
    public long usableSize(long address) {
        ensureOpen("usableSize", address);
        return sizeOf(liveBlock("usableSize", address)) - PAYLOAD;
    }

    @Override
    public long maxAlignment() {
        return 1L << 20;
    }

    @Override
    long largestFreeBlock() {
        return Math.max(0, heapEnd - getLong(TOP) - PAYLOAD);
    }

    private long sizeOf(long block) {
        return getLong(block) & ~(MIN_ALIGNMENT - 1);
    }

    private void writeBlock(long block, long size, long previous, long flags) {
        putLong(block, size | flags);
        putLong(block + LINK, previous ^ mix(block, size));
    }

    /** The block before {@code block}, decoded from its link (0 if it is the first). */
    private long linkedBlock(long block, long size) {
        return getLong(block + LINK) ^ mix(block, size);
    }

    private long mix(long block, long size) {
        return ((block + 1) * 0x9E3779B97F4A7C15L + size) ^ salt();
    }

    private long liveBlock(String call, long address) {
        long payload = address - heapAddress;
        long top = getLong(TOP);
        if (payload < firstBlock + PAYLOAD || payload >= top) {
            throw outside(call, address, firstBlock + PAYLOAD, top);
        }
        if ((payload & (MIN_ALIGNMENT - 1)) != 0) {
            throw invalid(call, address, "misaligned; every block starts on a 16-byte boundary");
        }
        long block = payload - PAYLOAD;
        long size = sizeOf(block);
        long previous = size >= PAYLOAD && block + size <= top ? linkedBlock(block, size) : -1;
        boolean linked = previous == 0
                ? block == firstBlock
                : previous >= firstBlock && previous < block && previous + sizeOf(previous) == block;
        if (!linked) {
            throw invalid(call, address, "no block starts there (an address inside a block, or never returned)");
        }
        if ((getLong(block) & FREED) != 0) {
            throw new DoubleFreeException(address, call + "(" + hex(address) + "): the block was already freed"
                    + " (double free or use after free)");
        }
        return block;
    }
}
