package dev.offheap.allocator.cache;

import java.lang.foreign.MemorySegment;

/**
 * How a {@link TypedCache} turns keys or values into the bytes an {@link OffHeapCache} stores, and back: OHC's
 * {@code CacheSerializer} and Chronicle Map's marshallers, over {@link MemorySegment}s.
 *
 * <p>A key serializer must be deterministic: keys that are {@code equals} must give the same bytes, since the
 * cache compares keys by their bytes. Both directions may be called from many threads at once.
 *
 * @param <T> the type of the keys or values
 */
public interface Serializer<T> {

    /** The exact number of bytes {@link #serialize} writes for {@code value}. */
    int serializedSize(T value);

    /** Writes {@code value} into {@code dst}, whose size is {@link #serializedSize}'s answer; all of it. */
    void serialize(T value, MemorySegment dst);

    /**
     * The object whose bytes are {@code src} (all of it). {@code src} is valid only during the call: keep
     * nothing of it.
     */
    T deserialize(MemorySegment src);

    /** Byte arrays as they are (the array is copied both ways). */
    static Serializer<byte[]> bytes() {
        return BuiltinSerializers.BYTES;
    }

    /** Strings as UTF-8. */
    static Serializer<String> utf8() {
        return BuiltinSerializers.UTF8;
    }

    /** Longs as 8 bytes, big-endian (so that keys sort as numbers where bytes are compared). */
    static Serializer<Long> int64() {
        return BuiltinSerializers.INT64;
    }

    /** Integers as 4 bytes, big-endian. */
    static Serializer<Integer> int32() {
        return BuiltinSerializers.INT32;
    }
}
