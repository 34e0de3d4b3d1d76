package dev.offheap.allocator.region;

import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.internal.Checks;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import static dev.offheap.allocator.internal.Checks.hex;

/**
 * A binary buddy allocator over a caller's region of any size: blocks are {@code 16 << order} bytes; a
 * block splits into two buddies, and a block's buddy is found by XOR with its size, so coalescing needs no
 * boundary tags.
 *
 * <p>Not thread-safe: one thread at a time.
 *
 * <h2>Glossary</h2>
 * <dl>
 *   <dt>unit</dt><dd>16 bytes, the smallest block (order 0)</dd>
 *   <dt>order</dt><dd>a block of order {@code k} is {@code 2^k} units, at a unit index that is a multiple of
 *       {@code 2^k}</dd>
 *   <dt>buddy</dt><dd>of the order-{@code k} block at unit {@code u}: the order-{@code k} block at
 *       {@code u ^ 2^k}; the two together make the order-{@code k+1} block at {@code u & ~2^k}</dd>
 *   <dt>tag</dt><dd>one byte per unit, out of band: {@code FREE | k} or {@code ALLOCATED | k} at the first
 *       unit of a block, 0 everywhere else</dd>
 * </dl>
 *
 * <h2>Layout</h2>
 * <pre>
 *   heap: | header | NONEMPTY | HEADS[0..47] | tags (1 byte per unit) | pad | arena (units x 16 bytes) |
 *         0        64         72             META                           arenaStart
 *
 *   free block: | next free (offset) | prev free (offset) | ...
 * </pre>
 * A region that is not a power of two is cut, from the left, into the largest aligned power-of-two blocks
 * that fit ({@code units = 96} gives blocks of 64 and 32 units); a block's buddy that would cross the arena's
 * end does not exist, so those blocks never merge past it. The arena starts on a boundary of up to 4 KiB
 * ({@link #maxAlignment()}), so every block is aligned to {@code min(its size, maxAlignment())}.
 *
 * <h2>Invariants</h2>
 * <ul>
 *   <li>blocks tile the arena; a free block's buddy is never free with the same order (they would have merged);</li>
 *   <li>bit {@code k} of NONEMPTY is set iff {@code HEADS[k] != 0};</li>
 *   <li>{@code FREE_BYTES == sum(16 << order)} over free blocks.</li>
 * </ul>
 *
 * <h2>Cost</h2>
 * allocate O(log n) splits after an O(1) bitmap search; free O(log n) merges; 1/16 of the region for tags; a
 * request is rounded up to a power of two (internal fragmentation up to 50%).
 */
public final class BuddyAllocator extends RegionAllocator {

    private static final long MAGIC = 0x4255444459414c4cL; // "BUDDYALL"
    private static final int MAX_ORDERS = 48;
    private static final long NONEMPTY = RegionHeaderLayout.SPECIFIC;
    private static final long HEADS = NONEMPTY + 8;
    private static final long META = HEADS + MAX_ORDERS * 8L;
    private static final int UNIT_SHIFT = 4;

    private static final int FREE = 0x40;
    private static final int ALLOCATED = 0x80;
    private static final int ORDER_MASK = 0x3f;

    private static final long NEXT_FREE = 0;
    private static final long PREV_FREE = 8;

    private final long arenaStart;
    private final long units;
    private final int maxOrder;
    private final long arenaAlignment;

    private BuddyAllocator(MemorySegment region) {
        super(region, MAGIC);
        this.arenaAlignment = Math.clamp(Long.highestOneBit(heapSize / 64), MIN_ALIGNMENT, 4096);
        this.units = (heapSize - META - arenaAlignment) / (1 + (1 << UNIT_SHIFT));
        this.arenaStart = Checks.alignUp(heapAddress + META + units, arenaAlignment) - heapAddress;
        this.maxOrder = 63 - Long.numberOfLeadingZeros(units);
        heap.asSlice(RegionHeaderLayout.SPECIFIC, META + units - RegionHeaderLayout.SPECIFIC).fill((byte) 0);
        for (long unit = 0; unit < units; ) {
            int order = Math.min(unit == 0 ? maxOrder : Long.numberOfTrailingZeros(unit),
                    63 - Long.numberOfLeadingZeros(units - unit));
            makeFree(unit, order);
            addFreeBytes(bytes(order));
            unit += 1L << order;
        }
    }

    /** An allocator over native {@code region}, which it formats; the region's previous contents are lost. */
    public static BuddyAllocator over(MemorySegment region) {
        return new BuddyAllocator(region);
    }

    /** An allocator over a direct buffer's memory, which it formats. */
    public static BuddyAllocator over(ByteBuffer directBuffer) {
        return new BuddyAllocator(regionOf(directBuffer));
    }

    @Override
    public long allocate(long byteSize, long byteAlignment) {
        ensureOpenToAllocate(byteSize);
        long alignment = Checks.requireAlignment(byteSize, byteAlignment, maxAlignment(), this);
        Checks.requireSize(byteSize, bytes(maxOrder), this);
        int order = Math.max(orderFor(byteSize), Long.numberOfTrailingZeros(alignment) - UNIT_SHIFT);
        long candidates = getLong(NONEMPTY) & (-1L << order);
        if (candidates == 0) {
            throw outOfMemory(byteSize, byteAlignment);
        }
        int from = Long.numberOfTrailingZeros(candidates);
        long unit = unitOf(getLong(head(from)));
        unlink(unit, from);
        for (int k = from; k > order; k--) {
            makeFree(unit + (1L << (k - 1)), k - 1);
        }
        setTag(unit, ALLOCATED | order);
        addFreeBytes(-bytes(order));
        countAllocation(bytes(order));
        return heapAddress + blockOffset(unit);
    }

    @Override
    public void free(long address) {
        ensureOpen("free", address);
        long unit = liveUnit("free", address);
        int order = tag(unit) & ORDER_MASK;
        countFree(bytes(order));
        addFreeBytes(bytes(order));
        while (order < maxOrder) {
            long buddy = unit ^ (1L << order);
            if (buddy + (1L << order) > units || tag(buddy) != (FREE | order)) {
                break;
            }
            unlink(buddy, order);
            setTag(Math.max(unit, buddy), 0);
            unit = Math.min(unit, buddy);
            order++;
        }
        makeFree(unit, order);
    }

    @Override
    public long reallocate(long address, long newByteSize) {
        ensureOpen("reallocate", address);
        long unit = liveUnit("reallocate", address);
        Checks.requireResize(address, newByteSize, bytes(maxOrder), this);
        int order = tag(unit) & ORDER_MASK;
        int wanted = orderFor(newByteSize);
        if (wanted <= order) {
            // Give back the upper halves; their buddies are our lower halves, still allocated, so none merges.
            for (int k = order; k > wanted; k--) {
                makeFree(unit + (1L << (k - 1)), k - 1);
                addFreeBytes(bytes(k - 1));
            }
            setTag(unit, ALLOCATED | wanted);
            countResize(bytes(order), bytes(wanted));
            return address;
        }
        if (canGrowInPlace(unit, order, wanted)) {
            for (int k = order; k < wanted; k++) {
                long buddy = unit + (1L << k);
                unlink(buddy, k);
                setTag(buddy, 0);
                addFreeBytes(-bytes(k));
            }
            setTag(unit, ALLOCATED | wanted);
            countResize(bytes(order), bytes(wanted));
            return address;
        }
        return moveBlock(address, bytes(order), newByteSize);
    }

    /** Whether the block is the left half at every level up to {@code wanted}, with each right buddy free. */
    private boolean canGrowInPlace(long unit, int order, int wanted) {
        for (int k = order; k < wanted; k++) {
            long buddy = unit + (1L << k);
            if ((unit & (1L << k)) != 0 || buddy + (1L << k) > units || tag(buddy) != (FREE | k)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public long usableSize(long address) {
        ensureOpen("usableSize", address);
        return bytes(tag(liveUnit("usableSize", address)) & ORDER_MASK);
    }

    /** Blocks are aligned to their size, up to the arena's own alignment (4 KiB in regions of 256 KiB and up). */
    @Override
    public long maxAlignment() {
        return arenaAlignment;
    }

    @Override
    long largestFreeBlock() {
        long nonEmpty = getLong(NONEMPTY);
        return nonEmpty == 0 ? 0 : bytes(63 - Long.numberOfLeadingZeros(nonEmpty));
    }

    private long liveUnit(String call, long address) {
        long offset = address - heapAddress;
        if (offset < arenaStart || offset >= arenaStart + (units << UNIT_SHIFT)) {
            throw outside(call, address, arenaStart, arenaStart + (units << UNIT_SHIFT));
        }
        if (((offset - arenaStart) & ((1 << UNIT_SHIFT) - 1)) != 0) {
            throw invalid(call, address, "misaligned; every block starts on a 16-byte boundary");
        }
        long unit = (offset - arenaStart) >>> UNIT_SHIFT;
        int tag = tag(unit);
        if ((tag & FREE) != 0) {
            throw new DoubleFreeException(address, call + "(" + hex(address) + "): the block was already freed"
                    + " (double free or use after free)");
        }
        if ((tag & ALLOCATED) == 0) {
            throw invalid(call, address, "no block starts there (an address inside a block, a block freed and"
                    + " merged with its buddy, or never returned)");
        }
        return unit;
    }

    private static int orderFor(long byteSize) {
        long unitsWanted = Math.max(1, (byteSize + (1 << UNIT_SHIFT) - 1) >>> UNIT_SHIFT);
        return 64 - Long.numberOfLeadingZeros(unitsWanted - 1);
    }

    private static long bytes(int order) {
        return 1L << (order + UNIT_SHIFT);
    }

    private static long head(int order) {
        return HEADS + order * 8L;
    }

    private long blockOffset(long unit) {
        return arenaStart + (unit << UNIT_SHIFT);
    }

    private long unitOf(long blockOffset) {
        return (blockOffset - arenaStart) >>> UNIT_SHIFT;
    }

    private int tag(long unit) {
        return getByte(META + unit) & 0xff;
    }

    private void setTag(long unit, int tag) {
        putByte(META + unit, (byte) tag);
    }

    /** Tags the block free and pushes it on its order's list. */
    private void makeFree(long unit, int order) {
        long block = blockOffset(unit);
        long first = getLong(head(order));
        putLong(block + NEXT_FREE, first);
        putLong(block + PREV_FREE, 0);
        if (first != 0) {
            putLong(first + PREV_FREE, block);
        }
        putLong(head(order), block);
        putLong(NONEMPTY, getLong(NONEMPTY) | (1L << order));
        setTag(unit, FREE | order);
    }

    /** Takes a free block off its order's list (its tag is left for the caller to rewrite). */
    private void unlink(long unit, int order) {
        long block = blockOffset(unit);
        long next = getLong(block + NEXT_FREE);
        long prev = getLong(block + PREV_FREE);
        if (prev == 0) {
            putLong(head(order), next);
            if (next == 0) {
                putLong(NONEMPTY, getLong(NONEMPTY) & ~(1L << order));
            }
        } else {
            putLong(prev + NEXT_FREE, next);
        }
        if (next != 0) {
            putLong(next + PREV_FREE, prev);
        }
    }
}
