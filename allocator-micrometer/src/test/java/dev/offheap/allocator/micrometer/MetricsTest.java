package dev.offheap.allocator.micrometer;

import dev.offheap.allocator.OffHeapOutOfMemoryException;
import dev.offheap.allocator.cache.OffHeapCache;
import dev.offheap.allocator.cache.OffHeapCacheConfig;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The binders register the documented meters, which read the allocator's and the cache's own figures. */
class MetricsTest {

    @Test
    void allocatorMetersReadItsFigures() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("metered")
                .maxBytes(8L << 20).decayMillis(-1))) {
            new OffHeapAllocatorMetrics(allocator).bindTo(registry);
            long a = allocator.allocate(1000);
            long b = allocator.allocate(200_000);
            assertThrows(OffHeapOutOfMemoryException.class, () -> allocator.allocate((8L << 20) - 16));
            Thread.sleep(1_100); // the walk's snapshot serves a scrape for a second
            assertEquals(8L << 20, gauge(registry, "offheap.memory.max"));
            assertEquals(allocator.committedBytes(), gauge(registry, "offheap.memory.committed"));
            assertEquals(allocator.headroomBytes(), gauge(registry, "offheap.memory.headroom"));
            assertEquals(allocator.stats().allocatedBytes(), gauge(registry, "offheap.memory.allocated"));
            assertTrue(gauge(registry, "offheap.memory.allocated") >= 201_000);
            assertEquals(2, gauge(registry, "offheap.blocks.live"));
            assertEquals(2, counter(registry, "offheap.allocations"));
            assertEquals(1, counter(registry, "offheap.refusals"));
            assertEquals("allocator", registry.get("offheap.memory.committed").gauge().getId().getTags().get(0).getKey());
            assertEquals("bytes", registry.get("offheap.memory.committed").gauge().getId().getBaseUnit());
            allocator.free(a);
            allocator.free(b);
        }
        assertEquals(0, gauge(registry, "offheap.memory.committed")); // closed: no memory
    }

    @Test
    void cacheMetersFollowMicrometersCacheConventions() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig().name("metered-cache")
                .capacityBytes(8L << 20))) {
            new OffHeapCacheMetrics(cache).bindTo(registry);
            byte[] key = "k".getBytes(StandardCharsets.UTF_8);
            cache.get(key);
            cache.put(key, new byte[100]);
            cache.get(key);
            cache.get(key);
            cache.remove(key);
            assertEquals(2, registry.get("cache.gets").tag("result", "hit").functionCounter().count());
            assertEquals(1, registry.get("cache.gets").tag("result", "miss").functionCounter().count());
            assertEquals(1, registry.get("cache.puts").functionCounter().count());
            assertEquals(1, registry.get("cache.removals").functionCounter().count());
            assertEquals(0, registry.get("cache.size").gauge().value());
            assertEquals(8L << 20, registry.get("cache.capacity").gauge().value());
            assertEquals(8L << 20, registry.get("cache.weight.limit").gauge().value(), "a small cache, far from it");
            assertEquals(cache.stats().indexBytes(), registry.get("cache.index").gauge().value());
            assertTrue(registry.get("cache.index").gauge().value() > 0, "the index is in the allocator");
            assertEquals("metered-cache", registry.get("cache.puts").functionCounter().getId().getTag("cache"));
        }
    }

    private static double gauge(SimpleMeterRegistry registry, String name) {
        return registry.get(name).gauge().value();
    }

    private static double counter(SimpleMeterRegistry registry, String name) {
        return registry.get(name).functionCounter().count();
    }
}
