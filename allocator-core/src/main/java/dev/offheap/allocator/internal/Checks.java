package dev.offheap.allocator.internal;

import dev.offheap.allocator.Allocator;
import org.agrona.BitUtil;

/**
 * Argument checks and message pieces shared by every allocator, so that the same mistake gets the same
 * words everywhere. Messages follow one form: {@code call(arguments): what is wrong; what to do}.
 */
public final class Checks {

    private Checks() {
    }

    /** {@code 0x7f3a12340010}: how every message shows an address. */
    public static String hex(long address) {
        return "0x" + Long.toHexString(address);
    }

    /**
     * Checks the size asked of {@code allocate}: not negative and not above {@code maxByteSize}. The message is
     * built only when the check fails, so the check costs nothing on a hot path.
     *
     * @param allocator whose {@code toString()} names the allocator in the message
     */
    public static void requireSize(long byteSize, long maxByteSize, Object allocator) {
        if (byteSize < 0 || byteSize > maxByteSize) {
            throw badSize("allocate(" + byteSize + ")", byteSize, maxByteSize, allocator);
        }
    }

    /** As {@link #requireSize}, for {@code reallocate(address, newByteSize)}. */
    public static void requireResize(long address, long newByteSize, long maxByteSize, Object allocator) {
        if (newByteSize < 0 || newByteSize > maxByteSize) {
            throw badSize("reallocate(" + hex(address) + ", " + newByteSize + ")", newByteSize, maxByteSize,
                    allocator);
        }
    }

    private static IllegalArgumentException badSize(String call, long byteSize, long maxByteSize, Object allocator) {
        if (byteSize < 0) {
            return new IllegalArgumentException(call + ": a size is never negative");
        }
        return new IllegalArgumentException(call + ": " + byteSize + " bytes is more than " + allocator
                + " can ever hold (at most " + maxByteSize + " bytes in one block)");
    }

    /**
     * Checks an alignment: a power of two, at most {@code maxByteAlignment}.
     *
     * @return the alignment to use: {@code byteAlignment}, or {@link Allocator#MIN_ALIGNMENT} if smaller
     */
    public static long requireAlignment(long byteSize, long byteAlignment, long maxByteAlignment,
                                        Object allocatorName) {
        if (!BitUtil.isPowerOfTwo(byteAlignment)) {
            throw new IllegalArgumentException("allocate(" + byteSize + ", " + byteAlignment
                    + "): the alignment must be a power of two (1, 2, 4, ... bytes)");
        }
        if (byteAlignment > maxByteAlignment) {
            throw new IllegalArgumentException("allocate(" + byteSize + ", " + byteAlignment + "): "
                    + allocatorName + " aligns blocks to at most " + maxByteAlignment + " bytes");
        }
        return Math.max(byteAlignment, Allocator.MIN_ALIGNMENT);
    }

    /** Smallest multiple of {@code alignment} (a power of two) that is {@code >= value}. */
    public static long alignUp(long value, long alignment) {
        return BitUtil.align(value, alignment);
    }
}
