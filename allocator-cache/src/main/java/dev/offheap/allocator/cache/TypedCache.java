package dev.offheap.allocator.cache;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * An {@link OffHeapCache} of objects: keys and values go through {@link Serializer}s on the way in and out, and
 * the cache underneath stores only their bytes, off the heap.
 *
 * <pre>{@code
 * try (TypedCache<String, Profile> profiles = TypedCache.create(
 *         new OffHeapCacheConfig().capacityBytes(1L << 30), Serializer.utf8(), new ProfileSerializer())) {
 *     Profile p = profiles.get(userId, id -> database.loadProfile(id)); // loaded and stored on a miss
 * }
 * }</pre>
 *
 * <p><b>What it costs.</b> Each call serializes the key into a new array; a read copies the value out of the cache
 * and deserializes it, a write serializes the value into an array that the cache copies in. So every call makes
 * garbage in proportion to the key and value; the bytes API of {@link #bytes()} (reads into a caller's segment)
 * makes none, for those who need that.
 *
 * <p><b>Keys</b> are compared by their bytes, so the key serializer must give equal keys equal bytes. A key's
 * bytes must be 1 to {@value OffHeapCacheConfig#MAX_KEY_BYTES} long, a value's at most {@code maxValueBytes}.
 * An exception thrown by a serializer reaches the caller and leaves the cache as it was.
 *
 * <p>Every method is thread-safe. Removals are reported through the configuration's removal listener, in bytes;
 * {@link TypedRemovalListener#of} gives one that deserializes them.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class TypedCache<K, V> implements AutoCloseable {
    private final OffHeapCache cache;
    private final Serializer<K> keys;
    private final Serializer<V> values;

    private TypedCache(OffHeapCache cache, Serializer<K> keys, Serializer<V> values) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.keys = Objects.requireNonNull(keys, "keys");
        this.values = Objects.requireNonNull(values, "values");
    }

    /** A new cache with {@code config}, closed with this view. */
    public static <K, V> TypedCache<K, V> create(OffHeapCacheConfig config, Serializer<K> keys,
                                                 Serializer<V> values) {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(values, "values");
        return new TypedCache<>(OffHeapCache.create(config), keys, values);
    }

    /**
     * A typed view of an existing cache; several views (of different types, over different keys) may share one
     * cache. Closing a view closes the cache.
     */
    public static <K, V> TypedCache<K, V> over(OffHeapCache cache, Serializer<K> keys, Serializer<V> values) {
        return new TypedCache<>(cache, keys, values);
    }

    /** The value for {@code key}, or null. */
    public V get(K key) {
        byte[] value = cache.get(keyBytes(key));
        return value == null ? null : values.deserialize(MemorySegment.ofArray(value));
    }

    /**
     * The value for {@code key}, loaded on a miss: {@code loader} gets the key and returns the value to store
     * (with the default time to live) and return, or null to store nothing and return null. As
     * {@link OffHeapCache#get(byte[], Function)}: the loader runs outside the cache's locks, once for all the
     * threads that miss the key at once (the others wait for its value), and must not use the cache.
     */
    public V get(K key, Function<? super K, ? extends V> loader) {
        Objects.requireNonNull(loader, "loader");
        Object[] loaded = new Object[2]; // this thread's load, if it ran one: the bytes and the value
        byte[] serialized = cache.get(keyBytes(key), bytes -> {
            V value = loader.apply(key);
            if (value == null) {
                return null;
            }
            byte[] valueBytes = valueBytes(value);
            loaded[0] = valueBytes;
            loaded[1] = value;
            return valueBytes;
        });
        if (serialized == null) {
            return null;
        }
        if (serialized == loaded[0]) {
            @SuppressWarnings("unchecked")
            V value = (V) loaded[1]; // what this thread's loader made: no need to read it back
            return value;
        }
        return values.deserialize(MemorySegment.ofArray(serialized));
    }

    /** True if a live entry for {@code key} is present. */
    public boolean containsKey(K key) {
        return cache.containsKey(keyBytes(key));
    }

    /**
     * Stores {@code value} under {@code key} with the default time to live.
     *
     * @return as {@link OffHeapCache#put(MemorySegment, MemorySegment)}: false if the allocator refused the memory
     */
    public boolean put(K key, V value) {
        return cache.put(keyBytes(key), valueBytes(value));
    }

    /** Stores {@code value} under {@code key}, expiring after {@code timeToLive} ({@code ZERO}: never). */
    public boolean put(K key, V value, Duration timeToLive) {
        return cache.put(keyBytes(key), valueBytes(value), timeToLive);
    }

    /** Stores {@code value} under {@code key} unless a live entry is there; true if stored. */
    public boolean putIfAbsent(K key, V value) {
        return cache.putIfAbsent(keyBytes(key), valueBytes(value));
    }

    /**
     * Updates the entry for {@code key} under its segment's write lock: {@code remapping} gets the key and the
     * current value (null if absent) and returns the new value, or null to remove the entry. It runs under the
     * lock, with deserialization and serialization: it must be quick and must not use this cache. A replaced
     * entry keeps its time to live.
     *
     * @return the new value, or null if the entry is now absent (removed, or refused for lack of memory)
     */
    public V compute(K key, BiFunction<? super K, ? super V, ? extends V> remapping) {
        Objects.requireNonNull(remapping, "remapping");
        Object[] computed = new Object[1];
        byte[] stored = cache.compute(keyBytes(key), old -> {
            V updated = remapping.apply(key, old == null ? null : values.deserialize(old));
            computed[0] = updated;
            return updated == null ? null : valueBytes(updated);
        });
        @SuppressWarnings("unchecked")
        V result = stored == null ? null : (V) computed[0];
        return result;
    }

    /** Removes the entry for {@code key}; true if a live one was there. */
    public boolean remove(K key) {
        return cache.remove(keyBytes(key));
    }

    /** Live entries (see {@link OffHeapCache#size()}). */
    public long size() {
        return cache.size();
    }

    /** The cache's statistics. */
    public CacheStats stats() {
        return cache.stats();
    }

    /** Removes every entry. */
    public void clear() {
        cache.clear();
    }

    /** The bytes cache underneath: zero-copy reads, the allocator, the same entries. */
    public OffHeapCache bytes() {
        return cache;
    }

    /** Closes the cache underneath (idempotent). */
    @Override
    public void close() {
        cache.close();
    }

    @Override
    public String toString() {
        return "TypedCache[" + keys + " -> " + values + "] over " + cache;
    }

    private byte[] keyBytes(K key) {
        Objects.requireNonNull(key, "key");
        int size = keys.serializedSize(key);
        if (size < 1 || size > OffHeapCacheConfig.MAX_KEY_BYTES) {
            throw new IllegalArgumentException("key serializer " + keys + " sizes key " + describe(key) + " at "
                    + size + " bytes; a key must be 1 to " + OffHeapCacheConfig.MAX_KEY_BYTES + " bytes");
        }
        byte[] bytes = new byte[size];
        keys.serialize(key, MemorySegment.ofArray(bytes));
        return bytes;
    }

    private byte[] valueBytes(V value) {
        Objects.requireNonNull(value, "value");
        int size = values.serializedSize(value);
        if (size < 0) {
            throw new IllegalArgumentException("value serializer " + values + " sizes a value at " + size
                    + " bytes");
        }
        cache.checkValueLength(size); // before the array: a wrong size must not cost a huge allocation
        byte[] bytes = new byte[size];
        values.serialize(value, MemorySegment.ofArray(bytes));
        return bytes;
    }

    private static String describe(Object key) {
        String text = String.valueOf(key);
        return text.length() <= 64 ? "'" + text + "'" : "'" + text.substring(0, 61) + "...'";
    }
}
