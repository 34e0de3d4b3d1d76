package dev.offheap.allocator.region;

import dev.offheap.allocator.HeapCorruptionException;
import dev.offheap.allocator.SizeClasses;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * Segregated free lists over a caller's region: one explicit free list per {@link SizeClasses size class},
 * and a bitmap of the lists that are not empty, so a fit is found without walking blocks of the wrong size.
 * A block goes to the list of the class its size rounds up to: list {@code c} holds free blocks of sizes in
 * {@code (size(c - 1), size(c)]}.
 *
 * <p>Not thread-safe: one thread at a time.
 *
 * <p>The layout, invariants and steps are {@link BoundaryTagAllocator}'s; the header adds the list heads:
 * <pre>
 *   header: | RegionHeaderLayout (64) | LIST[0] | LIST[1] | ... | LIST[COUNT-1] |
 * </pre>
 * and the Java object holds the bitmap of non-empty lists, {@code nonEmpty}: a heap of many regions (the
 * production allocator's medium chunks) asks each whether a block may fit ({@link #mightFit}) without reading
 * the region's memory, a cache and TLB miss per region asked.
 * Invariant: bit {@code c} of {@code nonEmpty} is set if and only if {@code LIST[c] != 0}.
 *
 * <h2>Good fit</h2>
 * For a block of size {@code s} in class {@code c}: first fit in list {@code c} (its blocks are within 25%
 * of each other, so first fit there is a good fit); failing that, the first block of the next non-empty class
 * (found with {@code numberOfTrailingZeros} on the bitmap), which is larger than {@code size(c) >= s}, so it
 * fits unless an alignment gap is needed.
 *
 * <h2>Cost</h2>
 * <ul>
 *   <li>allocate: O(1) to find the list, plus a walk of one list of similar sizes;</li>
 *   <li>free: O(1), coalescing included;</li>
 *   <li>overhead: 24 bytes a block, and a header of about 1.2 KiB.</li>
 * </ul>
 */
public final class SegregatedListAllocator extends BoundaryTagAllocator {

    private static final long MAGIC = 0x5345475245474154L; // "SEGREGAT"
    private static final int BITMAP_WORDS = (SizeClasses.COUNT + 63) / 64;
    /** Header field: {@code LISTS + 8 c} holds the first free block of class {@code c}, 0 if none. */
    private static final long LISTS = RegionHeaderLayout.SPECIFIC;

    /** Bit {@code c} is set if and only if the list of class {@code c} is not empty. */
    private final long[] nonEmpty;

    private SegregatedListAllocator(MemorySegment region, String displayName) {
        nonEmpty = new long[BITMAP_WORDS]; // before super(): formatting the region files its first free block
        super(region, MAGIC, LISTS + SizeClasses.COUNT * (long) Long.BYTES, displayName);
    }

    /** An allocator over native {@code region}, which it formats; the region's previous contents are lost. */
    public static SegregatedListAllocator over(MemorySegment region) {
        return new SegregatedListAllocator(region, null);
    }

    /**
     * An allocator over native {@code region} that calls itself {@code displayName} in its messages: for a
     * larger allocator that uses it as one of its parts.
     */
    public static SegregatedListAllocator over(MemorySegment region, String displayName) {
        return new SegregatedListAllocator(region, displayName);
    }

    /** An allocator over a direct buffer's memory, which it formats. */
    public static SegregatedListAllocator over(ByteBuffer directBuffer) {
        return new SegregatedListAllocator(regionOf(directBuffer), null);
    }

    @Override
    long findFit(long blockSize, long alignment) {
        int sizeClass = SizeClasses.index(blockSize);
        long found = firstFit(list(sizeClass), blockSize, alignment);
        for (int c = nextNonEmpty(sizeClass + 1); found < 0 && c < SizeClasses.COUNT; c = nextNonEmpty(c + 1)) {
            found = firstFit(list(c), blockSize, alignment);
        }
        return found;
    }

    @Override
    void insertFree(long block, long size) {
        int sizeClass = SizeClasses.index(size);
        pushFree(list(sizeClass), block);
        nonEmpty[sizeClass >>> 6] |= 1L << sizeClass;
    }

    @Override
    void removeFree(long block, long size) {
        int sizeClass = SizeClasses.index(size);
        unlinkFree(list(sizeClass), block);
        if (getLong(list(sizeClass)) == 0) {
            nonEmpty[sizeClass >>> 6] &= ~(1L << sizeClass);
        }
    }

    /**
     * False if no free block is large enough for {@code byteSize} bytes, so an allocation would fail; true if
     * one may be (an allocation may still fail: the largest class's blocks may all be smaller, or an alignment
     * gap may not fit). Reads no region memory. For a caller that picks one of many regions.
     */
    public boolean mightFit(long byteSize) {
        return byteSize >= 0 && byteSize <= maxPayload
                && highestNonEmpty() >= SizeClasses.index(blockSizeFor(byteSize));
    }

    @Override
    void verifyFreeIndex() {
        for (int c = 0; c < SizeClasses.COUNT; c++) {
            boolean listed = getLong(list(c)) != 0;
            if (listed != ((nonEmpty[c >>> 6] & (1L << c)) != 0)) {
                throw new HeapCorruptionException("verify(): " + this + ": the list of class " + c + " is "
                        + (listed ? "not empty" : "empty") + " but its bit in the non-empty bitmap says otherwise");
            }
        }
    }

    /** Looks only at the largest non-empty class. */
    @Override
    long largestFreeBlock() {
        int top = highestNonEmpty();
        long largest = 0;
        for (long block = top < 0 ? 0 : getLong(list(top)); block != 0;
                block = getLong(block + BoundaryTagLayout.NEXT_FREE)) {
            largest = Math.max(largest, sizeOf(block) - BoundaryTagLayout.OVERHEAD);
        }
        return largest;
    }

    /** The largest class whose list is not empty, or -1: from the bitmap, not by reading every list's head. */
    private int highestNonEmpty() {
        for (int w = BITMAP_WORDS - 1; w >= 0; w--) {
            long bits = nonEmpty[w];
            if (bits != 0) {
                return w * 64 + 63 - Long.numberOfLeadingZeros(bits);
            }
        }
        return -1;
    }

    private static long list(int sizeClass) {
        return LISTS + sizeClass * (long) Long.BYTES;
    }

    /** The first class {@code >= from} whose list is not empty, or {@link SizeClasses#COUNT}. */
    private int nextNonEmpty(int from) {
        for (int w = from >>> 6; w < BITMAP_WORDS; w++) {
            long bits = nonEmpty[w];
            if (w == from >>> 6) {
                bits &= -1L << (from & 63);
            }
            if (bits != 0) {
                return Math.min(SizeClasses.COUNT, w * 64 + Long.numberOfTrailingZeros(bits));
            }
        }
        return SizeClasses.COUNT;
    }
}
