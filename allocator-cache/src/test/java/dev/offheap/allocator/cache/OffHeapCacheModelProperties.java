package dev.offheap.allocator.cache;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Random operation sequences against a {@link HashMap} model, in a cache large enough never to evict: every
 * read, the size and the allocator's live blocks must agree with the model after every step.
 */
class OffHeapCacheModelProperties {

    record Op(int kind, int key, int valueLength, int seed) {
    }

    @Provide
    Arbitrary<List<Op>> operations() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.integers().between(0, 5),
                        Arbitraries.integers().between(0, 40),
                        Arbitraries.frequencyOf(
                                net.jqwik.api.Tuple.of(6, Arbitraries.integers().between(0, 300)),
                                net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(300, 100_000))),
                        Arbitraries.integers())
                .as(Op::new);
        return op.list().ofMaxSize(150);
    }

    private static byte[] key(int k) {
        return ByteBuffer.allocate(4 + k % 13).putInt(k).array();
    }

    private static byte[] value(int length, int seed) {
        byte[] v = new byte[length];
        for (int i = 0; i < length; i++) {
            v[i] = (byte) (seed + i * 31);
        }
        return v;
    }

    @Property(tries = 200)
    void behavesLikeAMap(@ForAll("operations") List<Op> ops) {
        try (OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig().name("model")
                .capacityBytes(64 << 20).maxValueBytes(128 << 10).segments(2))) {
            Map<Integer, byte[]> model = new HashMap<>();
            for (Op op : ops) {
                byte[] key = key(op.key());
                byte[] value = value(op.valueLength(), op.seed());
                switch (op.kind()) {
                    case 0, 1 -> {
                        cache.put(key, value);
                        model.put(op.key(), value);
                    }
                    case 2 -> assertEquals(model.putIfAbsent(op.key(), value) == null, cache.putIfAbsent(key, value));
                    case 3 -> assertEquals(model.remove(op.key()) != null, cache.remove(key));
                    case 4 -> {
                        byte[] result = cache.compute(key, old -> old == null || old.byteSize() % 2 == 0 ? value : null);
                        byte[] expected = model.get(op.key()) == null || model.get(op.key()).length % 2 == 0 ? value : null;
                        if (expected == null) {
                            model.remove(op.key());
                        } else {
                            model.put(op.key(), expected);
                        }
                        assertArrayEquals(expected, result);
                    }
                    default -> assertArrayEquals(model.get(op.key()), cache.get(key));
                }
                assertEquals(model.size(), cache.size());
                assertEquals(model.size(), cache.entryBlocks());
            }
            for (Map.Entry<Integer, byte[]> e : model.entrySet()) {
                assertArrayEquals(e.getValue(), cache.get(key(e.getKey())));
            }
        }
    }
}
