package dev.offheap.allocator.bench;

import dev.offheap.allocator.cache.CacheStats;
import dev.offheap.allocator.cache.OffHeapCache;
import dev.offheap.allocator.cache.OffHeapCacheConfig;
import net.openhft.chronicle.map.ChronicleMap;
import org.caffinitas.ohc.CacheSerializer;
import org.caffinitas.ohc.Eviction;
import org.caffinitas.ohc.OHCache;
import org.caffinitas.ohc.OHCacheBuilder;
import org.ehcache.Cache;
import org.ehcache.CacheManager;
import org.ehcache.config.builders.CacheConfigurationBuilder;
import org.ehcache.config.builders.CacheManagerBuilder;
import org.ehcache.config.builders.ResourcePoolsBuilder;
import org.ehcache.config.units.MemoryUnit;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * A key-value cache under {@link CacheBench}: long keys, byte[] values, each peer through its usual API.
 * Thread-safe; per-thread buffers come in a {@link Scratch}.
 */
abstract class CachePeer implements AutoCloseable {
    static final String[] NAMES = {"offheap-cache", "ohc", "ohc-wtinylfu", "chronicle-map", "ehcache-offheap",
            "caffeine"};

    final String name;

    CachePeer(String name) {
        this.name = name;
    }

    /** One thread's buffers: the key's bytes and a destination for values. */
    static final class Scratch {
        final byte[] key = new byte[8];
        final MemorySegment keySegment = MemorySegment.ofArray(key);
        final MemorySegment value = Arena.ofAuto().allocate(CacheBench.MAX_VALUE_BYTES);

        byte[] key(long k) {
            keySegment.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, k);
            return key;
        }
    }

    /** Reads the value of {@code key}; true on a hit. */
    abstract boolean get(long key, Scratch scratch);

    abstract void put(long key, byte[] value, Scratch scratch);

    /** Memory the peer says it uses, or -1 if it does not say. */
    abstract long ownMemoryBytes();

    /** How the peer is configured, for the report. */
    abstract String note();

    @Override
    public abstract void close();

    static CachePeer create(String name, long capacityBytes, long records, int averageValueBytes) {
        return switch (name) {
            case "offheap-cache" -> new Ours(name, capacityBytes);
            case "ohc" -> new Ohc(name, capacityBytes, Eviction.LRU);
            case "ohc-wtinylfu" -> new Ohc(name, capacityBytes, Eviction.W_TINY_LFU);
            case "chronicle-map" -> new Chronicle(name, records, averageValueBytes);
            case "ehcache-offheap" -> new Ehcache(name, capacityBytes);
            case "caffeine" -> new OnHeap(name, capacityBytes);
            default -> throw new IllegalArgumentException("unknown cache peer '" + name + "'");
        };
    }

    static final class Ours extends CachePeer {
        private final OffHeapCache cache;

        Ours(String name, long capacityBytes) {
            super(name);
            cache = OffHeapCache.create(new OffHeapCacheConfig().name("bench").capacityBytes(capacityBytes)
                    .maxValueBytes(CacheBench.MAX_VALUE_BYTES));
        }

        @Override
        boolean get(long key, Scratch scratch) {
            return cache.get(scratch.key(key), scratch.value) >= 0;
        }

        @Override
        void put(long key, byte[] value, Scratch scratch) {
            cache.put(scratch.key(key), value);
        }

        @Override
        long ownMemoryBytes() {
            return cache.allocator().committedBytes();
        }

        @Override
        String note() {
            CacheStats stats = cache.cacheStats();
            return String.format(Locale.ROOT, "W-TinyLFU, %d entries, weighing %.2f of the capacity (bound %.2f)",
                    stats.entries(), stats.weightBytes() / (double) stats.capacityBytes(),
                    stats.weightLimitBytes() / (double) stats.capacityBytes());
        }

        @Override
        public void close() {
            cache.close();
        }
    }

    static final class Ohc extends CachePeer {
        private final OHCache<Long, byte[]> cache;

        Ohc(String name, long capacityBytes, Eviction eviction) {
            super(name);
            OHCacheBuilder<Long, byte[]> builder = OHCacheBuilder.<Long, byte[]>newBuilder()
                    .keySerializer(new LongSerializer()).valueSerializer(new BytesSerializer())
                    .capacity(capacityBytes).eviction(eviction);
            if (eviction == Eviction.W_TINY_LFU) {
                builder.frequencySketchSize(1 << 20);
            }
            cache = builder.build();
        }

        @Override
        boolean get(long key, Scratch scratch) {
            return cache.get(key) != null;
        }

        @Override
        void put(long key, byte[] value, Scratch scratch) {
            cache.put(key, value);
        }

        @Override
        long ownMemoryBytes() {
            return cache.memUsed();
        }

        @Override
        String note() {
            return cache.stats().getSize() + " entries";
        }

        @Override
        public void close() {
            try {
                cache.close();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    /** Not a cache: no eviction, so it is sized for every record (its hit rate and memory say so). */
    static final class Chronicle extends CachePeer {
        private final ChronicleMap<Long, byte[]> map;

        Chronicle(String name, long records, int averageValueBytes) {
            super(name);
            map = ChronicleMap.of(Long.class, byte[].class).name("bench").entries(records)
                    .averageValueSize(averageValueBytes).maxBloatFactor(2).create();
        }

        @Override
        boolean get(long key, Scratch scratch) {
            return map.get(key) != null;
        }

        @Override
        void put(long key, byte[] value, Scratch scratch) {
            map.put(key, value);
        }

        @Override
        long ownMemoryBytes() {
            return map.offHeapMemoryUsed();
        }

        @Override
        String note() {
            return "no eviction: sized for all keys, " + map.size() + " entries";
        }

        @Override
        public void close() {
            map.close();
        }
    }

    static final class Ehcache extends CachePeer {
        private final CacheManager manager;
        private final Cache<Long, byte[]> cache;

        Ehcache(String name, long capacityBytes) {
            super(name);
            manager = CacheManagerBuilder.newCacheManagerBuilder().withCache("bench",
                    CacheConfigurationBuilder.newCacheConfigurationBuilder(Long.class, byte[].class,
                            ResourcePoolsBuilder.newResourcePoolsBuilder()
                                    .offheap(capacityBytes >> 20, MemoryUnit.MB))).build(true);
            cache = manager.getCache("bench", Long.class, byte[].class);
        }

        @Override
        boolean get(long key, Scratch scratch) {
            return cache.get(key) != null;
        }

        @Override
        void put(long key, byte[] value, Scratch scratch) {
            cache.put(key, value);
        }

        @Override
        long ownMemoryBytes() {
            return -1;
        }

        @Override
        String note() {
            return "off-heap tier only";
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    /**
     * Caffeine on the heap, the speed reference and what {@link GcBench} sets the off-heap caches against: weighed
     * by value bytes; maintenance on its default executor, as a user leaves it. A put stores a copy, as a service
     * stores the bytes it received, not a shared array.
     */
    static final class OnHeap extends CachePeer {
        private final com.github.benmanes.caffeine.cache.Cache<Long, byte[]> cache;

        OnHeap(String name, long capacityBytes) {
            super(name);
            cache = com.github.benmanes.caffeine.cache.Caffeine.newBuilder().maximumWeight(capacityBytes)
                    .weigher((Long key, byte[] value) -> value.length).build();
        }

        @Override
        boolean get(long key, Scratch scratch) {
            return cache.getIfPresent(key) != null; // the value is used where it lies, as on-heap users do
        }

        @Override
        void put(long key, byte[] value, Scratch scratch) {
            cache.put(key, value.clone());
        }

        @Override
        long ownMemoryBytes() {
            return -1;
        }

        @Override
        String note() {
            return "on the heap: resident growth does not show it (heap pre-touched), "
                    + cache.estimatedSize() + " entries";
        }

        @Override
        public void close() {
            cache.invalidateAll();
        }
    }

    static final class LongSerializer implements CacheSerializer<Long> {
        @Override
        public void serialize(Long value, ByteBuffer buffer) {
            buffer.putLong(value);
        }

        @Override
        public Long deserialize(ByteBuffer buffer) {
            return buffer.getLong();
        }

        @Override
        public int serializedSize(Long value) {
            return Long.BYTES;
        }
    }

    static final class BytesSerializer implements CacheSerializer<byte[]> {
        @Override
        public void serialize(byte[] value, ByteBuffer buffer) {
            buffer.putInt(value.length).put(value);
        }

        @Override
        public byte[] deserialize(ByteBuffer buffer) {
            byte[] value = new byte[buffer.getInt()];
            buffer.get(value);
            return value;
        }

        @Override
        public int serializedSize(byte[] value) {
            return Integer.BYTES + value.length;
        }
    }
}
