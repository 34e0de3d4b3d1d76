package dev.offheap.allocator.cache;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Objects;

/**
 * A {@link RemovalListener} for a {@link TypedCache}: told of every entry that leaves the cache, with its key and
 * value deserialized. The same rules hold: called under the entry's segment lock in the thread that caused the
 * removal, so it must be quick and must not use the cache.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
@FunctionalInterface
public interface TypedRemovalListener<K, V> {

    void onRemoval(K key, V value, RemovalCause cause);

    /**
     * The listener to give {@link OffHeapCacheConfig#removalListener}: deserializes each removed entry with the
     * typed cache's serializers and passes it on. An entry whose bytes a serializer cannot read (written through
     * the bytes API, or by another view's types) is logged at warn level and skipped.
     */
    static <K, V> RemovalListener of(Serializer<K> keys, Serializer<V> values, TypedRemovalListener<K, V> listener) {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(listener, "listener");
        return (key, value, cause) -> {
            K k;
            V v;
            try {
                k = keys.deserialize(key);
                v = values.deserialize(value);
            } catch (RuntimeException e) {
                Logger log = LoggerFactory.getLogger(TypedRemovalListener.class);
                log.warn("removal listener: an entry of {} key bytes and {} value bytes ({}) could not be"
                        + " deserialized with {} / {}: {}", key.byteSize(), value.byteSize(), cause, keys, values,
                        e.toString());
                return;
            }
            listener.onRemoval(k, v, cause);
        };
    }
}
