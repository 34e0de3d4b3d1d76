package dev.offheap.allocator.cache;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/** Cache keys: their 64-bit hash (the same for the same bytes, in an array or a segment) and their checks. */
final class Keys {

    /** Reads a byte[] eight bytes at a time in native order, as the range's JAVA_LONG_UNALIGNED reads do. */
    static final VarHandle LONGS_OF_BYTES = MethodHandles.byteArrayViewVarHandle(long[].class,
            ByteOrder.nativeOrder());

    private Keys() {
    }

    /**
     * 64-bit hash of the key's bytes: murmur3's 64-bit mixing over 8-byte words, then its finalizer. The
     * segment takes bits 32 and up, the index the low bits.
     */
    static long hash(MemorySegment key) {
        long length = key.byteSize();
        long h = length * 0x9E3779B97F4A7C15L;
        long i = 0;
        for (; i + Long.BYTES <= length; i += Long.BYTES) {
            h ^= mix(key.get(JAVA_LONG_UNALIGNED, i));
            h = Long.rotateLeft(h, 27) * 5 + 0x52dce729;
        }
        long tail = 0;
        for (; i < length; i++) {
            tail = (tail << 8) | (key.get(JAVA_BYTE, i) & 0xFF);
        }
        return finish(h, tail);
    }

    /** {@link #hash(MemorySegment)} of an array's bytes, read in place: the same value for the same bytes. */
    static long hash(byte[] key) {
        int length = key.length;
        long h = length * 0x9E3779B97F4A7C15L;
        int i = 0;
        for (; i + Long.BYTES <= length; i += Long.BYTES) {
            h ^= mix((long) LONGS_OF_BYTES.get(key, i));
            h = Long.rotateLeft(h, 27) * 5 + 0x52dce729;
        }
        long tail = 0;
        for (; i < length; i++) {
            tail = (tail << 8) | (key[i] & 0xFF);
        }
        return finish(h, tail);
    }

    private static long finish(long h, long tail) {
        h ^= mix(tail);
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        return h ^ (h >>> 33);
    }

    private static long mix(long k) {
        return Long.rotateLeft(k * 0x87c37b91114253d5L, 31) * 0x4cf5852759ed3b6fL;
    }

    static void check(byte[] key) {
        if (key == null) {
            throw new NullPointerException("key is null: a cache key needs 1 to 65536 bytes");
        }
        checkLength(key.length);
    }

    static void check(MemorySegment key) {
        if (key == null) {
            throw new NullPointerException("key is null: a cache key needs 1 to 65536 bytes");
        }
        checkLength(key.byteSize());
    }

    static void checkLength(long keyBytes) {
        if (keyBytes == 0 || keyBytes > OffHeapCacheConfig.MAX_KEY_BYTES) {
            throw new IllegalArgumentException("key of " + keyBytes + " bytes: a cache key needs 1 to "
                    + OffHeapCacheConfig.MAX_KEY_BYTES + " bytes");
        }
    }
}
