package dev.offheap.allocator;

/**
 * The size classes of the whole project: the block sizes a request is rounded up to.
 *
 * <p>Exact 16-byte steps up to 128 bytes, then 4 classes per doubling, so a block is at most 25% larger than
 * the request above 128 bytes (at most 15 bytes larger below). The same scheme as jemalloc's and mimalloc's.
 *
 * <pre>
 *  index  size      index  size      index  size      index  size      index  size
 *  -----  -------   -----  -------   -----  -------   -----  -------   -----  --------
 *    0      16        8      160      16      640      24     2560      32     10240
 *    1      32        9      192      17      768      25     3072      33     12288
 *    2      48       10      224      18      896      26     3584      34     14336
 *    3      64       11      256      19     1024      27     4096      35     16384
 *    4      80       12      320      20     1280      28     5120      36     20480
 *    5      96       13      384      21     1536      29     6144      37     24576
 *    6     112       14      448      22     1792      30     7168      38     28672
 *    7     128       15      512      23     2048      31     8192      39     32768  ... up to 2^40
 * </pre>
 *
 * <h2>The O(1) lookup, derived</h2>
 * For {@code size <= 128}: {@code index = (size - 1) >> 4} (size 0 is treated as 1).
 * <p>For {@code size > 128}, let {@code p = 63 - numberOfLeadingZeros(size - 1)}, so that
 * {@code 2^p < size <= 2^(p+1)} and {@code p >= 7}. The doubling {@code (2^p, 2^(p+1)]} is cut in four steps
 * of {@code 2^(p-2)}; {@code (size - 1) >> (p - 2)} is 4, 5, 6 or 7 for the first to the fourth step. Groups
 * start at index 8 and are 4 wide, so
 * <pre>
 *   index = 8 + 4 (p - 7) + ((size - 1) >> (p - 2)) - 4 = 4 (p - 6) + ((size - 1) >> (p - 2))
 * </pre>
 * and back: with {@code g = (index - 8) / 4} and {@code k = (index - 8) % 4},
 * {@code size = 2^(7+g) + (k + 1) 2^(5+g)}.
 *
 * <p>Stateless and thread-safe.
 */
public final class SizeClasses {

    /** Step between the smallest classes, and the alignment of every class size. */
    public static final int QUANTUM = 16;
    /** The largest size with exact 16-byte steps. */
    public static final long SMALL_STEP_LIMIT = 128;
    /** Number of classes below and at {@link #SMALL_STEP_LIMIT}. */
    private static final int SMALL_CLASSES = (int) (SMALL_STEP_LIMIT / QUANTUM);
    /** The largest size that has a class. */
    public static final long MAX_SIZE = 1L << 40;
    /** Number of classes, from index 0 to {@code COUNT - 1}. */
    public static final int COUNT = index(MAX_SIZE) + 1;

    private SizeClasses() {
    }

    /**
     * The index of the smallest class that holds {@code byteSize} bytes.
     *
     * @throws IllegalArgumentException if {@code byteSize} is negative or above {@link #MAX_SIZE}
     */
    public static int index(long byteSize) {
        if (byteSize <= SMALL_STEP_LIMIT) {
            if (byteSize < 0) {
                throw new IllegalArgumentException("size class of " + byteSize + " bytes: a size is never negative");
            }
            return (int) ((Math.max(byteSize, 1) - 1) >> 4);
        }
        if (byteSize > MAX_SIZE) {
            throw new IllegalArgumentException("size class of " + byteSize + " bytes: the largest class is "
                    + MAX_SIZE + " bytes");
        }
        final long minusOne = byteSize - 1;
        final int p = 63 - Long.numberOfLeadingZeros(minusOne);
        return 4 * (p - 6) + (int) (minusOne >> (p - 2));
    }

    /**
     * The block size of class {@code index}.
     *
     * @throws IllegalArgumentException if {@code index} is not in {@code [0, COUNT)}
     */
    public static long size(int index) {
        if (index < SMALL_CLASSES) {
            if (index < 0) {
                throw new IllegalArgumentException("size class " + index + ": indexes start at 0");
            }
            return (long) (index + 1) * QUANTUM;
        }
        if (index >= COUNT) {
            throw new IllegalArgumentException("size class " + index + ": there are " + COUNT + " classes");
        }
        final int g = (index - SMALL_CLASSES) >> 2;
        final int k = (index - SMALL_CLASSES) & 3;
        return (1L << (7 + g)) + ((long) (k + 1) << (5 + g));
    }

    /** {@code byteSize} rounded up to its class size. */
    public static long roundUp(long byteSize) {
        return size(index(byteSize));
    }
}
