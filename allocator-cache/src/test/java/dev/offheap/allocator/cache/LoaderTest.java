package dev.offheap.allocator.cache;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code get(key, loader)}: one load per key however many threads miss it at once. */
class LoaderTest {
    private OffHeapCache cache;
    private ExecutorService pool;

    @BeforeEach
    void setUp() {
        cache = OffHeapCache.create(new OffHeapCacheConfig().name("loader").capacityBytes(16 << 20));
        pool = Executors.newCachedThreadPool();
    }

    @AfterEach
    void tearDown() {
        pool.shutdownNow();
        cache.close();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Waits (at most 10 s) until {@code condition} holds; false if it never did. */
    private static boolean await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }

    /** Every thread in {@code threads} but the caller is parked (waiting for a load, here). */
    private static boolean othersWaiting(List<Thread> threads) {
        return threads.stream().filter(t -> t != Thread.currentThread())
                .allMatch(t -> t.getState() == Thread.State.WAITING);
    }

    @Test
    void threadsMissingOneKeyAtOnceRunItsLoaderOnceAndAllGetItsValue() throws Exception {
        int n = 6;
        AtomicInteger loads = new AtomicInteger();
        List<Thread> threads = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch registered = new CountDownLatch(n);
        List<Future<byte[]>> results = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            results.add(pool.submit(() -> {
                threads.add(Thread.currentThread());
                registered.countDown();
                registered.await();
                return cache.get(bytes("cold"), key -> {
                    loads.incrementAndGet();
                    try {
                        // Holds the load until every other caller is waiting for it.
                        assertTrue(await(() -> othersWaiting(threads)), "the other callers did not wait");
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return bytes("from the database");
                });
            }));
        }
        for (Future<byte[]> result : results) {
            assertArrayEquals(bytes("from the database"), result.get(20, TimeUnit.SECONDS));
        }
        assertEquals(1, loads.get(), "the loader ran once per caller, not once per key");
        assertEquals(1, cache.size());
    }

    @Test
    void aFailedLoadStoresNothingAndAWaitingThreadLoadsAgainItself() throws Exception {
        AtomicInteger loads = new AtomicInteger();
        List<Thread> threads = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch firstLoading = new CountDownLatch(1);
        Future<byte[]> failing = pool.submit(() -> {
            threads.add(Thread.currentThread());
            return cache.get(bytes("k"), key -> {
                loads.incrementAndGet();
                firstLoading.countDown();
                try {
                    assertTrue(await(() -> threads.size() == 2 && othersWaiting(threads)));
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                throw new IllegalStateException("database down");
            });
        });
        assertTrue(firstLoading.await(10, TimeUnit.SECONDS));
        Future<byte[]> waiting = pool.submit(() -> {
            threads.add(Thread.currentThread());
            return cache.get(bytes("k"), key -> {
                loads.incrementAndGet();
                return bytes("second try");
            });
        });
        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> failing.get(20, TimeUnit.SECONDS));
        assertEquals("database down", e.getCause().getMessage());
        assertArrayEquals(bytes("second try"), waiting.get(20, TimeUnit.SECONDS));
        assertEquals(2, loads.get());
        assertArrayEquals(bytes("second try"), cache.get(bytes("k")));
    }

    @Test
    void loadsOfDifferentKeysDoNotWaitForEachOther() throws Exception {
        CountDownLatch bLoading = new CountDownLatch(1);
        Future<byte[]> a = pool.submit(() -> cache.get(bytes("a"), key -> {
            try {
                // Returns only once b's loader runs: a serialised loading would never get there.
                assertTrue(bLoading.await(10, TimeUnit.SECONDS), "b's load waited for a's");
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return bytes("A");
        }));
        Future<byte[]> b = pool.submit(() -> cache.get(bytes("b"), key -> {
            bLoading.countDown();
            return bytes("B");
        }));
        assertArrayEquals(bytes("A"), a.get(20, TimeUnit.SECONDS));
        assertArrayEquals(bytes("B"), b.get(20, TimeUnit.SECONDS));
    }

    @Test
    void aLoaderThatAsksForItsOwnKeyGetsAnErrorNotADeadlock() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> cache.get(bytes("self"),
                key -> cache.get(bytes("self"), again -> bytes("never"))));
        assertTrue(e.getMessage().contains("must not use the cache"), e.getMessage());
        assertFalse(cache.containsKey(bytes("self")));
        assertArrayEquals(bytes("later"), cache.get(bytes("self"), key -> bytes("later")),
                "the failed load was left running");
    }

    @Test
    void aNullLoadStoresNothingAndAHitNeverLoads() {
        assertNull(cache.get(bytes("absent"), key -> null));
        assertFalse(cache.containsKey(bytes("absent")));
        cache.put(bytes("present"), bytes("v"));
        assertArrayEquals(bytes("v"), cache.get(bytes("present"), key -> {
            throw new AssertionError("a hit ran the loader");
        }));
    }

    @Test
    void aTypedLoadReturnsTheLoadedObjectAndStoresItsBytes() {
        try (TypedCache<String, StringBuilder> typed = TypedCache.over(OffHeapCache.create(
                new OffHeapCacheConfig().name("typed-loader")), Serializer.utf8(), new Serializer<>() {
                    @Override
                    public int serializedSize(StringBuilder value) {
                        return Serializer.utf8().serializedSize(value.toString());
                    }

                    @Override
                    public void serialize(StringBuilder value, java.lang.foreign.MemorySegment dst) {
                        Serializer.utf8().serialize(value.toString(), dst);
                    }

                    @Override
                    public StringBuilder deserialize(java.lang.foreign.MemorySegment src) {
                        return new StringBuilder(Serializer.utf8().deserialize(src));
                    }
                })) {
            StringBuilder made = new StringBuilder("loaded");
            assertSame(made, typed.get("k", key -> made), "the loader's own object, not a copy read back");
            assertEquals("loaded", typed.get("k", key -> new StringBuilder("other")).toString());
        }
    }
}
