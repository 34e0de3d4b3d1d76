package dev.offheap.allocator.micrometer;

import dev.offheap.allocator.cache.CacheStats;
import dev.offheap.allocator.cache.OffHeapCache;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.cache.CacheMeterBinder;

/**
 * Micrometer meters for an {@link OffHeapCache}, under Micrometer's cache conventions (the names Caffeine's,
 * Ehcache's and JCache's binders use, tagged {@code cache=<name>}): {@code cache.size}, {@code cache.gets} with
 * {@code result=hit|miss}, {@code cache.puts}, {@code cache.evictions}; and the cache's own:
 * {@code cache.expirations}, {@code cache.removals}, {@code cache.rejections} (puts refused: the allocator was
 * full even after eviction), {@code cache.weight} and {@code cache.capacity} (bytes). The allocator under the
 * cache has meters of its own: bind {@link OffHeapAllocatorMetrics} to {@link OffHeapCache#allocator()}.
 *
 * <pre>{@code
 * new OffHeapCacheMetrics(cache).bindTo(registry);
 * }</pre>
 *
 * The counters are read from one {@link OffHeapCache#stats()} at a time (a read lock per segment, briefly, never
 * the allocator's locks). The cache is held weakly, as Micrometer's cache binders do.
 */
public final class OffHeapCacheMetrics extends CacheMeterBinder<OffHeapCache> {

    public OffHeapCacheMetrics(OffHeapCache cache) {
        this(cache, Tags.empty());
    }

    public OffHeapCacheMetrics(OffHeapCache cache, Iterable<Tag> tags) {
        super(cache, cache.name(), tags);
    }

    private CacheStats stats() {
        OffHeapCache cache = getCache();
        return cache == null ? null : cache.cacheStats();
    }

    @Override
    protected Long size() {
        OffHeapCache cache = getCache();
        return cache == null ? null : cache.size();
    }

    @Override
    protected long hitCount() {
        CacheStats stats = stats();
        return stats == null ? 0 : stats.hits();
    }

    @Override
    protected Long missCount() {
        CacheStats stats = stats();
        return stats == null ? null : stats.misses();
    }

    @Override
    protected Long evictionCount() {
        CacheStats stats = stats();
        return stats == null ? null : stats.evictions();
    }

    @Override
    protected long putCount() {
        CacheStats stats = stats();
        return stats == null ? 0 : stats.puts();
    }

    @Override
    protected void bindImplementationSpecificMetrics(MeterRegistry registry) {
        Iterable<Tag> tags = getTagsWithCacheName();
        OffHeapCache cache = getCache();
        if (cache == null) {
            return;
        }
        FunctionCounter.builder("cache.expirations", cache, c -> c.cacheStats().expirations()).tags(tags)
                .description("entries dropped because their time to live ran out").register(registry);
        FunctionCounter.builder("cache.removals", cache, c -> c.cacheStats().removals()).tags(tags)
                .description("entries removed by the program").register(registry);
        FunctionCounter.builder("cache.rejections", cache, c -> c.cacheStats().rejections()).tags(tags)
                .description("puts refused: the allocator was full even after eviction").register(registry);
        Gauge.builder("cache.weight", cache, OffHeapCache::weightBytes).tags(tags).baseUnit(BaseUnits.BYTES)
                .description("memory the entries take").register(registry);
        Gauge.builder("cache.capacity", cache, c -> c.cacheStats().capacityBytes()).tags(tags)
                .baseUnit(BaseUnits.BYTES).description("capacityBytes").register(registry);
        Gauge.builder("cache.weight.limit", cache, c -> c.cacheStats().weightLimitBytes()).tags(tags)
                .baseUnit(BaseUnits.BYTES).description("the bound on the entries' memory now: capacityBytes, or less"
                        + " while the cache's allocator holds free slots beyond it").register(registry);
        Gauge.builder("cache.index", cache, c -> c.cacheStats().indexBytes()).tags(tags).baseUnit(BaseUnits.BYTES)
                .description("memory the index takes in the allocator, beyond the entries").register(registry);
    }
}
