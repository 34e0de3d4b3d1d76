package dev.offheap.allocator.cache;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TypedCacheTest {
    /** A value type with a serializer of its own: an id and a name. */
    record Profile(long id, String name) {
    }

    static class ProfileSerializer implements Serializer<Profile> {
        @Override
        public int serializedSize(Profile p) {
            return Long.BYTES + p.name().getBytes(StandardCharsets.UTF_8).length;
        }

        @Override
        public void serialize(Profile p, MemorySegment dst) {
            dst.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, p.id());
            byte[] name = p.name().getBytes(StandardCharsets.UTF_8);
            MemorySegment.copy(name, 0, dst, ValueLayout.JAVA_BYTE, Long.BYTES, name.length);
        }

        @Override
        public Profile deserialize(MemorySegment src) {
            return new Profile(src.get(ValueLayout.JAVA_LONG_UNALIGNED, 0),
                    new String(src.asSlice(Long.BYTES).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
        }
    }

    private TypedCache<String, Profile> cache;

    @AfterEach
    void close() {
        if (cache != null) {
            cache.close();
        }
    }

    private TypedCache<String, Profile> cache(OffHeapCacheConfig config) {
        cache = TypedCache.create(config.name("typed").capacityBytes(16 << 20).maxValueBytes(4096),
                Serializer.utf8(), new ProfileSerializer());
        return cache;
    }

    @Test
    void objectsGoInAndComeOutEqual() {
        cache(new OffHeapCacheConfig());
        Profile ada = new Profile(1, "Ada Lovelace");
        assertTrue(cache.put("ada", ada));
        assertEquals(ada, cache.get("ada"));
        assertTrue(cache.containsKey("ada"));
        assertNull(cache.get("bob"));
        assertFalse(cache.putIfAbsent("ada", new Profile(2, "other")));
        assertEquals(ada, cache.get("ada"), "putIfAbsent replaced a present entry");
        assertTrue(cache.remove("ada"));
        assertNull(cache.get("ada"));
        assertEquals(0, cache.size());
    }

    @Test
    void theBytesCacheUnderneathHoldsTheSerializedForm() {
        cache(new OffHeapCacheConfig());
        cache.put("k\u00e9y", new Profile(7, "x"));
        byte[] stored = cache.bytes().get("k\u00e9y".getBytes(StandardCharsets.UTF_8));
        byte[] expected = new byte[9];
        new ProfileSerializer().serialize(new Profile(7, "x"), MemorySegment.ofArray(expected));
        assertArrayEquals(expected, stored);
    }

    @Test
    void theLoaderRunsOnAMissOnlyAndItsValueIsStored() {
        cache(new OffHeapCacheConfig());
        AtomicInteger loads = new AtomicInteger();
        Profile first = cache.get("u1", id -> new Profile(loads.incrementAndGet(), id));
        Profile second = cache.get("u1", id -> new Profile(loads.incrementAndGet(), id));
        assertEquals(new Profile(1, "u1"), first);
        assertEquals(first, second);
        assertEquals(1, loads.get(), "a hit ran the loader");
        assertNull(cache.get("none", id -> null));
        assertFalse(cache.containsKey("none"), "a null load stored something");
    }

    @Test
    void computeSeesTheOldValueAndKeepsTheTimeToLive() {
        ManualTicker ticker = new ManualTicker();
        cache(new OffHeapCacheConfig().ticker(ticker));
        cache.put("n", new Profile(1, "v1"), Duration.ofSeconds(10));
        ticker.advance(Duration.ofSeconds(6));
        Profile updated = cache.compute("n", (key, old) -> new Profile(old.id() + 1, key + "-" + old.name()));
        assertEquals(new Profile(2, "n-v1"), updated);
        assertEquals(updated, cache.get("n"));
        ticker.advance(Duration.ofSeconds(4));
        assertNull(cache.get("n"), "compute gave the entry a new time to live");
        assertEquals(new Profile(5, "new"), cache.compute("n", (key, old) -> old == null ? new Profile(5, "new")
                : old));
        assertNull(cache.compute("n", (key, old) -> null));
        assertFalse(cache.containsKey("n"));
    }

    @Test
    void removalsReachATypedListenerDeserialized() {
        List<String> heard = new ArrayList<>();
        Serializer<String> keys = Serializer.utf8();
        ProfileSerializer values = new ProfileSerializer();
        cache(new OffHeapCacheConfig().removalListener(TypedRemovalListener.of(keys, values,
                (key, value, cause) -> heard.add(key + "=" + value.name() + ":" + cause))));
        cache.put("a", new Profile(1, "one"));
        cache.put("a", new Profile(2, "two"));
        cache.remove("a");
        assertEquals(List.of("a=one:REPLACED", "a=two:EXPLICIT"), heard);
    }

    @Test
    void aKeyOrValueOfAWrongSizeIsRefusedNamingTheSerializerAndNothingIsStored() {
        cache(new OffHeapCacheConfig());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> cache.put("", new Profile(1, "x")));
        assertTrue(empty.getMessage().contains("Serializer.utf8()") && empty.getMessage().contains("0 bytes"),
                empty.getMessage());
        IllegalArgumentException large = assertThrows(IllegalArgumentException.class,
                () -> cache.put("big", new Profile(1, "x".repeat(5000))));
        assertTrue(large.getMessage().contains("maxValueBytes"), large.getMessage());
        assertEquals(0, cache.size());

        TypedCache<Long, Long> lying = TypedCache.over(cache.bytes(), Serializer.int64(), new Serializer<>() {
            @Override
            public int serializedSize(Long value) {
                return -1;
            }

            @Override
            public void serialize(Long value, MemorySegment dst) {
            }

            @Override
            public Long deserialize(MemorySegment src) {
                return 0L;
            }
        });
        assertThrows(IllegalArgumentException.class, () -> lying.put(1L, 2L));
        assertEquals(0, cache.size());
    }

    @Test
    void aSerializerThatThrowsLeavesTheCacheAsItWas() {
        cache(new OffHeapCacheConfig());
        cache.put("k", new Profile(1, "kept"));
        TypedCache<String, Profile> failing = TypedCache.over(cache.bytes(), Serializer.utf8(),
                new ProfileSerializer() {
                    @Override
                    public void serialize(Profile p, MemorySegment dst) {
                        throw new IllegalStateException("cannot write " + p);
                    }
                });
        assertThrows(IllegalStateException.class, () -> failing.put("k", new Profile(2, "lost")));
        assertThrows(IllegalStateException.class, () -> failing.compute("k", (k, old) -> new Profile(3, "x")));
        assertEquals(new Profile(1, "kept"), cache.get("k"));
        assertEquals(1, cache.size());
        assertEquals(1, cache.bytes().entryBlocks(), "a failed write leaked a block");
    }

    @Test
    void builtInSerializersRoundTrip() {
        try (TypedCache<Long, String> c = TypedCache.create(new OffHeapCacheConfig().name("builtin"),
                Serializer.int64(), Serializer.utf8())) {
            String text = "a\u00e9\u20ac\uD83D\uDE00 \uD800"; // 1-, 2-, 3-, 4-byte and an unpaired surrogate
            c.put(-5L, text);
            assertEquals(new String(text.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8), c.get(-5L));
            assertEquals(text.getBytes(StandardCharsets.UTF_8).length, Serializer.utf8().serializedSize(text));
        }
        try (TypedCache<Integer, byte[]> c = TypedCache.create(new OffHeapCacheConfig().name("builtin2"),
                Serializer.int32(), Serializer.bytes())) {
            c.put(42, new byte[] {1, 2, 3});
            assertArrayEquals(new byte[] {1, 2, 3}, c.get(42));
            assertArrayEquals(new byte[0], c.get(7, k -> new byte[0]), "an empty value is a value");
            assertTrue(c.containsKey(7));
        }
    }

    @Test
    void aClosedTypedCacheSaysSoAndClosingTwiceIsHarmless() {
        cache(new OffHeapCacheConfig());
        cache.put("k", new Profile(1, "x"));
        cache.close();
        cache.close();
        assertEquals(0, cache.size());
        RuntimeException e = assertThrows(RuntimeException.class, () -> cache.get("k"));
        assertTrue(e.getMessage().contains("typed"), "the message does not name the cache: " + e.getMessage());
    }
}
