package dev.offheap.allocator.cache;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Readers racing writers, replacements, removals and eviction: every value read must be one that was written
 * for that key, whole. Values are self-describing (key id, length, a pattern from both), so a torn or foreign
 * copy is detected.
 */
class OffHeapCacheConcurrencyTest {
    private static final int KEYS = 2_000;
    /** Most operations go to a few keys, so that reads and writes of one entry really do overlap. */
    private static final int HOT_KEYS = 64;

    private static byte[] key(int id) {
        return ("key:" + id).getBytes();
    }

    private static byte[] value(int id, int length) {
        byte[] v = new byte[length];
        MemorySegment s = MemorySegment.ofArray(v);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 0, id);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, 4, length);
        for (int i = 8; i < length; i++) {
            v[i] = (byte) (id * 7 + length * 13 + i);
        }
        return v;
    }

    private static String check(int id, MemorySegment v, long length) {
        if (length < 8) {
            return "value of " + length + " bytes for key " + id;
        }
        int storedId = v.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        int storedLength = v.get(ValueLayout.JAVA_INT_UNALIGNED, 4);
        if (storedId != id || storedLength != length) {
            return "key " + id + " read a value of key " + storedId + " / length " + storedLength + " vs " + length;
        }
        for (int i = 8; i < length; i++) {
            if (v.get(ValueLayout.JAVA_BYTE, i) != (byte) (id * 7 + length * 13 + i)) {
                return "key " + id + ": byte " + i + " of " + length + " is wrong (torn copy)";
            }
        }
        return null;
    }

    @Test
    void readersOnlyEverSeeWholeValuesWrittenForTheirKey() throws InterruptedException {
        // small enough that writes evict all the time
        try (OffHeapCache cache = OffHeapCache.create(new OffHeapCacheConfig().name("race").capacityBytes(4 << 20)
                .maxValueBytes(16 << 10).segments(4))) {
            AtomicReference<String> failure = new AtomicReference<>();
            AtomicLong hits = new AtomicLong();
            // Fill past the capacity first, so that the race starts with a full cache and every growing write
            // evicts, however slow the machine is.
            for (int id = 0; id < KEYS; id++) {
                cache.put(key(id), value(id, 3_000));
            }
            long evictionsBeforeRace = cache.stats().evictions();
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    while (!stop.get() && failure.get() == null) {
                        int id = random.nextInt(4) == 0 ? random.nextInt(KEYS) : random.nextInt(HOT_KEYS);
                        int op = random.nextInt(10);
                        if (op < 7) {
                            cache.put(key(id), value(id, 8 + random.nextInt(random.nextBoolean() ? 200 : 12_000)));
                        } else if (op < 9) {
                            cache.remove(key(id));
                        } else {
                            cache.compute(key(id), old -> old == null ? null : value(id, 8 + random.nextInt(3000)));
                        }
                    }
                }));
            }
            for (int r = 0; r < 2; r++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    MemorySegment dst = Arena.ofAuto().allocate(16 << 10);
                    while (!stop.get() && failure.get() == null) {
                        int id = random.nextInt(4) == 0 ? random.nextInt(KEYS) : random.nextInt(HOT_KEYS);
                        String problem = null;
                        if (random.nextBoolean()) {
                            long length = cache.get(key(id), dst);
                            if (length >= 0) {
                                problem = check(id, dst, length);
                                hits.incrementAndGet();
                            }
                        } else {
                            byte[] v = cache.get(key(id));
                            if (v != null) {
                                problem = check(id, MemorySegment.ofArray(v), v.length);
                                hits.incrementAndGet();
                            }
                        }
                        if (problem != null) {
                            failure.compareAndSet(null, problem);
                        }
                    }
                }));
            }
            // Race for 1.5 s, longer (up to 30 s) until evictions and reads have both happened during it.
            long start = System.nanoTime();
            Thread.sleep(1_500);
            while (System.nanoTime() - start < 30_000_000_000L && failure.get() == null
                    && (cache.stats().evictions() - evictionsBeforeRace < 100 || hits.get() <= 1000)) {
                Thread.sleep(50);
            }
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            assertNull(failure.get());
            assertTrue(hits.get() > 1000, "readers hit " + hits.get() + " times");
            CacheStats stats = cache.stats();
            assertTrue(stats.evictions() - evictionsBeforeRace >= 100,
                    "evictions during the race: " + (stats.evictions() - evictionsBeforeRace) + "; " + stats);
            assertTrue(stats.weightBytes() <= 4 << 20, stats.toString());
            assertEquals(stats.entries(), cache.entryBlocks(),
                    "every live block is an indexed entry: none leaked, none freed twice");
        }
    }
}
