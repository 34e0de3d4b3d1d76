package dev.offheap.allocator.examples;

// tag::cache-imports[]
import dev.offheap.allocator.cache.OffHeapCache;
import dev.offheap.allocator.cache.OffHeapCacheConfig;
import java.time.Duration;
// end::cache-imports[]

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/** README's cache snippet. */
public final class CacheExample {

    private CacheExample() {
    }

    private static byte[] increment(MemorySegment old) {
        return new byte[] {(byte) (old.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0) + 1)};
    }

    public static void main(String[] args) {
        byte[] key = "session-42".getBytes(StandardCharsets.UTF_8);
        byte[] value = "alice".getBytes(StandardCharsets.UTF_8);
        byte[] one = {1};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(1024);
            // tag::cache[]
            try (OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig()
                    .name("sessions")
                    .capacityBytes(1L << 30)                         // the cache's memory: entries, index, allocator's slack
                    .maxValueBytes(1 << 20)
                    .defaultTimeToLive(Duration.ofMinutes(10)))) {
                cache.put(key, value);                                // byte[] or MemorySegment; copied off-heap
                byte[] hit = cache.get(key);                          // null on a miss
                long n = cache.get(key, buffer);                      // into your segment: value length, or -1
                cache.putIfAbsent(key, value);
                cache.compute(key, old -> old == null ? one : increment(old));   // under the key's segment lock
                cache.remove(key);
                System.out.println(cache.stats());                    // hits, misses, evictions, expirations, bytes, allocator
                // end::cache[]
                System.out.println(new String(hit, StandardCharsets.UTF_8) + ", " + n + " bytes");
                // tag::cache-end[]
            }
            // end::cache-end[]
        }
    }
}
