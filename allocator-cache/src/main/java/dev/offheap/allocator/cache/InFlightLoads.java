package dev.offheap.allocator.cache;

import java.util.Arrays;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The loads an {@link OffHeapCache} is running for {@code get(key, loader)}: at most one per key, so that threads
 * missing the same key at once run its loader once and all get its value (no stampede on the database behind a
 * cold key), as Caffeine's {@code get(key, function)} does. Loads of different keys do not wait for each other.
 *
 * <p>A thread that finds a load of its key running waits for it; if that load fails, the waiting thread tries
 * again itself (and so sees its own loader's exception, if the failure lasts). A loader that asks for the key it
 * is loading gets {@link IllegalStateException} instead of waiting for itself forever. Only misses pay for this
 * (a key copy and a future); hits never reach it.
 */
final class InFlightLoads {

    /** A key by its content. */
    private record Key(byte[] bytes) {
        @Override
        public boolean equals(Object other) {
            return other instanceof Key k && Arrays.equals(bytes, k.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }

        @Override
        public String toString() {
            return bytes.length + "-byte key";
        }
    }

    private record Load(Thread loader, CompletableFuture<byte[]> value) {
    }

    private final ConcurrentHashMap<Key, Load> running = new ConcurrentHashMap<>();

    /**
     * The value for {@code key}: what {@code read} finds (null: absent), else what {@code loadAndStore} returns,
     * run by one thread for all the threads that ask at once.
     */
    byte[] get(byte[] key, Function<byte[], byte[]> read, Function<byte[], byte[]> loadAndStore) {
        Key k = new Key(key.clone());
        while (true) {
            byte[] hit = read.apply(key);
            if (hit != null) {
                return hit;
            }
            Load mine = new Load(Thread.currentThread(), new CompletableFuture<>());
            Load other = running.putIfAbsent(k, mine);
            if (other != null) {
                if (other.loader() == Thread.currentThread()) {
                    throw new IllegalStateException("get(key, loader): the loader of a " + k
                            + " asked the cache for that same key; a loader must not use the cache");
                }
                try {
                    return other.value().join();
                } catch (CompletionException | CancellationException failed) {
                    continue; // that load failed: try again, perhaps as the loader
                }
            }
            try {
                byte[] stored = read.apply(key); // a load that ended between the first read and putIfAbsent
                byte[] value = stored != null ? stored : loadAndStore.apply(key);
                mine.value().complete(value);
                return value;
            } catch (RuntimeException | Error e) {
                mine.value().completeExceptionally(e);
                throw e;
            } finally {
                running.remove(k, mine);
            }
        }
    }

    /** Loads running now (for tests). */
    int size() {
        return running.size();
    }
}
